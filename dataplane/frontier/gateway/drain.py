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

Services stay until the edges are gone (their calls need them, and so do the edges'
`edge_offline` hooks), then leave the same way. What is still busy at the deadline is
closed by `Gateway.close()`, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from ..conventions import ERR_DRAINING
from ..geminio.aio import End
from .exchange import Exchange
from .metrics import GatewayMetrics
from .registry import EdgeEntry, ServiceEntry

__all__ = ["PATIENCE", "SWEEP_INTERVAL", "Drainer"]

log = logging.getLogger("frontier.gateway")

SWEEP_INTERVAL = 0.05
"""How often every connection still open is looked at again. A forward answered through the
relay is noticed at once (its callback checks both connections); the sweep catches the rest
(a stream closed, a task that ended, a bridge's confirmation)."""

PATIENCE = 1.0
"""Seconds a draining connection keeps getting new work while it is busy; then what it sends
is refused (retryable) until it is quiet. At most a quarter of the drain's time."""

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
        self.counts: dict[str, int] = {}

    async def run(self, bound: str, entries: Callable[[], Iterable[Entry]], deadline: float) -> int:
        """Say goodbye to each connection of `entries()` (read again at every sweep: one
        admitted while the drain began is not forgotten) once it is quiet; return once
        all have closed, or at `deadline` (loop time) with how many are still open."""
        loop = asyncio.get_running_loop()
        self._bound = bound
        self._watched = {}
        self._open = set()
        self.counts = {"idle": 0, "settled": 0, "stopped": 0}
        self._patient_until = loop.time() + min(PATIENCE, (deadline - loop.time()) / 4)
        self._watch(entries(), "idle")
        relay = self.exchange.relay
        relay.settled = self._settled
        try:
            while True:
                self._watch(entries(), "settled")
                if not self._open:
                    return 0
                left = deadline - loop.time()
                if left <= 0:
                    break
                self._changed.clear()
                try:
                    async with asyncio.timeout(min(SWEEP_INTERVAL, left)):
                        await self._changed.wait()
                except TimeoutError:
                    pass
                stop = loop.time() >= self._patient_until
                for entry in list(self._watched.values()):
                    self._check(entry, "settled", stop=stop)
        finally:
            relay.settled = None
        still = [end for end in self._open if end not in self._goodbyes]
        self.metrics.drain_closed.labels(bound, "deadline").inc(len(still))
        return len(still)

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
