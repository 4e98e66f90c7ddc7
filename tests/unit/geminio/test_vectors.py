"""The geminio conformance vectors (geminio-wire.md §G.4) and the JSON-rule facts beside them.

V1-V19 and V21-V23 are frames the Go implementation round-tripped byte-identically; V20
(RequestCancel) is only decodable by v1.3-line Go peers, but its layout is fixed all the same
and must round-trip here too. The hex is copied into this file so the tests stand alone; one
test checks the copy against the shared reference file when that file is present.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from frontier.geminio import (
    RET_ERR,
    BadJSON,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    FrameReader,
    GoTime,
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
    decode_frame,
    encode,
)

# 2024-01-02T03:04:05Z, the instant behind both V17 deadlines.
_V17_SECONDS = int(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())

# name -> (hex as in geminio-vectors.json, the packet its description names, frame length)
VECTORS: dict[str, tuple[str, Packet, int]] = {
    "V1": (
        "010100000000000000010000001d180000000000000000007b226d657461223a22614756736247383d227d",
        ConnPacket(packet_id=1, heartbeat=20, client_id_acquire=True, client_id=0, meta=b"hello"),
        43,
    ),
    "V2": (
        "010100000000000000010000000c180000000000000000007b7d",
        ConnPacket(packet_id=1, heartbeat=20, client_id_acquire=True),
        26,
    ),
    "V3": (
        "010100000001000000030000002d1800000000000000002a7b226d657461223a2265794a7a5a584a3261574e"
        "6c496a6f6963335a6a496e303d227d",
        ConnPacket(packet_id=0x0000000100000003, client_id=42, meta=b'{"service":"svc"}'),
        59,
    ),
    "V4": (
        "010200000000000000010000000b0000000000000012347b7d",
        ConnAckPacket(packet_id=1, ret_code=0, client_id=0x1234),
        25,
    ),
    "V5": (
        "010200000000000000010000001b0100000000000000007b226572726f72223a2264656e696564227d",
        ConnAckPacket(packet_id=1, ret_code=RET_ERR, error="denied"),
        41,
    ),
    "V6": ("0121000000000000000300000000", HeartbeatPacket(packet_id=3), 14),
    "V7": ("0122000000000000000300000000", HeartbeatAckPacket(packet_id=3), 14),
    "V8": ("0111000000000000000500000000", DisConnPacket(packet_id=5), 14),
    "V9": ("0112000000000000000500000003007b7d", DisConnAckPacket(packet_id=5, ret_code=0), 17),
    "V10": (
        "0131000000000000000700000024001000000000000000097b226d657461223a2262513d3d222c2270656572"
        "223a2270227d",
        SessionPacket(packet_id=7, negotiate_id=9, session_id_acquire=True, meta=b"m", peer="p"),
        50,
    ),
    "V11": (
        "01320000000000000007000000140000000000000000000900000000000000107b7d",
        SessionAckPacket(packet_id=7, negotiate_id=9, session_id=0x10),
        34,
    ),
    "V12": (
        "0141000000000000000b0000000a00000000000000107b7d",
        DismissPacket(packet_id=11, session_id=0x10),
        24,
    ),
    "V13": (
        "0142000000000000000b0000000a00000000000000107b7d",
        DismissAckPacket(packet_id=11, session_id=0x10),
        24,
    ),
    "V14": (
        "0151000000000000000d0000007800000000000000017b2276616c7565223a22614756736247383d222c2274"
        "6f706963223a2274222c22646561646c696e65223a22303030312d30312d30315430303a30303a30305a222c"
        "22636f6e74657874223a7b22646561646c696e65223a22303030312d30312d30315430303a30303a30305a22"
        "7d7d",
        MessagePacket(packet_id=13, session_id=1, value=b"hello", topic="t"),
        134,
    ),
    "V15": (
        "0152000000000000000d0000005900000000000000017b22646561646c696e65223a22303030312d30312d30"
        "315430303a30303a30305a222c22636f6e74657874223a7b22646561646c696e65223a22303030312d30312d"
        "30315430303a30303a30305a227d7d",
        MessageAckPacket(packet_id=13, session_id=1),
        103,
    ),
    "V16": (
        "0152000000000000000d0000006800000000000000017b226572726f72223a226e6f7065222c22646561646c"
        "696e65223a22303030312d30312d30315430303a30303a30305a222c22636f6e74657874223a7b2264656164"
        "6c696e65223a22303030312d30312d30315430303a30303a30305a227d7d",
        MessageAckPacket(packet_id=13, session_id=1, error="nope"),
        118,
    ),
    "V17": (
        "0171000000000000000f000000a000000000000000017b226b6579223a225a574e6f62773d3d222c2276616c"
        "7565223a2261476b3d222c22637573746f6d223a22414141414141414141436f3d222c22646561646c696e65"
        "223a22323032342d30312d30325430333a30343a30352e3132333435363738395a222c22636f6e7465787422"
        "3a7b22646561646c696e65223a22323032342d30312d30325431313a30343a30352b30383a3030227d7d",
        RequestPacket(
            packet_id=15,
            session_id=1,
            key=b"echo",
            value=b"hi",
            custom=(42).to_bytes(8, "big"),
            deadline=GoTime(_V17_SECONDS * 1_000_000_000 + 123_456_789),
            context_deadline=GoTime(_V17_SECONDS * 1_000_000_000, offset=8 * 3600),
        ),
        174,
    ),
    "V18": (
        "0172000000000000000f0000007900000000000000017b226b6579223a225a574e6f62773d3d222c2276616c"
        "7565223a2261476b3d222c22646561646c696e65223a22303030312d30312d30315430303a30303a30305a22"
        "2c22636f6e74657874223a7b22646561646c696e65223a22303030312d30312d30315430303a30303a30305a"
        "227d7d",
        ResponsePacket(packet_id=15, session_id=1, key=b"echo", value=b"hi"),
        135,
    ),
    "V19": (
        "0172000000000000000f0000008600000000000000017b226b6579223a22626d39775a513d3d222c22657272"
        "6f72223a226e6f2073756368207270633a206e6f7065222c22646561646c696e65223a22303030312d30312d"
        "30315430303a30303a30305a222c22636f6e74657874223a7b22646561646c696e65223a22303030312d3031"
        "2d30315430303a30303a30305a227d7d",
        ResponsePacket(packet_id=15, session_id=1, key=b"nope", error="no such rpc: nope"),
        148,
    ),
    "V20": (
        "0173000000000000000f0000000a00000000000000010001",
        RequestCancelPacket(packet_id=15, session_id=1, cancel_type=1),
        24,
    ),
    "V21": (
        "016100000000000000110000000b0000000000000010616263",
        StreamPacket(packet_id=17, session_id=0x10, data=b"abc"),
        25,
    ),
    "V22": (
        "018100000000000000130000000c00000000000000016563686f",
        RegisterPacket(packet_id=19, session_id=1, method=b"echo"),
        26,
    ),
    "V23": (
        "018200000000000000130000000a00000000000000017b7d",
        RegisterAckPacket(packet_id=19, session_id=1),
        24,
    ),
}

NAMES = sorted(VECTORS, key=lambda name: int(name[1:]))


def _frame(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name][0])


def test_all_23_vectors_are_covered() -> None:
    assert len(NAMES) == 23
    assert NAMES[0] == "V1"
    assert NAMES[-1] == "V23"


@pytest.mark.parametrize("name", NAMES)
def test_vector_has_the_described_length(name: str) -> None:
    assert len(_frame(name)) == VECTORS[name][2]


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_to_the_described_packet(name: str) -> None:
    assert decode_frame(_frame(name)) == VECTORS[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_described_packet_encodes_to_the_vector(name: str) -> None:
    assert encode(VECTORS[name][1]) == _frame(name)


@pytest.mark.parametrize("name", NAMES)
def test_decoded_vector_reencodes_identically(name: str) -> None:
    assert encode(decode_frame(_frame(name))) == _frame(name)


def test_reader_fed_byte_by_byte_yields_every_vector_in_order() -> None:
    stream = b"".join(_frame(name) for name in NAMES)
    reader = FrameReader()
    packets: list[Packet] = []
    for index in range(len(stream)):
        reader.feed(stream[index : index + 1])
        packets.extend(reader)
    reader.eof()
    assert packets == [VECTORS[name][1] for name in NAMES]
    assert reader.offset == len(stream)


def test_v17_json_is_the_documented_text() -> None:
    body = encode(VECTORS["V17"][1])[22:]
    assert body == (
        b'{"key":"ZWNobw==","value":"aGk=","custom":"AAAAAAAAACo=",'
        b'"deadline":"2024-01-02T03:04:05.123456789Z",'
        b'"context":{"deadline":"2024-01-02T11:04:05+08:00"}}'
    )


def _shared_vectors_file() -> Path | None:
    repo = Path(__file__).resolve().parents[3]
    for candidate in (
        repo.parent / "shared" / "reference" / "geminio-vectors.json",
        repo / "shared" / "reference" / "geminio-vectors.json",
    ):
        if candidate.is_file():
            return candidate
    return None


def test_embedded_hex_matches_the_shared_reference() -> None:
    path = _shared_vectors_file()
    if path is None:
        pytest.skip("shared/reference/geminio-vectors.json is not beside this checkout")
    reference = {v["name"]: v["hex"] for v in json.loads(path.read_text())["vectors"]}
    assert reference == {name: VECTORS[name][0] for name in NAMES}


# --- flag-byte vectors (§G.4) -----------------------------------------------------------------


@pytest.mark.parametrize(("heartbeat", "flags"), [(5, 0x08), (20, 0x18), (80, 0x28)])
def test_conn_flags_byte_matches_go(heartbeat: int, flags: int) -> None:
    assert encode(ConnPacket(packet_id=1, heartbeat=heartbeat))[14] == flags


def test_heartbeat_320_is_encoded_as_code_3_not_as_gos_buggy_code_2() -> None:
    # Go's encoder writes 0x28 for 320 s (floor((320/5)^0.25) = 2, quirk §G.6.1), which its
    # own decoder reads back as 80 s. We write the code Go's decoder maps to 320.
    assert encode(ConnPacket(packet_id=1, heartbeat=320))[14] == 0x38


@pytest.mark.parametrize(
    ("flags", "heartbeat"), [(0x08, 5), (0x18, 20), (0x28, 80), (0x38, 320), (0x00, 5)]
)
def test_conn_flags_heartbeat_code_decodes_like_go(flags: int, heartbeat: int) -> None:
    frame = bytearray(encode(ConnPacket(packet_id=1)))
    frame[14] = flags
    packet = decode_frame(bytes(frame))
    assert isinstance(packet, ConnPacket)
    assert packet.heartbeat == heartbeat
    assert packet.client_id_acquire is bool(flags & 0x08)


# --- JSON-rule facts (§G.4) -------------------------------------------------------------------


def _message_frame(document: bytes, packet_type: int = 0x51) -> bytes:
    body = (1).to_bytes(8, "big") + document
    return bytes((1, packet_type)) + (13).to_bytes(8, "big") + len(body).to_bytes(4, "big") + body


def test_null_conn_data_is_accepted_as_empty() -> None:
    body = bytes((0x18, 0)) + (0).to_bytes(8, "big") + b"null"
    frame = b"\x01\x01" + (1).to_bytes(8, "big") + len(body).to_bytes(4, "big") + body
    assert decode_frame(frame) == ConnPacket(packet_id=1)


def test_topic_is_html_escaped_like_go() -> None:
    frame = encode(MessagePacket(packet_id=13, session_id=1, topic="<a&b>"))
    assert b'"topic":"\\u003ca\\u0026b\\u003e"' in frame
    packet = decode_frame(frame)
    assert isinstance(packet, MessagePacket)
    assert packet.topic == "<a&b>"


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored() -> None:
    packet = decode_frame(_message_frame(b'{"VALUE":"aGk=","Topic":"x","unknown":1}'))
    assert packet == MessagePacket(packet_id=13, session_id=1, value=b"hi", topic="x")


@pytest.mark.parametrize(
    "document",
    [b'{"value":"aGk"}', b'{"deadline":"2024-01-02 03:04:05"}'],
    ids=["unpadded-base64", "non-rfc3339-time"],
)
def test_go_rejections_are_bad_json(document: bytes) -> None:
    with pytest.raises(BadJSON) as caught:
        decode_frame(_message_frame(document))
    assert caught.value.packet_type == 0x51
