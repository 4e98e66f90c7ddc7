"""Exceptions of the geminio wire layer.

Two families, because they call for different reactions. A `ProtocolError` means the *peer*
sent bytes a Go geminio peer would not accept either: the only safe answer is to close the
connection, exactly as the Go read loop does. An `EncodeError` means *our own* caller asked
for a packet that cannot go on the wire without a Go peer choking on it (a field out of range,
a frame over the 10 MiB cap): it is a programming or input-validation error on our side and
nothing has been sent.

Messages name the packet type byte, lengths and offsets so that a log line alone is enough to
find the offending frame in a capture.
"""

from __future__ import annotations

__all__ = [
    "BadJSON",
    "EncodeError",
    "FrameTooLarge",
    "GeminioError",
    "IncompleteFrame",
    "PacketTooLarge",
    "ProtocolError",
    "ShortBody",
    "TrailingData",
    "UnexpectedBody",
    "UnknownPacketType",
]


def _where(packet_type: int | None, offset: int | None) -> str:
    parts = []
    if packet_type is not None:
        parts.append(f"type 0x{packet_type:02x}")
    if offset is not None:
        parts.append(f"at stream offset {offset}")
    return f" ({', '.join(parts)})" if parts else ""


class GeminioError(Exception):
    """Root of every error raised by `frontier.geminio`."""


class ProtocolError(GeminioError):
    """Inbound bytes violate the geminio wire format; the connection must be closed.

    `packet_type` is the frame's type byte when known, `offset` the position of the start of
    the offending frame in the byte stream (or in the buffer given to `decode_frame`).
    """

    def __init__(
        self, message: str, *, packet_type: int | None = None, offset: int | None = None
    ) -> None:
        super().__init__(message + _where(packet_type, offset))
        self.packet_type = packet_type
        self.offset = offset


class FrameTooLarge(ProtocolError):
    """Declared PacketLen exceeds the limit; raised before anything is buffered for the body."""

    def __init__(
        self, length: int, limit: int, *, packet_type: int | None = None, offset: int | None = None
    ) -> None:
        super().__init__(
            f"frame body length {length} exceeds the limit of {limit} bytes",
            packet_type=packet_type,
            offset=offset,
        )
        self.length = length
        self.limit = limit


class UnknownPacketType(ProtocolError):
    """The type byte is none of the 18 geminio packet types (Go closes the connection too)."""

    def __init__(self, packet_type: int, *, offset: int | None = None) -> None:
        super().__init__(
            f"unknown packet type byte 0x{packet_type:02x}", packet_type=packet_type, offset=offset
        )


class ShortBody(ProtocolError):
    """The body is shorter than the type's fixed fields (Go itself would panic on it)."""

    def __init__(
        self, name: str, length: int, minimum: int, *, packet_type: int, offset: int | None = None
    ) -> None:
        super().__init__(
            f"{name} body of {length} bytes is shorter than the {minimum} bytes required",
            packet_type=packet_type,
            offset=offset,
        )
        self.length = length
        self.minimum = minimum


class UnexpectedBody(ProtocolError):
    """A body-less type (DisConn, Heartbeat, HeartbeatAck) declared a non-zero PacketLen.

    Go reads no body for these types, so such a frame desynchronises a Go reader; we refuse it
    rather than guess where the next frame starts.
    """

    def __init__(
        self, name: str, length: int, *, packet_type: int, offset: int | None = None
    ) -> None:
        super().__init__(
            f"{name} must have an empty body but declares {length} bytes",
            packet_type=packet_type,
            offset=offset,
        )
        self.length = length


class BadJSON(ProtocolError):
    """The JSON document of a body is invalid or has a field Go's decoder would reject.

    `position` is the character index inside the document when known.
    """

    def __init__(
        self,
        reason: str,
        *,
        position: int | None = None,
        packet_type: int | None = None,
        offset: int | None = None,
    ) -> None:
        at = f" at document position {position}" if position is not None else ""
        super().__init__(f"bad JSON body: {reason}{at}", packet_type=packet_type, offset=offset)
        self.reason = reason
        self.position = position


class IncompleteFrame(ProtocolError):
    """The bytes end inside a frame (a truncated buffer, or EOF in the middle of a frame)."""

    def __init__(
        self, have: int, need: int, *, packet_type: int | None = None, offset: int | None = None
    ) -> None:
        super().__init__(
            f"incomplete frame: {have} bytes available, {need} needed",
            packet_type=packet_type,
            offset=offset,
        )
        self.have = have
        self.need = need


class TrailingData(ProtocolError):
    """`decode_frame` was given more bytes than the single frame it decodes."""

    def __init__(self, extra: int, *, packet_type: int, offset: int) -> None:
        super().__init__(
            f"{extra} bytes follow the end of the frame", packet_type=packet_type, offset=offset
        )
        self.extra = extra


class EncodeError(GeminioError, ValueError):
    """A packet cannot be encoded into something a Go peer accepts; nothing was produced."""


class PacketTooLarge(EncodeError):
    """The encoded body would exceed the 10 MiB PacketLen cap (Go's `ErrPacketTooLarge`)."""

    def __init__(self, length: int, limit: int, *, packet_type: int) -> None:
        super().__init__(
            f"type 0x{packet_type:02x} body of {length} bytes exceeds the limit of {limit} bytes"
        )
        self.length = length
        self.limit = limit
