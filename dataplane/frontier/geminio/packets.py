"""geminio packet types: wire constants, the type byte enum and one frozen dataclass per type.

Pure data with no encoding logic, so every other module (documents, encoder, decoder,
reader, and the sans-I/O connection) can depend on it without pulling in the rest. Field
names follow `geminio-wire.md` §A; JSON document fields are flattened into the packet.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar, Final, TypeAlias

from .gojson import ZERO_TIME, GoTime

__all__ = [
    "CANCEL_CANCELED",
    "CANCEL_DEADLINE_EXCEEDED",
    "HEADER",
    "HEADER_LEN",
    "HEARTBEAT_INTERVALS",
    "MAX_PACKET_LEN",
    "RET_ERR",
    "RET_OK",
    "U64",
    "VERSION",
    "ConnAckPacket",
    "ConnPacket",
    "DisConnAckPacket",
    "DisConnPacket",
    "DismissAckPacket",
    "DismissPacket",
    "HeartbeatAckPacket",
    "HeartbeatPacket",
    "MessageAckPacket",
    "MessageData",
    "MessageLike",
    "MessagePacket",
    "Packet",
    "PacketType",
    "RegisterAckPacket",
    "RegisterPacket",
    "RequestCancelPacket",
    "RequestPacket",
    "ResponsePacket",
    "SessionAckPacket",
    "SessionLike",
    "SessionPacket",
    "StreamPacket",
]

VERSION: Final = 0x01
"""The only version byte ever sent; Go never checks it on receipt, and neither do we."""
HEADER_LEN: Final = 14
MAX_PACKET_LEN: Final = 10 * 1024 * 1024
"""Largest body (PacketLen) a v1.3-line Go peer decodes; one byte more closes the connection."""

RET_OK: Final = 0
RET_ERR: Final = 1
CANCEL_CANCELED: Final = 1
CANCEL_DEADLINE_EXCEEDED: Final = 2
HEARTBEAT_INTERVALS: Final = (5, 20, 80, 320)
"""Heartbeat intervals (seconds) expressible in the ConnPacket flags, indexed by their code."""


class PacketType(IntEnum):
    CONN = 0x01
    CONN_ACK = 0x02
    DISCONN = 0x11
    DISCONN_ACK = 0x12
    HEARTBEAT = 0x21
    HEARTBEAT_ACK = 0x22
    SESSION = 0x31
    SESSION_ACK = 0x32
    DISMISS = 0x41
    DISMISS_ACK = 0x42
    MESSAGE = 0x51
    MESSAGE_ACK = 0x52
    STREAM = 0x61
    REQUEST = 0x71
    RESPONSE = 0x72
    REQUEST_CANCEL = 0x73
    REGISTER = 0x81
    REGISTER_ACK = 0x82


# --------------------------------------------------------------------------------------------
# Packets. Field names follow geminio-wire.md; JSON document fields are flattened into the
# packet. `packet_id` is the header ID (fresh, or echoed by acks: §A.2).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnPacket:
    """Client hello. `client_id` is the wanted ID (0 = none); `heartbeat` is in seconds."""

    TYPE: ClassVar[PacketType] = PacketType.CONN
    packet_id: int
    client_id: int = 0
    heartbeat: int = 20
    client_id_acquire: bool = True
    packet_id_acquire: bool = False
    retain: bool = False
    clear: bool = False
    meta: bytes = b""
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnAckPacket:
    """Server answer to ConnPacket (echoes its ID); `client_id` is the confirmed ID."""

    TYPE: ClassVar[PacketType] = PacketType.CONN_ACK
    packet_id: int
    ret_code: int = RET_OK
    client_id: int = 0
    meta: bytes = b""
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisConnPacket:
    TYPE: ClassVar[PacketType] = PacketType.DISCONN
    packet_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DisConnAckPacket:
    TYPE: ClassVar[PacketType] = PacketType.DISCONN_ACK
    packet_id: int
    ret_code: int = RET_OK
    meta: bytes = b""
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatPacket:
    TYPE: ClassVar[PacketType] = PacketType.HEARTBEAT
    packet_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatAckPacket:
    TYPE: ClassVar[PacketType] = PacketType.HEARTBEAT_ACK
    packet_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPacket:
    """Session open. `session_id_acquire` asks the peer to assign the ID (§C.1);
    `priority` and `qos` (a nibble) are carried but unused by Go."""

    TYPE: ClassVar[PacketType] = PacketType.SESSION
    packet_id: int
    negotiate_id: int
    session_id_acquire: bool = False
    priority: int = 0
    qos: int = 0
    meta: bytes = b""
    error: str = ""
    peer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionAckPacket:
    """Echoes the opener's packet ID and negotiate ID; `session_id` is the final ID."""

    TYPE: ClassVar[PacketType] = PacketType.SESSION_ACK
    packet_id: int
    negotiate_id: int
    session_id: int
    meta: bytes = b""
    error: str = ""
    peer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DismissPacket:
    TYPE: ClassVar[PacketType] = PacketType.DISMISS
    packet_id: int
    session_id: int
    meta: bytes = b""
    error: str = ""
    peer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DismissAckPacket:
    TYPE: ClassVar[PacketType] = PacketType.DISMISS_ACK
    packet_id: int
    session_id: int
    meta: bytes = b""
    error: str = ""
    peer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageData:
    """MessageData shared by messages, acks, requests and responses.

    `key` is the RPC method (requests/responses); `timeout` is a Go `time.Duration` in
    nanoseconds (Go senders never fill it); `deadline` comes from a per-call/per-publish
    timeout and `context_deadline` from the sender's context, both the Go zero time when
    unset (Go always emits them: `omitempty` has no effect on `time.Time`).
    """

    TYPE: ClassVar[PacketType]
    packet_id: int
    session_id: int
    key: bytes = b""
    value: bytes = b""
    topic: str = ""
    custom: bytes = b""
    error: str = ""
    timeout: int = 0
    deadline: GoTime = ZERO_TIME
    context_deadline: GoTime = ZERO_TIME
    value_b64: bytes | None = field(default=None, compare=False, repr=False)
    """The base64 text `value` arrived as (without quotes), kept by the decoder when it is
    exactly what encoding `value` again would write (Go's canonical padded base64); None
    otherwise, and on packets built here. A relay splices it into the frame it forwards
    (`encoder.message_frame_parts`) instead of encoding the payload again: not part of the
    packet's value (equality, repr).

    When the decoder keeps it, it leaves `value` unset, checked but not decoded: the first
    read of `value` decodes it (`__getattr__`), so a relay that only forwards the text
    never pays for decoding a payload it does not look at."""

    if not TYPE_CHECKING:  # (for mypy, `value` is the plain field it also is)

        def __getattr__(self, name: str) -> object:
            # Only reached for an unset slot: `value`, when the decoder left it undecoded.
            if name == "value":
                text = self.value_b64
                if text is not None:
                    value = binascii.a2b_base64(text)
                    object.__setattr__(self, "value", value)
                    return value
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePacket(MessageData):
    """A published message; its packet ID is the message ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageAckPacket(MessageData):
    """Ack (empty `error`) or nack of the message with the same packet ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE_ACK


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPacket(MessageData):
    """An RPC call: `key` is the method, `value` the argument; packet ID = request ID."""

    TYPE: ClassVar[PacketType] = PacketType.REQUEST


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponsePacket(MessageData):
    """An RPC result echoing the request ID (Go never sends `custom` on responses)."""

    TYPE: ClassVar[PacketType] = PacketType.RESPONSE


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamPacket:
    """Raw bytes of a session (the net.Conn view). A decoded payload may be a read-only
    memoryview into the frame it came in (`decoder`): forwarded, it is never copied."""

    TYPE: ClassVar[PacketType] = PacketType.STREAM
    packet_id: int
    session_id: int
    data: bytes | memoryview = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCancelPacket:
    """Cancels the request with the same packet ID. Never send it to a <= v1.1.7 Go peer:
    it cannot decode it and drops the connection (§G.1 rule 1)."""

    TYPE: ClassVar[PacketType] = PacketType.REQUEST_CANCEL
    packet_id: int
    session_id: int
    cancel_type: int = CANCEL_CANCELED


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterPacket:
    """RPC registration; the method name travels as raw bytes (not JSON, not base64)."""

    TYPE: ClassVar[PacketType] = PacketType.REGISTER
    packet_id: int
    session_id: int
    method: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterAckPacket:
    TYPE: ClassVar[PacketType] = PacketType.REGISTER_ACK
    packet_id: int
    session_id: int
    error: str = ""


Packet: TypeAlias = (
    ConnPacket
    | ConnAckPacket
    | DisConnPacket
    | DisConnAckPacket
    | HeartbeatPacket
    | HeartbeatAckPacket
    | SessionPacket
    | SessionAckPacket
    | DismissPacket
    | DismissAckPacket
    | MessagePacket
    | MessageAckPacket
    | StreamPacket
    | RequestPacket
    | ResponsePacket
    | RequestCancelPacket
    | RegisterPacket
    | RegisterAckPacket
)

MessageLike: TypeAlias = MessagePacket | MessageAckPacket | RequestPacket | ResponsePacket
SessionLike: TypeAlias = DismissPacket | DismissAckPacket
HEADER: Final = struct.Struct(">BBQI")
"""Frame header layout: version, type, packet ID, body length (all big-endian)."""
U64: Final = struct.Struct(">Q")
