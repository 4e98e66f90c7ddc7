"""One session's state: its FSM, identity, RPC tables and the operations awaiting the peer.

Every session, the default one included, is a full messenger (§C.4): registrations,
handlers and pending acks are per session, so a method registered on stream 5 is not
callable on stream 1 and an ack is only matched against the session it arrives on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .states import SESSION_TABLE, SessionEvent, SessionState, TableFSM
from .timer_requests import TimerKey

__all__ = ["Hijack", "Session"]

_NO_ENTRIES: Mapping[int, object] = MappingProxyType({})
_NO_METHODS: frozenset[bytes] = frozenset()


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

    # The tables are created on first use (the application layer writes the `_` slots):
    # session 1 of an idle connection holds none.
    __slots__ = (
        "_local_methods",
        "_publishes",
        "_registers",
        "_remote_methods",
        "_requests",
        "announced",
        "by_peer",
        "cancelled",
        "dismiss_sent",
        "fsm",
        "hijack",
        "initiated_locally",
        "meta",
        "negotiate_id",
        "peer",
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
        self._publishes: dict[int, TimerKey | Literal[False]] | None = None
        self._requests: dict[int, TimerKey | Literal[False]] | None = None
        self._registers: dict[int, tuple[str, TimerKey | Literal[False]]] | None = None
        self._local_methods: set[bytes] | None = None
        self._remote_methods: set[bytes] | None = None
        self.hijack: Hijack | None = None

    @property
    def publishes(self) -> Mapping[int, TimerKey | Literal[False]]:
        """Message ID -> the key of the PUBLISH timer armed for it, False if none is."""
        return self._publishes if self._publishes is not None else _NO_ENTRIES  # type: ignore[return-value]

    @property
    def requests(self) -> Mapping[int, TimerKey | Literal[False]]:
        """Request ID -> the key of the REQUEST timer armed for it, False if none is."""
        return self._requests if self._requests is not None else _NO_ENTRIES  # type: ignore[return-value]

    @property
    def registers(self) -> Mapping[int, tuple[str, TimerKey | Literal[False]]]:
        """Register packet ID -> (method, the key of its REGISTER timer, False if none)."""
        return self._registers if self._registers is not None else _NO_ENTRIES  # type: ignore[return-value]

    @property
    def local_methods(self) -> Set[bytes]:
        return self._local_methods if self._local_methods is not None else _NO_METHODS

    @property
    def remote_methods(self) -> Set[bytes]:
        return self._remote_methods if self._remote_methods is not None else _NO_METHODS

    @property
    def state(self) -> SessionState:
        return self.fsm.state

    @property
    def is_open(self) -> bool:
        """Open for new operations: established, announced and nobody has dismissed it."""
        return self.fsm.state is SessionState.SESSIONED and self.announced

    def __repr__(self) -> str:
        return f"<Session {self.session_id} {self.fsm.state.value}>"
