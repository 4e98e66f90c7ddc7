"""Packet → frame bytes, byte-identical to Go's Encode.

Conservative by design: anything a Go peer could not decode (a field out of range, an
inexpressible heartbeat, a body over the 10 MiB cap) raises `EncodeError` before a byte is
produced, so such frames are impossible by construction (§A.7, §G.1).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from .documents import (
    conn_doc,
    message_doc,
    message_doc_around_value,
    message_doc_of,
    register_doc,
    session_doc,
)
from .errors import EncodeError, PacketTooLarge
from .gojson import ZERO_TIME, GoTime, encode_time
from .packets import (
    HEADER,
    HEARTBEAT_INTERVALS,
    MAX_PACKET_LEN,
    VERSION,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    HeartbeatAckPacket,
    HeartbeatPacket,
    MessageAckPacket,
    MessageLike,
    MessagePacket,
    Packet,
    PacketType,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionLike,
    SessionPacket,
    StreamPacket,
)

__all__ = [
    "encode",
    "encode_into",
    "encoded_parts",
    "message_frame",
    "message_frame_parts",
    "message_frame_spliced",
    "stream_header",
]

_HEADER_U64: Final = struct.Struct(">BBQIQ")  # header + session ID, the prefix of most bodies
_U8 = struct.Struct(">B")
_HEARTBEAT_CODE = {seconds: code for code, seconds in enumerate(HEARTBEAT_INTERVALS)}


def _check_len(length: int, packet_type: int) -> None:
    if length > MAX_PACKET_LEN:
        raise PacketTooLarge(length, MAX_PACKET_LEN, packet_type=packet_type)


def _with_sid(p: SessionLike | MessageLike | RegisterAckPacket, doc: bytes) -> bytes:
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
    doc = conn_doc(p.meta, p.error)
    length = len(doc) + 10
    _check_len(length, p.TYPE)
    head = HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BBQ", flags, 0, p.client_id) + doc


def _enc_conn_ack(p: ConnAckPacket) -> bytes:
    doc = conn_doc(p.meta, p.error)
    length = len(doc) + 9
    _check_len(length, p.TYPE)
    head = HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BQ", p.ret_code, p.client_id) + doc


def _enc_header_only(p: DisConnPacket | HeartbeatPacket | HeartbeatAckPacket) -> bytes:
    return HEADER.pack(VERSION, p.TYPE, p.packet_id, 0)


_HEARTBEAT_ACK = int(PacketType.HEARTBEAT_ACK)


def heartbeat_ack_frame(packet_id: int) -> bytes:
    """A HeartbeatAck echoing `packet_id`, without building the packet object: a server
    answers one per client every heartbeat interval (10^5 edges: 5000 per second)."""
    return HEADER.pack(VERSION, _HEARTBEAT_ACK, packet_id, 0)


def _enc_disconn_ack(p: DisConnAckPacket) -> bytes:
    doc = conn_doc(p.meta, p.error)
    length = len(doc) + 1
    _check_len(length, p.TYPE)
    return HEADER.pack(VERSION, p.TYPE, p.packet_id, length) + _U8.pack(p.ret_code) + doc


def _enc_session(p: SessionPacket) -> bytes:
    if not 0 <= p.qos <= 0x0F:
        raise EncodeError(f"qos {p.qos} does not fit the 4-bit field")
    doc = session_doc(p.meta, p.error, p.peer)
    length = len(doc) + 10
    _check_len(length, p.TYPE)
    flags = p.qos | (0x10 if p.session_id_acquire else 0)
    head = HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">BBQ", p.priority, flags, p.negotiate_id) + doc


def _enc_session_ack(p: SessionAckPacket) -> bytes:
    doc = session_doc(p.meta, p.error, p.peer)
    length = len(doc) + 18
    _check_len(length, p.TYPE)
    head = HEADER.pack(VERSION, p.TYPE, p.packet_id, length)
    return head + struct.pack(">HQQ", 0, p.negotiate_id, p.session_id) + doc


def _enc_dismiss(p: SessionLike) -> bytes:
    return _with_sid(p, session_doc(p.meta, p.error, p.peer))


def _enc_message(p: MessageLike) -> bytes:
    return _with_sid(p, message_doc(p))


_MESSAGE_TYPES: Final[dict[int, str]] = {
    PacketType.MESSAGE: MessagePacket.__name__,
    PacketType.MESSAGE_ACK: MessageAckPacket.__name__,
    PacketType.REQUEST: RequestPacket.__name__,
    PacketType.RESPONSE: ResponsePacket.__name__,
}


def message_frame(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes = b"",
    value: bytes = b"",
    topic: str = "",
    custom: bytes = b"",
    error: str = "",
    timeout: int = 0,
    deadline: GoTime = ZERO_TIME,
    context_deadline: GoTime = ZERO_TIME,
) -> bytes:
    """The frame `encode()` makes of the Message, MessageAck, Request or Response packet with
    these fields, byte for byte, without building the packet first.

    The connection sends every message, ack, request and response through here: the frozen
    dataclass's generated `__init__` sets ten fields through `object.__setattr__` (about
    2 us, as much as encoding the frame), only for the packet to be thrown away at once.
    """
    name = _MESSAGE_TYPES.get(packet_type)
    if name is None:
        raise TypeError(f"not a message packet type: {packet_type:#04x}")
    try:
        doc = message_doc_of(key, value, topic, custom, error, timeout, deadline, context_deadline)
        length = len(doc) + 8
        _check_len(length, packet_type)
        return _HEADER_U64.pack(VERSION, packet_type, packet_id, length, session_id) + doc
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"{name}: {exc}") from None


PartsWriter: TypeAlias = Callable[
    [int, int, int, bytes, bytes | memoryview, str, bytes, str, int, GoTime, GoTime],
    tuple[bytes, bytes | memoryview, bytes] | None,
]


FrameWriter: TypeAlias = Callable[
    [int, int, int, bytes, bytes | memoryview, str, bytes, str, int, GoTime, GoTime],
    bytes | None,
]


def _writers() -> tuple[PartsWriter | None, FrameWriter | None]:
    """The compiled build's writers of relayed frames (`_docwrite`, Cython), or None in the
    pure build: `_message_frame_parts_python` then writes them, the same bytes."""
    try:
        from . import _docwrite
    except ImportError:
        return None, None
    _docwrite.configure(ZERO_TIME, encode_time, VERSION, MAX_PACKET_LEN, tuple(_MESSAGE_TYPES))
    return _docwrite.frame_parts, _docwrite.frame


_WRITERS: Final = _writers()
_write_parts: Final = _WRITERS[0]
_write_frame: Final = _WRITERS[1]


def message_frame_parts(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes,
    value_b64: bytes | memoryview,
    topic: str = "",
    custom: bytes = b"",
    error: str = "",
    timeout: int = 0,
    deadline: GoTime = ZERO_TIME,
    context_deadline: GoTime = ZERO_TIME,
) -> tuple[bytes, bytes | memoryview, bytes]:
    """The frame `message_frame` makes when the value's base64 text is `value_b64`, as
    three buffers for `writelines`: everything up to the value's text, the text itself
    (the very object passed in), everything after it. Joined, byte for byte the frame of
    `message_frame(..., value=<bytes value_b64 decodes to>, ...)` when `value_b64` is
    non-empty canonical padded base64 (`MessageData.value_b64` is).

    For relays: a received payload goes out again without being encoded (or copied) again;
    only the header, the key and the fields after the value are written anew (in C in the
    compiled build: `_docwrite`).
    """
    write = _write_parts
    if write is not None:
        parts = write(
            packet_type, packet_id, session_id, key, value_b64, topic, custom, error, timeout,
            deadline, context_deadline,
        )  # fmt: skip
        if parts is not None:
            return parts
    return _message_frame_parts_python(
        packet_type, packet_id, session_id, key, value_b64, topic, custom, error, timeout,
        deadline, context_deadline,
    )  # fmt: skip


def message_frame_spliced(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes,
    value_b64: bytes | memoryview,
    topic: str = "",
    custom: bytes = b"",
    error: str = "",
    timeout: int = 0,
    deadline: GoTime = ZERO_TIME,
    context_deadline: GoTime = ZERO_TIME,
) -> bytes:
    """`message_frame_parts` joined into one buffer: for a small value's text, whose copy
    costs less than two more buffers for the transport (in C in the compiled build, one
    allocation)."""
    write = _write_frame
    if write is not None:
        frame = write(
            packet_type, packet_id, session_id, key, value_b64, topic, custom, error, timeout,
            deadline, context_deadline,
        )  # fmt: skip
        if frame is not None:
            return frame
    parts = _message_frame_parts_python(
        packet_type, packet_id, session_id, key, value_b64, topic, custom, error, timeout,
        deadline, context_deadline,
    )  # fmt: skip
    return b"".join(parts)


def _message_frame_parts_python(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes,
    value_b64: bytes | memoryview,
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> tuple[bytes, bytes | memoryview, bytes]:
    """`message_frame_parts` without `_docwrite`: the pure build's way, and the reference
    the C writer is tested against."""
    name = _MESSAGE_TYPES.get(packet_type)
    if name is None:
        raise TypeError(f"not a message packet type: {packet_type:#04x}")
    if not value_b64:
        raise EncodeError(f"{name}: an empty value has no base64 text to splice")
    try:
        head, tail = message_doc_around_value(
            key, topic, custom, error, timeout, deadline, context_deadline
        )
        length = len(head) + len(value_b64) + len(tail) + 8
        _check_len(length, packet_type)
        prefix = _HEADER_U64.pack(VERSION, packet_type, packet_id, length, session_id)
        return prefix + head, value_b64, tail
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"{name}: {exc}") from None


def _enc_register_ack(p: RegisterAckPacket) -> bytes:
    return _with_sid(p, register_doc(p.error))


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


def _raw_parts(p: StreamPacket | RegisterPacket) -> tuple[bytes, bytes | memoryview]:
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


def encoded_parts(packet: Packet) -> tuple[bytes | memoryview, ...]:
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
