"""Drive a :class:`TimingWheel` from an asyncio (or uvloop) event loop.

One loop timer at a time, armed for the wheel's next event: an idle wheel costs no wake-ups
(go-timer ticks every 10 ms regardless). Callbacks run on the loop thread, inside the loop
callback that advances the wheel, exactly like ``loop.call_later`` callbacks.

The wheel's clock is :func:`time.monotonic`, not ``loop.time()``: uvloop's loop time is
cached per iteration with millisecond resolution, so a timer added late in a long iteration
would be measured from a stale start. Loop timers may still fire up to a millisecond early
under uvloop; the wheel then finds nothing due and the driver re-arms, so nothing fires early.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from frontier.timer.wheel import TimerHandle, TimingWheel

__all__ = ["LoopTimer", "get_loop_timer", "loop_delay"]


class LoopTimer:
    """A timing wheel bound to one running event loop.

    Create it inside the loop (or pass ``loop``); ``close()`` (or leaving ``async with``)
    cancels every pending timer and the loop timer. Not thread-safe, like the loop itself.
    """

    def __init__(
        self,
        tick: float = 0.01,
        slots: int = 256,
        levels: int = 4,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._wheel = TimingWheel(tick, slots, levels, clock=time.monotonic)
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._closed = False
        self._wheel.set_wakeup_callback(self._on_earlier_timer)
        # The hot path goes straight to the wheel: no extra Python frame per add.
        self.add: Callable[..., TimerHandle] = self._wheel.add

    @property
    def wheel(self) -> TimingWheel:
        return self._wheel

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def armed_at(self) -> float | None:
        """When the loop timer will next advance the wheel (monotonic), None when idle."""
        return self._armed_at

    def close(self) -> None:
        """Cancel every pending timer and stop driving the wheel. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wheel.set_wakeup_callback(None)
        self._disarm()
        self._wheel.clear()

        def refuse(*_: Any, **__: Any) -> TimerHandle:
            raise RuntimeError("LoopTimer is closed")

        self.add = refuse

    async def __aenter__(self) -> LoopTimer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._wheel)

    # -- arming ----------------------------------------------------------------------------

    def _on_earlier_timer(self, when: float) -> None:
        self._arm(when)

    def _arm(self, when: float) -> None:
        self._disarm()
        self._armed_at = when
        delay = loop_delay(when - time.monotonic())
        self._handle = self._loop.call_later(delay, self._on_loop_timer)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at = None

    def _on_loop_timer(self) -> None:
        self._handle = None
        self._armed_at = None
        if self._closed:
            return
        if self._loop.is_closed():
            self.close()
            return
        try:
            self._wheel.advance(time.monotonic())
        finally:
            if not self._closed:
                when = self._wheel.next_wakeup()
                if when is not None:
                    self._arm(when)


def loop_delay(seconds: float) -> float:
    """`seconds` for `loop.call_later`, in whole milliseconds rounded up (0 if not
    positive). uvloop rounds a delay to the nearest millisecond and counts it from the
    loop's cached time, so its timer may fire a little before the deadline; re-armed for
    the rest, a delay under half a millisecond became 0 and the loop spun until the
    deadline (a hundred wake-ups for one expiry, seen on a loaded machine)."""
    return math.ceil(seconds * 1000.0) / 1000.0 if seconds > 0.0 else 0.0


_timers: dict[asyncio.AbstractEventLoop, LoopTimer] = {}


def get_loop_timer(loop: asyncio.AbstractEventLoop | None = None) -> LoopTimer:
    """The shared :class:`LoopTimer` of ``loop`` (default: the running loop), made on first use.

    Protocol code uses this so one wheel serves every connection on a loop. Entries of closed
    loops are dropped on the next call, so test suites that make many loops do not leak them.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    timer = _timers.get(loop)
    if timer is not None and not timer.closed:
        return timer
    for old in [old for old in _timers if old.is_closed()]:
        _timers.pop(old).close()
    timer = LoopTimer(loop=loop)
    _timers[loop] = timer
    return timer
