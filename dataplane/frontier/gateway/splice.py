"""Two stream halves joined by the gateway: raw bytes, messages and RPCs both ways.

Raw bytes are relayed from the receive callback straight into the other half's outbox, with
no task and no intermediate queue. When the other side's transport stops taking bytes
(`pause_writing`), the sending side's socket stops being read until it drains: TCP pushes
back end to end, as in a plain TCP relay. Closing either half closes the other, after the
bytes already relayed (the dismiss is queued behind them).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from ..geminio.aio import EndError, Stream
from ..geminio.aio.messages import SyncRequest
from .flow import Flow
from .tally import ByteTally, ForwardTally

if TYPE_CHECKING:
    from .exchange import Exchange

__all__ = ["Splice"]

log = logging.getLogger("frontier.exchange")


class Splice:
    def __init__(self, exchange: Exchange, source: Stream, *, to_edge: bool) -> None:
        self.exchange = exchange
        self.source = source
        self.to_edge = to_edge
        self.target: Stream | None = None
        self._failed = False
        self._ended = False
        # Calls on the opener's half may arrive before the far half exists: park them
        # (they count against the source's handler bound, so parking is bounded too).
        self._parked: list[SyncRequest] = []
        source.hijack_sync(self._call_from_source)

    def fail(self) -> None:
        self._failed = True
        parked, self._parked = self._parked, []
        for request in parked:
            request.fail("the far half of the stream could not be opened")

    def connect(self, target: Stream) -> None:
        self.target = target
        source = self.source
        exchange = self.exchange
        limit = exchange.max_inflight
        relay = exchange.relay
        forward, backward = self._kinds("rpc")
        message_forward, message_backward = self._kinds("message")
        source_flow = Flow(source.end, limit)
        target_flow = Flow(target.end, limit)
        with contextlib.suppress(EndError):  # already closing: it sends no more calls; what
            # it sent before its close is relayed below, then the close (it may have
            # written and closed before this splice was made)
            target.hijack_sync(
                lambda request: relay.call(request, source, request.custom, backward)
            )
        source.set_message_sink(
            lambda m: relay.publish(m, target, m.custom, message_forward, source_flow)
        )
        target.set_message_sink(
            lambda m: relay.publish(m, source, m.custom, message_backward, target_flow)
        )
        parked, self._parked = self._parked, []
        for request in parked:
            relay.call(request, target, request.custom, forward)
        metrics = exchange.metrics
        forward_bytes = metrics.bytes_to_edge if self.to_edge else metrics.bytes_to_service
        backward_bytes = metrics.bytes_to_service if self.to_edge else metrics.bytes_to_edge
        source.set_data_sink(lambda data: self._relay(data, source, target, forward_bytes))
        target.set_data_sink(lambda data: self._relay(data, target, source, backward_bytes))
        metrics.streams_open.inc()
        source.add_closed_callback(lambda _: self._close(target))
        target.add_closed_callback(lambda _: self._close(source))

    # ---------------------------------------------------------------------- raw bytes

    def _relay(
        self, data: bytes | memoryview, src: Stream, dst: Stream, relayed: ByteTally
    ) -> None:
        try:
            dst.write(data)
        except EndError:
            return  # the other half is going away; its close callback closes this one
        relayed.total += len(data)
        proto = dst.end.protocol
        if proto is not None and proto.writing_paused:
            token = ("splice", id(self), src.stream_id)
            src.end.pause_reading(token)
            src.end.spawn(self._resume_when_drained(src, dst, token))

    @staticmethod
    async def _resume_when_drained(src: Stream, dst: Stream, token: object) -> None:
        try:
            await dst.drain()
        except EndError:
            pass
        finally:
            src.end.resume_reading(token)

    # ------------------------------------------------------------------------------ RPC

    def _kinds(self, kind: str = "rpc") -> tuple[ForwardTally, ForwardTally]:
        """The counters of source->target and target->source forwards: calls and messages
        on a stream count as calls and messages in their direction."""
        metrics = self.exchange.metrics
        if self.to_edge:
            return metrics.tally(kind, "to_edge"), metrics.tally(kind, "to_service")
        return metrics.tally(kind, "to_service"), metrics.tally(kind, "to_edge")

    def _call_from_source(self, request: SyncRequest) -> None:
        if self.target is not None:
            forward, _ = self._kinds()
            self.exchange.relay.call(request, self.target, request.custom, forward)
        elif self._failed:
            request.fail("the far half of the stream could not be opened")
        else:
            self._parked.append(request)

    # --------------------------------------------------------------------------- close

    def _close(self, other: Stream) -> None:
        """One half closed: close the other (the first of the two callbacks counts the
        splice as ended)."""
        if not self._ended:
            self._ended = True
            self.exchange.metrics.streams_open.dec()
        other.dismiss()
