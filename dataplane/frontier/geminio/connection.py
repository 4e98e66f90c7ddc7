"""The sans-I/O geminio connection: bytes and calls in; bytes, events and timer requests out.

Modelled on h11/h2/websockets. `ClientConnection` and `ServerConnection` add the two
handshakes; this base holds what both sides share: framing, the §B.4 state machine, the
4-way disconnect, idle accounting, and the user operations, which it checks against the
connection's and the session's state before handing them to the multiplexer.

Driving it (the adapter's contract):

1. After *every* call into the object (`receive_data`, `receive_eof`, `timer_expired`, any
   user operation, `start()`), drain it: write `data_to_send()` to the transport (a list for
   `writelines`), apply `timer_requests()` to the timer, and handle `events_received()`.
   Nothing inside is bounded by itself; draining after each call bounds everything by the
   work of that call. Apply timer requests before delivering any expiry.
2. When `ConnectionClosed` comes out, write what `data_to_send()` still holds, then close
   the transport, or abort it when the event says `abort`. The object ignores input after.
3. Tell it about EOF or a lost transport with `receive_eof()`.

Malformed or out-of-order input never raises: it ends the connection with
`ConnectionClosed(PROTOCOL_ERROR, detail)`. User operations raise `ConnectionStateError` /
`SessionStateError` when the state forbids them and `EncodeError` for values that cannot go
on the wire (an oversized payload); in every such case nothing was sent or recorded.
Replies (`ack`, `respond`) are instead silently dropped when their session has gone, since
a handler finishing after its stream closed is normal.
"""

from __future__ import annotations

from typing import ClassVar

from .conn_config import ConnectionConfig
from .conn_errors import ConnectionStateError, ProtocolViolation, SessionStateError
from .errors import IncompleteFrame, ProtocolError
from .events import CloseReason, ConnectionClosed, Event
from .gojson import ZERO_TIME, GoTime
from .multiplexer import MUX_PACKET_TYPES, Multiplexer
from .outbox import Frame, Outbox
from .packets import DisConnAckPacket, DisConnPacket, Packet
from .reader import FrameReader
from .session import Hijack, Session
from .states import (
    CLIENT_CONN_TABLE,
    DATA_STATES,
    SERVER_CONN_TABLE,
    ConnEvent,
    ConnState,
    SessionState,
    Side,
    TableFSM,
)
from .timer_requests import (
    CLOSE_TIMER,
    CONNECT_TIMER,
    HEARTBEAT_TIMER,
    IDLE_TIMER,
    WRITE_TIMER,
    TimerKey,
    TimerKind,
    TimerRequest,
    TimerSink,
)

__all__ = ["Connection"]

_HANDSHAKE_STATES = frozenset({ConnState.INIT, ConnState.CONN_SENT, ConnState.CONN_RECV})


_DEFAULT_CONFIG = ConnectionConfig()


class Connection:
    """Shared machinery; instantiate `ClientConnection` or `ServerConnection`."""

    side: ClassVar[Side]

    __slots__ = (
        "_client_id",
        "_close_detail",
        "_close_reason",
        "_conn_packet_id",
        "_disconn_sent",
        "_fsm",
        "_heartbeat",
        "_idle_probed",
        "_idle_timeout",
        "_left_conned",
        "_meta",
        "_mux",
        "_out",
        "_reader",
        "config",
    )

    def __init__(self, config: ConnectionConfig | None = None) -> None:
        self.config = config if config is not None else _DEFAULT_CONFIG
        self._out = Outbox(self.config.first_packet_id)
        # A relay's stream frames spanning reads come out in pieces, unjoined (FrameReader).
        self._reader = FrameReader(split_streams=self.config.split_streams)
        table = CLIENT_CONN_TABLE if self.side is Side.CLIENT else SERVER_CONN_TABLE
        self._fsm: TableFSM[ConnState, ConnEvent] = TableFSM(ConnState.INIT, table)
        self._mux = Multiplexer(self.side, self._out, self.config)
        self._client_id = 0
        self._meta = b""
        self._heartbeat = 0
        self._idle_timeout: float | None = None
        self._idle_probed = False
        self._disconn_sent = False
        self._left_conned = False
        self._close_reason: CloseReason | None = None
        self._close_detail = ""
        self._conn_packet_id = 0

    # ------------------------------------------------------------------------- adapter side

    def start(self) -> None:
        """The transport is up: the client says hello, the server starts waiting for it."""
        raise NotImplementedError

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes from the transport, in any chunking."""
        if self._fsm.state is ConnState.FINI:
            return
        fsm = self._fsm
        received = False
        try:
            reader = self._reader
            reader.feed(data)
            # (next_packet called directly: iterating the reader runs a generator)
            while (packet := reader.next_packet()) is not None:
                received = True
                self._dispatch(packet)
                if fsm.state is ConnState.FINI:  # (`closed`, without a property call per packet)
                    return
        except ProtocolError as exc:
            self._terminate(CloseReason.PROTOCOL_ERROR, str(exc), abort=True)
            return
        if received and self._idle_timeout is not None and self._fsm.state is ConnState.CONNED:
            self._idle_probed = False
            self._out.timers.set(IDLE_TIMER, self._idle_timeout)

    def receive_eof(self) -> None:
        """The transport reached EOF or was lost."""
        if self._fsm.state is ConnState.FINI:
            return
        if self._close_reason is CloseReason.REJECTED:
            # A refusing server closes right after its ConnAck: the refusal is the cause.
            self._terminate(CloseReason.REJECTED, self._close_detail, abort=False)
            return
        detail = "the peer closed the transport"
        try:
            self._reader.eof()
        except IncompleteFrame as exc:
            detail += f" inside a frame: {exc}"
        self._terminate(CloseReason.TRANSPORT_CLOSED, detail, abort=False)

    def data_to_send(self) -> list[Frame]:
        """Buffers to write, in order (`transport.writelines`); empties the outbox."""
        return self._out.take_frames()

    def events_received(self) -> list[Event]:
        return self._out.take_events()

    def timer_requests(self) -> list[TimerRequest]:
        return self._out.timers.take()

    def drain_timers(self, sink: TimerSink) -> None:
        """What `timer_requests()` returns, handed to `sink.set` / `sink.cancel` one by
        one instead (no request objects): for adapters, on their hot path."""
        self._out.timers.drain_into(sink)

    def timer_expired(self, key: TimerKey) -> None:
        if not self._out.timers.expire(key):
            return
        kind = key.kind
        if kind is TimerKind.HEARTBEAT:
            self._heartbeat_due()
        elif kind is TimerKind.IDLE:
            self._idle_expired()
        elif kind is TimerKind.CONNECT:
            self._terminate(
                CloseReason.CONNECT_TIMEOUT,
                f"handshake not completed within {self.config.connect_timeout:g} s",
                abort=True,
            )
        elif kind is TimerKind.WRITE:
            self._terminate(
                CloseReason.SLOW_CONSUMER,
                f"the peer left its output unread for {self.config.write_timeout:g} s",
                abort=True,
            )
        elif kind is TimerKind.CLOSE:
            self._terminate(
                self._close_reason or CloseReason.LOCAL_CLOSE,
                f"disconnect not completed within {self.config.close_timeout:g} s",
                abort=True,
            )
        else:
            self._mux.timer_expired(key)

    def reading_paused(self, paused: bool) -> None:
        """The adapter stopped (True) or resumed (False) reading the transport because a
        queue of ours is full. The server's idle check keeps running (a peer it cannot
        read long enough is dropped, as Go does); a client's peer timeout pauses, since
        the silence is ours (see `ClientConnection`)."""

    def _idle_expired(self) -> None:
        """Nothing arrived for the idle timeout: the peer is gone (or silent on purpose)."""
        self._terminate(
            CloseReason.HEARTBEAT_TIMEOUT,
            f"nothing received from the peer for {self._idle_timeout:g} s",
            abort=True,
        )

    def write_blocked(self, blocked: bool) -> None:
        """The transport's unsent output went above its high-water mark (True) or back
        under its low-water mark (False). With `config.write_timeout` set, staying blocked
        that long ends the connection as a slow consumer: a peer that never reads must
        not hold the gateway's memory, nor the senders waiting to reach it."""
        timeout = self.config.write_timeout
        if timeout is None or self._fsm.state is ConnState.FINI:
            return
        if blocked:
            self._out.timers.set(WRITE_TIMER, timeout)
        else:
            self._out.timers.cancel(WRITE_TIMER)

    # -------------------------------------------------------------------------------- state

    @property
    def state(self) -> ConnState:
        return self._fsm.state

    @property
    def is_open(self) -> bool:
        """Up and not closing: new operations are possible."""
        return self._fsm.state is ConnState.CONNED and not self._mux.closing

    @property
    def refused(self) -> int:
        """Calls and messages answered with the `refuse` text given to `close()`."""
        return self._mux.refused

    @property
    def closed(self) -> bool:
        """`ConnectionClosed` was emitted."""
        return self._fsm.state is ConnState.FINI

    @property
    def client_id(self) -> int:
        """The client ID: wanted until the handshake ends, then the one the server set."""
        return self._client_id

    @property
    def meta(self) -> bytes:
        return self._meta

    @property
    def heartbeat(self) -> int:
        """Heartbeat interval in seconds, as advertised in the ConnPacket."""
        return self._heartbeat

    def session(self, session_id: int) -> Session | None:
        """A live session (read only), or None."""
        return self._mux.sessions.get(session_id)

    @property
    def session_ids(self) -> list[int]:
        return list(self._mux.sessions)

    # ---------------------------------------------------------------------- user: lifecycle

    def close(self, *, dismiss_sessions: bool = True, refuse: str = "") -> None:
        """Close gracefully: dismiss every session (like Go's `End.Close`), then the 4-way
        disconnect. Before the handshake completes there is nothing to negotiate, so the
        connection ends at once (abort). Closing twice is harmless. `refuse`: the error
        text answering calls and messages the peer sends after our Dismiss went out (they
        crossed it on the wire), instead of delivering them (`Multiplexer.refusing`)."""
        if refuse:
            self._mux.refusing = refuse
        state = self._fsm.state
        if state in _HANDSHAKE_STATES:
            self._terminate(
                CloseReason.LOCAL_CLOSE, "closed before the handshake completed", abort=True
            )
            return
        if state is not ConnState.CONNED or self._mux.closing:
            return
        self._close_reason = CloseReason.LOCAL_CLOSE
        if dismiss_sessions and not self._mux.close_all(self._send_disconn):
            return  # the multiplexer calls _send_disconn when the last session is gone
        self._send_disconn()

    def open_session(self, meta: bytes = b"", peer: str = "") -> int:
        """Open a session; returns its open ID. `SessionOpened(open_id, ...)` or
        `OperationAborted(OPEN, 0, open_id, ...)` follows."""
        self._require_open()
        return self._mux.open(meta, peer)

    def cancel_open(self, open_id: int) -> bool:
        """Abandon an open; if the peer acks it later, the session is dismissed at once.
        No event follows. False if the open is not pending."""
        return self._mux.cancel_open(open_id)

    @property
    def accept_limit(self) -> int | None:
        """Sessions the peer opened that may wait to be claimed (`stream_claimed()`) at
        once; opens beyond are refused (error ack + Dismiss). 0 refuses every open; None
        (the default) sets no bound."""
        return self._mux.accept_limit

    @accept_limit.setter
    def accept_limit(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("accept_limit must be >= 0 (or None)")
        self._mux.accept_limit = limit

    def stream_claimed(self) -> None:
        """The application took a `SessionAccepted` session (one less waiting)."""
        self._mux.claim()

    def close_session(self, session_id: int) -> None:
        """Start the 4-way dismiss; `SessionClosed` follows. Idempotent while it runs."""
        if self._fsm.state is not ConnState.CONNED:
            raise ConnectionStateError(f"connection is {self._fsm.state.value}")
        self._mux.dismiss(session_id)

    # ---------------------------------------------------------------------------- user: app

    def publish(
        self,
        session_id: int,
        data: bytes,
        *,
        topic: str = "",
        custom: bytes = b"",
        at_most_once: bool = False,
        timeout: float | None = None,
        deadline: GoTime = ZERO_TIME,
        context_deadline: GoTime = ZERO_TIME,
        data_b64: bytes | memoryview | None = None,
    ) -> int:
        """Send a message; returns its ID. Unless `at_most_once`, `PublishAcked` or
        `OperationAborted(PUBLISH, ...)` follows (after `timeout` seconds at the latest).
        `deadline`/`context_deadline` only travel to the peer (Go fills them from a
        timeout and from its context). `data_b64`, when given and non-empty, is the
        canonical base64 text of `data` (a received `MessageData.value_b64`): it goes on
        the wire verbatim and `data` is not looked at (a relay's forward)."""
        session = self._open_session(session_id)
        return self._mux.app.publish(
            session,
            data,
            topic=topic,
            custom=custom,
            at_most_once=at_most_once,
            timeout=timeout,
            deadline=deadline,
            context_deadline=context_deadline,
            data_b64=data_b64,
        )

    def cancel_publish(self, session_id: int, message_id: int) -> bool:
        """Stop waiting for an ack (nothing is sent; a late ack is dropped)."""
        session = self._mux.sessions.get(session_id)
        return session is not None and self._mux.app.cancel_publish(session, message_id)

    def ack(self, session_id: int, message_id: int, error: str = "") -> bool:
        """Ack (or, with `error`, nack) a received message. False if the session is gone."""
        session = self._replying_session(session_id)
        if session is None:
            return False
        self._mux.app.ack(session, message_id, error)
        return True

    def request(
        self,
        session_id: int,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,
        deadline: GoTime = ZERO_TIME,
        context_deadline: GoTime = ZERO_TIME,
        data_b64: bytes | memoryview | None = None,
    ) -> int:
        """Call `method`; returns the request ID. `ResponseReceived` or
        `OperationAborted(REQUEST, ...)` follows. `data_b64`: as for `publish`."""
        session = self._open_session(session_id)
        return self._mux.app.request(
            session,
            method,
            data,
            custom=custom,
            timeout=timeout,
            deadline=deadline,
            context_deadline=context_deadline,
            data_b64=data_b64,
        )

    def cancel_request(self, session_id: int, request_id: int, *, notify: bool = True) -> bool:
        """Stop waiting for a response. Sends RequestCancel only if the config enables it
        (old Go peers drop the connection on 0x73) and `notify` (False: the caller's
        deadline passed, as when the call's own timer fires). False if it is not pending."""
        session = self._mux.sessions.get(session_id)
        if session is None:
            return False
        notify = notify and self._fsm.state is ConnState.CONNED and session.fsm.state in DATA_STATES
        return self._mux.app.cancel_request(session, request_id, notify=notify)

    def respond(
        self,
        session_id: int,
        request_id: int,
        method: str | bytes,
        data: bytes = b"",
        error: str = "",
        data_b64: bytes | memoryview | None = None,
    ) -> bool:
        """Answer a `RequestReceived` (the response echoes `method`, as Go's does).
        False if the session is gone. `data_b64`: as for `publish`."""
        session = self._replying_session(session_id)
        if session is None:
            return False
        self._mux.app.respond(session, request_id, method, data, error, data_b64)
        return True

    def register(self, session_id: int, method: str, *, timeout: float | None = None) -> int:
        """Make `method` callable on this session and tell the peer; returns the register
        ID. `RegisterAcked` or `OperationAborted(REGISTER, ...)` follows."""
        session = self._open_session(session_id)
        return self._mux.app.register(session, method, timeout)

    def set_hijack(self, session_id: int, hijack: Hijack | None) -> None:
        """Route calls the hijack catches to `RequestReceived(hijacked=True)` before the
        registered methods; None removes it."""
        self._open_session(session_id).hijack = hijack

    def send_stream_data(self, session_id: int, data: bytes | bytearray | memoryview) -> None:
        """Raw bytes, chunked into StreamPackets of at most `config.stream_chunk_size`."""
        self._mux.app.send_stream_data(self._open_session(session_id), data)

    # ---------------------------------------------------------------------------- internals

    def _require_open(self) -> None:
        if self._fsm.state is not ConnState.CONNED:
            raise ConnectionStateError(f"connection is {self._fsm.state.value}")
        if self._mux.closing:
            raise ConnectionStateError("connection is closing")

    def _open_session(self, session_id: int) -> Session:
        self._require_open()
        session = self._mux.sessions.get(session_id)
        if session is None or not session.is_open:
            state = "unknown" if session is None else session.fsm.state.value
            raise SessionStateError(f"session {session_id} is not open ({state})")
        return session

    def _replying_session(self, session_id: int) -> Session | None:
        if self._fsm.state is not ConnState.CONNED:
            return None
        session = self._mux.sessions.get(session_id)
        if session is None:
            return None
        state = session.fsm.state
        # Identity first: `in` hashes the Enum member through its Python-level __hash__.
        if state is not SessionState.SESSIONED and state not in DATA_STATES:
            return None
        return session

    def _dispatch(self, packet: Packet) -> None:
        if type(packet) in MUX_PACKET_TYPES:  # the hot path: session and application data
            if self._fsm.state is ConnState.CONNED:
                self._mux.handle(packet)
            return  # data outside `conned` is discarded, as Go does (§B.4)
        if isinstance(packet, DisConnPacket):
            self._on_disconn(packet)
        elif isinstance(packet, DisConnAckPacket):
            self._on_disconn_ack(packet)
        else:
            self._on_control(packet)

    def _on_control(self, packet: Packet) -> None:
        """Conn, ConnAck, Heartbeat, HeartbeatAck: each role handles its own and drops the
        other's, as Go's multiplexer drops packets it has no session for."""
        raise NotImplementedError

    def _heartbeat_due(self) -> None:
        """The HEARTBEAT timer fired (only clients arm it)."""

    def _on_disconn(self, packet: DisConnPacket) -> None:
        if not self._fsm.fire(ConnEvent.CLOSERECV):
            raise ProtocolViolation(f"DisConn in state {self._fsm.state.value}")
        if self._close_reason is None:
            self._close_reason = CloseReason.PEER_CLOSE
        self._leave_conned()
        self._out.send(DisConnAckPacket(packet_id=packet.packet_id))
        self._fsm.fire(ConnEvent.CLOSEACK)  # close_recv -> close_half, or close_half -> closed
        if self._fsm.state is ConnState.CLOSED:
            self._finish()
        else:
            self._send_disconn()

    def _on_disconn_ack(self, packet: DisConnAckPacket) -> None:
        if not self._fsm.fire(ConnEvent.CLOSEACK):
            raise ProtocolViolation(f"DisConnAck in state {self._fsm.state.value}")
        if self._fsm.state is ConnState.CLOSED:
            self._finish()

    def _send_disconn(self) -> None:
        """Our half of the 4-way disconnect, once."""
        if self._disconn_sent:
            return
        if not self._fsm.fire(ConnEvent.CLOSESENT):
            self._terminate(
                self._close_reason or CloseReason.LOCAL_CLOSE,
                f"cannot disconnect from state {self._fsm.state.value}",
                abort=True,
            )
            return
        self._disconn_sent = True
        self._leave_conned()
        self._out.send(DisConnPacket(packet_id=self._out.next_id()))
        self._out.timers.set(CLOSE_TIMER, self.config.close_timeout)

    def _leave_conned(self) -> None:
        """First step out of `conned`: sessions and liveness timers end here, since no data
        is exchanged from now on."""
        if self._left_conned:
            return
        self._left_conned = True
        timers = self._out.timers
        timers.cancel(CONNECT_TIMER)
        timers.cancel(HEARTBEAT_TIMER)
        timers.cancel(IDLE_TIMER)
        self._mux.teardown_all()

    def _finish(self) -> None:
        self._terminate(
            self._close_reason or CloseReason.PEER_CLOSE, self._close_detail, abort=False
        )

    def _terminate(self, reason: CloseReason, detail: str, *, abort: bool) -> None:
        if self._fsm.state is ConnState.FINI:
            return
        self._left_conned = True
        self._mux.teardown_all()
        self._mux.release()
        self._out.timers.cancel_all()
        self._fsm.fire(ConnEvent.FINI)
        self._out.emit(ConnectionClosed(reason, detail, abort))

    def _start_idle_timer(self, timeout: float) -> None:
        self._idle_timeout = timeout
        self._out.timers.set(IDLE_TIMER, timeout)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._fsm.state.value} client_id={self._client_id} "
            f"sessions={len(self._mux.sessions)}>"
        )
