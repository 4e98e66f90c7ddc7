"""Property tests of the sans-I/O connection.

- Garbage bytes, in any chunking and in any state, only ever end the connection through the
  protocol-error path; nothing else escapes `receive_data`.
- Arbitrary well-formed packets thrown at a connected peer never raise either, and leave the
  bookkeeping consistent (armed timers match pending operations, limits hold).
- Random interleavings of opens, dismisses, cancels, publishes, calls and partial byte
  deliveries from both sides never deadlock: once the pipes drain, both peers agree on the
  set of sessions, nothing is left half-open, and every operation has its answer.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from frontier.geminio import (
    ConnAckPacket,
    ConnPacket,
    DisConnAckPacket,
    DisConnPacket,
    DismissAckPacket,
    DismissPacket,
    FrameReader,
    HeartbeatAckPacket,
    HeartbeatPacket,
    MessageAckPacket,
    MessagePacket,
    Packet,
    ProtocolError,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    SessionAckPacket,
    SessionPacket,
    StreamPacket,
    encode,
)
from frontier.geminio.conn_client import ClientConnection
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.conn_server import ServerConnection
from frontier.geminio.connection import Connection
from frontier.geminio.events import (
    CloseReason,
    ConnectionClosed,
    MessageReceived,
    RequestReceived,
    SessionClosed,
    SessionCloseReason,
)
from frontier.geminio.states import ConnState, SessionState
from frontier.geminio.timer_requests import TimerKind
from support.geminio_link import Driver, Link, connected_link

# ------------------------------------------------------------------------------ strategies

_IDS = st.one_of(st.integers(0, 6), st.just(1 << 62), st.integers(0, (1 << 64) - 1))
_SIDS = st.one_of(st.integers(0, 4), st.just(1 << 62))
_SMALL = st.binary(max_size=8)
_TEXT = st.text(max_size=6)


def _packets() -> st.SearchStrategy[Packet]:
    pid = _IDS
    sid = _SIDS
    return st.one_of(
        st.builds(ConnPacket, packet_id=pid, client_id=_IDS, meta=_SMALL),
        st.builds(ConnAckPacket, packet_id=pid, ret_code=st.integers(0, 1), error=_TEXT),
        st.builds(DisConnPacket, packet_id=pid),
        st.builds(DisConnAckPacket, packet_id=pid),
        st.builds(HeartbeatPacket, packet_id=pid),
        st.builds(HeartbeatAckPacket, packet_id=pid),
        st.builds(
            SessionPacket,
            packet_id=pid,
            negotiate_id=_IDS,
            session_id_acquire=st.booleans(),
            meta=_SMALL,
            peer=_TEXT,
        ),
        st.builds(SessionAckPacket, packet_id=pid, negotiate_id=_IDS, session_id=_IDS, error=_TEXT),
        st.builds(DismissPacket, packet_id=pid, session_id=sid),
        st.builds(DismissAckPacket, packet_id=pid, session_id=sid),
        st.builds(MessagePacket, packet_id=pid, session_id=sid, value=_SMALL, topic=_TEXT),
        st.builds(MessageAckPacket, packet_id=pid, session_id=sid, error=_TEXT),
        st.builds(StreamPacket, packet_id=pid, session_id=sid, data=_SMALL),
        st.builds(RequestPacket, packet_id=pid, session_id=sid, key=_SMALL, value=_SMALL),
        st.builds(ResponsePacket, packet_id=pid, session_id=sid, value=_SMALL, error=_TEXT),
        st.builds(
            RequestCancelPacket, packet_id=pid, session_id=sid, cancel_type=st.integers(0, 3)
        ),
        st.builds(RegisterPacket, packet_id=pid, session_id=sid, method=_SMALL),
        st.builds(RegisterAckPacket, packet_id=pid, session_id=sid, error=_TEXT),
    )


def _peer(kind: str) -> Driver:
    """A client or server in one of its interesting states."""
    if kind == "server-fresh":
        driver = Driver(ServerConnection())
        driver.call(driver.conn.start)
        return driver
    if kind == "client-hello-sent":
        driver = Driver(ClientConnection())
        driver.call(driver.conn.start)
        return driver
    link = connected_link(server=ServerConnection(config=ConnectionConfig(max_sessions=4)))
    driver = link.server if kind == "server-connected" else link.client
    driver.take_wire()
    if kind == "client-connected":
        driver.call(driver.conn.publish, 1, b"p", timeout=1.0)
        driver.call(driver.conn.request, 1, "m")
        driver.call(driver.conn.register, 1, "r", timeout=2.0)
        driver.call(driver.conn.open_session)
    return driver


_KINDS = st.sampled_from(
    ["server-fresh", "client-hello-sent", "server-connected", "client-connected"]
)


def _check_bookkeeping(conn: Connection, armed: set[Any]) -> None:
    """Armed per-operation timers match pending operations exactly; limits hold."""
    expected = set()
    for sid in conn.session_ids:
        session = conn.session(sid)
        assert session is not None
        assert session.session_id == sid
        assert sid >= 1
        for message_id, timed in session.publishes.items():
            if timed:
                expected.add((TimerKind.PUBLISH, sid, message_id))
        for request_id, timed in session.requests.items():
            if timed:
                expected.add((TimerKind.REQUEST, sid, request_id))
        for register_id, (_, timed) in session.registers.items():
            if timed:
                expected.add((TimerKind.REGISTER, sid, register_id))
        assert len(session.remote_methods) <= conn.config.max_remote_methods
    per_op = {
        (k.kind, k.session_id, k.ident)
        for k in armed
        if k.kind in (TimerKind.PUBLISH, TimerKind.REQUEST, TimerKind.REGISTER)
    }
    assert per_op == expected
    assert len(conn.session_ids) <= conn.config.max_sessions
    if conn.closed:
        assert armed == set()


def _assert_clean_end(driver: Driver, data: bytes) -> None:
    closes = driver.of(ConnectionClosed)
    assert len(closes) <= 1
    reader = FrameReader()
    try:
        reader.feed(data)
        list(reader)
    except ProtocolError:
        # The bytes are not a valid frame sequence: the connection must have ended, and if
        # it reached the bad frame at all, through the protocol-error path.
        assert closes, "malformed input left the connection open"
    if closes and closes[0].reason is CloseReason.PROTOCOL_ERROR:
        assert closes[0].abort
        assert driver.conn.state is ConnState.FINI


# -------------------------------------------------------------------------------- garbage


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(kind=_KINDS, data=st.binary(max_size=200), splits=st.lists(st.integers(0, 200)))
def test_garbage_only_ever_ends_in_the_protocol_error_path(
    kind: str, data: bytes, splits: list[int]
) -> None:
    driver = _peer(kind)
    cuts = sorted({0, len(data), *(s for s in splits if s <= len(data))})
    for start, end in itertools.pairwise(cuts):
        driver.feed(data[start:end])  # never raises
    _assert_clean_end(driver, data)
    _check_bookkeeping(driver.conn, set(driver.timers))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    kind=_KINDS, prefix=st.lists(_packets(), max_size=6), junk=st.binary(min_size=1, max_size=30)
)
def test_valid_frames_then_garbage(kind: str, prefix: list[Packet], junk: bytes) -> None:
    driver = _peer(kind)
    data = b"".join(encode(p) for p in prefix) + b"\x01\xff" + junk + bytes(14)
    driver.feed(data)
    closed = driver.closed_event
    assert closed is not None  # the 0xff type byte is unknown: it must end somewhere
    _check_bookkeeping(driver.conn, set(driver.timers))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(kind=_KINDS, packets=st.lists(_packets(), max_size=25))
def test_arbitrary_packets_never_raise_and_keep_bookkeeping_consistent(
    kind: str, packets: list[Packet]
) -> None:
    driver = _peer(kind)
    for packet in packets:
        driver.feed(encode(packet))
        _check_bookkeeping(driver.conn, set(driver.timers))
    for key in list(driver.timers):  # every timer may fire, in any order
        driver.timers.pop(key, None)
        driver.call(driver.conn.timer_expired, key)
        _check_bookkeeping(driver.conn, set(driver.timers))
    closes = driver.of(ConnectionClosed)
    assert len(closes) <= 1
    if closes:
        assert driver.conn.closed
        assert driver.timers == {}


# --------------------------------------------------------------------- interleavings


class SessionDance(RuleBasedStateMachine):
    """Both peers open, dismiss, cancel and use sessions while bytes trickle both ways."""

    def __init__(self) -> None:
        super().__init__()
        self.link: Link = connected_link()
        self.messages: dict[str, list[MessageReceived]] = {"client": [], "server": []}
        self.calls: dict[str, list[RequestReceived]] = {"client": [], "server": []}
        self.closing = False

    def _side(self, name: str) -> Driver:
        return self.link.client if name == "client" else self.link.server

    def _open_sessions(self, name: str) -> list[int]:
        conn = self._side(name).conn
        return [sid for sid in conn.session_ids if (s := conn.session(sid)) and s.is_open]

    def _collect(self) -> None:
        for name in ("client", "server"):
            driver = self._side(name)
            for event in driver.events:
                if isinstance(event, MessageReceived):
                    self.messages[name].append(event)
                elif isinstance(event, RequestReceived):
                    self.calls[name].append(event)
            driver.events.clear()

    sides = st.sampled_from(["client", "server"])

    @precondition(lambda self: not self.closing)
    @rule(side=sides, meta=st.binary(max_size=3))
    def open_session(self, side: str, meta: bytes) -> None:
        driver = self._side(side)
        if driver.conn.is_open:
            driver.call(driver.conn.open_session, meta)

    @rule(side=sides, pick=st.integers(0, 10))
    def close_session(self, side: str, pick: int) -> None:
        sessions = self._open_sessions(side)
        if sessions:
            driver = self._side(side)
            driver.call(driver.conn.close_session, sessions[pick % len(sessions)])

    @rule(side=sides, pick=st.integers(0, 10))
    def cancel_open(self, side: str, pick: int) -> None:
        driver = self._side(side)
        driver.call(driver.conn.cancel_open, pick)  # mostly misses; real IDs below
        mux = driver.conn._mux
        pending = list(mux._opening)
        if pending:
            driver.call(driver.conn.cancel_open, pending[pick % len(pending)])

    @rule(side=sides, pick=st.integers(0, 10), at_most_once=st.booleans())
    def publish(self, side: str, pick: int, at_most_once: bool) -> None:
        sessions = self._open_sessions(side)
        if sessions and self._side(side).conn.is_open:
            driver = self._side(side)
            driver.call(
                driver.conn.publish, sessions[pick % len(sessions)], b"m", at_most_once=at_most_once
            )

    @rule(side=sides, pick=st.integers(0, 10), method=st.sampled_from(["known", "unknown"]))
    def call(self, side: str, pick: int, method: str) -> None:
        sessions = self._open_sessions(side)
        driver = self._side(side)
        if sessions and driver.conn.is_open:
            sid = sessions[pick % len(sessions)]
            if method == "known":
                other = self._side("server" if side == "client" else "client")
                target = other.conn.session(sid)
                if target is not None and target.is_open and other.conn.is_open:
                    other.call(other.conn.register, sid, "known")
            driver.call(driver.conn.request, sid, method, b"q")

    @rule(direction=st.sampled_from(["c2s", "s2c"]), size=st.integers(1, 200))
    def deliver(self, direction: str, size: int) -> None:
        source, target = (
            (self.link.client, self.link.server)
            if direction == "c2s"
            else (self.link.server, self.link.client)
        )
        chunk = bytes(source.wire[:size])
        del source.wire[:size]
        if chunk:
            target.feed(chunk)
        self._collect()

    @rule(side=sides)
    def answer(self, side: str) -> None:
        self._answer(side)

    def _answer(self, side: str) -> None:
        self._collect()
        driver = self._side(side)
        for message in self.messages[side]:
            driver.call(driver.conn.ack, message.session_id, message.message_id)
        for request in self.calls[side]:
            driver.call(driver.conn.respond, request.session_id, request.request_id, "known", b"a")
        self.messages[side].clear()
        self.calls[side].clear()

    @rule(side=sides)
    def close_connection(self, side: str) -> None:
        self.closing = True
        driver = self._side(side)
        driver.call(driver.conn.close)

    @invariant()
    def nobody_failed(self) -> None:
        for side in (self.link.client, self.link.server):
            for event in side.of(ConnectionClosed):
                assert event.reason is not CloseReason.PROTOCOL_ERROR, event
            for event in side.of(SessionClosed):
                assert event.reason is not SessionCloseReason.PROTOCOL_ERROR, event
            _check_bookkeeping(side.conn, set(side.timers))

    def teardown(self) -> None:
        # Let every byte through and every answer be given, until nothing moves.
        for _ in range(20):
            self.link.pump()
            self._answer("client")
            self._answer("server")
            if not self.link.client.wire and not self.link.server.wire:
                break
        self.nobody_failed()
        client, server = self.link.client.conn, self.link.server.conn
        if self.closing:
            assert client.closed
            assert server.closed
            assert self.link.client.timers == {}
            assert self.link.server.timers == {}
            return
        assert client.state is ConnState.CONNED
        assert server.state is ConnState.CONNED
        assert sorted(client.session_ids) == sorted(server.session_ids)
        for conn in (client, server):
            assert conn._mux.opening_count == 0
            for sid in conn.session_ids:
                session = conn.session(sid)
                assert session is not None
                assert session.state is SessionState.SESSIONED
                assert session.publishes == {}
                assert session.requests == {}
                assert session.registers == {}


SessionDance.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionDance = SessionDance.TestCase
