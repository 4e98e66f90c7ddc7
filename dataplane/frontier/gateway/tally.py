"""One forwarding path's outcomes and latencies as plain numbers, bumped per forward.

A labelled prometheus_client child costs the hot path a Python-level call, a lock and, for a
histogram, a Python loop over the buckets; a forwarded call paid for two of them (the
`ok` counter and the latency histogram), about a tenth of the gateway's CPU per forwarded
call once the rest was compiled. These counters are attributes of a compiled class,
bumped in place; they become the `frontier_forwarded` and
`frontier_forward_latency_seconds` series only when /metrics is scraped
(`metrics.ForwardCollector`), with the values prometheus_client's own Counter and
Histogram would have shown.
"""

from __future__ import annotations

import time
from typing import Final

__all__ = ["ByteTally", "ForwardTally"]

_perf_counter: Final = time.perf_counter


class ForwardTally:
    """The forwards of one (kind, direction): how many ended ok, in error or found no
    target, and the latency of the ok ones, as histogram buckets (not cumulative; the
    last is +Inf) and their sum in seconds."""

    def __init__(self, kind: str, direction: str, bounds: tuple[float, ...]) -> None:
        self.kind = kind
        self.direction = direction
        self.ok = 0
        self.error = 0
        self.offline = 0
        self.bounds: list[float] = list(bounds)
        """Upper bounds of every bucket but the last (+Inf), ascending, inclusive."""
        self.buckets: list[int] = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def succeeded(self, started: float) -> None:
        """A forward got its answer; `started` is its `time.perf_counter()`."""
        self.ok += 1
        self.observe(_perf_counter() - started)

    def observe(self, elapsed: float) -> None:
        """One latency into the histogram (as prometheus_client's `Histogram.observe`)."""
        self.sum += elapsed
        index = 0
        for bound in self.bounds:
            if elapsed <= bound:
                break
            index += 1
        self.buckets[index] += 1


class ByteTally:
    """The raw stream bytes relayed in one direction (`frontier_relayed_bytes`), bumped in
    place per relayed chunk: a prometheus_client Counter child took a Python-level call and
    a lock per chunk (`metrics.RelayedBytesCollector` reads this on a scrape)."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.total = 0
