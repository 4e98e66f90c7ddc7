"""Properties of the geminio codec: round trips, chunked reading, hostile input, size limits,
and the Go `encoding/json` behaviours the JSON documents depend on."""

from __future__ import annotations

import base64
import contextlib
import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from frontier.geminio import (
    HEARTBEAT_INTERVALS,
    MAX_PACKET_LEN,
    ZERO_TIME,
    BadJSON,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    EncodeError,
    FrameReader,
    FrameTooLarge,
    GoTime,
    HeartbeatAckPacket,
    HeartbeatPacket,
    IncompleteFrame,
    MessageAckPacket,
    MessagePacket,
    Packet,
    PacketTooLarge,
    PacketType,
    ProtocolError,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionPacket,
    ShortBody,
    StreamPacket,
    TrailingData,
    UnexpectedBody,
    UnknownPacketType,
    decode_frame,
    documents,
    encode,
    encode_into,
    encoded_parts,
    stream_header,
)
from frontier.geminio.documents import (
    _CANONICAL_MESSAGE_DOC,
    message_doc,
    message_doc_around_value,
    message_doc_of,
    read_message_doc,
)
from frontier.geminio.documents import _read_message_doc as _general_message_doc
from frontier.geminio.encoder import message_frame
from frontier.geminio.gojson import (
    decode_base64,
    encode_bytes,
    encode_string,
    format_time,
    parse_time,
)
from frontier.geminio.packets import MessageData
from support.go_values import go_times

NS = 1_000_000_000

# Timing is not under test, and shared CI machines stall: no per-example deadline.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

u64 = st.integers(0, 2**64 - 1)
u8 = st.integers(0, 255)
# Any text a Python str can hold and UTF-8 can carry (lone surrogates are tested apart).
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=24)
blobs = st.binary(max_size=48)


def _message_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        cls,
        packet_id=u64,
        session_id=u64,
        key=blobs,
        value=blobs,
        topic=text,
        custom=blobs,
        error=text,
        timeout=st.integers(-(2**63), 2**63 - 1),
        deadline=go_times,
        context_deadline=go_times,
    )


def _session_doc_strategy(cls: type[Any], **fixed: st.SearchStrategy[Any]) -> Any:
    return st.builds(cls, packet_id=u64, meta=blobs, error=text, peer=text, **fixed)


STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    ConnPacket: st.builds(
        ConnPacket,
        packet_id=u64,
        client_id=u64,
        heartbeat=st.sampled_from(HEARTBEAT_INTERVALS),
        client_id_acquire=st.booleans(),
        packet_id_acquire=st.booleans(),
        retain=st.booleans(),
        clear=st.booleans(),
        meta=blobs,
        error=text,
    ),
    ConnAckPacket: st.builds(
        ConnAckPacket, packet_id=u64, ret_code=u8, client_id=u64, meta=blobs, error=text
    ),
    DisConnPacket: st.builds(DisConnPacket, packet_id=u64),
    DisConnAckPacket: st.builds(
        DisConnAckPacket, packet_id=u64, ret_code=u8, meta=blobs, error=text
    ),
    HeartbeatPacket: st.builds(HeartbeatPacket, packet_id=u64),
    HeartbeatAckPacket: st.builds(HeartbeatAckPacket, packet_id=u64),
    SessionPacket: _session_doc_strategy(
        SessionPacket,
        negotiate_id=u64,
        session_id_acquire=st.booleans(),
        priority=u8,
        qos=st.integers(0, 15),
    ),
    SessionAckPacket: _session_doc_strategy(SessionAckPacket, negotiate_id=u64, session_id=u64),
    DismissPacket: _session_doc_strategy(DismissPacket, session_id=u64),
    DismissAckPacket: _session_doc_strategy(DismissAckPacket, session_id=u64),
    MessagePacket: _message_strategy(MessagePacket),
    MessageAckPacket: _message_strategy(MessageAckPacket),
    StreamPacket: st.builds(StreamPacket, packet_id=u64, session_id=u64, data=st.binary()),
    RequestPacket: _message_strategy(RequestPacket),
    ResponsePacket: _message_strategy(ResponsePacket),
    RequestCancelPacket: st.builds(
        RequestCancelPacket, packet_id=u64, session_id=u64, cancel_type=st.integers(0, 0xFFFF)
    ),
    RegisterPacket: st.builds(RegisterPacket, packet_id=u64, session_id=u64, method=blobs),
    RegisterAckPacket: st.builds(RegisterAckPacket, packet_id=u64, session_id=u64, error=text),
}
packets: st.SearchStrategy[Packet] = st.one_of(*STRATEGIES.values())
ALL_TYPES = sorted(STRATEGIES, key=lambda cls: int(cls.TYPE))
KNOWN_TYPE_BYTES = {int(t) for t in PacketType}


def _frame(packet_type: int, body: bytes, packet_id: int = 7) -> bytes:
    return (
        bytes((1, packet_type)) + packet_id.to_bytes(8, "big") + len(body).to_bytes(4, "big") + body
    )


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


def test_there_is_a_strategy_for_each_of_the_18_types() -> None:
    assert len(PacketType) == 18
    assert {cls.TYPE for cls in STRATEGIES} == set(PacketType)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda cls: cls.__name__)
@relaxed
@given(data=st.data())
def test_every_packet_type_round_trips(cls: type[Any], data: st.DataObject) -> None:
    packet = data.draw(STRATEGIES[cls])
    frame = encode(packet)
    assert frame[0] == 1
    assert frame[1] == cls.TYPE
    assert int.from_bytes(frame[10:14], "big") == len(frame) - 14
    decoded = decode_frame(frame)
    assert type(decoded) is cls
    assert decoded == packet
    assert encode(decoded) == frame


@relaxed
@given(packets)
def test_encoded_parts_and_encode_into_agree_with_encode(packet: Packet) -> None:
    frame = encode(packet)
    assert b"".join(encoded_parts(packet)) == frame
    out = bytearray(b"prefix")
    assert encode_into(out, packet) == len(frame)
    assert out == b"prefix" + frame


@relaxed
@given(packet_id=u64, session_id=u64, payload=st.binary())
def test_stream_header_plus_payload_is_a_stream_frame(
    packet_id: int, session_id: int, payload: bytes
) -> None:
    frame = stream_header(packet_id, session_id, len(payload)) + payload
    expected = StreamPacket(packet_id=packet_id, session_id=session_id, data=payload)
    assert frame == encode(expected)


def test_raw_payloads_are_not_copied_by_encoded_parts() -> None:
    payload = b"x" * 100_000
    header, body = encoded_parts(StreamPacket(packet_id=1, session_id=2, data=payload))
    assert body is payload
    assert len(header) == 22


# --------------------------------------------------------------------------------------------
# Incremental reading
# --------------------------------------------------------------------------------------------

_CHUNK_KINDS: list[Callable[[bytes], bytes | bytearray | memoryview]] = [
    bytes,
    bytearray,
    memoryview,
]


@relaxed
@given(st.lists(packets, max_size=8), st.data())
def test_reader_fed_random_splits_yields_the_same_packets(
    sent: list[Packet], data: st.DataObject
) -> None:
    stream = b"".join(encode(packet) for packet in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    reader = FrameReader()
    received: list[Packet] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        kind = data.draw(st.sampled_from(_CHUNK_KINDS))
        reader.feed(kind(stream[start:cut]))
        received.extend(reader)
        start = cut
    reader.eof()
    assert received == sent
    assert reader.offset == len(stream)
    assert reader.buffered == 0


def test_reader_copies_chunks_the_caller_may_reuse() -> None:
    frame = encode(StreamPacket(packet_id=1, session_id=2, data=b"abcdef"))
    scratch = bytearray(frame)
    reader = FrameReader()
    reader.feed(memoryview(scratch)[:20])
    scratch[:] = b"\xff" * len(scratch)  # e.g. a recv_into buffer being reused
    reader.feed(frame[20:])
    packet = reader.next_packet()
    assert packet == StreamPacket(packet_id=1, session_id=2, data=b"abcdef")
    assert isinstance(packet, StreamPacket)
    # bytes of its own, or a read-only view of bytes the reader owns (never of `scratch`)
    assert type(packet.data) is bytes or packet.data.obj is not scratch
    assert bytes(packet.data) == b"abcdef"


def test_reader_returns_none_until_the_frame_is_complete() -> None:
    frame = encode(RegisterPacket(packet_id=3, session_id=1, method=b"echo"))
    reader = FrameReader()
    for index in range(len(frame) - 1):
        reader.feed(frame[index : index + 1])
        assert reader.next_packet() is None
    reader.feed(frame[-1:])
    assert reader.next_packet() == RegisterPacket(packet_id=3, session_id=1, method=b"echo")
    assert reader.next_packet() is None


@pytest.mark.parametrize("cut", [1, 13, 14, 20])
def test_eof_inside_a_frame_is_an_incomplete_frame(cut: int) -> None:
    frame = encode(StreamPacket(packet_id=1, session_id=2, data=b"abcdef"))
    reader = FrameReader()
    reader.feed(frame[:cut])
    assert list(reader) == []
    with pytest.raises(IncompleteFrame) as caught:
        reader.eof()
    assert caught.value.have == cut
    assert caught.value.need == (14 if cut < 14 else len(frame))


def test_eof_between_frames_is_clean() -> None:
    reader = FrameReader()
    reader.feed(encode(HeartbeatPacket(packet_id=1)) * 2)
    reader.eof()  # complete frames still buffered are not an error
    assert list(reader) == [HeartbeatPacket(packet_id=1)] * 2
    reader.eof()


# --------------------------------------------------------------------------------------------
# Hostile input: only ProtocolError ever escapes, and nothing is decoded from a bad header
# --------------------------------------------------------------------------------------------

_PACKET_CLASSES = tuple(STRATEGIES)


def _drain(chunks: list[bytes]) -> list[Packet]:
    """Feed chunks, collecting packets; any error other than ProtocolError fails the test."""
    reader = FrameReader()
    got: list[Packet] = []
    try:
        for chunk in chunks:
            reader.feed(chunk)
            got.extend(reader)
        reader.eof()
    except ProtocolError:
        pass
    for packet in got:
        assert isinstance(packet, _PACKET_CLASSES)
    return got


@relaxed
@given(st.lists(st.binary(max_size=64), max_size=6))
def test_random_bytes_only_yield_packets_or_protocol_errors(chunks: list[bytes]) -> None:
    _drain(chunks)
    with contextlib.suppress(ProtocolError):
        decode_frame(b"".join(chunks))


_FIELD_NAMES = ["key", "value", "topic", "custom", "error", "timeout", "deadline", "context"]
_FIELD_NAMES += ["meta", "peer", "Value", "DEADLINE", "\u212aey", "cu\u017ftom", "x"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | text
    | st.sampled_from(["aGk=", "aGk", "0001-01-01T00:00:00Z", "2024-01-02T3:04:05,5+24:60"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES) | text, inner, max_size=4)
    ),
    max_leaves=12,
)


@relaxed
@given(
    st.sampled_from(sorted(KNOWN_TYPE_BYTES)),
    st.binary(min_size=18, max_size=18),
    json_values,
    st.sampled_from(["as-is", "truncate", "corrupt"]),
    st.integers(0, 500),
)
def test_json_like_bodies_only_yield_packets_or_protocol_errors(
    packet_type: int, fixed: bytes, document: Any, mutation: str, where: int
) -> None:
    raw = json.dumps(document).encode()
    if mutation == "truncate":
        raw = raw[: where % (len(raw) + 1)]
    elif mutation == "corrupt" and raw:
        index = where % len(raw)
        raw = raw[:index] + bytes([where % 256]) + raw[index + 1 :]
    prefix = {0x01: 10, 0x02: 9, 0x12: 1, 0x31: 10, 0x32: 18}.get(packet_type, 8)
    _drain([_frame(packet_type, fixed[:prefix] + raw)])


@relaxed
@given(packets, st.lists(st.tuples(st.integers(0, 10_000), u8), min_size=1, max_size=4))
def test_mutated_frames_only_yield_packets_or_protocol_errors(
    packet: Packet, edits: list[tuple[int, int]]
) -> None:
    frame = bytearray(encode(packet))
    for index, value in edits:
        frame[index % len(frame)] = value
    _drain([bytes(frame)])


@relaxed
@given(st.integers(0, 255).filter(lambda b: b not in KNOWN_TYPE_BYTES))
def test_unknown_type_bytes_are_rejected_from_the_header(packet_type: int) -> None:
    reader = FrameReader()
    reader.feed(_frame(packet_type, b"")[:14])
    with pytest.raises(UnknownPacketType) as caught:
        reader.next_packet()
    assert caught.value.packet_type == packet_type
    assert f"0x{packet_type:02x}" in str(caught.value)


SHORT_BODY_MINIMUMS = {
    0x01: 10,
    0x02: 9,
    0x12: 1,
    0x31: 10,
    0x32: 18,
    0x41: 8,
    0x42: 8,
    0x51: 8,
    0x52: 8,
    0x61: 8,
    0x71: 8,
    0x72: 8,
    0x73: 10,
    0x81: 8,
    0x82: 8,
}


@pytest.mark.parametrize(("packet_type", "minimum"), sorted(SHORT_BODY_MINIMUMS.items()))
def test_bodies_shorter_than_the_fixed_fields_are_rejected(packet_type: int, minimum: int) -> None:
    frame = _frame(packet_type, b"\x00" * (minimum - 1))
    with pytest.raises(ShortBody) as caught:
        decode_frame(frame)
    assert (caught.value.length, caught.value.minimum) == (minimum - 1, minimum)
    assert caught.value.packet_type == packet_type
    reader = FrameReader()
    reader.feed(frame[:14])  # judged from the header alone
    with pytest.raises(ShortBody):
        reader.next_packet()


@pytest.mark.parametrize("packet_type", [0x11, 0x21, 0x22])
def test_bodyless_types_with_a_body_are_rejected(packet_type: int) -> None:
    with pytest.raises(UnexpectedBody):
        decode_frame(_frame(packet_type, b"{}"))


@pytest.mark.parametrize("packet_type", [0x01, 0x02, 0x12, 0x31, 0x32, 0x41, 0x51, 0x82])
def test_an_empty_json_document_is_bad_json(packet_type: int) -> None:
    fixed = SHORT_BODY_MINIMUMS[packet_type]
    with pytest.raises(BadJSON, match="unexpected end of JSON input"):
        decode_frame(_frame(packet_type, b"\x00" * fixed))


def test_request_cancel_ignores_bytes_after_the_cancel_type_as_go_does() -> None:
    body = (1).to_bytes(8, "big") + b"\x00\x02" + b"junk"
    packet = decode_frame(_frame(0x73, body, packet_id=15))
    assert packet == RequestCancelPacket(packet_id=15, session_id=1, cancel_type=2)


def test_protocol_errors_are_sticky_and_carry_the_stream_offset() -> None:
    good = encode(HeartbeatPacket(packet_id=1))
    bad = _frame(0x51, (1).to_bytes(8, "big") + b"{nope")
    reader = FrameReader()
    reader.feed(good + bad + good)
    assert reader.next_packet() == HeartbeatPacket(packet_id=1)
    with pytest.raises(BadJSON) as caught:
        reader.next_packet()
    assert caught.value.offset == len(good)
    assert caught.value.packet_type == 0x51
    assert "type 0x51" in str(caught.value)
    with pytest.raises(BadJSON):
        reader.next_packet()
    with pytest.raises(BadJSON):
        reader.feed(good)


def test_decode_frame_wants_exactly_one_frame() -> None:
    frame = encode(HeartbeatPacket(packet_id=1))
    with pytest.raises(IncompleteFrame):
        decode_frame(frame[:10])
    with pytest.raises(IncompleteFrame):
        decode_frame(encode(StreamPacket(packet_id=1, session_id=1, data=b"ab"))[:-1])
    with pytest.raises(TrailingData) as caught:
        decode_frame(frame + b"\x01")
    assert caught.value.extra == 1


# --------------------------------------------------------------------------------------------
# The 10 MiB limit (§A.6): PacketLen 10 485 760 is accepted, 10 485 761 is not
# --------------------------------------------------------------------------------------------


def test_limit_is_ten_mebibytes() -> None:
    assert MAX_PACKET_LEN == 10_485_760


def test_a_frame_exactly_at_the_limit_is_decoded() -> None:
    payload = bytes(range(256)) * ((MAX_PACKET_LEN - 8) // 256)
    payload += b"\x07" * (MAX_PACKET_LEN - 8 - len(payload))
    frame = encode(StreamPacket(packet_id=9, session_id=3, data=payload))
    assert int.from_bytes(frame[10:14], "big") == MAX_PACKET_LEN
    reader = FrameReader()
    for start in range(0, len(frame), 1 << 20):
        assert reader.next_packet() is None
        reader.feed(frame[start : start + (1 << 20)])
    packet = reader.next_packet()
    assert packet == StreamPacket(packet_id=9, session_id=3, data=payload)
    assert decode_frame(frame) == packet


@relaxed
@given(st.one_of(st.integers(MAX_PACKET_LEN - 2, MAX_PACKET_LEN + 2), st.integers(0, 2**32 - 1)))
@example(MAX_PACKET_LEN)
@example(MAX_PACKET_LEN + 1)
def test_the_limit_is_judged_on_the_header_alone(length: int) -> None:
    header = bytes((1, 0x61)) + (1).to_bytes(8, "big") + length.to_bytes(4, "big")
    reader = FrameReader()
    reader.feed(header)
    if length > MAX_PACKET_LEN:
        with pytest.raises(FrameTooLarge) as caught:
            reader.next_packet()
        assert (caught.value.length, caught.value.limit) == (length, MAX_PACKET_LEN)
        assert str(length) in str(caught.value)
    elif length < 8:
        with pytest.raises(ShortBody):
            reader.next_packet()
    else:
        assert reader.next_packet() is None  # waits for the body, allocating nothing for it
        assert reader.buffered == 14


def test_a_huge_declared_length_allocates_nothing() -> None:
    header = bytes((1, 0x61)) + (1).to_bytes(8, "big") + MAX_PACKET_LEN.to_bytes(4, "big")
    tracemalloc.start()
    try:
        reader = FrameReader()
        reader.feed(header)
        reader.feed(b"\x00" * 100)
        assert reader.next_packet() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_a_lower_reader_limit_is_honoured() -> None:
    reader = FrameReader(max_packet_len=100)
    reader.feed(encode(StreamPacket(packet_id=1, session_id=1, data=b"x" * 93)))
    with pytest.raises(FrameTooLarge):
        reader.next_packet()


def test_the_encoder_refuses_frames_over_the_limit() -> None:
    at_limit = StreamPacket(packet_id=1, session_id=1, data=b"\x00" * (MAX_PACKET_LEN - 8))
    assert len(encode(at_limit)) == 14 + MAX_PACKET_LEN
    over = StreamPacket(packet_id=1, session_id=1, data=b"\x00" * (MAX_PACKET_LEN - 7))
    with pytest.raises(PacketTooLarge):
        encode(over)
    with pytest.raises(PacketTooLarge):
        encoded_parts(over)
    with pytest.raises(PacketTooLarge):
        stream_header(1, 1, MAX_PACKET_LEN - 7)
    with pytest.raises(EncodeError):
        stream_header(1, 1, -1)
    # base64 inflates message values by 4/3: 8 MiB of value no longer fits.
    with pytest.raises(PacketTooLarge):
        encode(MessagePacket(packet_id=1, session_id=1, value=b"\x00" * (8 << 20)))


# --------------------------------------------------------------------------------------------
# Encoding refuses what a Go peer could not decode
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "packet",
    [
        HeartbeatPacket(packet_id=-1),
        HeartbeatPacket(packet_id=2**64),
        ConnPacket(packet_id=1, heartbeat=30),
        ConnPacket(packet_id=1, client_id=2**64),
        ConnAckPacket(packet_id=1, ret_code=256),
        DisConnAckPacket(packet_id=1, ret_code=-1),
        SessionPacket(packet_id=1, negotiate_id=1, qos=16),
        SessionPacket(packet_id=1, negotiate_id=1, priority=256),
        SessionAckPacket(packet_id=1, negotiate_id=1, session_id=-5),
        MessagePacket(packet_id=1, session_id=1, timeout=2**63),
        MessagePacket(packet_id=1, session_id=2**64),
        RequestPacket(
            packet_id=1,
            session_id=1,
            deadline=GoTime(int(datetime(9999, 12, 31, 23, tzinfo=UTC).timestamp()) * NS, 3600),
        ),
        ResponsePacket(packet_id=1, session_id=1, context_deadline=GoTime(0, 24 * 3600)),
        RequestCancelPacket(packet_id=1, session_id=1, cancel_type=0x10000),
        StreamPacket(packet_id=1, session_id=-1, data=b""),
        RegisterPacket(packet_id=2**64, session_id=1, method=b"m"),
    ],
    ids=repr,
)
def test_unencodable_packets_raise_encode_error(packet: Packet) -> None:
    with pytest.raises(EncodeError):
        encode(packet)


def test_encode_error_is_a_value_error() -> None:
    assert issubclass(EncodeError, ValueError)
    assert not issubclass(EncodeError, ProtocolError)


def test_encode_rejects_non_packets() -> None:
    with pytest.raises(TypeError):
        encode("not a packet")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# gojson: Go encoding/json behaviour (known Go outputs from geminio-wire.md)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "go_output"),
    [
        ("<a&b>", b'"\\u003ca\\u0026b\\u003e"'),
        ("\u2028\u2029", b'"\\u2028\\u2029"'),
        ('"\\', b'"\\"\\\\"'),
        ("\b\f\n\r\t", b'"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f", b'"\\u0000\\u0001\\u001f"'),
        ("\x7f/", b'"\x7f/"'),
        ("é中😀", '"é中😀"'.encode()),
        ("no such rpc: nope", b'"no such rpc: nope"'),
        ("\ud800x", b'"\\ufffdx"'),
    ],
)
def test_strings_are_escaped_like_go(value: str, go_output: bytes) -> None:
    assert encode_string(value) == go_output


@relaxed
@given(text)
def test_encoded_strings_are_html_safe_json_that_decodes_back(value: str) -> None:
    encoded = encode_string(value)
    assert json.loads(encoded) == value
    decoded_text = encoded.decode("utf-8")
    for forbidden in "<>&\u2028\u2029":
        assert forbidden not in decoded_text
    assert all(ord(char) >= 0x20 for char in decoded_text)


@pytest.mark.parametrize(
    ("value", "go_output"),
    [
        (None, b"null"),
        (b"", b'""'),
        (b"hi", b'"aGk="'),
        (b"hello", b'"aGVsbG8="'),
        (b"echo", b'"ZWNobw=="'),
        ((42).to_bytes(8, "big"), b'"AAAAAAAAACo="'),
    ],
)
def test_bytes_are_padded_standard_base64_like_go(value: bytes | None, go_output: bytes) -> None:
    assert encode_bytes(value) == go_output


@relaxed
@given(st.binary())
def test_base64_round_trips_and_padding_is_required(data: bytes) -> None:
    encoded = encode_bytes(data)[1:-1].decode()
    assert decode_base64(encoded) == data
    assert decode_base64(encoded[:4] + "\r\n" + encoded[4:]) == data  # Go skips CR/LF
    if len(data) % 3:
        with pytest.raises(ValueError, match="padding"):
            decode_base64(encoded.rstrip("="))


@pytest.mark.parametrize("bad", ["aGk", "aGk==", "aG=k", "a===", "aGk=aGk=", "aGk!", " aGk=", "é"])
def test_base64_that_go_rejects_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - binascii.Error and ValueError both occur
        decode_base64(bad)


@pytest.mark.parametrize(
    ("moment", "go_output"),
    [
        (ZERO_TIME, "0001-01-01T00:00:00Z"),
        (GoTime(1704164645 * NS + 123_456_789), "2024-01-02T03:04:05.123456789Z"),
        (GoTime(1704164645 * NS, 8 * 3600), "2024-01-02T11:04:05+08:00"),
        (GoTime(1704164645 * NS + 100_000_000), "2024-01-02T03:04:05.1Z"),
        (GoTime(1704164645 * NS + 120_000_000, -5 * 3600 - 1800), "2024-01-01T21:34:05.12-05:30"),
        (GoTime(1704164645 * NS + 1), "2024-01-02T03:04:05.000000001Z"),
        (GoTime(0), "1970-01-01T00:00:00Z"),
        (GoTime(-1), "1969-12-31T23:59:59.999999999Z"),
        (GoTime(ZERO_TIME.unix_nanos - 86_400 * 366 * NS), "0000-01-01T00:00:00Z"),
        (GoTime(253402300799 * NS + NS - 1), "9999-12-31T23:59:59.999999999Z"),
    ],
)
def test_times_are_formatted_like_go(moment: GoTime, go_output: str) -> None:
    assert format_time(moment) == go_output
    assert parse_time(go_output) == moment


@relaxed
@given(go_times)
def test_times_round_trip_and_never_end_in_a_fraction_zero(moment: GoTime) -> None:
    formatted = format_time(moment)
    assert parse_time(formatted) == moment
    head, _, _ = formatted.partition("Z") if formatted.endswith("Z") else (formatted[:-6], "", "")
    if "." in head:
        assert not head.endswith("0")
    assert len(head) >= 19


@pytest.mark.parametrize(
    ("lenient", "canonical"),
    [
        ("2024-01-02T3:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05,5Z", "2024-01-02T03:04:05.5Z"),
        ("2024-01-02T03:04:05.1234567891234Z", "2024-01-02T03:04:05.123456789Z"),
        ("2024-01-02T03:04:05.120+00:00", "2024-01-02T03:04:05.12Z"),
        ("2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05Z"),
    ],
)
def test_go_lenient_time_forms_are_accepted(lenient: str, canonical: str) -> None:
    assert format_time(parse_time(lenient)) == canonical


def test_a_24_hour_zone_parses_but_cannot_be_marshalled_like_go() -> None:
    moment = parse_time("2024-01-02T03:04:05+24:00")
    assert moment.offset == 24 * 3600
    with pytest.raises(EncodeError, match="timezone hour"):
        format_time(moment)


@pytest.mark.parametrize(
    "bad",
    [
        "2024-01-02 03:04:05",
        "2024-01-02T03:04:05",
        "2024-01-02t03:04:05Z",
        "2024-01-02T03:04:05z",
        "2024-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:60:00Z",
        "2024-01-02T03:04:60Z",
        "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05+25:00",
        "2024-01-02T03:04:05+0800",
        "24-01-02T03:04:05Z",
        "\uff12024-01-02T03:04:05Z",
        "2024-01-02T03:04:05Z\n",
        "",
    ],
)
def test_times_go_rejects_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the defect
        parse_time(bad)


def test_leap_day_is_accepted() -> None:
    assert format_time(parse_time("2024-02-29T12:00:00Z")) == "2024-02-29T12:00:00Z"


def test_go_zero_time_is_zero_whatever_the_offset() -> None:
    assert ZERO_TIME.is_zero
    assert parse_time("0001-01-01T08:00:00+08:00").is_zero
    assert not GoTime(0).is_zero


@relaxed
@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
        ),
    )
)
def test_datetime_conversion_round_trips(moment: datetime) -> None:
    converted = GoTime.from_datetime(moment)
    assert converted.to_datetime() == moment
    assert converted.to_datetime().utcoffset() == moment.utcoffset()
    assert converted.timestamp() == pytest.approx(moment.timestamp())


def test_naive_datetimes_and_odd_offsets_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        GoTime.from_datetime(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="offset"):
        GoTime(0, 30)
    with pytest.raises(ValueError, match="offset"):
        GoTime(0, 25 * 3600 + 60)


# --- decoding documents the way Go's Unmarshal does ---------------------------------------------


def _decode_message(document: bytes) -> MessagePacket:
    body = (1).to_bytes(8, "big") + document
    packet = decode_frame(_frame(0x51, body, packet_id=13))
    assert isinstance(packet, MessagePacket)
    return packet


@pytest.mark.parametrize(
    ("document", "field", "value"),
    [
        (b'{"VALUE":"aGk=","Topic":"x","unknown":1}', "value", b"hi"),
        (b'{"\xe2\x84\xaaey":"aGk="}', "key", b"hi"),  # KELVIN SIGN folds to k in Go
        (b'{"cu\xc5\xbftom":"aGk="}', "custom", b"hi"),  # LATIN SMALL LETTER LONG S folds to s
        (b'{"valu\xc3\xa9":"aGk="}', "value", b""),  # no fold makes e-acute an e
        (b'{"value":"YQ==","VALUE":"Yg=="}', "value", b"b"),  # last occurrence wins
        (b'{"value":"aGk=","value":null}', "value", b""),  # null sets a []byte to nil
        (b'{"error":"x","error":null}', "error", "x"),  # null leaves a string alone
        (b'{"value":[104,105]}', "value", b"hi"),  # Go also takes []byte as an array
        (b'{"value":"aG\\nk="}', "value", b"hi"),  # CR/LF inside base64 are skipped
        (b'{"timeout":5000000000}', "timeout", 5_000_000_000),
        (b'{"timeout":-9223372036854775808}', "timeout", -(2**63)),
        (b'{"timeout":-0}', "timeout", 0),
        (b'{"error":"a\xffb"}', "error", "a\ufffdb"),  # invalid UTF-8: one U+FFFD per byte
        (b'{"error":"\xe2\x82"}', "error", "\ufffd\ufffd"),
        (b'{"error":"\\ud800"}', "error", "\ufffd"),  # lone surrogate escape
        (b'{"error":"\\ud83d\\ude00"}', "error", "\U0001f600"),
        (b' \t\r\n{"topic":"t"} \n', "topic", "t"),
        (b'{"x":' + b"9" * 5000 + b',"topic":"t"}', "topic", "t"),  # Go skips any number
        (b'{"x":[1,{"y":null}],"topic":"t"}', "topic", "t"),
        (b"null", "topic", ""),
    ],
)
def test_documents_decode_as_go_unmarshals_them(document: bytes, field: str, value: Any) -> None:
    assert getattr(_decode_message(document), field) == value


def test_null_and_duplicate_times_follow_go() -> None:
    kept = _decode_message(b'{"deadline":"2024-01-02T03:04:05Z","deadline":null}')
    assert format_time(kept.deadline) == "2024-01-02T03:04:05Z"
    nested = _decode_message(
        b'{"context":{"deadline":"2024-01-02T03:04:05Z"},"context":{},"Context":null}'
    )
    assert format_time(nested.context_deadline) == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"   ",
        b"[]",
        b'"x"',
        b"{",
        b'{"topic":"t"} x',
        b'{"topic":"t",}',
        b"{'topic':'t'}",
        b'{"timeout":NaN}',
        b'{"x":Infinity}',
        b'{"timeout":1.0}',
        b'{"timeout":1e3}',
        b'{"timeout":"5"}',
        b'{"timeout":9223372036854775808}',
        b'{"value":5}',
        b'{"value":[256]}',
        b'{"value":[-0]}',
        b'{"value":[true]}',
        b'{"topic":5}',
        b'{"topic":["t"]}',
        b'{"deadline":5}',
        b'{"deadline":{}}',
        b'{"context":"x"}',
        b'{"context":{"deadline":"yesterday"}}',
        b'{"topic":"a\x01b"}',
        b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\xef\xbb\xbf{}",
    ],
)
def test_documents_go_rejects_are_bad_json(document: bytes) -> None:
    with pytest.raises(BadJSON) as caught:
        _decode_message(document)
    assert caught.value.packet_type == 0x51
    assert caught.value.offset == 0


@relaxed
@given(json_values)
def test_arbitrary_json_documents_decode_or_raise_bad_json(document: Any) -> None:
    with contextlib.suppress(BadJSON):
        _decode_message(json.dumps(document).encode())


def test_session_and_register_documents_use_go_rules_too() -> None:
    body = (0).to_bytes(2, "big") + (9).to_bytes(8, "big") + b'{"PEER":"edge-1","Meta":"bQ=="}'
    packet = decode_frame(_frame(0x31, body))
    assert packet == SessionPacket(packet_id=7, negotiate_id=9, peer="edge-1", meta=b"m")
    ack = decode_frame(_frame(0x82, (1).to_bytes(8, "big") + b'{"Error":"dup","extra":[1]}'))
    assert ack == RegisterAckPacket(packet_id=7, session_id=1, error="dup")
    with pytest.raises(BadJSON):
        decode_frame(_frame(0x82, (1).to_bytes(8, "big") + b'{"error":false}'))


# --------------------------------------------------------------------------------------------
# Fast paths: each must give exactly what the general path gives (bytes, fields and errors)
# --------------------------------------------------------------------------------------------

message_packets = st.one_of(
    *(STRATEGIES[cls] for cls in (MessagePacket, MessageAckPacket, RequestPacket, ResponsePacket))
)


def _message_frame_of(packet: MessageData) -> bytes:
    return message_frame(
        packet.TYPE,
        packet.packet_id,
        packet.session_id,
        packet.key,
        packet.value,
        packet.topic,
        packet.custom,
        packet.error,
        packet.timeout,
        packet.deadline,
        packet.context_deadline,
    )


def _outcome(make: Callable[[], bytes]) -> object:
    """The bytes, or the EncodeError's type and text."""
    try:
        return make()
    except EncodeError as exc:
        return (type(exc), str(exc))


@relaxed
@given(message_packets)
def test_message_frame_is_encode_of_the_packet(packet: MessageData) -> None:
    expected = _outcome(lambda: encode(packet))  # type: ignore[arg-type]
    assert _outcome(lambda: _message_frame_of(packet)) == expected


@pytest.mark.parametrize(
    "packet",
    [
        RequestPacket(packet_id=2**64, session_id=1),
        MessagePacket(packet_id=1, session_id=-1),
        ResponsePacket(packet_id=1, session_id=1, timeout=2**63),
        MessagePacket(packet_id=1, session_id=1, value=b"x" * MAX_PACKET_LEN),
    ],
)
def test_message_frame_refuses_what_encode_refuses(packet: MessageData) -> None:
    with pytest.raises(EncodeError) as expected:
        encode(packet)  # type: ignore[arg-type]
    with pytest.raises(type(expected.value)) as caught:
        _message_frame_of(packet)
    assert str(caught.value) == str(expected.value)


def _both_message_doc_paths(document: bytes) -> tuple[object, object]:
    """(fast-path result, general-path result): fields, or the BadJSON text."""
    results: list[object] = []
    for read in (read_message_doc, _general_message_doc):
        try:
            results.append(read(document, 0, len(document)))
        except BadJSON as exc:
            results.append(("BadJSON", str(exc)))
    return results[0], results[1]


@relaxed
@given(message_packets)
def test_canonical_documents_take_the_fast_path_and_agree(packet: MessageData) -> None:
    with contextlib.suppress(EncodeError):
        document = message_doc(packet)
        fast, general = _both_message_doc_paths(document)
        assert fast == general
        if document.isascii() and b"\\" not in document:
            assert _CANONICAL_MESSAGE_DOC.fullmatch(document) is not None


@relaxed
@given(message_packets, st.lists(st.tuples(st.integers(0, 10**6), u8), min_size=1, max_size=4))
def test_damaged_documents_give_the_same_answer_on_both_paths(
    packet: MessageData, edits: list[tuple[int, int]]
) -> None:
    with contextlib.suppress(EncodeError):
        document = bytearray(message_doc(packet))
        for index, value in edits:
            document[index % len(document)] = value
        fast, general = _both_message_doc_paths(bytes(document))
        assert fast == general


@pytest.mark.parametrize(
    "document",
    [
        b'{"value":"eA==","timeout":9999999999999999999,"deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b'{"value":"eA=","deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b'{"value":"eA==","deadline":"2024-02-30T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b'{"timeout":9223372036854775807,"deadline":"2024-02-03T04:05:06.123+01:00",'
        b'"context":{"deadline":"2024-02-03T04:05:06Z"}}',
        b'{"timeout":-9223372036854775808,"deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b'{"topic":"a b","error":"!#[]~","deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
    ],
)
def test_edge_documents_agree_on_both_paths(document: bytes) -> None:
    assert _CANONICAL_MESSAGE_DOC.fullmatch(document) is not None
    fast, general = _both_message_doc_paths(document)
    assert fast == general


@pytest.mark.parametrize("cut", range(1, 40))
def test_a_stream_frame_cut_anywhere_is_reassembled_with_its_neighbours(cut: int) -> None:
    before = encode(RegisterPacket(packet_id=1, session_id=1, method=b"m"))
    payload = bytes(range(256)) * 3
    middle = encode(StreamPacket(packet_id=2, session_id=7, data=payload))
    after = encode(HeartbeatPacket(packet_id=3))
    stream = before + middle + after
    split = len(before) + cut
    reader = FrameReader()
    reader.feed(stream[:split])
    got = list(reader)
    for start in range(split, len(stream), 100):  # the rest in small pieces
        reader.feed(stream[start : start + 100])
        got.extend(reader)
    reader.eof()
    assert got == [
        RegisterPacket(packet_id=1, session_id=1, method=b"m"),
        StreamPacket(packet_id=2, session_id=7, data=payload),
        HeartbeatPacket(packet_id=3),
    ]
    # bytes, or a read-only view when the payload was most of the chunk it was read in
    data = got[1].data  # type: ignore[union-attr]
    assert type(data) is bytes or (type(data) is memoryview and data.readonly)
    assert reader.offset == len(stream)
    assert reader.buffered == 0


def test_a_frame_spanning_many_chunks_is_joined_once() -> None:
    payload = b"\xa5" * (3 * 65536 + 17)
    frames = encode(StreamPacket(packet_id=1, session_id=5, data=payload)) * 2
    reader = FrameReader()
    got: list[Packet] = []
    for start in range(0, len(frames), 65536):  # the second frame starts mid-chunk
        reader.feed(frames[start : start + 65536])
        got.extend(reader)
    assert got == [StreamPacket(packet_id=1, session_id=5, data=payload)] * 2
    assert reader.buffered == 0


def test_keys_texts_are_kept_for_a_few_short_keys_and_written_alike() -> None:
    """Method names' JSON texts are cached (documents._key_texts): what a peer inventing
    names can make the cache hold is bounded, long keys are not kept, and a cached text is
    the one written without the cache."""
    documents._KEY_TEXTS.clear()
    uncached = (
        b'{"key":"bTA=","deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}'
    )
    for index in range(documents._KEY_TEXTS_MAX * 3):
        doc = message_doc_of(b"m%d" % index, b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME)
        assert doc.startswith(b'{"key":"' + base64.b64encode(b"m%d" % index) + b'",')
        assert len(documents._KEY_TEXTS) <= documents._KEY_TEXTS_MAX
    for _ in range(2):  # written, then read from the cache
        assert message_doc_of(b"m0", b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME) == uncached
        head, _tail = message_doc_around_value(b"m0", "", b"", "", 0, ZERO_TIME, ZERO_TIME)
        assert head == b'{"key":"bTA=","value":"'
    long_key = b"k" * (documents._KEY_TEXT_LEN + 1)
    message_doc_of(long_key, b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME)
    assert long_key not in documents._KEY_TEXTS
