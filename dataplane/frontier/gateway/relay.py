"""Forwarding one call or one message to another stream, without a task when possible.

The hot path of a gateway is "take what came in, send it on, answer the sender when the far
side answers". Done with coroutines it costs a Task, a coroutine frame and a future per
forward; here it is a `Forwarded` (no future: see geminio/aio/forwarded.py) and a callback
run as soon as the answer is read. When the far side's transport is paused (a slow
peer), the forward falls back to a task that waits for it, so write back-pressure still
holds: nothing is queued towards a peer that is not taking bytes, beyond what the source's
own bounds allow.

What is forwarded is not encoded again: a call's or message's payload goes out as the
base64 text it arrived in (`Request.data_b64`, `Message.data_b64`), spliced into the new
frame, and so does the response's on the way back (`Forwarded.data_b64`); only the
header, the method, the edge-ID trailer in `custom` and the deadline are written anew
(`encoder.message_frame_parts`, byte for byte the frame encoding the decoded payload
gives). Nor is it decoded: the decoder checks the text as Go would and leaves decoding to
whoever reads the data, which a forward never does (MQ bridges do).

Nor is it timed on its target connection: the forward timeout is kept by one queue for all
forwards (`ForwardTimeouts`, gateway/timeouts.py), the deadline still written on the wire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

from ..geminio.aio import End, EndError, Message, Stream
from ..geminio.aio.forwarded import Forwarded
from ..geminio.aio.messages import SyncRequest
from ..geminio.errors import EncodeError
from .errors import error_text
from .flow import Flow
from .tally import ForwardTally
from .timeouts import ForwardTimeouts

__all__ = ["CANCELLED_TEXT", "Relay"]

_perf_counter: Final = time.perf_counter

CANCELLED_TEXT = "context canceled"
"""What a cancelled forwarded call answers, as a cancelled Go handler does."""

_UNSENDABLE: Final = (EndError, EncodeError)
"""What a forward can fail with before anything is sent: the target is gone, or the
payload plus the edge-ID trailer is over the frame limit (answered as `error_text` says)."""


class _RelayedCall(Forwarded):
    """A call forwarded to its target: answers its source request with the outcome."""

    def __init__(
        self, relay: Relay, request: SyncRequest, tally: ForwardTally, target: Stream
    ) -> None:
        super().__init__()
        self.relay = relay
        self.request = request
        self.tally = tally
        self.target = target
        self.started = _perf_counter()

    def finished(self, error: BaseException | None) -> None:
        self.relay.timeouts.answered()
        request = self.request
        request.on_cancel = None  # (it refers to this: a cycle, while kept)
        tally = self.tally
        if error is None:
            tally.succeeded(self.started)
            request.respond(self.data, data_b64=self.data_b64)
        elif isinstance(error, asyncio.CancelledError):
            request.fail(CANCELLED_TEXT)
        else:
            tally.error += 1
            request.fail(error_text(error))
        if self.relay.settled is not None:
            self.relay.settle(request.stream.end, self.target.end)

    def source_cancelled(self, _: SyncRequest) -> None:
        """The caller cancelled its call (`SyncRequest.on_cancel`): drop this one too."""
        self.cancel()


class _RelayedMessage(Forwarded):
    """A message forwarded to its target: acks or nacks its source message with the
    outcome, and is counted in the source's `Flow` until then."""

    def __init__(
        self, relay: Relay, message: Message, tally: ForwardTally, target: Stream, flow: Flow
    ) -> None:
        super().__init__()
        self.relay = relay
        self.message = message
        self.tally = tally
        self.target = target
        self.flow = flow
        self.started = _perf_counter()

    def finished(self, error: BaseException | None) -> None:
        self.relay.timeouts.answered()
        self.flow.release()
        message = self.message
        tally = self.tally
        if error is None:
            tally.succeeded(self.started)
            message.done()
        elif isinstance(error, asyncio.CancelledError):
            return  # nobody to answer
        else:
            tally.error += 1
            message.error(error_text(error))
        if self.relay.settled is not None:
            self.relay.settle(message.stream.end, self.target.end)


def _task_canceller(task: asyncio.Task[Any]) -> Callable[[SyncRequest], None]:
    """What a call relayed by a task does when its caller cancels: cancel the task."""

    def cancel(_: SyncRequest) -> None:
        task.cancel()

    return cancel


class Relay:
    __slots__ = ("settled", "timeouts")

    def __init__(self, timeout: float) -> None:
        self.timeouts = ForwardTimeouts(timeout)
        """Every forward in flight, in the order sent: its timeout (the fallbacks that
        wait for a paused target in a task use the connection's timers, as `call()`)."""
        self.settled: Callable[[End, End], None] | None = None
        """Called with (source, target) after a forward was answered, while the gateway
        drains (None otherwise): either connection may have fallen quiet."""

    @property
    def timeout(self) -> float:
        """Seconds a forward may wait for its answer (`exchange.forward_timeout`)."""
        return self.timeouts.timeout

    # ------------------------------------------------------------------------------ calls

    def call(
        self, request: SyncRequest, target: Stream, custom: bytes, tally: ForwardTally
    ) -> None:
        """Forward `request` to `target` and answer it with the outcome."""
        proto = target.end.protocol
        if proto is None or not proto.may_send():
            request.stream.end.spawn(self._call_when_writable(request, target, custom, tally))
            return
        relayed = _RelayedCall(self, request, tally, target)
        try:
            text = request.data_b64
            target.forward_call(
                relayed,
                request.method,
                request.data if text is None else b"",  # (the data is not decoded: spliced)
                custom=custom,
                timeout=self.timeout,
                data_b64=text,
                timed=False,
            )
        except _UNSENDABLE as exc:
            tally.error += 1
            request.fail(error_text(exc))
            return
        self.timeouts.add(relayed, relayed.started)
        request.on_cancel = relayed.source_cancelled

    def settle(self, source: End, target: End) -> None:
        """Tell the drain, from the next loop iteration: a forward's outcome is handled
        while its target's End is still reading the answer (see forwarded.py), and the
        drain may close either connection. (Only while draining: one Handle then.)"""
        asyncio.get_running_loop().call_soon(self._tell_settled, source, target)

    def _tell_settled(self, source: End, target: End) -> None:
        if self.settled is not None:  # (the drain may have ended meanwhile)
            self.settled(source, target)

    async def _call_when_writable(
        self, request: SyncRequest, target: Stream, custom: bytes, tally: ForwardTally
    ) -> None:
        started = _perf_counter()
        task = asyncio.current_task()
        if task is not None:
            request.on_cancel = _task_canceller(task)
        try:
            data = await target.call(
                request.method, request.data, custom=custom, timeout=self.timeout
            )
        except asyncio.CancelledError:
            request.fail(CANCELLED_TEXT)  # dropped silently if our source End is gone
            raise
        except _UNSENDABLE as exc:
            tally.error += 1
            request.fail(error_text(exc))
        else:
            tally.succeeded(started)
            request.respond(data)
        if self.settled is not None:
            self.settled(request.stream.end, target.end)

    # --------------------------------------------------------------------------- messages

    def publish(
        self, message: Message, target: Stream, custom: bytes, tally: ForwardTally, flow: Flow
    ) -> None:
        """Forward `message` to `target`; ack or nack it with the outcome. `flow` counts
        it as in flight on its source until then."""
        proto = target.end.protocol
        if proto is None or not proto.may_send():
            flow.spawn(self._publish_when_writable(message, target, custom, tally))
            return
        relayed = _RelayedMessage(self, message, tally, target, flow)
        try:
            text = message.data_b64
            target.forward_publish(
                relayed,
                message.data if text is None else b"",  # (as for calls)
                topic=message.topic,
                custom=custom,
                timeout=self.timeout,
                data_b64=text,
                timed=False,
            )
        except _UNSENDABLE as exc:
            tally.error += 1
            message.error(error_text(exc))
            return
        self.timeouts.add(relayed, relayed.started)
        flow.hold()

    async def _publish_when_writable(
        self, message: Message, target: Stream, custom: bytes, tally: ForwardTally
    ) -> None:
        try:
            await self.publish_awaited(message, target, custom, tally)
        except _UNSENDABLE as exc:
            message.error(error_text(exc))
            return
        message.done()

    async def publish_awaited(
        self, message: Message, target: Stream, custom: bytes, tally: ForwardTally
    ) -> None:
        """Forward `message` to `target` and wait for its ack, counted in the metrics; the
        failure (`EndError`) is the caller's to answer, as when the ack joins others."""
        started = _perf_counter()
        try:
            await target.publish(
                message.data, topic=message.topic, custom=custom, timeout=self.timeout
            )
        except _UNSENDABLE:
            tally.error += 1
            raise
        tally.succeeded(started)
