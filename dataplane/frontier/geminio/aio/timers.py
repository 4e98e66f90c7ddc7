"""Maps the sans-I/O connection's timer requests onto the loop's timing wheel.

One handle per live key: a re-arm of the same key (the idle timer, on every packet) is a
`reset` of the existing handle, which the wheel makes allocation-free. A handle is dropped
from the map when it fires or is cancelled, so per-request keys do not accumulate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..timer_requests import SetTimer, TimerKey, TimerRequest

__all__ = ["TimerHandleLike", "TimerOwner", "TimerService", "TimerTable"]


class TimerHandleLike(Protocol):
    def cancel(self) -> bool: ...

    def reset(self, delay: float) -> None: ...


class TimerService(Protocol):
    """What `LoopTimer` offers; tests may pass a stand-in (a scaled clock, for instance)."""

    def add(self, delay: float, callback: Callable[..., object], *args: Any) -> Any: ...


class TimerOwner(Protocol):
    """Who is told about expiries: the protocol (a plain object, so that the table holds
    no bound method per connection)."""

    def _timer_expired(self, key: TimerKey) -> None: ...


class TimerTable:
    """The live handles by key. The first key armed is held in two slots, not in a dict:
    an idle connection's only timer (its idle or heartbeat timer) costs no dict."""

    __slots__ = ("_handle", "_handles", "_key", "_owner", "_service")

    def __init__(self, service: TimerService, owner: TimerOwner) -> None:
        self._service = service
        self._owner = owner
        self._key: TimerKey | None = None
        self._handle: TimerHandleLike | None = None
        self._handles: dict[TimerKey, TimerHandleLike] | None = None

    def apply(self, requests: list[TimerRequest]) -> None:
        for request in requests:
            if isinstance(request, SetTimer):
                self.set(request.key, request.delay)
            else:
                self.cancel(request.key)

    def set(self, key: TimerKey, delay: float) -> None:
        """(Re)arm `key` to fire `delay` seconds from now (`TimerSink`)."""
        first = self._key
        if first is not None and (key is first or key == first):
            handle = self._handle
            assert handle is not None
            handle.reset(delay)
            return
        handles = self._handles
        old = handles.get(key) if handles else None
        if old is not None:
            old.reset(delay)
        elif first is None:
            # The table itself is the callback (see `__call__`): no bound method.
            self._handle = self._service.add(delay, self, key)
            self._key = key
        else:
            if handles is None:
                handles = self._handles = {}
            handles[key] = self._service.add(delay, self, key)

    def cancel(self, key: TimerKey) -> None:
        """Disarm `key`, a no-op when it is not armed (`TimerSink`)."""
        first = self._key
        if first is not None and (key is first or key == first):
            handle = self._handle
            self._key = self._handle = None
            if handle is not None:
                handle.cancel()
            return
        handles = self._handles
        if handles:
            old = handles.pop(key, None)
            if old is not None:
                old.cancel()

    def __call__(self, key: TimerKey) -> None:
        """A handle fired: forget it and tell the owner."""
        first = self._key
        if first is not None and (key is first or key == first):
            self._key = self._handle = None
        elif self._handles:
            self._handles.pop(key, None)
        self._owner._timer_expired(key)

    def cancel_all(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._key = self._handle = None
        handles, self._handles = self._handles, None
        if handles:
            for handle in handles.values():
                handle.cancel()

    def __len__(self) -> int:
        return (self._key is not None) + (len(self._handles) if self._handles else 0)
