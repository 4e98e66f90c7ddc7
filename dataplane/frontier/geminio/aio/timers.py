"""Maps the sans-I/O connection's timer requests onto the loop's timing wheel.

One handle per live key: a re-arm of the same key (the idle timer, on every packet) is a
`reset` of the existing handle, which the wheel makes allocation-free. A handle is dropped
from the map when it fires or is cancelled, so per-request keys do not accumulate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..timer_requests import SetTimer, TimerKey, TimerRequest

__all__ = ["TimerHandleLike", "TimerService", "TimerTable"]


class TimerHandleLike(Protocol):
    def cancel(self) -> bool: ...

    def reset(self, delay: float) -> None: ...


class TimerService(Protocol):
    """What `LoopTimer` offers; tests may pass a stand-in (a scaled clock, for instance)."""

    def add(self, delay: float, callback: Callable[..., object], *args: Any) -> Any: ...


class TimerTable:
    __slots__ = ("_expired", "_handles", "_service")

    def __init__(self, service: TimerService, expired: Callable[[TimerKey], None]) -> None:
        self._service = service
        self._expired = expired
        self._handles: dict[TimerKey, TimerHandleLike] = {}

    def apply(self, requests: list[TimerRequest]) -> None:
        handles = self._handles
        for request in requests:
            key = request.key
            if isinstance(request, SetTimer):
                handle = handles.get(key)
                if handle is None:
                    handles[key] = self._service.add(request.delay, self._fire, key)
                else:
                    handle.reset(request.delay)
            else:
                old = handles.pop(key, None)
                if old is not None:
                    old.cancel()

    def _fire(self, key: TimerKey) -> None:
        self._handles.pop(key, None)
        self._expired(key)

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)
