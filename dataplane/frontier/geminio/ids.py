"""Packet and session ID allocation (§A.2, §C.1, §C.7).

Packet IDs only need to be unique among our own outstanding operations: the peer echoes
them and we key pending tables by them. One counter per connection does that; Go's
`(unix_seconds << 32) + counter` adds nothing a peer could rely on.

Session IDs follow the §C.7 scheme, which avoids the Go opener's race: a server accepting a
client's open uses the client's negotiate ID as the session ID, so it must draw the IDs of
the sessions *it* opens from a range a Go client's temporary IDs (about 2^62, a timestamp
in the high half) never reach: a small counter from 2. A Python client draws its temporary
IDs from 2^62 upwards for the same reason. IDs 0 (none) and 1 (the default session) are
never handed out or adopted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = [
    "CLIENT_SESSION_BASE",
    "DEFAULT_SESSION",
    "FIRST_SESSION_ID",
    "SERVER_SESSION_BASE",
    "U64_MAX",
    "PacketIDs",
    "SessionIDs",
]

U64_MAX: Final = (1 << 64) - 1
DEFAULT_SESSION: Final = 1
FIRST_SESSION_ID: Final = 2
SERVER_SESSION_BASE: Final = FIRST_SESSION_ID
CLIENT_SESSION_BASE: Final = 1 << 62


class PacketIDs:
    """Fresh packet IDs: 1, 2, 3, ... wrapping past 2^64 - 1 back to 1 (0 is never used)."""

    __slots__ = ("_next",)

    def __init__(self, first: int = 1) -> None:
        if not 1 <= first <= U64_MAX:
            raise ValueError(f"first packet ID {first} is not in 1..2^64-1")
        self._next = first

    def next(self) -> int:
        value = self._next
        self._next = value + 1 if value < U64_MAX else 1
        return value


class SessionIDs:
    """Session IDs from a counter, skipping 0, 1 and any ID `in_use` reports."""

    __slots__ = ("_base", "_in_use", "_next")

    def __init__(self, base: int, in_use: Callable[[int], bool]) -> None:
        if not FIRST_SESSION_ID <= base <= U64_MAX:
            raise ValueError(f"session ID base {base} is not in 2..2^64-1")
        self._base = base
        self._next = base
        self._in_use = in_use

    def allocate(self) -> int:
        # Terminates: a connection holds far fewer than 2^62 sessions.
        while True:
            value = self._next
            self._next = value + 1 if value < U64_MAX else FIRST_SESSION_ID
            if not self._in_use(value):
                return value

    def adoptable(self, wanted: int) -> bool:
        """Whether the peer's negotiate ID can become the session ID here (§C.7)."""
        return FIRST_SESSION_ID <= wanted <= U64_MAX and not self._in_use(wanted)

    def choose(self, wanted: int) -> int:
        """The acceptor's ID for a peer's open: its negotiate ID if free, else our own."""
        return wanted if self.adoptable(wanted) else self.allocate()
