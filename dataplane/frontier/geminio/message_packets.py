"""The packets built for every frame of application traffic: messages, acks, calls,
responses and stream bytes. Plain classes with read-only fields, compiled (their
`__init__` a tenth of a frozen dataclass's), where the other packets (`packets`) stay frozen
dataclasses in an interpreted module: compiled, a frozen dataclass's generated `__init__`
fails on its `TYPE` class variable. `packets` re-exports these.
"""

from __future__ import annotations

import binascii
from typing import ClassVar

from .gojson import ZERO_TIME, GoTime
from .packet_types import PacketType
from .valueclass import ValueObject

__all__ = [
    "MessageAckPacket",
    "MessageData",
    "MessagePacket",
    "RequestPacket",
    "ResponsePacket",
    "StreamPacket",
]


class _SessionPacket(ValueObject):
    """What every packet of a session carries: its packet ID and its session's ID."""

    def __init__(self, packet_id: int, session_id: int) -> None:
        self._packet_id = packet_id
        self._session_id = session_id

    @property
    def packet_id(self) -> int:
        return self._packet_id

    @property
    def session_id(self) -> int:
        return self._session_id


class MessageData(_SessionPacket):
    """MessageData shared by messages, acks, requests and responses.

    `key` is the RPC method (requests/responses); `timeout` is a Go `time.Duration` in
    nanoseconds (Go senders never fill it); `deadline` comes from a per-call/per-publish
    timeout and `context_deadline` from the sender's context, both the Go zero time when
    unset (Go always emits them: `omitempty` has no effect on `time.Time`).

    A plain class with read-only fields, not a frozen dataclass like the other packets:
    one is built for every message, ack, call and response, and compiled, its `__init__`
    is a tenth of the dataclass's (whose writes went through `object.__setattr__`, or
    through slot descriptors, a call each). Equal, hashed and shown as the dataclass was
    (`ValueObject`; `value_b64` is not part of the value).
    """

    TYPE: ClassVar[PacketType]
    __match_args__: ClassVar[tuple[str, ...]] = (
        "packet_id",
        "session_id",
        "key",
        "value",
        "topic",
        "custom",
        "error",
        "timeout",
        "deadline",
        "context_deadline",
    )

    def __init__(
        self,
        *,
        packet_id: int,
        session_id: int,
        key: bytes = b"",
        value: bytes | None = b"",
        topic: str = "",
        custom: bytes = b"",
        error: str = "",
        timeout: int = 0,
        deadline: GoTime = ZERO_TIME,
        context_deadline: GoTime = ZERO_TIME,
        value_b64: bytes | None = None,
    ) -> None:
        """`value` None: not decoded (the decoder's choice for a large payload), its
        canonical text in `value_b64`; the first read of `value` decodes it."""
        if value is None and value_b64 is None:
            raise ValueError("an undecoded value needs its text (value_b64)")
        super().__init__(packet_id, session_id)
        self._key = key
        self._value = value
        self._topic = topic
        self._custom = custom
        self._error = error
        self._timeout = timeout
        self._deadline = deadline
        self._context_deadline = context_deadline
        self._value_b64 = value_b64

    @property
    def key(self) -> bytes:
        return self._key

    @property
    def value(self) -> bytes:
        value = self._value
        if value is None:
            text = self._value_b64
            assert text is not None  # (checked when built)
            value = self._value = binascii.a2b_base64(text)
        return value

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def custom(self) -> bytes:
        return self._custom

    @property
    def error(self) -> str:
        return self._error

    @property
    def timeout(self) -> int:
        return self._timeout

    @property
    def deadline(self) -> GoTime:
        return self._deadline

    @property
    def context_deadline(self) -> GoTime:
        return self._context_deadline

    @property
    def value_b64(self) -> bytes | None:
        """The base64 text `value` arrived as (without quotes), kept by the decoder when it
        is exactly what encoding `value` again would write (Go's canonical padded base64);
        None otherwise, and on packets built here. A relay splices it into the frame it
        forwards (`encoder.message_frame_parts`) instead of encoding the payload again.
        When the decoder keeps it for a large payload, `value` is decoded on first read,
        so a relay that only forwards the text never pays for decoding it."""
        return self._value_b64

    @property
    def value_decoded(self) -> bool:
        """Whether `value` was decoded (read, or decoded on arrival)."""
        return self._value is not None


class MessagePacket(MessageData):
    """A published message; its packet ID is the message ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE


class MessageAckPacket(MessageData):
    """Ack (empty `error`) or nack of the message with the same packet ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE_ACK


class RequestPacket(MessageData):
    """An RPC call: `key` is the method, `value` the argument; packet ID = request ID."""

    TYPE: ClassVar[PacketType] = PacketType.REQUEST


class ResponsePacket(MessageData):
    """An RPC result echoing the request ID (Go never sends `custom` on responses)."""

    TYPE: ClassVar[PacketType] = PacketType.RESPONSE


class StreamPacket(_SessionPacket):
    """Raw bytes of a session (the net.Conn view). A decoded payload may be a read-only
    memoryview into the frame it came in (`decoder`): forwarded, it is never copied.
    A plain class with read-only fields, as `MessageData` and for the same reason."""

    TYPE: ClassVar[PacketType] = PacketType.STREAM
    __match_args__: ClassVar[tuple[str, ...]] = ("packet_id", "session_id", "data")

    def __init__(self, *, packet_id: int, session_id: int, data: bytes | memoryview = b"") -> None:
        super().__init__(packet_id, session_id)
        self._data = data

    @property
    def data(self) -> bytes | memoryview:
        return self._data
