"""geminio packet types: wire constants, the type byte enum and one class per type: frozen
dataclasses, and the five built per frame of traffic (message-like and stream packets) from
`message_packets`, re-exported here.

Pure data with no encoding logic, so every other module (documents, encoder, decoder,
reader, and the sans-I/O connection) can depend on it without pulling in the rest. Field
names follow `geminio-wire.md` §A; JSON document fields are flattened into the packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from .message_packets import (
    MessageAckPacket,
    MessageData,
    MessagePacket,
    RequestPacket,
    ResponsePacket,
    StreamPacket,
)
from .packet_types import PacketType

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
