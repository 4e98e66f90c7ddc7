"""Connection lifecycle of the sans-I/O layer: handshake, heartbeat, 4-way disconnect (§B).

Frames the FSM emits are compared byte for byte with the reference vectors wherever a vector
covers them (V1-V9); the rest is checked packet by packet.
"""

from __future__ import annotations

import pytest

from frontier.geminio import (
    RET_ERR,
    RET_OK,
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    HeartbeatAckPacket,
    HeartbeatPacket,
    MessagePacket,
    RegisterAckPacket,
    RegisterPacket,
    RequestPacket,
    ResponsePacket,
    encode,
)
from frontier.geminio.conn_client import ClientConnection
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.conn_errors import ConnectionStateError
from frontier.geminio.conn_server import DEFAULT_REJECTION, ServerConnection
from frontier.geminio.events import (
    CloseReason,
    Connected,
    ConnectFailed,
    ConnectionClosed,
    ConnectRequested,
    HeartbeatReceived,
    MessageReceived,
    RegisterAcked,
    RequestReceived,
)
from frontier.geminio.states import ConnState
from frontier.geminio.timer_requests import (
    CONNECT_TIMER,
    HEARTBEAT_TIMER,
    IDLE_TIMER,
    CancelTimer,
    SetTimer,
)
from support.geminio_link import Driver, Link, connected_link

V1 = bytes.fromhex(
    "010100000000000000010000001d180000000000000000007b226d657461223a22614756736247383d227d"
)
V2 = bytes.fromhex("010100000000000000010000000c180000000000000000007b7d")
V3 = bytes.fromhex(
    "010100000001000000030000002d1800000000000000002a7b226d657461223a2265794a7a5a584a3261574e6c"
    "496a6f6963335a6a496e303d227d"
)
V4 = bytes.fromhex("010200000000000000010000000b0000000000000012347b7d")
V5 = bytes.fromhex(
    "010200000000000000010000001b0100000000000000007b226572726f72223a2264656e696564227d"
)
V6 = bytes.fromhex("0121000000000000000300000000")
V7 = bytes.fromhex("0122000000000000000300000000")
V8 = bytes.fromhex("0111000000000000000500000000")
V9 = bytes.fromhex("0112000000000000000500000003007b7d")


def server_after_hello(hello: bytes = V2) -> Driver:
    server = Driver(ServerConnection())
    server.call(server.conn.start)
    server.feed(hello)
    return server


def accepted_server(heartbeat: int = 20) -> Driver:
    server = Driver(ServerConnection())
    server.call(server.conn.start)
    server.feed_packets(ConnPacket(packet_id=1, heartbeat=heartbeat))
    server.call(server.conn.accept, 9)  # type: ignore[attr-defined]
    server.take_wire()
    server.events.clear()
    server.timer_log.clear()
    return server


# ----------------------------------------------------------------------------- handshake


@pytest.mark.parametrize(
    ("kwargs", "vector"),
    [
        ({}, V2),
        ({"meta": b"hello"}, V1),
        (
            {
                "meta": b'{"service":"svc"}',
                "client_id": 42,
                "config": ConnectionConfig(first_packet_id=0x0000000100000003),
            },
            V3,
        ),
    ],
)
def test_client_hello_is_byte_exact(kwargs: dict[str, object], vector: bytes) -> None:
    client = Driver(ClientConnection(**kwargs))  # type: ignore[arg-type]
    client.call(client.conn.start)
    assert client.take_wire() == vector
    assert client.conn.state is ConnState.CONN_SENT
    assert client.timer_log == [SetTimer(CONNECT_TIMER, 10.0)]


def test_server_reports_the_hello_and_echoes_its_id_in_the_conn_ack() -> None:
    server = server_after_hello(V1)
    assert server.events == [ConnectRequested(0, b"hello", 20, True)]
    assert server.take_wire() == b""  # nothing until the adapter decides
    server.call(server.conn.accept, 0x1234)  # type: ignore[attr-defined]
    assert server.take_wire() == V4
    assert server.events[-1] == Connected(0x1234, b"hello", 20)
    assert server.conn.state is ConnState.CONNED
    assert server.conn.session_ids == [1]
    # handshake timer cancelled, heartbeat timeout armed at 2 x 20 s
    assert CancelTimer(CONNECT_TIMER) in server.timer_log
    assert server.timers == {IDLE_TIMER: 40.0}


def test_wanted_client_id_and_acquire_flag_reach_the_adapter() -> None:
    server = server_after_hello(V3)
    assert server.events == [ConnectRequested(42, b'{"service":"svc"}', 20, True)]
    server = server_after_hello(
        encode(ConnPacket(packet_id=4, client_id=77, client_id_acquire=False, heartbeat=5))
    )
    assert server.events == [ConnectRequested(77, b"", 5, False)]


def test_round_trip_connect_adopts_the_servers_client_id() -> None:
    link = Link(ClientConnection(client_id=5, meta=b"m"))
    link.connect(lambda request: request.client_id + 100)
    assert link.client.of(Connected) == [Connected(105, b"m", 20)]
    assert link.server.of(Connected) == [Connected(105, b"m", 20)]
    assert link.client.conn.client_id == 105
    assert link.client.conn.state is ConnState.CONNED
    assert link.client.timers == {HEARTBEAT_TIMER: 20.0}


def test_get_client_id_error_means_conn_ack_err_then_disconn_then_the_end() -> None:
    server = server_after_hello()
    server.call(server.conn.reject, "denied")  # type: ignore[attr-defined]
    wire = server.take_wire()
    assert wire[: len(V5)] == V5
    assert wire[len(V5) :] == encode(DisConnPacket(packet_id=1))
    # Closed right after the ConnAck is written: a refused client holds nothing for the
    # close timeout (a graceful close, so both frames go out before the FIN).
    assert server.conn.state is ConnState.FINI
    assert server.closed_event == ConnectionClosed(CloseReason.REJECTED, "denied", False)
    assert server.timers == {}
    assert server.of(Connected) == []


def test_reject_never_sends_an_empty_error_which_go_reads_as_success() -> None:
    server = server_after_hello()
    server.call(server.conn.reject, "")  # type: ignore[attr-defined]
    ack = server.take_packets()[0]
    assert ack == ConnAckPacket(packet_id=1, ret_code=RET_ERR, error=DEFAULT_REJECTION)


def test_rejected_handshake_ends_both_sides_without_waiting_for_the_client() -> None:
    link = Link(ClientConnection(meta=b"deny"))
    link.connect(lambda _request: "denied")
    assert link.client.of(ConnectFailed) == [ConnectFailed("denied", 0)]
    assert link.server.closed_event == ConnectionClosed(CloseReason.REJECTED, "denied", False)
    assert link.server.timers == {}
    link.client.call(link.client.conn.receive_eof)  # the server closed the transport
    assert link.client.closed_event == ConnectionClosed(CloseReason.REJECTED, "denied", False)
    assert link.client.timers == {}
    # The server sends its ConnAck and the DisConn Go clients expect, then it is done:
    # the client's answer to the DisConn reaches a closed connection and changes nothing.
    kinds = [type(p).__name__ for p in link_packets(link.server.sent)]
    assert kinds == ["ConnAckPacket", "DisConnPacket"]


def test_client_treats_conn_ack_error_text_not_ret_code_as_failure() -> None:
    client = Driver(ClientConnection())
    client.call(client.conn.start)
    client.take_wire()
    client.feed_packets(ConnAckPacket(packet_id=1, ret_code=RET_ERR, client_id=3))
    assert client.of(Connected) == [Connected(3, b"", 20)]

    client = Driver(ClientConnection())
    client.call(client.conn.start)
    client.take_wire()
    client.feed(V5)
    assert client.of(ConnectFailed) == [ConnectFailed("denied", 0)]
    assert client.take_packets() == [DisConnPacket(packet_id=2)]


def test_accept_and_reject_are_only_possible_once_while_a_decision_is_pending() -> None:
    server = Driver(ServerConnection())
    with pytest.raises(ConnectionStateError):
        server.conn.accept(1)  # type: ignore[attr-defined]
    server = server_after_hello()
    server.call(server.conn.accept, 1)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionStateError):
        server.conn.accept(1)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionStateError):
        server.conn.reject("no")  # type: ignore[attr-defined]


def test_data_before_the_decision_is_discarded() -> None:
    server = server_after_hello()
    server.feed_packets(MessagePacket(packet_id=2, session_id=1, value=b"early"))
    server.call(server.conn.accept, 1)  # type: ignore[attr-defined]
    assert server.of(MessageReceived) == []
    server.feed_packets(MessagePacket(packet_id=3, session_id=1, value=b"late"))
    assert [e.data for e in server.of(MessageReceived)] == [b"late"]


def test_heartbeat_before_the_handshake_is_ignored() -> None:
    server = Driver(ServerConnection())
    server.call(server.conn.start)
    server.feed(V6)
    assert server.take_wire() == b""
    assert server.events == []
    assert server.conn.state is ConnState.INIT


@pytest.mark.parametrize(
    ("packets", "phrase"),
    [
        ([ConnPacket(packet_id=1), ConnPacket(packet_id=2)], "ConnPacket in state conn_recv"),
        ([DisConnPacket(packet_id=1)], "DisConn in state init"),
        ([ConnPacket(packet_id=1), DisConnAckPacket(packet_id=1)], "DisConnAck in state"),
    ],
)
def test_server_protocol_violations_close_only_this_connection(
    packets: list[ConnPacket | DisConnPacket | DisConnAckPacket], phrase: str
) -> None:
    server = Driver(ServerConnection())
    server.call(server.conn.start)
    server.feed_packets(*packets)
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.PROTOCOL_ERROR
    assert closed.abort
    assert phrase in closed.detail
    assert server.timers == {}
    server.feed(V2)  # ignored from now on
    assert len(server.of(ConnectionClosed)) == 1


def test_second_conn_packet_after_accept_is_a_violation() -> None:
    server = accepted_server()
    server.feed(V2)
    assert server.closed_event is not None
    assert server.closed_event.reason is CloseReason.PROTOCOL_ERROR


def test_conn_ack_must_echo_the_conn_packet_id() -> None:
    client = Driver(ClientConnection())
    client.call(client.conn.start)
    client.feed_packets(ConnAckPacket(packet_id=2, client_id=1))
    assert client.closed_event is not None
    assert client.closed_event.reason is CloseReason.PROTOCOL_ERROR
    assert "does not echo" in client.closed_event.detail


def test_malformed_bytes_end_the_connection_with_the_codec_error_text() -> None:
    server = accepted_server()
    server.feed(b"\x01\x99" + bytes(12))
    closed = server.closed_event
    assert closed == ConnectionClosed(
        CloseReason.PROTOCOL_ERROR, closed.detail if closed else "", True
    )
    assert closed is not None
    assert "unknown packet type byte 0x99" in closed.detail


@pytest.mark.parametrize("driver", ["client", "server"])
def test_connect_timeout_aborts(driver: str) -> None:
    conn = ClientConnection() if driver == "client" else ServerConnection()
    side = Driver(conn)
    side.call(side.conn.start)
    assert side.timers == {CONNECT_TIMER: 10.0}
    side.call(side.conn.timer_expired, CONNECT_TIMER)
    closed = side.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.CONNECT_TIMEOUT
    assert closed.abort


def test_server_connect_timeout_also_covers_a_slow_decision() -> None:
    server = server_after_hello()
    server.call(server.conn.timer_expired, CONNECT_TIMER)
    assert server.closed_event is not None
    assert server.closed_event.reason is CloseReason.CONNECT_TIMEOUT
    with pytest.raises(ConnectionStateError):
        server.conn.accept(1)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- heartbeat


def test_heartbeat_is_acked_byte_exactly_and_reported() -> None:
    server = accepted_server()
    server.feed(V6)
    assert server.take_wire() == V7
    assert server.events == [HeartbeatReceived()]


@pytest.mark.parametrize(("heartbeat", "timeout"), [(5, 10.0), (20, 40.0), (80, 160.0)])
def test_heartbeat_timeout_is_twice_the_advertised_interval(heartbeat: int, timeout: float) -> None:
    server = accepted_server(heartbeat)
    assert server.timers == {IDLE_TIMER: timeout}
    server.clock.now = timeout - 1
    server.feed_packets(MessagePacket(packet_id=2, session_id=1))
    assert server.timers == {IDLE_TIMER: 2 * timeout - 1}  # any packet re-arms it
    server.clock.now = 2 * timeout - 1
    assert server.fire_due()
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT
    assert closed.abort  # force-close: a graceful close towards a dead peer leaves stale state
    assert server.take_wire() == b""


def test_heartbeats_keep_a_link_alive_and_silence_kills_it_at_2x_interval() -> None:
    link = connected_link()
    link.advance(1000.0)
    assert link.server.closed_event is None
    heartbeats = [p for p in link_packets(link.client.sent) if isinstance(p, HeartbeatPacket)]
    assert len(heartbeats) == 50  # one every 20 s
    acks = [p for p in link_packets(link.server.sent) if isinstance(p, HeartbeatAckPacket)]
    assert [a.packet_id for a in acks] == [h.packet_id for h in heartbeats]
    # the client goes silent: its last packet reached the server at t=1000
    link.cut_client_to_server = True
    link.advance(39.9)
    assert link.server.closed_event is None
    link.advance(0.1)
    closed = link.server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT
    assert link.clock.now == pytest.approx(1040.0)


def test_client_has_no_idle_timeout_unless_asked() -> None:
    link = connected_link()
    link.cut_server_to_client = True
    link.advance(10_000.0)
    assert link.client.closed_event is None
    link = connected_link(client=ClientConnection(peer_timeout=50.0))
    link.cut_server_to_client = True
    link.advance(50.0)
    assert link.client.closed_event is not None
    assert link.client.closed_event.reason is CloseReason.HEARTBEAT_TIMEOUT


def test_a_peer_timeout_shorter_than_the_heartbeat_probes_a_live_server() -> None:
    """The server only acks heartbeats, so a client whose peer timeout is shorter than its
    heartbeat interval probes after half of it in silence: a live server is never
    mistaken for a dead one."""
    link = connected_link(client=ClientConnection(peer_timeout=6.0))
    link.advance(1000.0)
    assert link.client.closed_event is None
    assert link.server.closed_event is None
    heartbeats = [p for p in link_packets(link.client.sent) if isinstance(p, HeartbeatPacket)]
    # per 20 s: the regular heartbeat and a probe after each 3 s of silence since the
    # last ack (at 3, 6, ..., 18 s): 7, exactly, over 50 intervals
    assert len(heartbeats) == 7 * 50


@pytest.mark.parametrize("cut", ["server_to_client", "both"])
def test_a_silent_server_is_given_up_peer_timeout_after_its_last_packet(cut: str) -> None:
    link = connected_link(client=ClientConnection(peer_timeout=6.0))
    link.advance(100.0)  # the regular heartbeat at 100 s was just acked
    link.cut_server_to_client = True
    link.cut_client_to_server = cut == "both"
    link.advance(5.9)  # a probe went at 103 s, unanswered
    assert link.client.closed_event is None
    link.advance(0.1)
    closed = link.client.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT
    assert closed.abort
    assert "6 s" in closed.detail


def test_the_peer_timeout_waits_while_the_client_itself_stopped_reading() -> None:
    """A client application that leaves its queues full makes the adapter stop reading:
    the server's acks wait in the socket, and that silence is ours, not the server's."""
    link = connected_link(client=ClientConnection(peer_timeout=6.0))
    link.client.call(link.client.conn.reading_paused, True)
    link.cut_server_to_client = True  # what the server sends is not read
    link.advance(1000.0)
    assert link.client.closed_event is None
    link.client.call(link.client.conn.reading_paused, False)
    link.advance(5.9)
    assert link.client.closed_event is None
    link.advance(0.1)
    closed = link.client.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT


def test_a_server_keeps_its_idle_check_while_it_stopped_reading() -> None:
    link = connected_link()
    link.server.call(link.server.conn.reading_paused, True)
    link.cut_client_to_server = True
    link.advance(40.0)
    closed = link.server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_peer_timeout_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="peer_timeout"):
        ClientConnection(peer_timeout=bad)


def test_client_tolerates_a_heartbeat_ack_that_crossed_its_disconn() -> None:
    link = connected_link()
    link.client.call(link.client.conn.close)
    link.client.feed(encode(HeartbeatAckPacket(packet_id=77)))
    assert link.client.closed_event is None
    link.pump()
    assert link.client.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)


# ---------------------------------------------------------------------------- disconnect


def test_disconn_is_answered_byte_exactly_and_followed_by_our_own() -> None:
    server = accepted_server()
    server.feed(V8)
    wire = server.take_wire()
    assert wire[: len(V9)] == V9
    assert wire[len(V9) :] == encode(DisConnPacket(packet_id=1))  # the server's first fresh ID
    assert server.conn.state is ConnState.CLOSE_HALF
    server.feed_packets(DisConnAckPacket(packet_id=1))
    assert server.closed_event == ConnectionClosed(CloseReason.PEER_CLOSE, "", False)
    assert server.conn.state is ConnState.FINI


@pytest.mark.parametrize("closer", ["client", "server"])
def test_4_way_disconnect_closes_both_sides_cleanly(closer: str) -> None:
    link = connected_link()
    active, passive = (
        (link.client, link.server) if closer == "client" else (link.server, link.client)
    )
    active.call(active.conn.close)
    assert active.conn.state is ConnState.CONNED  # first: dismiss session 1
    link.pump()
    assert active.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)
    assert passive.closed_event == ConnectionClosed(CloseReason.PEER_CLOSE, "", False)
    assert active.timers == {}
    assert passive.timers == {}
    names = [type(p).__name__ for p in link_packets(active.sent)][-4:]
    assert names == ["DismissPacket", "DismissAckPacket", "DisConnPacket", "DisConnAckPacket"]


def test_simultaneous_disconn() -> None:
    link = connected_link()
    link.client.call(link.client.conn.close, dismiss_sessions=False)
    link.server.call(link.server.conn.close, dismiss_sessions=False)
    assert link.client.conn.state is ConnState.CLOSE_SENT
    assert link.server.conn.state is ConnState.CLOSE_SENT
    link.pump()
    assert link.client.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)
    assert link.server.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)
    for side in (link.client, link.server):
        disconns = [p for p in link_packets(side.sent) if isinstance(p, DisConnPacket)]
        assert len(disconns) == 1


def test_close_timeout_aborts_when_the_peer_never_answers() -> None:
    link = connected_link()
    link.cut_server_to_client = True
    link.client.call(link.client.conn.close, dismiss_sessions=False)
    link.advance(9.9)
    assert link.client.closed_event is None
    link.advance(0.1)
    closed = link.client.closed_event
    assert closed is not None
    assert (closed.reason, closed.abort) == (CloseReason.LOCAL_CLOSE, True)
    assert "disconnect not completed" in closed.detail


def test_close_before_the_handshake_just_ends() -> None:
    client = Driver(ClientConnection())
    client.call(client.conn.start)
    client.take_wire()
    client.call(client.conn.close)
    assert client.closed_event is not None
    assert client.closed_event.abort
    assert client.take_wire() == b""


def test_eof_ends_the_connection_and_names_a_cut_frame() -> None:
    server = accepted_server()
    server.feed(V6[:5])
    server.call(server.conn.receive_eof)
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.TRANSPORT_CLOSED
    assert "inside a frame" in closed.detail


def test_stale_timer_expiries_are_ignored() -> None:
    server = accepted_server()
    server.feed(V6)  # re-arms IDLE; the adapter has taken the request
    server.call(server.conn.timer_expired, HEARTBEAT_TIMER)  # never armed on a server
    server.call(server.conn.close, dismiss_sessions=False)
    assert IDLE_TIMER not in server.timers
    server.call(server.conn.timer_expired, IDLE_TIMER)  # cancelled: a late firing
    assert server.closed_event is None


def test_conn_ack_ok_packet() -> None:
    server = server_after_hello()
    server.call(server.conn.accept, 5)  # type: ignore[attr-defined]
    assert server.take_packets() == [ConnAckPacket(packet_id=1, ret_code=RET_OK, client_id=5)]


def link_packets(data: bytearray) -> list[object]:
    from support.geminio_link import split_frames

    return list(split_frames(bytes(data)))


# ------------------------------------------------- methods served from the handshake on


def _conn_ack_then_call(client: ClientConnection) -> Driver:
    """The client's first read holds the ConnAck and, right behind it, a call of
    `read_sensor`: what a gateway sends when a service calls an edge the moment the edge
    is registered."""
    driver = Driver(client)
    driver.call(client.start)
    (hello,) = driver.take_packets()
    assert isinstance(hello, ConnPacket)
    driver.feed(
        encode(ConnAckPacket(packet_id=hello.packet_id, ret_code=RET_OK, client_id=7))
        + encode(RequestPacket(packet_id=50, session_id=1, key=b"read_sensor", value=b"x"))
    )
    return driver


def test_methods_given_before_the_handshake_answer_a_call_in_the_same_read() -> None:
    driver = _conn_ack_then_call(ClientConnection(methods=["read_sensor", "other"]))
    (connected,) = driver.of(Connected)
    assert len(connected.registers) == 2
    (request,) = driver.of(RequestReceived)
    assert (request.method, request.request_id) == ("read_sensor", 50)
    sent = driver.take_packets()
    registered = [p for p in sent if isinstance(p, RegisterPacket)]
    assert [(p.method, p.packet_id) for p in registered] == [
        (b"read_sensor", connected.registers[0]),
        (b"other", connected.registers[1]),
    ]
    assert not [p for p in sent if isinstance(p, ResponsePacket)]  # no "no such rpc"
    driver.feed_packets(RegisterAckPacket(packet_id=connected.registers[0], session_id=1))
    (acked,) = driver.of(RegisterAcked)
    assert (acked.register_id, acked.error) == (connected.registers[0], "")


def test_without_them_the_same_read_gets_no_such_rpc() -> None:
    """The race the methods close: registering after `Connected` is too late."""
    driver = _conn_ack_then_call(ClientConnection())
    assert driver.of(Connected)[0].registers == ()
    assert not driver.of(RequestReceived)
    (response,) = [p for p in driver.take_packets() if isinstance(p, ResponsePacket)]
    assert (response.packet_id, response.error) == (50, "no such rpc: read_sensor")
