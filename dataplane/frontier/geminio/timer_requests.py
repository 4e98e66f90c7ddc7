"""Timers as data: what the sans-I/O connection asks its adapter to arm and cancel.

The protocol needs a dozen kinds of timeouts (§B.6) but must not own a clock or a loop, so it
emits `SetTimer(key, delay)` / `CancelTimer(key)` and is told `timer_expired(key)`. The
asyncio adapter maps keys onto the timing wheel; a test maps them onto a hand-moved clock.

Requests are coalesced per key, last one wins: between two drains a key that was set, then
cancelled, then set again yields a single `SetTimer`. The pending list is therefore bounded by
the number of live timers, whatever the adapter's drain rhythm. `SetTimer` means "(re)arm
`key` to fire `delay` seconds after now", replacing any earlier arming of the same key;
`CancelTimer` for a key the adapter does not hold must be a no-op. An expiry the book no
longer expects (cancelled after the wheel already fired it) is ignored, so adapters need not
be careful about that race either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, NamedTuple, Protocol, TypeAlias

__all__ = [
    "CLOSE_TIMER",
    "CONNECT_TIMER",
    "HEARTBEAT_TIMER",
    "IDLE_TIMER",
    "WRITE_TIMER",
    "CancelTimer",
    "SetTimer",
    "TimerBook",
    "TimerKey",
    "TimerKind",
    "TimerRequest",
    "TimerSink",
    "timer_key",
]


class TimerKind(Enum):
    CONNECT = "connect"
    """Client: waiting for the ConnAck. Server: waiting for the ConnPacket and the adapter's
    accept/reject (10 s in Go for both)."""
    HEARTBEAT = "heartbeat"
    """Client: time to send the next Heartbeat."""
    IDLE = "idle"
    """Nothing received for too long: the server's 2 x heartbeat timeout (the client's too,
    when enabled). Expiry force-closes the transport."""
    CLOSE = "close"
    """Waiting for the 4-way disconnect to finish after our DisConn."""
    WRITE = "write"
    """The transport has held more than its high-water mark of unsent output for this
    long: the peer does not read (a slow consumer). Expiry force-closes the transport."""
    OPEN = "open"
    """Waiting for a SessionAck (30 s in Go); `ident` is the negotiate ID."""
    DISMISS = "dismiss"
    """Waiting for a session's 4-way dismiss to finish (30 s in Go)."""
    PUBLISH = "publish"
    """Per-publish timeout; `ident` is the message ID."""
    REQUEST = "request"
    """Per-call timeout; `ident` is the request ID."""
    REGISTER = "register"
    """Per-registration timeout; `ident` is the Register packet ID."""

    # Members are singletons compared by identity, so identity hashing is exact, and it is
    # C-speed: Enum's own __hash__ is Python code, and every forwarded call hashes its
    # timer key several times (set, cancel, the adapter's table).
    __hash__ = object.__hash__


class TimerKey(NamedTuple):
    """A timer's identity. A tuple, not a dataclass, for C-speed hashing and equality
    (a frozen dataclass hashes through generated Python code)."""

    kind: TimerKind
    session_id: int = 0
    ident: int = 0


_new_tuple: Final[Any] = tuple.__new__
_TIMER_KEY: Final[Any] = TimerKey
"""The class, as a C static for compiled `timer_key` (a global name is a dict lookup)."""


def timer_key(kind: TimerKind, session_id: int, ident: int) -> TimerKey:
    """`TimerKey(kind, session_id, ident)`, without the NamedTuple's `__new__`: that is
    Python code namedtuple generates, interpreted even when the caller is compiled, and a
    forwarded call builds two keys (arming its timer, cancelling it): half the cost."""
    key: TimerKey = _new_tuple(_TIMER_KEY, (kind, session_id, ident))
    return key


CONNECT_TIMER: Final = TimerKey(TimerKind.CONNECT)
HEARTBEAT_TIMER: Final = TimerKey(TimerKind.HEARTBEAT)
IDLE_TIMER: Final = TimerKey(TimerKind.IDLE)
CLOSE_TIMER: Final = TimerKey(TimerKind.CLOSE)
WRITE_TIMER: Final = TimerKey(TimerKind.WRITE)


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: TimerKey
    delay: float
    """Seconds from the moment the adapter applies the request."""


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


TimerRequest: TypeAlias = SetTimer | CancelTimer


_CONN_KEYS: Final = (CONNECT_TIMER, HEARTBEAT_TIMER, IDLE_TIMER, CLOSE_TIMER, WRITE_TIMER)
_CONN_BITS: Final = {key: 1 << index for index, key in enumerate(_CONN_KEYS)}
"""The connection's own timers are armed as bits, not set members: an idle connection
(its idle or heartbeat timer armed) then holds no set."""


class TimerSink(Protocol):
    """Where `TimerBook.drain_into` delivers requests (the adapter's timer table)."""

    def set(self, key: TimerKey, delay: float) -> None: ...

    def cancel(self, key: TimerKey) -> None: ...


class TimerBook:
    """Which timers are armed, and the requests not yet handed to the adapter."""

    __slots__ = ("_armed", "_armed_bits", "_pending")

    def __init__(self) -> None:
        self._armed_bits = 0
        self._armed: set[TimerKey] | None = None
        # None while nothing is pending: an idle connection holds no dict (64 bytes each,
        # times 10^5 edges).
        self._pending: dict[TimerKey, float | None] | None = None

    def _arm(self, key: TimerKey) -> None:
        bit = _CONN_BITS.get(key)
        if bit is not None:
            self._armed_bits |= bit
        else:
            self._arm_op(key)

    def _disarm(self, key: TimerKey) -> bool:
        """Disarm `key`; False if it was not armed."""
        bit = _CONN_BITS.get(key)
        if bit is not None:
            if not self._armed_bits & bit:
                return False
            self._armed_bits &= ~bit
            return True
        return self._disarm_op(key)

    def _arm_op(self, key: TimerKey) -> None:
        armed = self._armed
        if armed is None:
            self._armed = {key}
        else:
            armed.add(key)

    def _disarm_op(self, key: TimerKey) -> bool:
        """`_disarm` for a key that is not the connection's own (one hash, no bit lookup)."""
        armed = self._armed
        if armed is None:
            return False
        try:
            armed.remove(key)
        except KeyError:
            return False
        if not armed:
            self._armed = None
        return True

    def _request(self, key: TimerKey, delay: float | None) -> None:
        pending = self._pending
        if pending is None:
            self._pending = {key: delay}
        else:
            pending[key] = delay

    def set(self, key: TimerKey, delay: float) -> None:
        self._arm(key)
        self._request(key, delay)

    def cancel(self, key: TimerKey) -> None:
        """Disarm `key`; nothing is emitted for a key that is not armed."""
        if self._disarm(key):
            self._request(key, None)

    def set_op(self, key: TimerKey, delay: float) -> None:
        """`set` for a key that is not one of the connection's own timers (an operation's:
        a publish, request, register): no bit lookup. Each forwarded call arms one and
        cancels it, and every lookup hashes the key tuple anew."""
        self._arm_op(key)
        self._request(key, delay)

    def cancel_op(self, key: TimerKey) -> None:
        """`cancel` for an operation's key (see `set_op`)."""
        if self._disarm_op(key):
            self._request(key, None)

    def cancel_all(self) -> None:
        for key in self.armed:
            self._request(key, None)
        self._armed_bits = 0
        self._armed = None

    def expire(self, key: TimerKey) -> bool:
        """Record that `key` fired; False for a stale expiry.

        Stale means disarmed since, or re-armed by a request the adapter has not taken yet:
        the firing then belongs to an arming that no longer counts.
        """
        pending = self._pending
        if (pending is not None and key in pending) or not self.is_armed(key):
            return False
        self._disarm(key)
        return True

    def is_armed(self, key: TimerKey) -> bool:
        bit = _CONN_BITS.get(key)
        if bit is not None:
            return bool(self._armed_bits & bit)
        return self._armed is not None and key in self._armed

    @property
    def armed(self) -> frozenset[TimerKey]:
        keys = [key for key in _CONN_KEYS if self._armed_bits & _CONN_BITS[key]]
        if self._armed:
            keys.extend(self._armed)
        return frozenset(keys)

    def drain_into(self, sink: TimerSink) -> None:
        """Hand the coalesced requests to `sink` and forget them: what `take` returns,
        without building a request object per timer (the adapter's hot path: a received
        packet re-arms the idle timer)."""
        pending = self._pending
        if not pending:
            return
        self._pending = None
        for key, delay in pending.items():
            if delay is None:
                sink.cancel(key)
            else:
                sink.set(key, delay)

    def take(self) -> list[TimerRequest]:
        """The coalesced requests since the last call, in first-touched order."""
        pending = self._pending
        if not pending:
            return []
        self._pending = None
        return [
            CancelTimer(key) if delay is None else SetTimer(key, delay)
            for key, delay in pending.items()
        ]
