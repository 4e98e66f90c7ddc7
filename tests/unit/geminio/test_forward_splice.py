"""Forwarding a received payload without encoding it again (`MessageData.value_b64`,
`encoder.message_frame_parts`).

A relay (the gateway) changes a forwarded message's or request's header and the fields
around its value, never the value: the decoder keeps the value's base64 text when writing
the decoded bytes again would give that very text, and the encoder splices it back in. The
one property that matters: a frame built by splicing is byte for byte the frame built by
decoding and encoding again, for any fields around it, for the Go conformance vectors and
for base64 a Go peer may send that is not canonical (spare bits set).
"""

from __future__ import annotations

import binascii

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from frontier.geminio import (
    BadJSON,
    EncodeError,
    FrameReader,
    HeartbeatPacket,
    MessagePacket,
    Packet,
    RequestPacket,
    StreamPacket,
    decode_frame,
    encode,
)
from frontier.geminio.documents import (
    _CANONICAL_MESSAGE_DOC,
    canonical_b64,
    message_doc,
    read_message_doc,
)
from frontier.geminio.documents import _read_message_doc as _general_message_doc
from frontier.geminio.encoder import message_frame, message_frame_parts
from frontier.geminio.events import RequestReceived, ResponseReceived, StreamDataReceived
from frontier.geminio.gojson import GoTime
from frontier.geminio.packets import MessageData
from frontier.geminio.session import Hijack
from support.geminio_link import connected_link

from .test_codec_properties import message_packets, relaxed
from .test_vectors import NAMES, VECTORS

MESSAGE_TYPES = (0x51, 0x52, 0x71, 0x72)
ZERO_DEADLINE = b'"deadline":"0001-01-01T00:00:00Z","context":{"deadline":"0001-01-01T00:00:00Z"}'

u64 = st.integers(0, 2**64 - 1)
times = st.builds(
    GoTime,
    st.integers(-(62135596800 * 10**9), 253402300799 * 10**9),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: minutes * 60),
)
# What a relay changes: the type (a request's answer is a response), IDs, the key, and the
# fields after the value (the edge-ID trailer in `custom`, its own deadline).
around = st.tuples(
    st.sampled_from(MESSAGE_TYPES),
    u64,
    u64,
    st.binary(max_size=16),
    st.text(max_size=8),
    st.binary(max_size=24),
    st.text(max_size=8),
    st.integers(-(2**63), 2**63 - 1),
    times,
    times,
)


def _both(
    value: bytes,
    value_b64: bytes,
    fields: tuple[int, int, int, bytes, str, bytes, str, int, GoTime, GoTime],
) -> tuple[object, object]:
    """(the spliced frame, the re-encoded frame), or each one's EncodeError text."""
    kind, packet_id, session_id, key, topic, custom, error, timeout, deadline, ctx = fields
    results: list[object] = []
    for make in (
        lambda: b"".join(
            message_frame_parts(
                kind,
                packet_id,
                session_id,
                key,
                value_b64,
                topic,
                custom,
                error,
                timeout,
                deadline,
                ctx,
            )
        ),
        lambda: message_frame(
            kind,
            packet_id,
            session_id,
            key,
            value,
            topic,
            custom,
            error,
            timeout,
            deadline,
            ctx,
        ),
    ):
        try:
            results.append(make())
        except EncodeError as exc:
            results.append(("EncodeError", str(exc).split(": ", 1)[-1]))
    return results[0], results[1]


@relaxed
@given(message_packets, around)
def test_a_spliced_frame_is_the_reencoded_frame(
    packet: MessageData,
    fields: tuple[int, int, int, bytes, str, bytes, str, int, GoTime, GoTime],
) -> None:
    try:
        frame = encode(packet)  # type: ignore[arg-type]
    except EncodeError:
        return
    received = decode_frame(frame)
    assert isinstance(received, MessageData)
    if not received.value:
        assert received.value_b64 is None  # nothing to splice: omitted from the document
        return
    if _CANONICAL_MESSAGE_DOC.fullmatch(frame, 22) is None:
        # escapes (in the topic or error): not a document the fast path reads, and the
        # relay encodes the value again
        assert received.value_b64 is None
        return
    # Our encoder writes canonical base64: every non-empty value comes with its text.
    assert received.value_b64 == binascii.b2a_base64(received.value, newline=False)
    spliced, reencoded = _both(received.value, received.value_b64, fields)
    assert spliced == reencoded


@pytest.mark.parametrize("name", NAMES)
def test_go_vectors_forwarded_unchanged_are_byte_identical(name: str) -> None:
    frame = bytes.fromhex(VECTORS[name][0])
    packet = decode_frame(frame)
    if not isinstance(packet, MessageData) or packet.value_b64 is None:
        return
    parts = message_frame_parts(
        packet.TYPE,
        packet.packet_id,
        packet.session_id,
        packet.key,
        packet.value_b64,
        packet.topic,
        packet.custom,
        packet.error,
        packet.timeout,
        packet.deadline,
        packet.context_deadline,
    )
    assert b"".join(parts) == frame
    assert parts[1] is packet.value_b64  # the received text itself, not a copy


def _frame_with_value_text(text: bytes) -> bytes:
    body = b'{"value":"' + text + b'",' + ZERO_DEADLINE + b"}"
    return (
        bytes([1, 0x51])
        + (5).to_bytes(8, "big")
        + (len(body) + 8).to_bytes(4, "big")
        + ((1).to_bytes(8, "big") + body)
    )


@relaxed
@given(st.binary(min_size=1, max_size=40), st.integers(0, 15), around)
@example(b"A", 1, (0x51, 1, 1, b"", "", b"", "", 0, GoTime(0), GoTime(0)))  # "QR=="
@example(b"AB", 3, (0x71, 1, 1, b"k", "", b"c", "", 0, GoTime(0), GoTime(0)))  # "QUL="
def test_base64_with_spare_bits_set_is_reencoded_not_spliced(
    data: bytes,
    spare: int,
    fields: tuple[int, int, int, bytes, str, bytes, str, int, GoTime, GoTime],
) -> None:
    """Go decodes base64 whose bits after the data are not zero ("QR==" is b"A"), so a Go
    peer may send it; forwarding that text would not be what encoding b"A" writes."""
    canonical = binascii.b2a_base64(data, newline=False)
    text = bytearray(canonical)
    pads = canonical.count(b"=")
    if pads:
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = len(text) - pads - 1
        spare_bits = 4 if pads == 2 else 2
        index = alphabet.index(text[last]) | (spare % (1 << spare_bits))
        text[last] = alphabet[index]
    received = decode_frame(_frame_with_value_text(bytes(text)))
    assert isinstance(received, MessagePacket)
    assert received.value == data
    is_canonical = bytes(text) == canonical
    assert canonical_b64(bytes(text)) is is_canonical
    assert (received.value_b64 is not None) is is_canonical
    if received.value_b64 is not None:
        spliced, reencoded = _both(received.value, received.value_b64, fields)
        assert spliced == reencoded


@pytest.mark.parametrize(
    "document",
    [
        # escapes, folded keys, whitespace: valid for Go, but not what json.Marshal writes
        b'{"value":"eA\\u003d\\u003d",' + ZERO_DEADLINE + b"}",
        b'{"VALUE":"eA==",' + ZERO_DEADLINE + b"}",
        b'{ "value":"eA==",' + ZERO_DEADLINE + b"}",
        b'{"value":[120],' + ZERO_DEADLINE + b"}",
    ],
)
def test_documents_go_did_not_write_carry_no_text_to_splice(document: bytes) -> None:
    frame = bytes([1, 0x71]) + (5).to_bytes(8, "big") + (len(document) + 8).to_bytes(4, "big")
    received = decode_frame(frame + (1).to_bytes(8, "big") + document)
    assert isinstance(received, RequestPacket)
    assert received.value == b"x"
    assert received.value_b64 is None


def test_the_text_is_not_part_of_the_packets_value() -> None:
    frame = encode(MessagePacket(packet_id=3, session_id=1, value=b"payload"))
    received = decode_frame(frame)
    assert received.value_b64 == b"cGF5bG9hZA=="  # type: ignore[union-attr]
    assert not received.value_decoded  # type: ignore[union-attr]  # (a relay never reads it)
    assert received == MessagePacket(packet_id=3, session_id=1, value=b"payload")
    assert received.value_decoded  # type: ignore[union-attr]
    assert "value_b64" not in repr(received)


def test_splicing_refuses_an_empty_value_and_what_encoding_refuses() -> None:
    with pytest.raises(EncodeError):
        message_frame_parts(0x51, 1, 1, b"", b"")
    with pytest.raises(EncodeError):
        message_frame_parts(0x51, 2**64, 1, b"", b"eA==")
    with pytest.raises(TypeError):
        message_frame_parts(0x61, 1, 1, b"", b"eA==")


# ----------------------------------------------------------------- through the connection


def test_a_relayed_request_and_its_response_carry_the_received_text() -> None:
    """Connection level: what the relay does with `data_b64` puts the received text on the
    wire, and the response's text comes back with its event."""
    link = connected_link()
    link.server.conn.set_hijack(1, Hijack())  # every call is the server's to answer
    payload = bytes(range(200))
    link.client.call(link.client.conn.request, 1, "echo", payload)
    link.pump()
    [received] = link.server.pop(RequestReceived)
    assert received.packet.value_b64 == binascii.b2a_base64(payload, newline=False)
    text = received.packet.value_b64
    # the server forwards it on (as the gateway does), spliced: the same bytes as encoded
    link.server.call(link.server.conn.request, 1, "echo", b"", custom=b"edge", data_b64=text)
    spliced = link.server.take_wire()
    link.server.call(link.server.conn.request, 1, "echo", payload, custom=b"edge")
    encoded = link.server.take_wire()
    assert spliced[22:] == encoded[22:]  # all but the header's packet ID (and session)
    assert spliced[:2] == encoded[:2]
    assert spliced[10:22] == encoded[10:22]
    link.server.call(link.server.conn.respond, 1, received.request_id, "echo", b"", data_b64=text)
    link.pump()
    [response] = link.client.pop(ResponseReceived)
    assert response.data == payload
    assert response.data_b64 == text


def test_stream_payloads_read_with_little_else_are_views_and_written_without_a_copy() -> None:
    link = connected_link()
    payload = bytes(range(256)) * 64
    frame = encode(StreamPacket(packet_id=9, session_id=1, data=payload))
    link.server.feed(frame + encode(HeartbeatPacket(packet_id=10)))
    [event] = link.server.pop(StreamDataReceived)
    assert type(event.data) is memoryview
    assert event.data.readonly
    assert event.data == payload
    # written on as it is: the very view goes to the transport, behind a new header
    link.server.conn.send_stream_data(1, event.data)
    sent = link.server.conn.data_to_send()
    assert len(sent) == 2
    assert sent[1] is event.data


def test_a_small_stream_payload_among_other_frames_is_copied_not_viewed() -> None:
    link = connected_link()
    small = encode(StreamPacket(packet_id=9, session_id=1, data=b"tiny"))
    link.server.feed(small + encode(HeartbeatPacket(packet_id=10)) * 10)
    [event] = link.server.pop(StreamDataReceived)
    assert type(event.data) is bytes
    assert event.data == b"tiny"


def test_a_writable_buffer_is_copied_before_it_is_queued() -> None:
    link = connected_link()
    data = bytearray(b"0123456789")
    link.server.conn.send_stream_data(1, memoryview(data))
    sent = link.server.conn.data_to_send()
    data[:] = b"xxxxxxxxxx"
    assert bytes(sent[1]) == b"0123456789"


# ------------------------------------------------------- stream frames spanning reads


def _read_split(stream: bytes, cuts: list[int]) -> list[Packet]:
    reader = FrameReader(split_streams=True)
    got: list[Packet] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        reader.feed(stream[start:cut])
        got.extend(reader)
        start = cut
    reader.eof()
    assert reader.buffered == 0
    return got


def _merged(packets: list[Packet]) -> list[Packet]:
    """Consecutive pieces of one StreamPacket joined again."""
    out: list[Packet] = []
    for packet in packets:
        last = out[-1] if out else None
        if (
            isinstance(packet, StreamPacket)
            and isinstance(last, StreamPacket)
            and (last.packet_id, last.session_id) == (packet.packet_id, packet.session_id)
        ):
            out[-1] = StreamPacket(
                packet_id=last.packet_id,
                session_id=last.session_id,
                data=bytes(last.data) + bytes(packet.data),
            )
        else:
            out.append(packet)
    return out


@relaxed
@given(
    st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=4),
    st.lists(st.integers(0, 20_000), max_size=12),
)
def test_split_stream_frames_carry_the_same_bytes_in_any_chunking(
    payloads: list[bytes], cuts: list[int]
) -> None:
    packets: list[Packet] = []
    for index, payload in enumerate(payloads):
        packets.append(StreamPacket(packet_id=index + 1, session_id=7, data=payload))
        packets.append(HeartbeatPacket(packet_id=100 + index))
    stream = b"".join(encode(packet) for packet in packets)
    got = _read_split(stream, [cut % (len(stream) + 1) for cut in cuts])
    assert _merged(got) == packets
    for packet in got:
        if isinstance(packet, StreamPacket):
            data = packet.data
            assert type(data) is bytes or (type(data) is memoryview and data.readonly)


def test_a_stream_frame_spanning_reads_is_its_chunks_not_a_join() -> None:
    payload = bytes(range(256)) * 1024  # 256 KiB, as frontier's writers chunk
    frame = encode(StreamPacket(packet_id=5, session_id=3, data=payload))
    chunks = [frame[:65536], frame[65536 : 3 * 65536], frame[3 * 65536 :]]
    reader = FrameReader(split_streams=True)
    got: list[Packet] = []
    for chunk in chunks:
        reader.feed(chunk)
        got.extend(reader)
    assert [type(p) for p in got] == [StreamPacket] * 3
    first, middle, last = (p.data for p in got)  # type: ignore[union-attr]
    assert type(first) is memoryview
    assert first.obj is chunks[0]  # a view of the chunk as read
    assert middle is chunks[1]  # a whole chunk: the chunk itself
    assert last is chunks[2]
    assert b"".join([first, middle, last]) == payload


def test_a_small_tail_of_a_large_read_is_copied_not_held() -> None:
    frame = encode(StreamPacket(packet_id=5, session_id=3, data=b"x" * 100))
    big = encode(HeartbeatPacket(packet_id=1)) * 1000 + frame[:40]
    reader = FrameReader(split_streams=True)
    reader.feed(big)
    assert len(list(reader)) == 1000
    reader.feed(frame[40:])
    pieces = list(reader)
    assert [type(p.data) for p in pieces] == [bytes, bytes]  # type: ignore[union-attr]
    assert b"".join(p.data for p in pieces) == b"x" * 100  # type: ignore[union-attr,misc]


# ------------------------------------------------------------- checked, not decoded


def _value_is_set(packet: MessageData) -> bool:
    return packet.value_decoded


def test_a_received_value_with_its_text_is_decoded_only_when_read() -> None:
    payload = bytes(range(256)) * 10
    received = decode_frame(encode(RequestPacket(packet_id=1, session_id=1, value=payload)))
    assert isinstance(received, RequestPacket)
    assert not _value_is_set(received)  # checked, not decoded
    assert received.value_b64 == binascii.b2a_base64(payload, newline=False)
    assert received.value == payload  # decoded now, once
    assert _value_is_set(received)
    assert received == RequestPacket(packet_id=1, session_id=1, value=payload)


@pytest.mark.parametrize(
    "text",
    [b"eA=", b"eA===", b"e=A=", b"eA==eA==", b"e\\A=", b"eA-=", b"eA=\xff"],
)
def test_bad_base64_is_still_refused_when_the_value_is_not_decoded(text: bytes) -> None:
    with pytest.raises(BadJSON):
        decode_frame(_frame_with_value_text(text))


def test_a_response_event_decodes_its_data_only_when_read() -> None:
    event = ResponseReceived(1, 2, None, "", b"cG9uZw==")
    assert event.data_b64 == b"cG9uZw=="
    assert event == ResponseReceived(1, 2, b"pong", "")
    assert hash(event) == hash(ResponseReceived(1, 2, b"pong", ""))
    assert repr(event) == repr(ResponseReceived(1, 2, b"pong", ""))
    with pytest.raises(ValueError, match="needs its data"):
        ResponseReceived(1, 2, None, "")


@relaxed
@given(
    st.binary(min_size=400, max_size=1500),
    st.binary(max_size=12),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
)
def test_large_documents_read_apart_from_their_value_agree_with_the_general_path(
    value: bytes, key: bytes, edits: list[tuple[int, int]]
) -> None:
    """Documents over a few hundred bytes have the value's text found and checked apart
    from the regex: same fields, same refusals as the general path, damaged or not."""
    document = bytearray(
        message_doc(
            RequestPacket(packet_id=1, session_id=1, key=key, value=value, custom=b"\0" * 8)
        )
    )
    for index, byte in edits:
        document[index % len(document)] = byte
    results: list[object] = []
    for read in (read_message_doc, _general_message_doc):
        try:
            results.append(read(bytes(document), 0, len(document)))
        except BadJSON as exc:
            results.append(("BadJSON", str(exc)))
    assert results[0] == results[1]


@pytest.mark.parametrize("split", [False, True])
def test_a_connection_splits_stream_frames_only_when_configured_to(split: bool) -> None:
    # Endpoints get a frame spanning reads joined (their readers would copy each piece and
    # pay a call chain per piece); relays (split_streams, the gateway's config) get pieces.
    from frontier.geminio.conn_client import ClientConnection
    from frontier.geminio.conn_config import ConnectionConfig
    from frontier.geminio.conn_server import ServerConnection
    from frontier.geminio.events import StreamDataReceived
    from support.geminio_link import Link

    config = ConnectionConfig(split_streams=split)
    link = Link(ClientConnection(), ServerConnection(config=config))
    link.connect()
    frame = encode(StreamPacket(packet_id=9, session_id=1, data=b"p" * 30_000))
    for piece in (frame[:10_000], frame[10_000:20_000], frame[20_000:]):
        link.server.feed(piece)
    received = link.server.of(StreamDataReceived)
    assert b"".join(bytes(event.data) for event in received) == b"p" * 30_000
    assert len(received) == (3 if split else 1)
