"""What the End hands to application code: received messages and RPC requests.

Both keep the received packet rather than copying its fields, and know their stream, so a
message can be acked (`done`) or nacked (`error`) from wherever the application holds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from ..gojson import GoTime
from ..packets import MessagePacket, RequestPacket

if TYPE_CHECKING:
    from .stream import Stream

__all__ = ["Handler", "Message", "Request", "SyncRequest"]


class Message:
    """A received message. Answer it once: `done()` acks, `error(text)` nacks with `text`.

    A publisher waiting for the ack blocks until one of them is called (or its timeout), so
    forgetting to answer stalls the publisher, exactly as with Go's `Receive`.
    """

    __slots__ = ("_answered", "_packet", "stream")

    def __init__(self, stream: Stream, packet: MessagePacket) -> None:
        self.stream = stream
        self._packet = packet
        self._answered = False

    @property
    def data(self) -> bytes:
        return self._packet.value

    @property
    def data_b64(self) -> bytes | None:
        """`data` as the base64 text it arrived in, when that text can be forwarded in its
        place (`MessageData.value_b64`): `Stream.publish_future(data_b64=...)`."""
        return self._packet.value_b64

    @property
    def topic(self) -> str:
        return self._packet.topic

    @property
    def custom(self) -> bytes:
        return self._packet.custom

    @property
    def message_id(self) -> int:
        return self._packet.packet_id

    @property
    def client_id(self) -> int:
        return self.stream.client_id

    @property
    def deadline(self) -> GoTime:
        return self._packet.deadline

    def done(self) -> bool:
        """Ack the message. False if it was already answered or its stream is gone."""
        return self._answer("")

    def error(self, text: str) -> bool:
        """Nack the message: the publisher's `publish` raises `PublishRejected(text)`."""
        return self._answer(text or "error")

    def _answer(self, text: str) -> bool:
        if self._answered:
            return False
        self._answered = True
        return self.stream._ack(self._packet.packet_id, text)

    def __repr__(self) -> str:
        return f"<Message {self.message_id} topic={self.topic!r} {len(self.data)} bytes>"


class Request:
    """An RPC call for one of our handlers (or our hijack)."""

    __slots__ = ("_packet", "hijacked", "method", "stream")

    def __init__(self, stream: Stream, packet: RequestPacket, method: str, hijacked: bool) -> None:
        self.stream = stream
        self._packet = packet
        self.method = method
        self.hijacked = hijacked

    @property
    def data(self) -> bytes:
        return self._packet.value

    @property
    def data_b64(self) -> bytes | None:
        """As `Message.data_b64`: for `Stream.call_future(data_b64=...)`."""
        return self._packet.value_b64

    @property
    def custom(self) -> bytes:
        return self._packet.custom

    @property
    def request_id(self) -> int:
        return self._packet.packet_id

    @property
    def client_id(self) -> int:
        return self.stream.client_id

    @property
    def deadline(self) -> GoTime:
        return self._packet.deadline

    @property
    def context_deadline(self) -> GoTime:
        return self._packet.context_deadline

    @property
    def raw_method(self) -> bytes:
        return self._packet.key

    def __repr__(self) -> str:
        return f"<Request {self.request_id} {self.method!r} {len(self.data)} bytes>"


class SyncRequest(Request):
    """A call handed to a `Stream.hijack_sync` callback: answer it once, with
    `respond(data)` or `fail(text)`, from wherever the application holds it."""

    __slots__ = ("_answered", "_cancelled", "on_cancel")

    def __init__(self, stream: Stream, packet: RequestPacket, method: str, hijacked: bool) -> None:
        # Request.__init__'s four fields set here, not through super(): one interpreted
        # call less per relayed call (this class is built for every one)
        self.stream = stream
        self._packet = packet
        self.method = method
        self.hijacked = hijacked
        self._answered = False
        self._cancelled = False
        self.on_cancel: Callable[[SyncRequest], None] | None = None
        """Called once, synchronously, if the caller cancels the call (RequestCancel)."""

    def respond(
        self, data: bytes | bytearray | memoryview = b"", *, data_b64: bytes | None = None
    ) -> bool:
        """Answer with `data`. True if this call answered the request; False if it was
        already answered, or if its stream or connection is gone (nothing is sent).
        `data_b64`: `data` as base64 text received with it (a relayed response's,
        `PendingFuture.data_b64`), sent as it is instead of encoding `data` again."""
        return self.stream._end._answer_sync(
            self, data if type(data) is bytes else bytes(data), "", data_b64
        )

    def fail(self, text: str) -> bool:
        """Answer with an error: the caller's `call()` raises `RPCError(text)`. As
        `respond` for the result."""
        return self.stream._end._answer_sync(self, b"", text or "error")

    @property
    def answered(self) -> bool:
        """Answered, or dropped because the connection ended."""
        return self._answered

    @property
    def cancelled(self) -> bool:
        """The caller sent RequestCancel for this call."""
        return self._cancelled

    def _cancel(self) -> None:
        if self._cancelled or self._answered:
            return
        self._cancelled = True
        if self.on_cancel is not None:
            self.on_cancel(self)


Handler: TypeAlias = Callable[[Request], Awaitable[bytes | bytearray | memoryview | None]]
"""An RPC handler: returns the response data; raising sends `str(exc)` as the error text."""
