"""The session multiplexer: opens, accepts, dismisses and routes sessions (§C).

Session 1 exists from the handshake on, already established. Other sessions are opened by
either side with a 2-way handshake and ended by a 4-way Dismiss exchange, both as Go's
`multiplexer/dialogue.go` does, with these deliberate choices:

- IDs per §C.7 (see `ids`): the acceptor adopts the opener's negotiate ID when it is free,
  which on the server side is what keeps a Go client from dropping data that follows the ack.
- A peer's open that cannot be served (we are closing, the application takes no streams,
  or its accept backlog is full) is answered with an error ack and a Dismiss, as Go does
  when its online hook fails (§C.2): a Go opener ignores the ack's error (§G.6 #5) and
  learns from the Dismiss, ours fails the open at once. Beyond `max_sessions` only the
  error ack is sent, so an open flood costs no memory.
- The accept backlog is counted here, not by the adapter: every accepted open counts until
  the application claims it (`claim()`), so opens arriving in one read are refused exactly
  at the bound instead of after the adapter has seen the whole read.
- An open of ours that the peer acks with an error, or that our caller abandoned, is
  dismissed at once instead of being left half-open (Go's opener ignores the error, §G.6 #5).
- An illegal session transition tears that session down, not the connection (as in Go).

Packets for sessions we do not know are dropped, as Go drops them (§C.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .application import AppLayer
from .conn_config import ConnectionConfig
from .conn_errors import ConnectionStateError, ProtocolViolation, SessionStateError
from .events import (
    AbortReason,
    OperationAborted,
    OpKind,
    SessionAccepted,
    SessionClosed,
    SessionCloseReason,
    SessionOpened,
    SessionRefused,
)
from .ids import CLIENT_SESSION_BASE, DEFAULT_SESSION, SERVER_SESSION_BASE, SessionIDs
from .outbox import Outbox
from .packets import (
    DismissAckPacket,
    DismissPacket,
    MessageAckPacket,
    MessageData,
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
)
from .session import Session
from .states import DATA_STATES, SessionEvent, SessionState, Side
from .timer_requests import TimerKey, TimerKind

__all__ = ["BACKLOG_FULL", "MUX_PACKET_TYPES", "NOT_ACCEPTED", "Multiplexer"]

_CLOSING = "connection closing"
# Hot types first: isinstance tries them in order.
_APP_PACKETS = (
    StreamPacket,
    MessagePacket,
    RequestPacket,
    ResponsePacket,
    MessageAckPacket,
    RequestCancelPacket,
    RegisterPacket,
    RegisterAckPacket,
)
_OTHER_APP_PACKETS: Final = (RequestCancelPacket, RegisterPacket, RegisterAckPacket)
MUX_PACKET_TYPES: Final[frozenset[type]] = frozenset(
    {*_APP_PACKETS, SessionPacket, SessionAckPacket, DismissPacket, DismissAckPacket}
)
"""Packet types this layer handles: all but the connection layer's own."""
_TOO_MANY = "too many sessions"

_NO_OPENING: dict[int, Session] = {}
"""What `Multiplexer._opening` is while no open is pending: shared and never written to
(only `open` inserts, into a dict of the connection's own), so an idle connection
holds no dict of its own (64 bytes, or a grown table once opens came and went)."""


def _nothing() -> None:
    """The drained callback of a multiplexer whose connection has ended."""


NOT_ACCEPTED = "stream refused: the peer does not accept streams"
BACKLOG_FULL = "stream refused: the peer's accept backlog is full"
_REFUSAL_REASONS = {
    _CLOSING: "closing",
    NOT_ACCEPTED: "not_accepted",
    BACKLOG_FULL: "backlog_full",
}


class Multiplexer:
    __slots__ = (
        "_config",
        "_ids",
        "_initiator",
        "_on_drained",
        "_opening",
        "_out",
        "accept_limit",
        "app",
        "closing",
        "refused",
        "refusing",
        "sessions",
        "unclaimed",
    )

    def __init__(
        self,
        side: Side,
        out: Outbox,
        config: ConnectionConfig,
    ) -> None:
        self._out = out
        self._config = config
        self._on_drained: Callable[[], None] = _nothing
        """Set by `close_all`, the only way `closing` turns on: an open connection holds no
        bound method back into its owner (an object, and a cycle, per idle edge)."""
        self.app = AppLayer(out, config)
        self.sessions: dict[int, Session] = {}
        self._opening: dict[int, Session] = _NO_OPENING
        """Our opens awaiting their SessionAck, by negotiate ID."""
        self._initiator = side is Side.CLIENT
        self._ids: SessionIDs | None = None
        """Created on the first open or accept (it holds a bound method)."""
        self.closing = False
        """Graceful close in progress: no new sessions; DisConn once all are dismissed."""
        self.accept_limit: int | None = None
        """Accepted sessions the application has not claimed yet, at most (0: refuse every
        open); None: no bound."""
        self.unclaimed = 0
        self.refusing = ""
        """While we close gracefully: the error text that answers, at once, every call and
        message the peer sends on a session we have sent our Dismiss for (sent before it
        saw the Dismiss), instead of handing them to the application. Answered here, the
        answer leaves before our DismissAck for the peer's own Dismiss (it may be in the
        same read), so the peer gets it before its pending operations are aborted; "": off."""
        self.refused = 0
        """Calls and messages answered with `refusing`."""

    def _session_ids(self) -> SessionIDs:
        ids = self._ids
        if ids is None:
            base = CLIENT_SESSION_BASE if self._initiator else SERVER_SESSION_BASE
            ids = self._ids = SessionIDs(base, self._in_use)
        return ids

    def _in_use(self, session_id: int) -> bool:
        return session_id in self.sessions or session_id in self._opening

    @property
    def opening_count(self) -> int:
        return len(self._opening)

    def start(self, meta: bytes) -> None:
        """The connection is up: session 1 exists, carrying the connection's meta."""
        default = Session(
            DEFAULT_SESSION,
            negotiate_id=DEFAULT_SESSION,
            meta=meta,
            peer="",
            initiated_locally=False,
            state=SessionState.SESSIONED,
        )
        default.announced = True
        self.sessions[DEFAULT_SESSION] = default

    # ------------------------------------------------------------------------------ inbound

    def handle(self, packet: Packet) -> None:
        # The traffic's packets (compiled classes) are told apart by a pointer compare;
        # a tuple `isinstance` asks each class in turn, through the generic protocol.
        if (
            isinstance(packet, MessageData)  # noqa: SIM101 - one class each: see above
            or isinstance(packet, StreamPacket)
            or isinstance(packet, _OTHER_APP_PACKETS)
        ):
            session = self.sessions.get(packet.session_id)
            if session is None:
                return
            state = session.fsm.state
            # Identity first: `in` hashes the Enum member through its Python-level __hash__.
            if state is SessionState.SESSIONED or state in DATA_STATES:
                if self.refusing and session.dismiss_sent and self._refused(session, packet):
                    return
                self.app.handle(session, packet)
        elif isinstance(packet, SessionPacket):
            self._on_open(packet)
        elif isinstance(packet, SessionAckPacket):
            self._on_open_ack(packet)
        elif isinstance(packet, DismissPacket):
            self._on_dismiss(packet)
        elif isinstance(packet, DismissAckPacket):
            self._on_dismiss_ack(packet)
        # Anything else reaching this layer (a ConnAck on a server, ...) is dropped, as Go does.

    def _refused(self, session: Session, packet: Packet) -> bool:
        """Answer a call or message with `refusing` (see there); False for other packets
        (answers to our own operations still count)."""
        if isinstance(packet, MessagePacket):
            self.app.ack(session, packet.packet_id, self.refusing)
        elif isinstance(packet, RequestPacket):
            self.app.respond(session, packet.packet_id, packet.key, b"", self.refusing)
        else:
            return False
        self.refused += 1
        return True

    def _on_open(self, packet: SessionPacket) -> None:
        if len(self.sessions) + len(self._opening) >= self._config.max_sessions:
            self._out.send(
                SessionAckPacket(
                    packet_id=packet.packet_id,
                    negotiate_id=packet.negotiate_id,
                    session_id=packet.negotiate_id,
                    error=_TOO_MANY,
                )
            )
            self._out.emit(SessionRefused("max_sessions", _TOO_MANY))
            return
        session_id = self._session_ids().choose(packet.negotiate_id)
        session = Session(
            session_id,
            negotiate_id=packet.negotiate_id,
            meta=packet.meta,
            peer=packet.peer,
            initiated_locally=False,
        )
        session.fsm.fire(SessionEvent.SESSIONRECV)
        self.sessions[session_id] = session
        refusal = _CLOSING if self.closing else self._accept_refusal()
        session.fsm.fire(SessionEvent.ERROR if refusal else SessionEvent.SESSIONACK)
        self._out.send(
            SessionAckPacket(
                packet_id=packet.packet_id,
                negotiate_id=packet.negotiate_id,
                session_id=session_id,
                error=refusal,
            )
        )
        if refusal:
            self._send_dismiss(session)
            self._out.emit(SessionRefused(_REFUSAL_REASONS[refusal], refusal))
            return
        session.announced = True
        self.unclaimed += 1
        self._out.emit(SessionAccepted(session_id, packet.meta, packet.peer, packet.negotiate_id))

    def _accept_refusal(self) -> str:
        limit = self.accept_limit
        if limit is None or self.unclaimed < limit:
            return ""
        return NOT_ACCEPTED if limit == 0 else BACKLOG_FULL

    def claim(self) -> None:
        """The application took one accepted session off the backlog."""
        if self.unclaimed > 0:
            self.unclaimed -= 1

    def _on_open_ack(self, packet: SessionAckPacket) -> None:
        session = self._forget_open(packet.negotiate_id)
        if session is None:
            return  # timed out, or never ours
        open_id = packet.negotiate_id
        self._out.timers.cancel(TimerKey(TimerKind.OPEN, 0, open_id))
        session_id = packet.session_id
        if not self._session_ids().adoptable(session_id):
            raise ProtocolViolation(
                f"SessionAck for negotiate ID {open_id} assigns session ID {session_id}, "
                "which is reserved or already in use"
            )
        session.fsm.fire(SessionEvent.SESSIONACK)
        session.session_id = session_id
        self.sessions[session_id] = session
        if packet.error or session.cancelled:
            if not session.cancelled:
                self._out.emit(
                    OperationAborted(OpKind.OPEN, 0, open_id, AbortReason.REJECTED, packet.error)
                )
            self._send_dismiss(session)
            return
        session.announced = True
        self._out.emit(SessionOpened(open_id, session_id, session.meta, session.peer))

    def _on_dismiss(self, packet: DismissPacket) -> None:
        session = self.sessions.get(packet.session_id)
        if session is None:
            return
        if not session.fsm.fire(SessionEvent.DISMISSRECV):
            self._teardown(session, SessionCloseReason.PROTOCOL_ERROR)
            return
        if session.by_peer is None:
            session.by_peer = True
        self._out.send(DismissAckPacket(packet_id=packet.packet_id, session_id=packet.session_id))
        # Always legal: DISMISSRECV only leads to dismiss_recv or dismiss_half.
        session.fsm.fire(SessionEvent.DISMISSACK)
        if session.fsm.state is SessionState.DISMISSED:
            self._teardown(session, SessionCloseReason.DISMISSED)
        else:
            self._send_dismiss(session)

    def _on_dismiss_ack(self, packet: DismissAckPacket) -> None:
        session = self.sessions.get(packet.session_id)
        if session is None:
            return
        if not session.fsm.fire(SessionEvent.DISMISSACK):
            self._teardown(session, SessionCloseReason.PROTOCOL_ERROR)
        elif session.fsm.state is SessionState.DISMISSED:
            self._teardown(session, SessionCloseReason.DISMISSED)

    # ----------------------------------------------------------------------------- outbound

    def open(self, meta: bytes, peer: str) -> int:
        if self.closing:
            raise ConnectionStateError("the connection is closing")
        if len(self.sessions) + len(self._opening) >= self._config.max_sessions:
            raise SessionStateError(f"{_TOO_MANY} (max_sessions={self._config.max_sessions})")
        negotiate_id = self._session_ids().allocate()
        self._out.send(
            SessionPacket(
                packet_id=self._out.next_id(),
                negotiate_id=negotiate_id,
                session_id_acquire=self._initiator,
                meta=meta,
                peer=peer,
            )
        )
        session = Session(
            0 if self._initiator else negotiate_id,
            negotiate_id=negotiate_id,
            meta=meta,
            peer=peer,
            initiated_locally=True,
        )
        session.fsm.fire(SessionEvent.SESSIONSENT)
        if self._opening is _NO_OPENING:
            self._opening = {negotiate_id: session}
        else:
            self._opening[negotiate_id] = session
        self._out.timers.set(TimerKey(TimerKind.OPEN, 0, negotiate_id), self._config.open_timeout)
        return negotiate_id

    def _forget_open(self, open_id: int) -> Session | None:
        opening = self._opening
        session = opening.pop(open_id, None)
        if not opening:
            self._opening = _NO_OPENING  # the shared empty one: this one's table goes
        return session

    def cancel_open(self, open_id: int) -> bool:
        session = self._opening.get(open_id)
        if session is None or session.cancelled:
            return False
        session.cancelled = True
        return True

    def dismiss(self, session_id: int) -> None:
        session = self.sessions.get(session_id)
        if session is None or not session.announced:
            raise SessionStateError(f"no session {session_id}")
        self._send_dismiss(session)

    def _send_dismiss(self, session: Session) -> None:
        if session.dismiss_sent or not session.fsm.fire(SessionEvent.DISMISSSENT):
            return
        session.dismiss_sent = True
        if session.by_peer is None:
            session.by_peer = False
        self._out.send(DismissPacket(packet_id=self._out.next_id(), session_id=session.session_id))
        self._out.timers.set(
            TimerKey(TimerKind.DISMISS, session.session_id), self._config.dismiss_timeout
        )

    # ---------------------------------------------------------------------------- lifecycle

    def timer_expired(self, key: TimerKey) -> None:
        kind = key.kind
        if kind is TimerKind.OPEN:
            session = self._forget_open(key.ident)
            if session is not None and not session.cancelled:
                self._out.emit(OperationAborted(OpKind.OPEN, 0, key.ident, AbortReason.TIMEOUT))
            self._check_drained()
            return
        session = self.sessions.get(key.session_id)
        if session is None:
            return
        if kind is TimerKind.DISMISS:
            self._teardown(session, SessionCloseReason.TIMEOUT)
        else:
            self.app.expire(session, key)

    def close_all(self, on_drained: Callable[[], None]) -> bool:
        """Start a graceful close: dismiss every session (session 1 included, as Go's
        `End.Close` does). Pending opens are reported aborted now but kept until their ack
        (or timeout), so that the session the peer set up for them can be dismissed too:
        dropping them would leave the peer's Dismiss unanswered for 30 s. True if nothing is
        left to wait for; otherwise `on_drained` is called once the last one is gone."""
        self.closing = True
        self._on_drained = on_drained
        for open_id, session in self._opening.items():
            if not session.cancelled:
                session.cancelled = True
                self._out.emit(
                    OperationAborted(OpKind.OPEN, 0, open_id, AbortReason.CONNECTION_CLOSED)
                )
        for session in list(self.sessions.values()):
            self._send_dismiss(session)
        return self.drained

    @property
    def drained(self) -> bool:
        return not self.sessions and not self._opening

    def release(self) -> None:
        """The connection ended: drop the callbacks into it and into this object, the
        reference cycles among them (so that it is freed by reference counting, not by a
        later garbage collection)."""
        self._on_drained = _nothing
        self._ids = None  # it holds `self._in_use`: the other cycle

    def _check_drained(self) -> None:
        if self.closing and self.drained:
            self._on_drained()

    def teardown_all(self) -> None:
        """The connection is going away: every session and open ends now."""
        self.closing = False  # no drained callback: the connection is already closing
        for open_id, session in self._opening.items():
            self._out.timers.cancel(TimerKey(TimerKind.OPEN, 0, open_id))
            if not session.cancelled:
                self._out.emit(
                    OperationAborted(OpKind.OPEN, 0, open_id, AbortReason.CONNECTION_CLOSED)
                )
        self._opening = _NO_OPENING
        for session in list(self.sessions.values()):
            self._teardown(session, SessionCloseReason.CONNECTION_CLOSED)

    def _teardown(self, session: Session, reason: SessionCloseReason) -> None:
        session.fsm.fire(SessionEvent.FINI)
        del self.sessions[session.session_id]
        self._out.timers.cancel(TimerKey(TimerKind.DISMISS, session.session_id))
        self.app.abort_all(
            session,
            AbortReason.CONNECTION_CLOSED
            if reason is SessionCloseReason.CONNECTION_CLOSED
            else AbortReason.SESSION_CLOSED,
        )
        if session.announced:
            self._out.emit(SessionClosed(session.session_id, reason, bool(session.by_peer)))
        self._check_drained()
