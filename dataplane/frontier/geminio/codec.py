"""geminio packets: dataclasses, encoding, and an incremental frame reader.

Sans-I/O: bytes in, packets out, and back. Every frame is a 14-byte big-endian header
(version, type, packet ID, body length) and a per-type body of a few fixed fields followed by
a Go `encoding/json` document or raw bytes (see `geminio-wire.md` §A).

Decoding is defensive where Go's is not: Go panics or allocates 4 GiB on short or oversized
bodies, we raise a typed `ProtocolError` after looking only at the header, so a hostile peer
can neither crash the process nor make it buffer more than the 10 MiB cap. Encoding is
conservative: it refuses (`EncodeError`) anything a Go peer could not decode, so such frames
are impossible by construction.

The reader keeps the caller's `bytes` chunk as its buffer when it holds no partial frame
(no copy for the common case of whole frames per read) and switches to an appendable
`bytearray` only while a frame straddles chunks, so assembling a large frame is linear.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, Final, TypeAlias

from .errors import (
    BadJSON,
    EncodeError,
    FrameTooLarge,
    IncompleteFrame,
    PacketTooLarge,
    ProtocolError,
    ShortBody,
    TrailingData,
    UnexpectedBody,
    UnknownPacketType,
)
from .gojson import (
    ZERO_TIME,
    GoTime,
    JSONObject,
    as_bytes,
    as_int64,
    as_object,
    as_string,
    as_time,
    decode_text,
    encode_bytes,
    encode_string,
    encode_time,
    fold_name,
    loads,
)

__all__ = [
    "CANCEL_CANCELED",
    "CANCEL_DEADLINE_EXCEEDED",
    "HEADER_LEN",
    "HEARTBEAT_INTERVALS",
    "MAX_PACKET_LEN",
    "RET_ERR",
    "RET_OK",
    "VERSION",
    "ConnAckPacket",
    "ConnPacket",
    "DisConnAckPacket",
    "DisConnPacket",
    "DismissAckPacket",
    "DismissPacket",
    "FrameReader",
    "HeartbeatAckPacket",
    "HeartbeatPacket",
    "MessageAckPacket",
    "MessagePacket",
    "Packet",
    "PacketType",
    "RegisterAckPacket",
    "RegisterPacket",
    "RequestCancelPacket",
    "RequestPacket",
    "ResponsePacket",
    "SessionAckPacket",
    "SessionPacket",
    "StreamPacket",
    "decode_frame",
    "encode",
    "encode_into",
    "encoded_parts",
    "stream_header",
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
class _MessageData:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePacket(_MessageData):
    """A published message; its packet ID is the message ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageAckPacket(_MessageData):
    """Ack (empty `error`) or nack of the message with the same packet ID."""

    TYPE: ClassVar[PacketType] = PacketType.MESSAGE_ACK


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPacket(_MessageData):
    """An RPC call: `key` is the method, `value` the argument; packet ID = request ID."""

    TYPE: ClassVar[PacketType] = PacketType.REQUEST


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponsePacket(_MessageData):
    """An RPC result echoing the request ID (Go never sends `custom` on responses)."""

    TYPE: ClassVar[PacketType] = PacketType.RESPONSE


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamPacket:
    """Raw bytes of a session (the net.Conn view)."""

    TYPE: ClassVar[PacketType] = PacketType.STREAM
    packet_id: int
    session_id: int
    data: bytes = b""


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

_MessageLike: TypeAlias = MessagePacket | MessageAckPacket | RequestPacket | ResponsePacket
_SessionLike: TypeAlias = DismissPacket | DismissAckPacket

# --------------------------------------------------------------------------------------------
# JSON documents (Go struct field order, omitempty as in packet/*.go)
# --------------------------------------------------------------------------------------------

_EMPTY_DOC = b"{}"


def _join_doc(members: list[bytes]) -> bytes:
    return b"{" + b",".join(members) + b"}" if members else _EMPTY_DOC


def _conn_doc(meta: bytes, error: str) -> bytes:
    if not meta and not error:
        return _EMPTY_DOC
    members = []
    if meta:
        members.append(b'"meta":' + encode_bytes(meta))
    if error:
        members.append(b'"error":' + encode_string(error))
    return _join_doc(members)


def _session_doc(meta: bytes, error: str, peer: str) -> bytes:
    if not meta and not error and not peer:
        return _EMPTY_DOC
    members = []
    if meta:
        members.append(b'"meta":' + encode_bytes(meta))
    if error:
        members.append(b'"error":' + encode_string(error))
    if peer:
        members.append(b'"peer":' + encode_string(peer))
    return _join_doc(members)


_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _message_doc(p: _MessageData) -> bytes:
    members = []
    if p.key:
        members.append(b'"key":' + encode_bytes(p.key))
    if p.value:
        members.append(b'"value":' + encode_bytes(p.value))
    if p.topic:
        members.append(b'"topic":' + encode_string(p.topic))
    if p.custom:
        members.append(b'"custom":' + encode_bytes(p.custom))
    if p.error:
        members.append(b'"error":' + encode_string(p.error))
    if p.timeout:
        if not _INT64_MIN <= p.timeout <= _INT64_MAX:
            raise EncodeError(f"timeout {p.timeout}ns does not fit a Go time.Duration")
        members.append(b'"timeout":%d' % p.timeout)
    members.append(
        b'"deadline":'
        + encode_time(p.deadline)
        + b',"context":{"deadline":'
        + encode_time(p.context_deadline)
        + b"}"
    )
    return b"{" + b",".join(members) + b"}"


def _register_doc(error: str) -> bytes:
    return b'{"error":' + encode_string(error) + b"}" if error else _EMPTY_DOC


_Buffer: TypeAlias = bytes | bytearray


def _load_doc(buf: _Buffer, start: int, end: int) -> JSONObject | None:
    """The body's JSON document as pairs, or None when it sets nothing (`{}` or `null`)."""
    if end - start == 2 and buf[start] == 0x7B and buf[start + 1] == 0x7D:
        return None
    doc = loads(decode_text(buf[start:end]))
    if doc is None:
        return None  # Go unmarshals `null` into a pointer-to-struct as "leave it zero"
    if type(doc) is not tuple:
        raise BadJSON("cannot unmarshal a non-object document into a struct")
    return doc


def _read_conn_doc(buf: _Buffer, start: int, end: int) -> tuple[bytes, str]:
    meta, error = b"", ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            name = fold_name(key)
            if name == "meta":
                meta = b"" if value is None else as_bytes(value, "meta")
            elif name == "error" and value is not None:
                error = as_string(value, "error")
    return meta, error


def _read_session_doc(buf: _Buffer, start: int, end: int) -> tuple[bytes, str, str]:
    meta, error, peer = b"", "", ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            name = fold_name(key)
            if name == "meta":
                meta = b"" if value is None else as_bytes(value, "meta")
            elif value is None:
                continue
            elif name == "error":
                error = as_string(value, "error")
            elif name == "peer":
                peer = as_string(value, "peer")
    return meta, error, peer


def _read_register_doc(buf: _Buffer, start: int, end: int) -> str:
    error = ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            if value is not None and fold_name(key) == "error":
                error = as_string(value, "error")
    return error


_MessageFields: TypeAlias = tuple[bytes, bytes, str, bytes, str, int, GoTime, GoTime]
_NO_MESSAGE_FIELDS: _MessageFields = (b"", b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME)


# Field codes, looked up by the exact key first (what Go emits) and by Go's fold otherwise.
_KEY, _VALUE, _TOPIC, _CUSTOM, _ERROR, _TIMEOUT, _DEADLINE, _CONTEXT = range(1, 9)
_MESSAGE_FIELD = {
    "key": _KEY,
    "value": _VALUE,
    "topic": _TOPIC,
    "custom": _CUSTOM,
    "error": _ERROR,
    "timeout": _TIMEOUT,
    "deadline": _DEADLINE,
    "context": _CONTEXT,
}
_ZERO_TIME_TEXT = "0001-01-01T00:00:00Z"


def _read_message_doc(buf: _Buffer, start: int, end: int) -> _MessageFields:
    doc = _load_doc(buf, start, end)
    if not doc:
        return _NO_MESSAGE_FIELDS
    key = value = custom = b""
    topic = error = ""
    timeout = 0
    deadline = context_deadline = ZERO_TIME
    for name, item in doc:
        field = _MESSAGE_FIELD.get(name) or _MESSAGE_FIELD.get(fold_name(name))
        if field is None:
            continue
        if item is None:
            # Go: null resets a []byte to nil and leaves every other kind untouched.
            if field == _KEY:
                key = b""
            elif field == _VALUE:
                value = b""
            elif field == _CUSTOM:
                custom = b""
        elif field == _DEADLINE:
            deadline = ZERO_TIME if item == _ZERO_TIME_TEXT else as_time(item, "deadline")
        elif field == _CONTEXT:
            context_deadline = _read_context(as_object(item, "context"), context_deadline)
        elif field == _VALUE:
            value = as_bytes(item, "value")
        elif field == _KEY:
            key = as_bytes(item, "key")
        elif field == _TOPIC:
            topic = as_string(item, "topic")
        elif field == _CUSTOM:
            custom = as_bytes(item, "custom")
        elif field == _ERROR:
            error = as_string(item, "error")
        else:
            timeout = as_int64(item, "timeout")
    return key, value, topic, custom, error, timeout, deadline, context_deadline


def _read_context(doc: JSONObject, deadline: GoTime) -> GoTime:
    for key, item in doc:
        if item is not None and (key == "deadline" or fold_name(key) == "deadline"):
            deadline = ZERO_TIME if item == _ZERO_TIME_TEXT else as_time(item, "context.deadline")
    return deadline


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

_HEADER = struct.Struct(">BBQI")
_HEADER_U64 = struct.Struct(">BBQIQ")  # header + session ID, the prefix of most bodies
_U64 = struct.Struct(">Q")
_U8 = struct.Struct(">B")
_HEARTBEAT_CODE = {seconds: code for code, seconds in enumerate(HEARTBEAT_INTERVALS)}


def _check_len(length: int, packet_type: int) -> None:
    if length > MAX_PACKET_LEN:
        raise PacketTooLarge(length, MAX_PACKET_LEN, packet_type=packet_type)


def _with_sid(p: _SessionLike | _MessageLike | RegisterAckPacket, doc: bytes) -> bytes:
    length = len(doc) + 8
    _check_len(length, p.TYPE)
    return _HEADER_U64.pack(VERSION, p.TYPE, p.packet_id, length, p.session_id) + doc


def _enc_conn(p: ConnPacket) -> bytes:
    code = _HEARTBEAT_CODE.get(p.heartbeat)
    if code is None:
        raise EncodeError(f"heartbeat {p.heartbeat}s is not one of {HEARTBEAT_INTERVALS} seconds")
    flags = (
        (code << 4)
        | (0x08 if p.client_id_acquire else 0)
        | (0x04 if p.packet_id_acquire else 0)
        | (0x02 if p.clear else 0)
        | (0x01 if p.retain else 0)
    )
    doc = _conn_doc(p.meta, p.error)
    length = len(doc) + 10
    _check_len(length, p.TYPE)
    head = _HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BBQ", flags, 0, p.client_id) + doc


def _enc_conn_ack(p: ConnAckPacket) -> bytes:
    doc = _conn_doc(p.meta, p.error)
    length = len(doc) + 9
    _check_len(length, p.TYPE)
    head = _HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BQ", p.ret_code, p.client_id) + doc


def _enc_header_only(p: DisConnPacket | HeartbeatPacket | HeartbeatAckPacket) -> bytes:
    return _HEADER.pack(VERSION, p.TYPE, p.packet_id, 0)


def _enc_disconn_ack(p: DisConnAckPacket) -> bytes:
    doc = _conn_doc(p.meta, p.error)
    length = len(doc) + 1
    _check_len(length, p.TYPE)
    return _HEADER.pack(VERSION, p.TYPE, p.packet_id, length) + _U8.pack(p.ret_code) + doc


def _enc_session(p: SessionPacket) -> bytes:
    if not 0 <= p.qos <= 0x0F:
        raise EncodeError(f"qos {p.qos} does not fit the 4-bit field")
    doc = _session_doc(p.meta, p.error, p.peer)
    length = len(doc) + 10
    _check_len(length, p.TYPE)
    flags = p.qos | (0x10 if p.session_id_acquire else 0)
    head = _HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BBQ", p.priority, flags, p.negotiate_id) + doc


def _enc_session_ack(p: SessionAckPacket) -> bytes:
    doc = _session_doc(p.meta, p.error, p.peer)
    length = len(doc) + 18
    _check_len(length, p.TYPE)
    head = _HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">HQQ", 0, p.negotiate_id, p.session_id) + doc


def _enc_dismiss(p: _SessionLike) -> bytes:
    return _with_sid(p, _session_doc(p.meta, p.error, p.peer))


def _enc_message(p: _MessageLike) -> bytes:
    return _with_sid(p, _message_doc(p))


def _enc_register_ack(p: RegisterAckPacket) -> bytes:
    return _with_sid(p, _register_doc(p.error))


def _enc_request_cancel(p: RequestCancelPacket) -> bytes:
    return _HEADER_U64.pack(VERSION, p.TYPE, p.packet_id, 10, p.session_id) + struct.pack(
        ">H", p.cancel_type
    )


def stream_header(packet_id: int, session_id: int, payload_length: int) -> bytes:
    """The 22 bytes that precede a StreamPacket payload.

    Lets a writer send `[stream_header(...), payload]` with `writelines` and never copy a
    large payload (or slice a memoryview of one into chunks) just to prepend 22 bytes.
    """
    if payload_length < 0:
        raise EncodeError(f"StreamPacket: negative payload length {payload_length}")
    length = payload_length + 8
    _check_len(length, PacketType.STREAM)
    try:
        return _HEADER_U64.pack(VERSION, PacketType.STREAM, packet_id, length, session_id)
    except struct.error as exc:
        raise EncodeError(f"StreamPacket: {exc}") from None


def _raw_parts(p: StreamPacket | RegisterPacket) -> tuple[bytes, bytes]:
    payload = p.data if isinstance(p, StreamPacket) else p.method
    length = len(payload) + 8
    _check_len(length, p.TYPE)
    return _HEADER_U64.pack(VERSION, p.TYPE, p.packet_id, length, p.session_id), payload


def _enc_raw(p: StreamPacket | RegisterPacket) -> bytes:
    head, payload = _raw_parts(p)
    return head + payload


# Any: each encoder takes its own packet class, which a dict's value type cannot express.
_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    ConnPacket: _enc_conn,
    ConnAckPacket: _enc_conn_ack,
    DisConnPacket: _enc_header_only,
    DisConnAckPacket: _enc_disconn_ack,
    HeartbeatPacket: _enc_header_only,
    HeartbeatAckPacket: _enc_header_only,
    SessionPacket: _enc_session,
    SessionAckPacket: _enc_session_ack,
    DismissPacket: _enc_dismiss,
    DismissAckPacket: _enc_dismiss,
    MessagePacket: _enc_message,
    MessageAckPacket: _enc_message,
    StreamPacket: _enc_raw,
    RequestPacket: _enc_message,
    ResponsePacket: _enc_message,
    RequestCancelPacket: _enc_request_cancel,
    RegisterPacket: _enc_raw,
    RegisterAckPacket: _enc_register_ack,
}


def encode(packet: Packet) -> bytes:
    """The complete frame, header first, byte-identical to what Go's Encode produces.

    Raises EncodeError (PacketTooLarge over the 10 MiB cap) for packets a Go peer could not
    decode: integers out of their field's range, an inexpressible heartbeat, a time Go
    cannot marshal.
    """
    encoder = _ENCODERS.get(type(packet))
    if encoder is None:
        raise TypeError(f"not a geminio packet: {type(packet).__name__}")
    try:
        return encoder(packet)
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"{type(packet).__name__}: {exc}") from None


def encoded_parts(packet: Packet) -> tuple[bytes, ...]:
    """The frame as buffers to hand to `writelines`, without copying raw payloads.

    Stream and Register packets come back as (header, payload) with the payload object
    itself; every other packet as a single complete frame.
    """
    if type(packet) is StreamPacket or type(packet) is RegisterPacket:
        try:
            return _raw_parts(packet)
        except struct.error as exc:
            raise EncodeError(f"{type(packet).__name__}: {exc}") from None
    return (encode(packet),)


def encode_into(out: bytearray, packet: Packet) -> int:
    """Append the frame to `out` (for batching many small frames into one write).

    Returns the number of bytes appended. `out` is untouched if encoding fails.
    """
    parts = encoded_parts(packet)
    size = 0
    for part in parts:
        out += part
        size += len(part)
    return size


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_Decoder: TypeAlias = Callable[[_Buffer, int, int, int], Packet]
_unpack_header = _HEADER.unpack_from
_unpack_u64 = _U64.unpack_from


def _dec_conn(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    flags = buf[s]
    meta, error = _read_conn_doc(buf, s + 10, e)
    return ConnPacket(
        packet_id=pid,
        client_id=_unpack_u64(buf, s + 2)[0],
        heartbeat=HEARTBEAT_INTERVALS[(flags >> 4) & 0x03],
        client_id_acquire=bool(flags & 0x08),
        packet_id_acquire=bool(flags & 0x04),
        retain=bool(flags & 0x01),
        clear=bool(flags & 0x02),
        meta=meta,
        error=error,
    )


def _dec_conn_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error = _read_conn_doc(buf, s + 9, e)
    return ConnAckPacket(
        packet_id=pid,
        ret_code=buf[s],
        client_id=_unpack_u64(buf, s + 1)[0],
        meta=meta,
        error=error,
    )


def _dec_disconn(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    return DisConnPacket(packet_id=pid)


def _dec_disconn_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error = _read_conn_doc(buf, s + 1, e)
    return DisConnAckPacket(packet_id=pid, ret_code=buf[s], meta=meta, error=error)


def _dec_heartbeat(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    return HeartbeatPacket(packet_id=pid)


def _dec_heartbeat_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    return HeartbeatAckPacket(packet_id=pid)


def _dec_session(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    flags = buf[s + 1]
    meta, error, peer = _read_session_doc(buf, s + 10, e)
    return SessionPacket(
        packet_id=pid,
        negotiate_id=_unpack_u64(buf, s + 2)[0],
        session_id_acquire=bool(flags & 0x10),
        priority=buf[s],
        qos=flags & 0x0F,
        meta=meta,
        error=error,
        peer=peer,
    )


def _dec_session_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = _read_session_doc(buf, s + 18, e)
    return SessionAckPacket(
        packet_id=pid,
        negotiate_id=_unpack_u64(buf, s + 2)[0],
        session_id=_unpack_u64(buf, s + 10)[0],
        meta=meta,
        error=error,
        peer=peer,
    )


def _dec_dismiss(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = _read_session_doc(buf, s + 8, e)
    sid = _unpack_u64(buf, s)[0]
    return DismissPacket(packet_id=pid, session_id=sid, meta=meta, error=error, peer=peer)


def _dec_dismiss_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = _read_session_doc(buf, s + 8, e)
    sid = _unpack_u64(buf, s)[0]
    return DismissAckPacket(packet_id=pid, session_id=sid, meta=meta, error=error, peer=peer)


# The hot decoders bypass the generated __init__ of these frozen dataclasses: it assigns every
# field through object.__setattr__, which costs as much as the rest of decoding a small frame.
# Writing the slots through their descriptors yields the very same object, about twice as fast.
_new = object.__new__


def _slot_writer(cls: type, name: str) -> Callable[[object, object], None]:
    writer: Callable[[object, object], None] = cls.__dict__[name].__set__
    return writer


(
    _set_packet_id,
    _set_session_id,
    _set_key,
    _set_value,
    _set_topic,
    _set_custom,
    _set_error,
    _set_timeout,
    _set_deadline,
    _set_context_deadline,
) = (_slot_writer(_MessageData, field.name) for field in fields(_MessageData))
_set_stream_packet_id, _set_stream_session_id, _set_stream_data = (
    _slot_writer(StreamPacket, field.name) for field in fields(StreamPacket)
)


def _message_decoder(cls: type[_MessageLike]) -> _Decoder:
    def decode(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
        key, value, topic, custom, error, timeout, deadline, ctx = _read_message_doc(buf, s + 8, e)
        packet = _new(cls)
        _set_packet_id(packet, pid)
        _set_session_id(packet, _unpack_u64(buf, s)[0])
        _set_key(packet, key)
        _set_value(packet, value)
        _set_topic(packet, topic)
        _set_custom(packet, custom)
        _set_error(packet, error)
        _set_timeout(packet, timeout)
        _set_deadline(packet, deadline)
        _set_context_deadline(packet, ctx)
        return packet

    return decode


def _payload(buf: _Buffer, start: int, end: int) -> bytes:
    if type(buf) is bytes:
        return buf[start:end]
    # One copy out of the bytearray; the temporary view is released before the reader
    # next resizes the buffer.
    return bytes(memoryview(buf)[start:end])


def _dec_stream(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    packet = _new(StreamPacket)
    _set_stream_packet_id(packet, pid)
    _set_stream_session_id(packet, _unpack_u64(buf, s)[0])
    _set_stream_data(packet, _payload(buf, s + 8, e))
    return packet


def _dec_request_cancel(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    # Bytes past the u16 are ignored, as by Go (it reads data[8:10] of a longer body).
    sid = _unpack_u64(buf, s)[0]
    return RequestCancelPacket(
        packet_id=pid, session_id=sid, cancel_type=(buf[s + 8] << 8) | buf[s + 9]
    )


def _dec_register(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    sid = _unpack_u64(buf, s)[0]
    return RegisterPacket(packet_id=pid, session_id=sid, method=_payload(buf, s + 8, e))


def _dec_register_ack(buf: _Buffer, s: int, e: int, pid: int) -> Packet:
    sid = _unpack_u64(buf, s)[0]
    return RegisterAckPacket(packet_id=pid, session_id=sid, error=_read_register_doc(buf, s + 8, e))


_ANY_LENGTH = 1 << 32

# type byte -> (minimum body, maximum body, decoder, name). Minimums are the fixed fields
# Go reads without checking (it panics below them, §A.7); JSON bodies must be non-empty too,
# but that surfaces as BadJSON ("unexpected end of JSON input" in Go).
_RULES: dict[int, tuple[int, int, _Decoder, str]] = {
    0x01: (10, _ANY_LENGTH, _dec_conn, "ConnPacket"),
    0x02: (9, _ANY_LENGTH, _dec_conn_ack, "ConnAckPacket"),
    0x11: (0, 0, _dec_disconn, "DisConnPacket"),
    0x12: (1, _ANY_LENGTH, _dec_disconn_ack, "DisConnAckPacket"),
    0x21: (0, 0, _dec_heartbeat, "HeartbeatPacket"),
    0x22: (0, 0, _dec_heartbeat_ack, "HeartbeatAckPacket"),
    0x31: (10, _ANY_LENGTH, _dec_session, "SessionPacket"),
    0x32: (18, _ANY_LENGTH, _dec_session_ack, "SessionAckPacket"),
    0x41: (8, _ANY_LENGTH, _dec_dismiss, "DismissPacket"),
    0x42: (8, _ANY_LENGTH, _dec_dismiss_ack, "DismissAckPacket"),
    0x51: (8, _ANY_LENGTH, _message_decoder(MessagePacket), "MessagePacket"),
    0x52: (8, _ANY_LENGTH, _message_decoder(MessageAckPacket), "MessageAckPacket"),
    0x61: (8, _ANY_LENGTH, _dec_stream, "StreamPacket"),
    0x71: (8, _ANY_LENGTH, _message_decoder(RequestPacket), "RequestPacket"),
    0x72: (8, _ANY_LENGTH, _message_decoder(ResponsePacket), "ResponsePacket"),
    0x73: (10, _ANY_LENGTH, _dec_request_cancel, "RequestCancelPacket"),
    0x81: (8, _ANY_LENGTH, _dec_register, "RegisterPacket"),
    0x82: (8, _ANY_LENGTH, _dec_register_ack, "RegisterAckPacket"),
}


def _reject_header(typ: int, length: int, limit: int, offset: int) -> ProtocolError:
    """The error for a header that fails the checks (the caller already saw one fail)."""
    if length > limit:
        return FrameTooLarge(length, limit, packet_type=typ, offset=offset)
    rule = _RULES.get(typ)
    if rule is None:
        return UnknownPacketType(typ, offset=offset)
    minimum, _, _, name = rule
    if length < minimum:
        return ShortBody(name, length, minimum, packet_type=typ, offset=offset)
    return UnexpectedBody(name, length, packet_type=typ, offset=offset)


def _located(exc: BadJSON, typ: int, offset: int) -> BadJSON:
    """gojson knows the document, not the frame: add the type byte and stream offset."""
    return BadJSON(exc.reason, position=exc.position, packet_type=typ, offset=offset)


def decode_frame(data: bytes | bytearray | memoryview) -> Packet:
    """Decode exactly one complete frame.

    Raises IncompleteFrame if `data` ends early, TrailingData if it goes on past the frame,
    and the other ProtocolErrors as FrameReader does.
    """
    buf: _Buffer = data if type(data) is bytes or type(data) is bytearray else bytes(data)
    size = len(buf)
    if size < HEADER_LEN:
        raise IncompleteFrame(size, HEADER_LEN, offset=0)
    _, typ, pid, length = _unpack_header(buf, 0)
    rule = _RULES.get(typ)
    if rule is None or length > MAX_PACKET_LEN or not rule[0] <= length <= rule[1]:
        raise _reject_header(typ, length, MAX_PACKET_LEN, 0)
    end = HEADER_LEN + length
    if size < end:
        raise IncompleteFrame(size, end, packet_type=typ, offset=0)
    if size > end:
        raise TrailingData(size - end, packet_type=typ, offset=0)
    try:
        return rule[2](buf, HEADER_LEN, end, pid)
    except BadJSON as exc:
        raise _located(exc, typ, 0) from None


class FrameReader:
    """Incremental decoder: `feed()` byte chunks as they arrive, then take packets with
    `next_packet()` (None until a whole frame is buffered) or by iterating.

    A header is judged as soon as its 14 bytes are in: an oversized, unknown, short or
    (for body-less types) non-empty frame raises at once, before any of its body is
    buffered. The first ProtocolError is sticky: every later call raises it again, because
    after it the stream cannot be trusted and the connection must be closed (as Go does).
    """

    __slots__ = ("_base", "_buf", "_error", "_limit", "_pos")

    def __init__(self, *, max_packet_len: int = MAX_PACKET_LEN) -> None:
        self._buf: _Buffer = b""
        self._pos = 0  # start of the first unconsumed byte in _buf
        self._base = 0  # stream offset of _buf[0]
        self._limit = max_packet_len
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as packets."""
        return len(self._buf) - self._pos

    @property
    def offset(self) -> int:
        """Stream offset of the next frame: the bytes consumed so far."""
        return self._base + self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes. A `bytes` chunk is kept by reference, others are copied."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        buf = self._buf
        pos = self._pos
        if pos >= len(buf):
            self._base += len(buf)
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return
        if isinstance(buf, bytes):
            # A frame straddles chunks: move to a growable buffer so that collecting even a
            # 10 MiB body from small reads stays linear.
            grown = bytearray(memoryview(buf)[pos:])
            grown += data
            self._base += pos
            self._buf = grown
        else:
            if pos:
                del buf[:pos]  # O(1)-ish in CPython: advances the bytearray's start
                self._base += pos
            buf += data
        self._pos = 0

    def next_packet(self) -> Packet | None:
        """The next complete packet, or None if more bytes are needed."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        _, typ, pid, length = _unpack_header(buf, pos)
        rule = _RULES.get(typ)
        if rule is None or length > self._limit or not rule[0] <= length <= rule[1]:
            self._error = _reject_header(typ, length, self._limit, self._base + pos)
            raise self._error
        end = pos + HEADER_LEN + length
        if end > len(buf):
            return None
        try:
            packet = rule[2](buf, pos + HEADER_LEN, end, pid)
        except BadJSON as exc:
            self._error = _located(exc, typ, self._base + pos)
            raise self._error from None
        self._pos = end
        return packet

    def __iter__(self) -> Iterator[Packet]:
        """Yield every packet that is complete in the buffer now."""
        while (packet := self.next_packet()) is not None:
            yield packet

    def eof(self) -> None:
        """Declare the end of the stream: raises IncompleteFrame if it cut a frame short.

        Complete frames still buffered are not an error; take them before or after.
        """
        if self._error is not None:
            raise self._error
        have = self.buffered
        if not have:
            return
        packet_type: int | None = None
        need = HEADER_LEN
        if have >= HEADER_LEN:
            _, packet_type, _, length = _unpack_header(self._buf, self._pos)
            need += length
        if have < need:
            self._error = IncompleteFrame(have, need, packet_type=packet_type, offset=self.offset)
            raise self._error
