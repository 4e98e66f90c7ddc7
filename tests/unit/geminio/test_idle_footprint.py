"""An idle connection keeps no container that only pending work needs.

A gateway holds 10^5 idle edges: each empty dict or list a connection keeps costs 56-64
bytes per edge (more once it has grown and been emptied), which is what the idle-edge memory
target (at most 3x a bare socket's) is made of. What is needed only while something is
pending (timer requests not yet handed to the adapter, opens awaiting their ack, chunks of a
frame that straddles reads) is dropped once it is done; these tests fail if one is kept.
"""

from __future__ import annotations

from frontier.geminio import StreamPacket, encode
from frontier.geminio.connection import Connection
from frontier.geminio.events import SessionOpened, StreamDataReceived
from frontier.geminio.multiplexer import _NO_OPENING, _nothing
from support.geminio_link import connected_link


def _holds_nothing_pending(conn: Connection) -> None:
    assert conn._out.timers._pending is None  # handed to the adapter: forgotten
    assert conn._mux._opening is _NO_OPENING  # the shared empty one, not a dict of its own
    assert conn._reader._tail is None
    assert conn._mux._on_drained is _nothing  # no bound method back into the connection


def test_idle_after_a_stream_with_straddling_frames_and_opens_that_came_and_went() -> None:
    link = connected_link()
    client, server = link.client, link.server
    for driver in (client, server):
        _holds_nothing_pending(driver.conn)

    open_ids = [client.call(client.conn.open_session) for _ in range(3)]
    assert len(client.conn._mux._opening) == 3
    link.pump()
    opened = client.pop(SessionOpened)
    assert sorted(o.open_id for o in opened) == sorted(open_ids)
    assert client.conn._mux._opening is _NO_OPENING  # acked: the grown dict is gone

    session_id = opened[0].session_id
    frame = encode(StreamPacket(packet_id=99, session_id=session_id, data=b"s" * 5000))
    for cut in (3, 40, 2000, len(frame)):  # header, body and end each in a read of their own
        server.feed(frame[:cut])
        frame = frame[cut:]
    assert b"".join(bytes(e.data) for e in server.of(StreamDataReceived)) == b"s" * 5000

    for o in opened:
        client.call(client.conn.close_session, o.session_id)
    link.pump()
    for driver in (client, server):
        _holds_nothing_pending(driver.conn)
        assert driver.conn.session_ids == [1]


def test_a_graceful_close_still_ends_in_the_disconnect_once_the_sessions_are_gone() -> None:
    # The drained callback is handed over only when the close begins.
    link = connected_link()
    link.client.call(link.client.conn.open_session)
    link.pump()
    link.client.call(link.client.conn.close)
    assert not link.client.conn.closed  # waiting for the sessions' dismiss acks
    link.pump()
    assert link.client.conn.closed
    assert link.server.conn.closed
