"""The sans-I/O connection's defences against peers that abuse it: a peer that never reads
(slow-consumer deadline), one that asks for a heartbeat longer than the server allows, one
that opens streams nobody accepts (refused at the bound, counted exactly even within one
read), and the handshake deadline handed over from the adapter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.geminio import ConnAckPacket, ConnPacket, SessionAckPacket, SessionPacket
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.conn_server import ServerConnection
from frontier.geminio.events import (
    CloseReason,
    ConnectionClosed,
    ConnectRequested,
    SessionAccepted,
)
from frontier.geminio.multiplexer import BACKLOG_FULL, NOT_ACCEPTED
from frontier.geminio.packets import RET_ERR, DismissPacket
from frontier.geminio.timer_requests import CONNECT_TIMER, WRITE_TIMER
from support.geminio_link import Driver, connected_link, frames


def accepted(config: ConnectionConfig | None = None) -> Driver:
    server = Driver(ServerConnection(config=config))
    server.call(server.conn.start)
    server.feed_packets(ConnPacket(packet_id=1, heartbeat=20))
    server.call(server.conn.accept, 9)  # type: ignore[attr-defined]
    server.take_wire()
    server.events.clear()
    return server


# -- slow consumers ---------------------------------------------------------------------


def test_output_left_unread_past_the_write_timeout_ends_the_connection() -> None:
    server = accepted(ConnectionConfig(write_timeout=5.0))
    server.call(server.conn.write_blocked, True)
    assert server.timers[WRITE_TIMER] == 5.0
    server.clock.now = 5.0
    assert server.fire_due()
    closed = server.closed_event
    assert closed is not None
    assert (closed.reason, closed.abort) == (CloseReason.SLOW_CONSUMER, True)
    assert "5 s" in closed.detail


def test_output_drained_in_time_cancels_the_deadline() -> None:
    server = accepted(ConnectionConfig(write_timeout=5.0))
    server.call(server.conn.write_blocked, True)
    server.clock.now = 4.0
    server.call(server.conn.write_blocked, False)
    assert WRITE_TIMER not in server.timers
    server.clock.now = 100.0
    while server.fire_due():  # only the idle timer remains (40 s): a heartbeat timeout
        pass
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.HEARTBEAT_TIMEOUT


def test_without_a_write_timeout_a_blocked_transport_arms_nothing() -> None:
    server = accepted()
    server.call(server.conn.write_blocked, True)
    assert WRITE_TIMER not in server.timers


# -- heartbeat bound --------------------------------------------------------------------


@pytest.mark.parametrize("heartbeat", [80, 320])
def test_a_heartbeat_above_the_servers_maximum_is_refused_at_once(heartbeat: int) -> None:
    server = Driver(ServerConnection(config=ConnectionConfig(max_heartbeat=20)))
    server.call(server.conn.start)
    server.feed_packets(ConnPacket(packet_id=1, heartbeat=heartbeat))
    assert server.of(ConnectRequested) == []  # no hook runs for it
    ack = server.take_packets()[0]
    assert isinstance(ack, ConnAckPacket)
    assert ack.ret_code == RET_ERR
    assert ack.error == f"heartbeat interval {heartbeat} s is above this server's maximum of 20 s"
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.REJECTED
    assert server.timers == {}


@pytest.mark.parametrize("heartbeat", [5, 20])
def test_a_heartbeat_within_the_maximum_is_asked_about(heartbeat: int) -> None:
    server = Driver(ServerConnection(config=ConnectionConfig(max_heartbeat=20)))
    server.call(server.conn.start)
    server.feed_packets(ConnPacket(packet_id=1, heartbeat=heartbeat))
    assert len(server.of(ConnectRequested)) == 1


# -- handshake deadline -------------------------------------------------------------------


def test_the_adapter_hands_over_what_remains_of_the_handshake_deadline() -> None:
    server = Driver(ServerConnection())
    server.call(server.conn.start, 2.5)  # type: ignore[call-arg]
    assert server.timers == {CONNECT_TIMER: 2.5}
    server.clock.now = 2.5
    assert server.fire_due()
    closed = server.closed_event
    assert closed is not None
    assert closed.reason is CloseReason.CONNECT_TIMEOUT


def test_a_deadline_already_past_expires_at_once() -> None:
    server = Driver(ServerConnection())
    server.call(server.conn.start, -1.0)  # type: ignore[call-arg]
    assert server.timers == {CONNECT_TIMER: 0.0}


# -- accept backlog -----------------------------------------------------------------------


def opens(count: int, first: int = 1 << 62) -> bytes:
    return frames(
        SessionPacket(packet_id=10 + i, negotiate_id=first + i, session_id_acquire=True)
        for i in range(count)
    )


def test_opens_beyond_the_backlog_are_refused_even_within_one_read() -> None:
    link = connected_link()
    server = link.server
    server.conn.accept_limit = 3
    server.feed(opens(5))  # one read: the adapter sees no event before all five are handled
    assert len(server.of(SessionAccepted)) == 3
    replies = server.take_packets()
    acks = [p for p in replies if isinstance(p, SessionAckPacket)]
    assert [a.error for a in acks] == ["", "", "", BACKLOG_FULL, BACKLOG_FULL]
    # a Go opener ignores the ack's error (§G.6 #5): the Dismiss is what ends its stream
    dismissed = {p.session_id for p in replies if isinstance(p, DismissPacket)}
    assert dismissed == {acks[3].session_id, acks[4].session_id}


def test_claiming_a_stream_makes_room_for_one_more() -> None:
    link = connected_link()
    server = link.server
    server.conn.accept_limit = 1
    server.feed(opens(1))
    server.feed(opens(1, first=(1 << 62) + 100))
    assert [a.error for a in server.take_packets() if isinstance(a, SessionAckPacket)] == [
        "",
        BACKLOG_FULL,
    ]
    server.call(server.conn.stream_claimed)
    server.feed(opens(1, first=(1 << 62) + 200))
    assert [a.error for a in server.take_packets() if isinstance(a, SessionAckPacket)] == [""]


def test_a_zero_backlog_refuses_every_open() -> None:
    link = connected_link()
    server = link.server
    server.conn.accept_limit = 0
    server.feed(opens(2))
    assert server.of(SessionAccepted) == []
    errors = [a.error for a in server.take_packets() if isinstance(a, SessionAckPacket)]
    assert errors == [NOT_ACCEPTED, NOT_ACCEPTED]


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=0, max_value=6),
    steps=st.lists(st.one_of(st.integers(min_value=1, max_value=4), st.just(0)), max_size=25),
)
def test_never_more_unclaimed_streams_than_the_limit(limit: int, steps: list[int]) -> None:
    """Any interleaving of reads carrying opens (n > 0) and claims (0): the streams waiting
    to be claimed never exceed the limit, and every open is either announced or refused."""
    link = connected_link()
    server = link.server
    server.conn.accept_limit = limit
    waiting = 0
    negotiate = 1 << 62
    for step in steps:
        if step == 0:
            if waiting:
                server.call(server.conn.stream_claimed)
                waiting -= 1
            continue
        before = len(server.of(SessionAccepted))
        server.feed(opens(step, first=negotiate))
        negotiate += step
        announced = len(server.of(SessionAccepted)) - before
        acks = [a for a in server.take_packets() if isinstance(a, SessionAckPacket)]
        assert len(acks) == step
        assert sum(1 for a in acks if not a.error) == announced
        waiting += announced
        assert waiting <= limit
    assert server.closed_event is None


def test_connection_closed_event_is_unchanged_by_limits() -> None:
    """A refused open never ends the connection."""
    link = connected_link()
    link.server.conn.accept_limit = 0
    link.server.feed(opens(50))
    assert link.server.closed_event is None
    assert not any(isinstance(e, ConnectionClosed) for e in link.server.events)
