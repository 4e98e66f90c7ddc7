"""Two stream halves joined by the gateway: raw bytes, messages and RPCs both ways.

Raw bytes are relayed from the receive callback straight into the other half's outbox, with
no task and no intermediate queue. When the other side's transport stops taking bytes
(`pause_writing`), the sending side's socket stops being read until it drains: TCP pushes
back end to end, as in a plain TCP relay. Closing either half closes the other, after the
bytes already relayed (the dismiss is queued behind them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..geminio.aio import EndError, Message, Request, Stream
from .errors import ForwardError, error_text
from .flow import Flow

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
        self._ready: asyncio.Future[Stream] = asyncio.get_running_loop().create_future()
        # Calls on the opener's half may arrive before the far half exists: hold them here.
        source.hijack(self._call_from_source)

    def fail(self) -> None:
        if not self._ready.done():
            self._ready.set_exception(EndError("the far half of the stream could not be opened"))
            self._ready.exception()  # retrieved: nobody may be waiting

    def connect(self, target: Stream) -> None:
        self.target = target
        self._ready.set_result(target)
        source = self.source
        exchange = self.exchange
        limit = exchange.max_inflight
        source_flow = Flow(source.end, limit)
        target_flow = Flow(target.end, limit)
        target.hijack(self._call_from_target)
        source.set_message_sink(lambda m: source_flow.spawn(self._publish(m, target)))
        target.set_message_sink(lambda m: target_flow.spawn(self._publish(m, source)))
        metrics = exchange.metrics
        forward_bytes = metrics.bytes_to_edge if self.to_edge else metrics.bytes_to_service
        backward_bytes = metrics.bytes_to_service if self.to_edge else metrics.bytes_to_edge
        source.set_data_sink(lambda data: self._relay(data, source, target, forward_bytes.inc))
        target.set_data_sink(lambda data: self._relay(data, target, source, backward_bytes.inc))
        source.add_closed_callback(lambda _: self._close(target))
        target.add_closed_callback(lambda _: self._close(source))

    # ---------------------------------------------------------------------- raw bytes

    def _relay(self, data: bytes, src: Stream, dst: Stream, count: Callable[[float], None]) -> None:
        try:
            dst.write(data)
        except EndError:
            return  # the other half is going away; its close callback closes this one
        count(len(data))
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

    # ------------------------------------------------------------------ messages, RPC

    async def _publish(self, message: Message, dst: Stream) -> None:
        try:
            await dst.publish(
                message.data,
                topic=message.topic,
                custom=message.custom,
                timeout=self.exchange.timeout,
            )
        except EndError as exc:
            message.error(error_text(exc))
            return
        message.done()

    async def _call_from_source(self, request: Request) -> bytes:
        target = await asyncio.shield(self._ready)
        return await self._call(request, target)

    async def _call_from_target(self, request: Request) -> bytes:
        return await self._call(request, self.source)

    async def _call(self, request: Request, dst: Stream) -> bytes:
        try:
            return await dst.call(
                request.method, request.data, custom=request.custom, timeout=self.exchange.timeout
            )
        except EndError as exc:
            raise ForwardError(error_text(exc)) from None

    # --------------------------------------------------------------------------- close

    @staticmethod
    def _close(other: Stream) -> None:
        if other.closed or other.end.closed:
            return
        other.end.spawn(other.close())
