"""The connection and session state machines as transition tables (§B.4, §C.2, §C.3).

The tables are Go's (`conn/conn_client.go`, `conn/conn_server.go`, `multiplexer/dialogue.go`)
transcribed one entry per line, so that what a Go peer treats as an illegal transition is
illegal here too and a review against the Go source is a line-by-line comparison. Go's FSM
library keys events by name and geminio gives "sessionack" and "sessionrecv" the same name
(§G.6 quirk 6); the tables here keep them apart, which changes nothing for legal sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final, Generic, TypeVar

__all__ = [
    "CLIENT_CONN_TABLE",
    "DATA_STATES",
    "SERVER_CONN_TABLE",
    "SESSION_TABLE",
    "ConnEvent",
    "ConnState",
    "SessionEvent",
    "SessionState",
    "Side",
    "TableFSM",
]

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


class TableFSM(Generic[S, E]):
    """A state and the table it moves by; an event with no entry leaves the state alone."""

    __slots__ = ("_table", "state")

    def __init__(self, initial: S, table: Mapping[tuple[S, E], S]) -> None:
        self.state = initial
        self._table = table

    def fire(self, event: E) -> bool:
        """Apply `event`; False (and no change) if the table has no such transition."""
        target = self._table.get((self.state, event))
        if target is None:
            return False
        self.state = target
        return True

    def can(self, event: E) -> bool:
        return (self.state, event) in self._table


class Side(Enum):
    """Which end of the TCP connection we are: the client dials and says hello."""

    CLIENT = "client"
    SERVER = "server"


class ConnState(Enum):
    INIT = "init"
    CONN_SENT = "conn_sent"
    CONN_RECV = "conn_recv"
    CONNED = "conned"
    CLOSE_SENT = "close_sent"
    CLOSE_RECV = "close_recv"
    CLOSE_HALF = "close_half"
    CLOSED = "closed"
    FINI = "fini"


class ConnEvent(Enum):
    CONNSENT = "connsent"
    CONNRECV = "connrecv"
    CONNACK = "connack"
    ERROR = "error"
    CLOSESENT = "closesent"
    CLOSERECV = "closerecv"
    CLOSEACK = "closeack"
    FINI = "fini"


def _fini_from_everywhere(states: list[ConnState]) -> dict[tuple[ConnState, ConnEvent], ConnState]:
    return {(state, ConnEvent.FINI): ConnState.FINI for state in states}


_C = ConnState
_CE = ConnEvent

CLIENT_CONN_TABLE: Final[Mapping[tuple[ConnState, ConnEvent], ConnState]] = {
    (_C.INIT, _CE.CONNSENT): _C.CONN_SENT,
    (_C.CONN_SENT, _CE.CONNACK): _C.CONNED,
    (_C.CONN_SENT, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CONNED, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CLOSE_RECV, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CLOSE_HALF, _CE.CLOSESENT): _C.CLOSE_HALF,
    (_C.CONN_SENT, _CE.CLOSERECV): _C.CLOSE_RECV,
    (_C.CONNED, _CE.CLOSERECV): _C.CLOSE_RECV,
    (_C.CLOSE_SENT, _CE.CLOSERECV): _C.CLOSE_RECV,
    (_C.CLOSE_HALF, _CE.CLOSERECV): _C.CLOSE_HALF,
    (_C.CLOSE_SENT, _CE.CLOSEACK): _C.CLOSE_HALF,
    (_C.CLOSE_RECV, _CE.CLOSEACK): _C.CLOSE_HALF,
    (_C.CLOSE_HALF, _CE.CLOSEACK): _C.CLOSED,
    **_fini_from_everywhere(
        [_C.INIT, _C.CONN_SENT, _C.CONNED, _C.CLOSE_SENT, _C.CLOSE_RECV, _C.CLOSE_HALF, _C.CLOSED]
    ),
}
"""Client side of §B.4. A DisConn may arrive before the ConnAck (conn_sent → close_recv)."""

SERVER_CONN_TABLE: Final[Mapping[tuple[ConnState, ConnEvent], ConnState]] = {
    (_C.INIT, _CE.CONNRECV): _C.CONN_RECV,
    (_C.CONN_RECV, _CE.CONNACK): _C.CONNED,
    (_C.CONN_RECV, _CE.ERROR): _C.CONN_RECV,
    (_C.CONN_RECV, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CONNED, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CLOSE_RECV, _CE.CLOSESENT): _C.CLOSE_SENT,
    (_C.CLOSE_HALF, _CE.CLOSESENT): _C.CLOSE_HALF,
    (_C.CONNED, _CE.CLOSERECV): _C.CLOSE_RECV,
    (_C.CLOSE_SENT, _CE.CLOSERECV): _C.CLOSE_RECV,
    (_C.CLOSE_HALF, _CE.CLOSERECV): _C.CLOSE_HALF,
    (_C.CLOSE_SENT, _CE.CLOSEACK): _C.CLOSE_HALF,
    (_C.CLOSE_RECV, _CE.CLOSEACK): _C.CLOSE_HALF,
    (_C.CLOSE_HALF, _CE.CLOSEACK): _C.CLOSED,
    **_fini_from_everywhere(
        [_C.INIT, _C.CONN_RECV, _C.CONNED, _C.CLOSE_SENT, _C.CLOSE_RECV, _C.CLOSE_HALF, _C.CLOSED]
    ),
}
"""Server side of §B.4. Unlike the client, a DisConn before the handshake is illegal
(Go's server has no conn_recv --closerecv--> entry, so it drops the connection)."""


class SessionState(Enum):
    INIT = "init"
    SESSION_SENT = "session_sent"
    SESSION_RECV = "session_recv"
    SESSIONED = "sessioned"
    DISMISS_SENT = "dismiss_sent"
    DISMISS_RECV = "dismiss_recv"
    DISMISS_HALF = "dismiss_half"
    DISMISSED = "dismissed"
    FINI = "fini"


class SessionEvent(Enum):
    SESSIONSENT = "sessionsent"
    SESSIONRECV = "sessionrecv"
    SESSIONACK = "sessionack"
    ERROR = "error"
    DISMISSSENT = "dismisssent"
    DISMISSRECV = "dismissrecv"
    DISMISSACK = "dismissack"
    FINI = "fini"


_S = SessionState
_SE = SessionEvent

SESSION_TABLE: Final[Mapping[tuple[SessionState, SessionEvent], SessionState]] = {
    # opener
    (_S.INIT, _SE.SESSIONSENT): _S.SESSION_SENT,
    (_S.SESSION_SENT, _SE.SESSIONACK): _S.SESSIONED,
    # acceptor
    (_S.INIT, _SE.SESSIONRECV): _S.SESSION_RECV,
    (_S.SESSION_RECV, _SE.SESSIONACK): _S.SESSIONED,
    (_S.SESSION_RECV, _SE.ERROR): _S.SESSION_RECV,
    # both: the 4-way dismiss, simultaneous dismisses included
    (_S.SESSION_RECV, _SE.DISMISSSENT): _S.DISMISS_SENT,
    (_S.SESSIONED, _SE.DISMISSSENT): _S.DISMISS_SENT,
    (_S.DISMISS_RECV, _SE.DISMISSSENT): _S.DISMISS_SENT,
    (_S.DISMISS_HALF, _SE.DISMISSSENT): _S.DISMISS_HALF,
    (_S.SESSION_SENT, _SE.DISMISSRECV): _S.DISMISS_RECV,
    (_S.SESSIONED, _SE.DISMISSRECV): _S.DISMISS_RECV,
    (_S.DISMISS_SENT, _SE.DISMISSRECV): _S.DISMISS_RECV,
    (_S.DISMISS_HALF, _SE.DISMISSRECV): _S.DISMISS_HALF,
    (_S.DISMISS_SENT, _SE.DISMISSACK): _S.DISMISS_HALF,
    (_S.DISMISS_RECV, _SE.DISMISSACK): _S.DISMISS_HALF,
    (_S.DISMISS_HALF, _SE.DISMISSACK): _S.DISMISSED,
    **{(state, _SE.FINI): _S.FINI for state in _S if state is not _S.FINI},
}
"""§C.2/§C.3 as in `multiplexer/dialogue.go`."""

DATA_STATES: Final = frozenset({_S.SESSIONED, _S.DISMISS_SENT, _S.DISMISS_RECV, _S.DISMISS_HALF})
"""Session states in which inbound data is still delivered (§C.3)."""
