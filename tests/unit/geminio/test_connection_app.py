"""Application layer of the sans-I/O connection: messages, RPC, registration, raw bytes (§D)."""

from __future__ import annotations

import re

import pytest

from frontier.geminio import (
    MAX_PACKET_LEN,
    ZERO_TIME,
    GoTime,
    MessageAckPacket,
    MessagePacket,
    PacketTooLarge,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionPacket,
    StreamPacket,
    encode,
)
from frontier.geminio.conn_client import ClientConnection
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.conn_errors import SessionStateError
from frontier.geminio.conn_server import ServerConnection
from frontier.geminio.events import (
    AbortReason,
    MessageReceived,
    OperationAborted,
    OpKind,
    PublishAcked,
    RegisterAcked,
    RemoteRegistered,
    RequestCancelled,
    RequestReceived,
    ResponseReceived,
    StreamDataReceived,
)
from frontier.geminio.session import Hijack
from frontier.geminio.timer_requests import TimerKey, TimerKind
from support.geminio_link import Driver, Link, connected_link

V14 = bytes.fromhex(
    "0151000000000000000d0000007800000000000000017b2276616c7565223a22614756736247383d222c22746f70"
    "6963223a2274222c22646561646c696e65223a22303030312d30312d30315430303a30303a30305a222c22636f6e"
    "74657874223a7b22646561646c696e65223a22303030312d30312d30315430303a30303a30305a227d7d"
)
V15 = bytes.fromhex(
    "0152000000000000000d0000005900000000000000017b22646561646c696e65223a22303030312d30312d303154"
    "30303a30303a30305a222c22636f6e74657874223a7b22646561646c696e65223a22303030312d30312d30315430"
    "303a30303a30305a227d7d"
)
V16 = bytes.fromhex(
    "0152000000000000000d0000006800000000000000017b226572726f72223a226e6f7065222c22646561646c696e"
    "65223a22303030312d30312d30315430303a30303a30305a222c22636f6e74657874223a7b22646561646c696e65"
    "223a22303030312d30312d30315430303a30303a30305a227d7d"
)
V17 = bytes.fromhex(
    "0171000000000000000f000000a000000000000000017b226b6579223a225a574e6f62773d3d222c2276616c7565"
    "223a2261476b3d222c22637573746f6d223a22414141414141414141436f3d222c22646561646c696e65223a2232"
    "3032342d30312d30325430333a30343a30352e3132333435363738395a222c22636f6e74657874223a7b22646561"
    "646c696e65223a22323032342d30312d30325431313a30343a30352b30383a3030227d7d"
)
V18 = bytes.fromhex(
    "0172000000000000000f0000007900000000000000017b226b6579223a225a574e6f62773d3d222c2276616c7565"
    "223a2261476b3d222c22646561646c696e65223a22303030312d30312d30315430303a30303a30305a222c22636f"
    "6e74657874223a7b22646561646c696e65223a22303030312d30312d30315430303a30303a30305a227d7d"
)
V19 = bytes.fromhex(
    "0172000000000000000f0000008600000000000000017b226b6579223a22626d39775a513d3d222c226572726f72"
    "223a226e6f2073756368207270633a206e6f7065222c22646561646c696e65223a22303030312d30312d30315430"
    "303a30303a30305a222c22636f6e74657874223a7b22646561646c696e65223a22303030312d30312d3031543030"
    "3a30303a30305a227d7d"
)
V20 = bytes.fromhex("0173000000000000000f0000000a00000000000000010001")
V21 = bytes.fromhex("016100000000000000110000000b0000000000000010616263")
V22 = bytes.fromhex("018100000000000000130000000c00000000000000016563686f")
V23 = bytes.fromhex("018200000000000000130000000a00000000000000017b7d")


def connected(side: str, config: ConnectionConfig | None = None) -> Driver:
    link = Link(
        ClientConnection(config=config) if side == "client" else None,
        ServerConnection(config=config) if side == "server" else None,
    )
    link.connect()
    driver = link.client if side == "client" else link.server
    driver.events.clear()
    driver.take_wire()
    return driver


# -------------------------------------------------------------------------------- messages


def test_received_message_is_acked_and_nacked_byte_exactly() -> None:
    server = connected("server")
    server.feed(V14)
    (event,) = server.events
    assert isinstance(event, MessageReceived)
    assert (event.session_id, event.message_id, event.data, event.topic) == (1, 13, b"hello", "t")
    assert server.call(server.conn.ack, 1, 13)
    assert server.take_wire() == V15
    assert server.call(server.conn.ack, 1, 13, "nope")
    assert server.take_wire() == V16


def test_publish_ack_round_trip() -> None:
    link = connected_link()
    message_id = link.client.call(link.client.conn.publish, 1, b"hi", topic="t", custom=b"c")
    link.pump()
    (received,) = link.server.of(MessageReceived)
    assert (received.message_id, received.data, received.topic, received.custom) == (
        message_id,
        b"hi",
        "t",
        b"c",
    )
    link.server.call(link.server.conn.ack, 1, received.message_id)
    link.pump()
    assert link.client.of(PublishAcked) == [PublishAcked(1, message_id, "")]
    assert link.client.conn.session(1).publishes == {}  # type: ignore[union-attr]


def test_message_nack_carries_the_peers_text() -> None:
    link = connected_link()
    message_id = link.client.call(link.client.conn.publish, 1, b"hi")
    link.pump()
    link.server.call(link.server.conn.ack, 1, message_id, "rejected: quota")
    link.pump()
    assert link.client.of(PublishAcked) == [PublishAcked(1, message_id, "rejected: quota")]


def test_at_most_once_publish_waits_for_nothing() -> None:
    link = connected_link()
    message_id = link.client.call(
        link.client.conn.publish, 1, b"fire and forget", at_most_once=True, timeout=1.0
    )
    assert link.client.conn.session(1).publishes == {}  # type: ignore[union-attr]
    assert link.client.timers.keys() == {TimerKey(TimerKind.HEARTBEAT)}
    link.pump()
    assert [e.data for e in link.server.of(MessageReceived)] == [b"fire and forget"]
    link.server.call(link.server.conn.ack, 1, message_id)  # an ack anyway: dropped
    link.pump()
    assert link.client.events == []


def test_publish_timeout_aborts_and_a_late_ack_is_dropped() -> None:
    link = connected_link()
    message_id = link.client.call(link.client.conn.publish, 1, b"x", timeout=5.0)
    link.pump()
    link.advance(5.0)
    assert link.client.events == [
        OperationAborted(OpKind.PUBLISH, 1, message_id, AbortReason.TIMEOUT)
    ]
    link.server.call(link.server.conn.ack, 1, message_id)
    link.pump()
    assert len(link.client.events) == 1


def test_acked_publish_cancels_its_timer_and_cancel_publish_forgets() -> None:
    link = connected_link()
    message_id = link.client.call(link.client.conn.publish, 1, b"x", timeout=5.0)
    key = TimerKey(TimerKind.PUBLISH, 1, message_id)
    assert key in link.client.timers
    assert link.client.call(link.client.conn.cancel_publish, 1, message_id)
    assert key not in link.client.timers
    assert not link.client.conn.cancel_publish(1, message_id)


def test_publish_deadlines_travel_to_the_peer() -> None:
    link = connected_link()
    deadline = GoTime(1_704_164_645_123_456_789, 8 * 3600)
    link.client.call(link.client.conn.publish, 1, b"x", deadline=deadline)
    link.pump()
    (received,) = link.server.of(MessageReceived)
    assert received.packet.deadline == deadline
    assert received.packet.context_deadline == ZERO_TIME


def test_oversized_publish_raises_before_anything_is_sent_or_recorded() -> None:
    client = connected("client")
    with pytest.raises(PacketTooLarge):
        client.conn.publish(1, bytes(MAX_PACKET_LEN))
    client.drain()
    assert client.take_wire() == b""
    assert client.conn.session(1).publishes == {}  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------- RPC


def test_no_such_rpc_is_answered_at_once_with_gos_text() -> None:
    server = connected("server")
    server.feed_packets(RequestPacket(packet_id=15, session_id=1, key=b"nope"))
    assert server.take_wire() == V19
    assert server.events == []


def test_registered_method_is_delivered_and_its_response_is_byte_exact() -> None:
    server = connected("server", ConnectionConfig(first_packet_id=19))
    assert server.call(server.conn.register, 1, "echo") == 19
    assert server.take_wire() == V22
    server.feed(V17)
    (event,) = server.of(RequestReceived)
    assert (event.method, event.request_id, event.data, event.hijacked) == (
        "echo",
        15,
        b"hi",
        False,
    )
    assert event.custom == (42).to_bytes(8, "big")
    assert event.deadline.unix_nanos % 1_000_000_000 == 123_456_789
    server.call(server.conn.respond, 1, event.request_id, "echo", event.data)
    assert server.take_wire() == V18


def test_rpc_round_trip_with_data_and_with_an_error() -> None:
    link = connected_link()
    link.server.call(link.server.conn.register, 1, "echo")
    link.pump()
    assert link.client.of(RemoteRegistered) == [RemoteRegistered(1, "echo")]
    (registered,) = link.server.of(RegisterAcked)
    assert (registered.method, registered.error) == ("echo", "")
    ok = link.client.call(link.client.conn.request, 1, "echo", b"ping", custom=b"cc")
    bad = link.client.call(link.client.conn.request, 1, "echo", b"fail")
    link.pump()
    calls = link.server.of(RequestReceived)
    assert [(c.data, c.custom) for c in calls] == [(b"ping", b"cc"), (b"fail", b"")]
    # answered out of order: correlation is by ID only
    link.server.call(link.server.conn.respond, 1, calls[1].request_id, "echo", error="boom")
    link.server.call(link.server.conn.respond, 1, calls[0].request_id, "echo", b"pong")
    link.pump()
    assert link.client.of(ResponseReceived) == [
        ResponseReceived(1, bad, b"", "boom"),
        ResponseReceived(1, ok, b"pong", ""),
    ]


def test_no_such_rpc_round_trip() -> None:
    link = connected_link()
    request_id = link.client.call(link.client.conn.request, 1, "missing")
    link.pump()
    assert link.client.of(ResponseReceived) == [
        ResponseReceived(1, request_id, b"", "no such rpc: missing")
    ]


def test_methods_are_per_session() -> None:
    link = connected_link()
    sid = link.client.call(link.client.conn.open_session)
    link.pump()
    link.server.call(link.server.conn.register, sid, "only-here")
    link.pump()
    on_one = link.client.call(link.client.conn.request, 1, "only-here")
    link.pump()
    assert link.client.of(ResponseReceived) == [
        ResponseReceived(1, on_one, b"", "no such rpc: only-here")
    ]


@pytest.mark.parametrize(
    ("hijack", "caught"),
    [
        (Hijack(), {"a.x", "b.y"}),
        (Hijack(re.compile(r"^a\.")), {"a.x"}),
        (Hijack(re.compile(r"^a\."), match=False), {"b.y"}),
    ],
)
def test_hijack_catches_before_registered_methods(hijack: Hijack, caught: set[str]) -> None:
    server = connected("server")
    server.call(server.conn.register, 1, "b.y")
    server.call(server.conn.set_hijack, 1, hijack)
    server.take_wire()
    server.feed_packets(
        RequestPacket(packet_id=1, session_id=1, key=b"a.x"),
        RequestPacket(packet_id=2, session_id=1, key=b"b.y"),
    )
    events = server.of(RequestReceived)
    assert {e.method for e in events if e.hijacked} == caught
    assert {e.method for e in events if not e.hijacked} == {"b.y"} - caught
    answered = {p.key for p in server.take_packets() if isinstance(p, ResponsePacket)}
    assert answered == ({b"a.x"} - {m.encode() for m in caught})


def test_request_timeout_aborts() -> None:
    link = connected_link()
    request_id = link.client.call(link.client.conn.request, 1, "slow", timeout=3.0)
    link.cut_client_to_server = True
    link.advance(3.0)
    assert link.client.of(OperationAborted) == [
        OperationAborted(OpKind.REQUEST, 1, request_id, AbortReason.TIMEOUT)
    ]


def test_cancel_sends_request_cancel_only_when_enabled() -> None:
    client = connected("client", ConnectionConfig(first_packet_id=15, send_request_cancel=True))
    # the handshake used ID 15; the next fresh ID is 16. Cancel reuses the request ID.
    request_id = client.call(client.conn.request, 1, "slow")
    client.take_wire()
    assert client.call(client.conn.cancel_request, 1, request_id)
    assert client.take_packets() == [
        RequestCancelPacket(packet_id=request_id, session_id=1, cancel_type=1)
    ]
    assert not client.conn.cancel_request(1, request_id)  # no longer pending

    client = connected("client")
    request_id = client.call(client.conn.request, 1, "slow")
    client.take_wire()
    assert client.call(client.conn.cancel_request, 1, request_id)
    assert client.take_wire() == b""  # default: never 0x73 (old Go peers die on it)
    client.feed_packets(ResponsePacket(packet_id=request_id, session_id=1, value=b"late"))
    assert client.events == []


def test_request_cancel_bytes_match_v20() -> None:
    assert encode(RequestCancelPacket(packet_id=15, session_id=1, cancel_type=1)) == V20


def test_inbound_request_cancel_is_reported() -> None:
    server = connected("server")
    server.feed(V20)
    assert server.events == [RequestCancelled(1, 15, 1)]


def test_cancel_round_trip_reaches_the_callee() -> None:
    link = connected_link(
        client=ClientConnection(config=ConnectionConfig(send_request_cancel=True))
    )
    link.server.call(link.server.conn.register, 1, "slow")
    link.pump()
    request_id = link.client.call(link.client.conn.request, 1, "slow")
    link.pump()
    link.client.call(link.client.conn.cancel_request, 1, request_id)
    link.pump()
    assert link.server.of(RequestCancelled) == [RequestCancelled(1, request_id, 1)]


# ------------------------------------------------------------------------- registration


def test_register_is_acked_byte_exactly() -> None:
    server = connected("server")
    server.feed(V22)
    assert server.take_wire() == V23
    assert server.events == [RemoteRegistered(1, "echo")]
    assert server.conn.session(1).remote_methods == {b"echo"}  # type: ignore[union-attr]


def test_remote_registrations_are_capped_per_session() -> None:
    server = connected("server", ConnectionConfig(max_remote_methods=1))
    server.feed_packets(
        RegisterPacket(packet_id=1, session_id=1, method=b"a"),
        RegisterPacket(packet_id=2, session_id=1, method=b"a"),
        RegisterPacket(packet_id=3, session_id=1, method=b"b"),
    )
    assert server.take_packets() == [
        RegisterAckPacket(packet_id=1, session_id=1),
        RegisterAckPacket(packet_id=2, session_id=1),
        RegisterAckPacket(packet_id=3, session_id=1, error="too many registered methods"),
    ]
    assert server.events == [RemoteRegistered(1, "a"), RemoteRegistered(1, "a")]


def test_register_ack_error_is_reported() -> None:
    client = connected("client")
    register_id = client.call(client.conn.register, 1, "m")
    client.feed_packets(RegisterAckPacket(packet_id=register_id, session_id=1, error="no"))
    assert client.events == [RegisterAcked(1, register_id, "m", "no")]


# ------------------------------------------------------------------------------ raw bytes


def test_stream_data_frame_is_byte_exact() -> None:
    client = connected("client", ConnectionConfig(first_packet_id=16))  # the Conn took 16
    client.feed_packets(SessionPacket(packet_id=3, negotiate_id=0x10))  # a Go server's ID
    client.take_wire()
    client.call(client.conn.send_stream_data, 0x10, b"abc")
    assert client.take_wire() == V21


def test_stream_data_is_chunked_and_reassembles_in_order() -> None:
    link = connected_link(client=ClientConnection(config=ConnectionConfig(stream_chunk_size=4)))
    link.client.call(link.client.conn.send_stream_data, 1, bytearray(b"0123456789"))
    packets = [p for p in link.client.take_packets() if isinstance(p, StreamPacket)]
    assert [p.data for p in packets] == [b"0123", b"4567", b"89"]
    assert len({p.packet_id for p in packets}) == 3
    link.server.feed(b"".join(encode(p) for p in packets))
    assert b"".join(e.data for e in link.server.of(StreamDataReceived)) == b"0123456789"


def test_empty_stream_write_sends_nothing() -> None:
    client = connected("client")
    client.call(client.conn.send_stream_data, 1, b"")
    assert client.take_wire() == b""


def test_operations_on_unknown_sessions_raise_and_replies_are_dropped() -> None:
    client = connected("client")
    with pytest.raises(SessionStateError):
        client.conn.publish(5, b"x")
    with pytest.raises(SessionStateError):
        client.conn.request(5, "m")
    with pytest.raises(SessionStateError):
        client.conn.send_stream_data(5, b"x")
    assert not client.conn.ack(5, 1)
    assert not client.conn.respond(5, 1, "m")
    client.drain()
    assert client.take_wire() == b""


def test_ack_echoes_session_and_message_ids() -> None:
    server = connected("server")
    server.feed(V10_SERVER_OPEN)
    server.feed_packets(MessagePacket(packet_id=99, session_id=9, value=b"v"))
    server.take_wire()
    server.call(server.conn.ack, 9, 99)
    assert server.take_packets() == [MessageAckPacket(packet_id=99, session_id=9)]


V10_SERVER_OPEN = bytes.fromhex(
    "0131000000000000000700000024001000000000000000097b226d657461223a2262513d3d222c2270656572223a"
    "2270227d"
)
