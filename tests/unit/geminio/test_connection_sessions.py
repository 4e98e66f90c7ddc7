"""Session multiplexer of the sans-I/O layer: open/accept, IDs per §C.1/§C.7, 4-way dismiss."""

from __future__ import annotations

import pytest

from frontier.geminio import (
    DismissAckPacket,
    DismissPacket,
    MessageAckPacket,
    MessagePacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionPacket,
    StreamPacket,
    encode,
)
from frontier.geminio.conn_client import ClientConnection
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.conn_errors import ConnectionStateError, SessionStateError
from frontier.geminio.conn_server import ServerConnection
from frontier.geminio.events import (
    AbortReason,
    CloseReason,
    ConnectionClosed,
    MessageReceived,
    OperationAborted,
    OpKind,
    RequestReceived,
    SessionAccepted,
    SessionClosed,
    SessionCloseReason,
    SessionOpened,
    StreamDataReceived,
)
from frontier.geminio.ids import CLIENT_SESSION_BASE
from frontier.geminio.states import ConnState, SessionState
from frontier.geminio.timer_requests import TimerKey, TimerKind
from support.geminio_link import Driver, Link, connected_link, split_frames

V10 = bytes.fromhex(
    "0131000000000000000700000024001000000000000000097b226d657461223a2262513d3d222c2270656572223a"
    "2270227d"
)
V11 = bytes.fromhex("01320000000000000007000000140000000000000000000900000000000000107b7d")
V12 = bytes.fromhex("0141000000000000000b0000000a00000000000000107b7d")
V13 = bytes.fromhex("0142000000000000000b0000000a00000000000000107b7d")


def connected(side: str, config: ConnectionConfig | None = None) -> Driver:
    """One connected peer whose counterpart the test plays by hand."""
    link = Link(
        ClientConnection(config=config) if side == "client" else None,
        ServerConnection(config=config) if side == "server" else None,
    )
    link.connect()
    driver = link.client if side == "client" else link.server
    driver.events.clear()
    driver.timer_log.clear()
    driver.take_wire()
    return driver


# ------------------------------------------------------------------------------- opening


def test_client_opened_session_gets_the_negotiate_id_as_session_id() -> None:
    """§C.7: the server answers with sessionID = the client's negotiateID."""
    server = connected("server")
    server.feed(V10)
    ack = server.take_wire()
    # V11 is what a Go server answers (its own ID 0x10); ours differs only in that field.
    assert ack == V11[:24] + (9).to_bytes(8, "big") + V11[32:]
    assert server.events == [SessionAccepted(9, b"m", "p", 9)]
    session = server.conn.session(9)
    assert session is not None
    assert session.state is SessionState.SESSIONED


def test_server_allocates_its_own_id_when_the_negotiate_id_is_taken_or_reserved() -> None:
    server = connected("server")
    for negotiate_id in (0, 1, 9, 9):
        server.feed_packets(
            SessionPacket(packet_id=7, negotiate_id=negotiate_id, session_id_acquire=True)
        )
    acks = server.take_packets()
    assert [a.session_id for a in acks] == [2, 3, 9, 4]  # type: ignore[union-attr]
    assert [a.negotiate_id for a in acks] == [0, 1, 9, 9]  # type: ignore[union-attr]
    assert sorted(server.conn.session_ids) == [1, 2, 3, 4, 9]


def test_client_opened_session_round_trip_with_exact_ack_fields() -> None:
    link = connected_link()
    open_id = link.client.call(link.client.conn.open_session, b"meta", "svc")
    assert open_id == CLIENT_SESSION_BASE
    (opened,) = split_frames(bytes(link.client.wire))
    assert opened == SessionPacket(
        packet_id=opened.packet_id,
        negotiate_id=CLIENT_SESSION_BASE,
        session_id_acquire=True,
        meta=b"meta",
        peer="svc",
    )
    link.pump()
    (ack,) = [p for p in split_frames(bytes(link.server.sent)) if isinstance(p, SessionAckPacket)]
    assert ack == SessionAckPacket(
        packet_id=opened.packet_id, negotiate_id=open_id, session_id=open_id
    )
    assert link.client.of(SessionOpened) == [SessionOpened(open_id, open_id, b"meta", "svc")]
    assert link.server.of(SessionAccepted) == [SessionAccepted(open_id, b"meta", "svc", open_id)]
    assert TimerKey(TimerKind.OPEN, 0, open_id) not in link.client.timers


def test_server_opened_session_round_trip_with_exact_ack_fields() -> None:
    link = connected_link()
    open_id = link.server.call(link.server.conn.open_session, b"x", "edge")
    assert open_id == 2  # server-opened IDs come from a small counter (§C.7)
    (opened,) = split_frames(bytes(link.server.wire))
    assert opened == SessionPacket(
        packet_id=opened.packet_id, negotiate_id=2, session_id_acquire=False, meta=b"x", peer="edge"
    )
    link.pump()
    (ack,) = [p for p in split_frames(bytes(link.client.sent)) if isinstance(p, SessionAckPacket)]
    assert ack == SessionAckPacket(packet_id=opened.packet_id, negotiate_id=2, session_id=2)
    assert link.server.of(SessionOpened) == [SessionOpened(2, 2, b"x", "edge")]
    assert link.client.of(SessionAccepted) == [SessionAccepted(2, b"x", "edge", 2)]


def test_client_adopts_the_id_a_go_server_assigns() -> None:
    client = connected("client")
    open_id = client.call(client.conn.open_session)
    (opened,) = client.take_packets()
    client.feed_packets(
        SessionAckPacket(packet_id=opened.packet_id, negotiate_id=open_id, session_id=0x10)
    )
    assert client.events == [SessionOpened(open_id, 0x10, b"", "")]
    # data right after the ack is delivered (no §C.7 race here: packets are handled in order)
    client.feed_packets(StreamPacket(packet_id=1, session_id=0x10, data=b"abc"))
    assert client.events[-1] == StreamDataReceived(0x10, b"abc")
    # and the Go server's Dismiss (V12) is answered byte for byte (V13), then ours follows
    client.feed(V12)
    wire = client.take_wire()
    assert wire[: len(V13)] == V13
    assert split_frames(wire[len(V13) :]) == [
        DismissPacket(packet_id=opened.packet_id + 1, session_id=0x10)
    ]


@pytest.mark.parametrize("bad_id", [0, 1, 2])
def test_ack_assigning_a_reserved_or_used_id_is_a_protocol_violation(bad_id: int) -> None:
    client = connected("client")
    client.call(client.conn.open_session)
    (opened,) = client.take_packets()
    client.feed_packets(  # session 2 exists already: the server opened it
        SessionPacket(packet_id=50, negotiate_id=2),
        SessionAckPacket(
            packet_id=opened.packet_id,
            negotiate_id=opened.negotiate_id,  # type: ignore[union-attr]
            session_id=bad_id,
        ),
    )
    closed = client.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.PROTOCOL_ERROR


def test_ack_for_no_pending_open_is_dropped() -> None:
    client = connected("client")
    client.feed_packets(SessionAckPacket(packet_id=1, negotiate_id=5, session_id=5))
    assert client.events == []
    assert client.take_wire() == b""
    assert client.conn.session_ids == [1]


def test_open_rejected_by_the_peer_is_reported_and_dismissed() -> None:
    client = connected("client")
    open_id = client.call(client.conn.open_session)
    (opened,) = client.take_packets()
    client.feed_packets(
        SessionAckPacket(
            packet_id=opened.packet_id, negotiate_id=open_id, session_id=30, error="no"
        )
    )
    assert client.events == [OperationAborted(OpKind.OPEN, 0, open_id, AbortReason.REJECTED, "no")]
    assert client.take_packets() == [DismissPacket(packet_id=opened.packet_id + 1, session_id=30)]
    # the peer's own Dismiss (it follows an error ack, §C.2) completes it without events
    client.feed_packets(
        DismissPacket(packet_id=90, session_id=30),
        DismissAckPacket(packet_id=opened.packet_id + 1, session_id=30),
    )
    assert client.take_packets() == [DismissAckPacket(packet_id=90, session_id=30)]
    assert len(client.events) == 1
    assert client.conn.session_ids == [1]


def test_open_timeout_aborts_and_a_late_ack_is_dropped() -> None:
    client = connected("client")
    open_id = client.call(client.conn.open_session)
    (opened,) = client.take_packets()
    key = TimerKey(TimerKind.OPEN, 0, open_id)
    assert client.timers[key] == client.clock.now + 30.0
    client.call(client.conn.timer_expired, key)
    assert client.events == [OperationAborted(OpKind.OPEN, 0, open_id, AbortReason.TIMEOUT)]
    client.feed_packets(
        SessionAckPacket(packet_id=opened.packet_id, negotiate_id=open_id, session_id=open_id)
    )
    assert client.conn.session_ids == [1]
    assert len(client.events) == 1


def test_cancelled_open_is_dismissed_when_the_ack_arrives() -> None:
    link = connected_link()
    open_id = link.client.call(link.client.conn.open_session)
    assert link.client.conn.cancel_open(open_id)
    assert not link.client.conn.cancel_open(open_id)
    link.pump()
    assert link.client.of(SessionOpened) == []
    assert link.client.of(OperationAborted) == []
    # the server saw an open and then a dismiss
    assert link.server.of(SessionClosed) == [
        SessionClosed(open_id, SessionCloseReason.DISMISSED, True)
    ]
    assert link.client.conn.session_ids == link.server.conn.session_ids == [1]


def test_opens_beyond_max_sessions_are_refused_without_state() -> None:
    server = connected("server", ConnectionConfig(max_sessions=2))
    server.feed_packets(
        SessionPacket(packet_id=3, negotiate_id=100, session_id_acquire=True),
        SessionPacket(packet_id=4, negotiate_id=101, session_id_acquire=True),
    )
    acks = server.take_packets()
    assert [(a.session_id, a.error) for a in acks] == [  # type: ignore[union-attr]
        (100, ""),
        (101, "too many sessions"),
    ]
    assert sorted(server.conn.session_ids) == [1, 100]
    with pytest.raises(SessionStateError):
        server.conn.open_session()


# ------------------------------------------------------------------------------- dismiss


@pytest.mark.parametrize("closer", ["client", "server"])
def test_4_way_dismiss(closer: str) -> None:
    link = connected_link()
    open_id = link.client.call(link.client.conn.open_session)
    link.pump()
    active, passive = (
        (link.client, link.server) if closer == "client" else (link.server, link.client)
    )
    active.events.clear()
    passive.events.clear()
    active.call(active.conn.close_session, open_id)
    assert active.conn.session(open_id).state is SessionState.DISMISS_SENT  # type: ignore[union-attr]
    link.pump()
    assert active.events == [SessionClosed(open_id, SessionCloseReason.DISMISSED, False)]
    assert passive.events == [SessionClosed(open_id, SessionCloseReason.DISMISSED, True)]
    for side in (active, passive):
        sent = [p for p in split_frames(bytes(side.sent)) if isinstance(p, DismissPacket)]
        assert len(sent) == 1  # exactly one Dismiss each way
        assert side.conn.session_ids == [1]
        assert not [k for k in side.timers if k.kind is TimerKind.DISMISS]


def test_simultaneous_dismiss_completes_on_both_sides() -> None:
    link = connected_link()
    sid = link.client.call(link.client.conn.open_session)
    link.pump()
    link.client.call(link.client.conn.close_session, sid)
    link.server.call(link.server.conn.close_session, sid)
    link.pump()
    for side in (link.client, link.server):
        assert side.of(SessionClosed) == [SessionClosed(sid, SessionCloseReason.DISMISSED, False)]
        sent = [p for p in split_frames(bytes(side.sent)) if isinstance(p, DismissPacket)]
        assert len(sent) == 1
        assert side.conn.session_ids == [1]


def test_dismiss_on_session_1_is_answered_with_ack_and_our_own_dismiss() -> None:
    """A Go End.Close() dismisses session 1 and waits 30 s if nobody answers (§C.3)."""
    server = connected("server")
    server.feed_packets(DismissPacket(packet_id=40, session_id=1))
    assert server.take_packets() == [
        DismissAckPacket(packet_id=40, session_id=1),
        DismissPacket(packet_id=1, session_id=1),
    ]
    server.feed_packets(DismissAckPacket(packet_id=1, session_id=1))
    assert server.events == [SessionClosed(1, SessionCloseReason.DISMISSED, True)]
    assert server.conn.session_ids == []
    with pytest.raises(SessionStateError):
        server.conn.publish(1, b"x")
    # the Go End then disconnects; that still works
    server.feed_packets(DismissPacket(packet_id=41, session_id=1))  # unknown now: dropped
    assert server.take_wire() == b""


def test_dismiss_timeout_tears_the_session_down() -> None:
    link = connected_link()
    sid = link.client.call(link.client.conn.open_session)
    link.pump()
    link.cut_server_to_client = True
    link.client.call(link.client.conn.close_session, sid)
    link.advance(29.9)
    assert link.client.of(SessionClosed) == []
    link.advance(0.1)
    assert link.client.of(SessionClosed) == [SessionClosed(sid, SessionCloseReason.TIMEOUT, False)]


def test_illegal_dismiss_ack_tears_down_only_that_session() -> None:
    server = connected("server")
    server.feed(V10)
    server.events.clear()
    server.feed_packets(DismissAckPacket(packet_id=3, session_id=9))
    assert server.events == [SessionClosed(9, SessionCloseReason.PROTOCOL_ERROR, False)]
    assert server.closed_event is None
    assert server.conn.session_ids == [1]


def test_data_is_delivered_while_dismissing_and_dropped_after() -> None:
    server = connected("server")
    server.feed(V10)
    server.call(server.conn.close_session, 9)
    server.feed_packets(MessagePacket(packet_id=5, session_id=9, value=b"in flight"))
    assert [e.data for e in server.of(MessageReceived)] == [b"in flight"]
    with pytest.raises(SessionStateError):
        server.conn.publish(9, b"no new operations once dismissing")
    server.feed_packets(
        DismissAckPacket(packet_id=1, session_id=9), DismissPacket(packet_id=6, session_id=9)
    )
    server.feed_packets(MessagePacket(packet_id=7, session_id=9, value=b"late"))
    assert [e.data for e in server.of(MessageReceived)] == [b"in flight"]


def test_a_close_with_refuse_answers_what_crosses_the_dismiss_before_acking_the_peers() -> None:
    """A draining gateway's goodbye: a call and a message the peer sent before it saw our
    Dismiss arrive in the same read as its DismissAck and Dismiss. They are answered with
    the refusal, not delivered, and the answers leave before our DismissAck, so the peer
    has them before it tears session 1 down (and aborts what is still pending there)."""
    server = connected("server")
    server.call(server.conn.close, refuse="draining")
    assert server.take_packets() == [DismissPacket(packet_id=1, session_id=1)]
    server.feed_packets(
        RequestPacket(packet_id=8, session_id=1, key=b"echo", value=b"x"),
        MessagePacket(packet_id=9, session_id=1, value=b"y"),
        DismissAckPacket(packet_id=1, session_id=1),
        DismissPacket(packet_id=10, session_id=1),
    )
    out = server.take_packets()
    assert [type(p) for p in out[:3]] == [ResponsePacket, MessageAckPacket, DismissAckPacket]
    response, ack = out[0], out[1]
    assert isinstance(response, ResponsePacket)
    assert isinstance(ack, MessageAckPacket)
    assert (response.packet_id, response.error) == (8, "draining")
    assert (ack.packet_id, ack.error) == (9, "draining")
    assert server.of(MessageReceived) == []
    assert server.of(RequestReceived) == []
    assert server.conn.refused == 2


def test_a_close_without_refuse_still_delivers_what_crosses_the_dismiss() -> None:
    server = connected("server")
    server.call(server.conn.close)
    server.take_wire()
    server.feed_packets(MessagePacket(packet_id=9, session_id=1, value=b"y"))
    assert [e.data for e in server.of(MessageReceived)] == [b"y"]
    assert server.conn.refused == 0


def test_unknown_session_packets_are_dropped() -> None:
    server = connected("server")
    server.feed_packets(
        MessagePacket(packet_id=1, session_id=77),
        DismissPacket(packet_id=2, session_id=77),
        DismissAckPacket(packet_id=3, session_id=77),
    )
    assert server.events == []
    assert server.take_wire() == b""


# ----------------------------------------------------------------------- graceful close


def test_close_dismisses_every_session_before_disconnecting() -> None:
    link = connected_link()
    a = link.client.call(link.client.conn.open_session)
    b = link.server.call(link.server.conn.open_session)
    link.pump()
    pending = link.client.call(link.client.conn.open_session)  # still on the wire
    link.client.events.clear()
    link.client.call(link.client.conn.close)
    assert link.client.of(OperationAborted) == [
        OperationAborted(OpKind.OPEN, 0, pending, AbortReason.CONNECTION_CLOSED)
    ]
    with pytest.raises(ConnectionStateError):
        link.client.conn.open_session()
    link.pump()
    assert {e.session_id for e in link.client.of(SessionClosed)} == {1, a, b}
    assert all(e.reason is SessionCloseReason.DISMISSED for e in link.client.of(SessionClosed))
    # the server had accepted the abandoned open; it was dismissed like the others
    assert SessionClosed(pending, SessionCloseReason.DISMISSED, True) in link.server.events
    assert link.client.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)
    assert link.server.closed_event == ConnectionClosed(CloseReason.PEER_CLOSE, "", False)


def test_crossing_opens_and_closes_still_disconnect_promptly() -> None:
    """Found by the state machine test: both sides open, then both close, before any byte
    moves. Each refuses the other's open with an error ack and a Dismiss; the abandoned
    opens must still be tracked so that those Dismisses are answered at once."""
    link = connected_link()
    link.server.call(link.server.conn.open_session)
    link.client.call(link.client.conn.open_session)
    link.client.call(link.client.conn.close)
    link.server.call(link.server.conn.close)
    link.pump()  # no time passes
    assert link.client.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)
    assert link.server.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)


def test_an_open_that_is_never_acked_holds_the_disconn_until_its_timeout() -> None:
    link = connected_link()
    link.client.call(link.client.conn.open_session)
    link.client.take_wire()  # lost
    link.client.call(link.client.conn.close)
    link.pump()
    assert link.client.conn.state is ConnState.CONNED
    link.advance(30.0)
    assert link.client.closed_event == ConnectionClosed(CloseReason.LOCAL_CLOSE, "", False)


def test_opens_while_closing_get_an_error_ack_and_a_dismiss() -> None:
    server = connected("server")
    server.call(server.conn.close)
    server.take_wire()
    server.feed_packets(SessionPacket(packet_id=8, negotiate_id=20, session_id_acquire=True))
    ack, dismiss = server.take_packets()
    assert ack == SessionAckPacket(
        packet_id=8, negotiate_id=20, session_id=20, error="connection closing"
    )
    assert dismiss == DismissPacket(packet_id=2, session_id=20)
    assert server.of(SessionAccepted) == []


def test_disconn_ends_every_session_and_pending_operation() -> None:
    link = connected_link()
    sid = link.client.call(link.client.conn.open_session)
    link.pump()
    request_id = link.client.call(link.client.conn.request, sid, "slow")
    link.client.events.clear()
    link.server.call(link.server.conn.close, dismiss_sessions=False)
    link.pump()
    events = link.client.events
    assert (
        OperationAborted(OpKind.REQUEST, sid, request_id, AbortReason.CONNECTION_CLOSED) in events
    )
    assert SessionClosed(sid, SessionCloseReason.CONNECTION_CLOSED, False) in events
    assert SessionClosed(1, SessionCloseReason.CONNECTION_CLOSED, False) in events
    assert isinstance(events[-1], ConnectionClosed)


def test_session_ids_from_the_two_sides_never_collide() -> None:
    link = connected_link()
    ids = set()
    for i in range(20):
        side = link.client if i % 2 else link.server
        side.call(side.conn.open_session)
    link.pump()
    for e in link.client.of(SessionOpened) + link.server.of(SessionOpened):
        ids.add(e.session_id)
    assert len(ids) == 20
    assert sorted(link.client.conn.session_ids) == sorted(link.server.conn.session_ids)


def test_encode_helper_sanity() -> None:
    assert encode(DismissAckPacket(packet_id=11, session_id=0x10)) == V13
