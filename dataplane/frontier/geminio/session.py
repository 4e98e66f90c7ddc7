"""One session's state: its FSM, identity, RPC tables and the operations awaiting the peer.

Every session, the default one included, is a full messenger (§C.4): registrations,
handlers and pending acks are per session, so a method registered on stream 5 is not
callable on stream 1 and an ack is only matched against the session it arrives on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .states import SESSION_TABLE, SessionEvent, SessionState, TableFSM

__all__ = ["Hijack", "Session"]


@dataclass(frozen=True, slots=True)
class Hijack:
    """Go's `Hijack(rpc, Pattern, Match)`: catch calls before the registered handlers.

    No pattern catches every method; otherwise the pattern is searched anywhere in the
    method name (Go's `Regexp.Match`) and catches the matches, or with `match=False` the
    non-matches.
    """

    pattern: re.Pattern[str] | None = None
    match: bool = True

    def catches(self, method: str) -> bool:
        if self.pattern is None:
            return True
        return (self.pattern.search(method) is not None) is self.match


class Session:
    """Mutable record owned by the multiplexer; adapters may read it, never write it."""

    __slots__ = (
        "announced",
        "by_peer",
        "cancelled",
        "dismiss_sent",
        "fsm",
        "hijack",
        "initiated_locally",
        "local_methods",
        "meta",
        "negotiate_id",
        "peer",
        "publishes",
        "registers",
        "remote_methods",
        "requests",
        "session_id",
    )

    def __init__(
        self,
        session_id: int,
        *,
        negotiate_id: int,
        meta: bytes,
        peer: str,
        initiated_locally: bool,
        state: SessionState = SessionState.INIT,
    ) -> None:
        self.session_id = session_id
        self.negotiate_id = negotiate_id
        self.meta = meta
        self.peer = peer
        self.initiated_locally = initiated_locally
        self.fsm: TableFSM[SessionState, SessionEvent] = TableFSM(state, SESSION_TABLE)
        self.announced = False
        """The adapter was told about the session (opened, accepted, or session 1); only
        announced sessions produce SessionClosed and accept new operations."""
        self.cancelled = False
        """Opener only: the open was abandoned; dismiss the session as soon as it is acked."""
        self.dismiss_sent = False
        self.by_peer: bool | None = None
        """Who sent the first Dismiss; None while nobody has."""
        self.publishes: dict[int, bool] = {}
        """Message ID -> whether a PUBLISH timer is armed for it."""
        self.requests: dict[int, bool] = {}
        """Request ID -> whether a REQUEST timer is armed for it."""
        self.registers: dict[int, tuple[str, bool]] = {}
        """Register packet ID -> (method, whether a REGISTER timer is armed)."""
        self.local_methods: set[bytes] = set()
        self.remote_methods: set[bytes] = set()
        self.hijack: Hijack | None = None

    @property
    def state(self) -> SessionState:
        return self.fsm.state

    @property
    def is_open(self) -> bool:
        """Open for new operations: established, announced and nobody has dismissed it."""
        return self.fsm.state is SessionState.SESSIONED and self.announced

    def __repr__(self) -> str:
        return f"<Session {self.session_id} {self.fsm.state.value}>"
