"""A drain that loses no call: each connection is said goodbye to as soon as it is quiet.

Closing every connection at the drain's deadline (what the gateway did before) fails the
calls and messages in flight on it, and leaves every edge to reconnect in one wave at the
end. Here each connection is closed gracefully (geminio's orderly close: stream 1 dismissed,
then the 4-way disconnect, which the SDKs take for a goodbye and redial at once) the moment
nothing of its own is in flight in either direction (`End.busy`, plus the forwards its
`Flow` counts): at once for an idle one, right after its last answer for a busy one. So the
edges move to another gateway one by one, and no call is cut.

A connection that never falls quiet on its own (calls overlapping without a gap, both ways)
is, after `PATIENCE`, given no new work: what it sends is refused with `ERR_DRAINING`
unforwarded (the SDKs send it again on their next connection), and calls for its edge are
answered `ERR_EDGE_MOVING`; its goodbye follows its last answer.

A call or message can still cross the goodbye on the wire (sent in the round trip before the
peer saw it): its connection answers it with `ERR_DRAINING` without handing it to us (an
answer from a forward would come after the peer's pending operations were aborted), and
the SDKs resend it on their next connection. Calls from services for an edge said goodbye
to are answered `ERR_EDGE_MOVING`.

Goodbyes are paced (`SPREAD`, `MIN_RATE`): each is an immediate reconnect to another
gateway, so 10^5 idle edges are sent there over a quarter of the drain, not in one instant.

Services stay until the edges are gone (their calls need them, and so do the edges'
`edge_offline` hooks), then leave the same way. What is still busy at the deadline is
closed by `Gateway.close()`, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable

from ..conventions import ERR_DRAINING
from ..geminio.aio import End
from .exchange import Exchange
from .metrics import GatewayMetrics
from .registry import EdgeEntry, ServiceEntry

__all__ = ["MIN_RATE", "PATIENCE", "SPREAD", "SWEEP_INTERVAL", "Drainer"]

log = logging.getLogger("frontier.gateway")

SWEEP_INTERVAL = 0.05
"""How often every connection still open is looked at again. A forward answered through the
relay is noticed at once (its callback checks both connections); the sweep catches the rest
(a stream closed, a task that ended, a bridge's confirmation)."""

PATIENCE = 1.0
"""Seconds a draining connection keeps getting new work while it is busy; then what it sends
is refused (retryable) until it is quiet. At most a quarter of the drain's time."""

SPREAD = 0.25
"""Goodbyes are paced over this fraction of the drain's time (at least `MIN_RATE` a second):
every goodbye is a reconnect to another gateway, without backoff, so a gateway holding many
idle edges must not send them all there in the same instant."""
MIN_RATE = 2000.0
"""Goodbyes per second the pacing always allows (a small gateway's drain is not slowed)."""
SWEEP_COST = 1e-5
"""Seconds of sweep interval per watched connection beyond `SWEEP_INTERVAL`'s: a full
sweep looks at each, so a gateway with 10^5 connections sweeps once a second, not 20 times."""

Entry = EdgeEntry | ServiceEntry


class Drainer:
    """Closes the connections of one listener side as each falls quiet, until the deadline."""

    def __init__(self, exchange: Exchange, metrics: GatewayMetrics) -> None:
        self.exchange = exchange
        self.metrics = metrics
        self._bound = ""
        self._watched: dict[End, Entry] = {}
        self._open: set[End] = set()
        self._changed = asyncio.Event()
        self._goodbyes: set[End] = set()
        self._patient_until = 0.0
        self._rate = MIN_RATE
        self._tokens = 0.0
        self._refilled = 0.0
        self._queue: deque[tuple[Entry, str]] = deque()
        """Quiet connections waiting for their paced goodbye (checked again when due)."""
        self._queued: set[End] = set()
        self.counts: dict[str, int] = {}

    async def run(self, bound: str, entries: Callable[[], Iterable[Entry]], deadline: float) -> int:
        """Say goodbye to each connection of `entries()` (read again at every full sweep:
        one admitted while the drain began is not forgotten) once it is quiet; return once
        all have closed, or at `deadline` (loop time) with how many are still open."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._bound = bound
        self._watched = {}
        self._open = set()
        self._goodbyes = set()
        self._queue.clear()
        self._queued = set()
        self.counts = {"idle": 0, "settled": 0, "stopped": 0}
        self._patient_until = now + min(PATIENCE, (deadline - now) / 4)
        current = list(entries())
        spread = (deadline - now) * SPREAD
        self._rate = max(MIN_RATE, len(current) / spread) if spread > 0 else float("inf")
        self._tokens = self._rate * SWEEP_INTERVAL
        self._refilled = now
        self._watch(current, "idle")
        relay = self.exchange.relay
        relay.settled = self._settled
        next_sweep = now + SWEEP_INTERVAL
        try:
            while True:
                now = loop.time()
                self._refill(now)
                if now >= next_sweep or not self._open:
                    self._watch(entries(), "settled")
                    stop = now >= self._patient_until
                    for entry in list(self._watched.values()):
                        self._check(entry, "settled", stop=stop)
                    next_sweep = now + max(SWEEP_INTERVAL, len(self._watched) * SWEEP_COST)
                if not self._open:
                    return 0
                left = deadline - now
                if left <= 0:
                    break
                self._changed.clear()
                try:
                    async with asyncio.timeout(min(SWEEP_INTERVAL, left)):
                        await self._changed.wait()
                except TimeoutError:
                    pass
        finally:
            relay.settled = None
        still = [end for end in self._open if end not in self._goodbyes]
        self.metrics.drain_closed.labels(bound, "deadline").inc(len(still))
        return len(still)

    def _refill(self, now: float) -> None:
        """Goodbyes due by now (a token bucket holding one sweep interval's worth), then
        the queued ones they allow."""
        burst = self._rate * SWEEP_INTERVAL
        self._tokens = min(burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        queue = self._queue
        while queue and self._tokens >= 1:
            entry, reason = queue.popleft()
            self._queued.discard(entry.end)
            self._check(entry, reason)

    def _watch(self, entries: Iterable[Entry], reason: str) -> None:
        for entry in entries:
            end = entry.end
            if end in self._watched or end.closed:
                continue
            self._watched[end] = entry
            self._open.add(end)
            end.close_callbacks.append(self._gone)
            self._check(entry, reason)

    def _gone(self, end: End) -> None:
        refused = end.connection.refused
        if refused:
            self.metrics.drain_refused.labels(self._bound).inc(refused)
        self._open.discard(end)
        self._watched.pop(end, None)
        self._goodbyes.discard(end)
        self.exchange.leaving.discard(end)
        self._changed.set()

    def _settled(self, source: End, target: End) -> None:
        for end in (source, target):
            entry = self._watched.get(end)
            if entry is not None:
                self._check(entry, "settled")

    def _check(self, entry: Entry, reason: str, *, stop: bool = False) -> None:
        """Goodbye to `entry`'s connection if nothing of its own is in flight; with `stop`,
        a busy one gets no new work from now on."""
        end = entry.end
        if end in self._goodbyes or end.closed:
            return
        leaving = self.exchange.leaving
        flow = entry.flow
        if end.busy or (flow is not None and flow.inflight):
            if stop and end not in leaving:
                self._leave(entry)
            return
        if self._tokens < 1:  # paced: its turn comes in `_refill`
            if end not in self._queued:
                self._queued.add(end)
                self._queue.append((entry, reason))
            return
        self._tokens -= 1
        if end in leaving:
            reason = "stopped"
        else:
            self._leave(entry)
        self._goodbyes.add(end)
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.metrics.drain_closed.labels(self._bound, reason).inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("drain: goodbye to %s %s (%s)", self._bound, end.client_id, reason)
        end.close_soon(refuse=ERR_DRAINING)

    def _leave(self, entry: Entry) -> None:
        """No new work for `entry`'s connection (refused, or answered "moving")."""
        self.exchange.leaving.add(entry.end)
        if isinstance(entry, EdgeEntry):
            self.exchange.moved.add(entry.edge_id)
