"""Frame bytes → packet, defensive where Go is not.

Go panics or allocates 4 GiB on short or oversized bodies; here each type's body-length
rule is checked from the header alone (`RULES`), before any body is looked at, and every
failure is a typed `ProtocolError` that names the type byte and stream offset (§A.7).
`FrameReader` shares these rules for the incremental case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

from .documents import (
    Buffer,
    read_conn_doc,
    read_message_doc_b64,
    read_register_doc,
    read_session_doc,
)
from .errors import (
    BadJSON,
    FrameTooLarge,
    IncompleteFrame,
    ProtocolError,
    ShortBody,
    TrailingData,
    UnexpectedBody,
    UnknownPacketType,
)
from .packets import (
    HEADER,
    HEADER_LEN,
    HEARTBEAT_INTERVALS,
    MAX_PACKET_LEN,
    U64,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    HeartbeatAckPacket,
    HeartbeatPacket,
    MessageAckPacket,
    MessagePacket,
    Packet,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionPacket,
    StreamPacket,
)

__all__ = [
    "RULES",
    "decode_body",
    "decode_frame",
    "located",
    "new_stream_packet",
    "reject_header",
    "stream_payload",
    "unpack_header",
]

unpack_header: Final = HEADER.unpack_from
_unpack_u64: Final = U64.unpack_from
_Decoder: TypeAlias = Callable[[Buffer, int, int, int], Packet]


def _dec_conn(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    flags = buf[s]
    meta, error = read_conn_doc(buf, s + 10, e)
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


def _dec_conn_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error = read_conn_doc(buf, s + 9, e)
    return ConnAckPacket(
        packet_id=pid,
        ret_code=buf[s],
        client_id=_unpack_u64(buf, s + 1)[0],
        meta=meta,
        error=error,
    )


def _dec_disconn(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    return DisConnPacket(packet_id=pid)


def _dec_disconn_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error = read_conn_doc(buf, s + 1, e)
    return DisConnAckPacket(packet_id=pid, ret_code=buf[s], meta=meta, error=error)


def _dec_heartbeat(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    return HeartbeatPacket(packet_id=pid)


def _dec_heartbeat_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    return HeartbeatAckPacket(packet_id=pid)


def _dec_session(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    flags = buf[s + 1]
    meta, error, peer = read_session_doc(buf, s + 10, e)
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


def _dec_session_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = read_session_doc(buf, s + 18, e)
    return SessionAckPacket(
        packet_id=pid,
        negotiate_id=_unpack_u64(buf, s + 2)[0],
        session_id=_unpack_u64(buf, s + 10)[0],
        meta=meta,
        error=error,
        peer=peer,
    )


def _dec_dismiss(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = read_session_doc(buf, s + 8, e)
    sid = _unpack_u64(buf, s)[0]
    return DismissPacket(packet_id=pid, session_id=sid, meta=meta, error=error, peer=peer)


def _dec_dismiss_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    meta, error, peer = read_session_doc(buf, s + 8, e)
    sid = _unpack_u64(buf, s)[0]
    return DismissAckPacket(packet_id=pid, session_id=sid, meta=meta, error=error, peer=peer)


# The four message-like packets, each built through its class's compiled constructor, named
# here: called through a class object, the keywords would be parsed at run time (a
# microsecond per frame).


def _dec_message(buf: Buffer, s: int, e: int, pid: int) -> MessagePacket:
    key, value, topic, custom, error, timeout, deadline, ctx, value_b64 = read_message_doc_b64(
        buf, s + 8, e
    )
    return MessagePacket(
        packet_id=pid, session_id=_unpack_u64(buf, s)[0], key=key, value=value, topic=topic,
        custom=custom, error=error, timeout=timeout, deadline=deadline, context_deadline=ctx,
        value_b64=value_b64,
    )  # fmt: skip


def _dec_message_ack(buf: Buffer, s: int, e: int, pid: int) -> MessageAckPacket:
    key, value, topic, custom, error, timeout, deadline, ctx, value_b64 = read_message_doc_b64(
        buf, s + 8, e
    )
    return MessageAckPacket(
        packet_id=pid, session_id=_unpack_u64(buf, s)[0], key=key, value=value, topic=topic,
        custom=custom, error=error, timeout=timeout, deadline=deadline, context_deadline=ctx,
        value_b64=value_b64,
    )  # fmt: skip


def _dec_request(buf: Buffer, s: int, e: int, pid: int) -> RequestPacket:
    key, value, topic, custom, error, timeout, deadline, ctx, value_b64 = read_message_doc_b64(
        buf, s + 8, e
    )
    return RequestPacket(
        packet_id=pid, session_id=_unpack_u64(buf, s)[0], key=key, value=value, topic=topic,
        custom=custom, error=error, timeout=timeout, deadline=deadline, context_deadline=ctx,
        value_b64=value_b64,
    )  # fmt: skip


def _dec_response(buf: Buffer, s: int, e: int, pid: int) -> ResponsePacket:
    key, value, topic, custom, error, timeout, deadline, ctx, value_b64 = read_message_doc_b64(
        buf, s + 8, e
    )
    return ResponsePacket(
        packet_id=pid, session_id=_unpack_u64(buf, s)[0], key=key, value=value, topic=topic,
        custom=custom, error=error, timeout=timeout, deadline=deadline, context_deadline=ctx,
        value_b64=value_b64,
    )  # fmt: skip


def _payload(buf: Buffer, start: int, end: int) -> bytes:
    if type(buf) is bytes:
        return buf[start:end]
    # One copy out of the bytearray; the temporary view is released before the reader
    # next resizes the buffer.
    return bytes(memoryview(buf)[start:end])


def new_stream_packet(pid: int, session_id: int, data: bytes | memoryview) -> StreamPacket:
    """A StreamPacket from fields already decoded (FrameReader joins straddling payloads)."""
    return StreamPacket(packet_id=pid, session_id=session_id, data=data)


def stream_payload(buf: Buffer, start: int, end: int) -> bytes | memoryview:
    """`buf[start:end]` as a stream payload: a read-only view, not a copy, when it is at
    least an eighth of the bytes read with it (a relay writes it on as it is), else a copy:
    a view keeps its whole chunk alive, which must not turn a small payload into a large
    chunk held while the far side drains (at most 8x the payload is held that way)."""
    if type(buf) is bytes and (end - start) * 8 >= len(buf):
        if start == 0 and end == len(buf):
            return buf
        return memoryview(buf)[start:end]
    return _payload(buf, start, end)


def _dec_stream(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    return new_stream_packet(pid, _unpack_u64(buf, s)[0], stream_payload(buf, s + 8, e))


def _dec_request_cancel(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    # Bytes past the u16 are ignored, as by Go (it reads data[8:10] of a longer body).
    sid = _unpack_u64(buf, s)[0]
    return RequestCancelPacket(
        packet_id=pid, session_id=sid, cancel_type=(buf[s + 8] << 8) | buf[s + 9]
    )


def _dec_register(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    sid = _unpack_u64(buf, s)[0]
    return RegisterPacket(packet_id=pid, session_id=sid, method=_payload(buf, s + 8, e))


def _dec_register_ack(buf: Buffer, s: int, e: int, pid: int) -> Packet:
    sid = _unpack_u64(buf, s)[0]
    return RegisterAckPacket(packet_id=pid, session_id=sid, error=read_register_doc(buf, s + 8, e))


_ANY_LENGTH = 1 << 32

# type byte -> (minimum body, maximum body, decoder, name). Minimums are the fixed fields
# Go reads without checking (it panics below them, §A.7); JSON bodies must be non-empty too,
# but that surfaces as BadJSON ("unexpected end of JSON input" in Go).
RULES: Final[dict[int, tuple[int, int, _Decoder, str]]] = {
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
    0x51: (8, _ANY_LENGTH, _dec_message, "MessagePacket"),
    0x52: (8, _ANY_LENGTH, _dec_message_ack, "MessageAckPacket"),
    0x61: (8, _ANY_LENGTH, _dec_stream, "StreamPacket"),
    0x71: (8, _ANY_LENGTH, _dec_request, "RequestPacket"),
    0x72: (8, _ANY_LENGTH, _dec_response, "ResponsePacket"),
    0x73: (10, _ANY_LENGTH, _dec_request_cancel, "RequestCancelPacket"),
    0x81: (8, _ANY_LENGTH, _dec_register, "RegisterPacket"),
    0x82: (8, _ANY_LENGTH, _dec_register_ack, "RegisterAckPacket"),
}


def decode_body(typ: int, buf: Buffer, s: int, e: int, pid: int) -> Packet:
    """The packet of type `typ` whose body is `buf[s:e]`, its header already checked
    against `RULES`: the traffic's types by direct (compiled) calls, the rest through the
    table, a generic call."""
    if typ == 0x71:
        return _dec_request(buf, s, e, pid)
    if typ == 0x72:
        return _dec_response(buf, s, e, pid)
    if typ == 0x51:
        return _dec_message(buf, s, e, pid)
    if typ == 0x52:
        return _dec_message_ack(buf, s, e, pid)
    if typ == 0x61:
        return _dec_stream(buf, s, e, pid)
    return RULES[typ][2](buf, s, e, pid)


def reject_header(typ: int, length: int, limit: int, offset: int) -> ProtocolError:
    """The error for a header that fails the checks (the caller already saw one fail)."""
    if length > limit:
        return FrameTooLarge(length, limit, packet_type=typ, offset=offset)
    rule = RULES.get(typ)
    if rule is None:
        return UnknownPacketType(typ, offset=offset)
    minimum, _, _, name = rule
    if length < minimum:
        return ShortBody(name, length, minimum, packet_type=typ, offset=offset)
    return UnexpectedBody(name, length, packet_type=typ, offset=offset)


def located(exc: BadJSON, typ: int, offset: int) -> BadJSON:
    """gojson knows the document, not the frame: add the type byte and stream offset."""
    return BadJSON(exc.reason, position=exc.position, packet_type=typ, offset=offset)


def decode_frame(data: bytes | bytearray | memoryview) -> Packet:
    """Decode exactly one complete frame.

    Raises IncompleteFrame if `data` ends early, TrailingData if it goes on past the frame,
    and the other ProtocolErrors as FrameReader does.
    """
    buf: Buffer = data if type(data) is bytes or type(data) is bytearray else bytes(data)
    size = len(buf)
    if size < HEADER_LEN:
        raise IncompleteFrame(size, HEADER_LEN, offset=0)
    _, typ, pid, length = unpack_header(buf, 0)
    rule = RULES.get(typ)
    if rule is None or length > MAX_PACKET_LEN or not rule[0] <= length <= rule[1]:
        raise reject_header(typ, length, MAX_PACKET_LEN, 0)
    end = HEADER_LEN + length
    if size < end:
        raise IncompleteFrame(size, end, packet_type=typ, offset=0)
    if size > end:
        raise TrailingData(size - end, packet_type=typ, offset=0)
    try:
        return decode_body(typ, buf, HEADER_LEN, end, pid)
    except BadJSON as exc:
        raise located(exc, typ, 0) from None
