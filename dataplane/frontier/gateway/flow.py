"""In-flight accounting for forwards that run as tasks, with back-pressure on the source.

A gateway must not let one fast edge queue unbounded work towards a slow service. Each
source connection (or spliced stream) gets a `Flow`: while more than `limit` of its forwards
are in flight the source's socket is not read (TCP pushes back on the sender), and reading
resumes once half of them finished. That is the same policy as the End's own queues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from ..geminio.aio import End

__all__ = ["Flow"]


class Flow:
    __slots__ = ("_end", "_limit", "_paused", "inflight")

    def __init__(self, end: End, limit: int) -> None:
        self._end = end
        self._limit = limit
        self._paused = False
        self.inflight = 0

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task owned by the source End (cancelled if it goes away)."""
        self.hold()
        task = self._end.spawn(coro)
        task.add_done_callback(self._done)

    def hold(self) -> None:
        """Count a forward without a task as in flight, until its `release()`."""
        self.inflight += 1
        if not self._paused and self.inflight >= self._limit:
            self._paused = True
            self._end.pause_reading(self)

    def release(self) -> None:
        """A forward counted by `hold()` (or `spawn()`) is over."""
        self.inflight -= 1
        if self._paused and self.inflight <= self._limit // 2:
            self._paused = False
            self._end.resume_reading(self)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.release()
        if not task.cancelled() and task.exception() is not None:
            # forwards catch their own errors; anything else is a bug worth seeing
            loop = asyncio.get_running_loop()
            loop.call_exception_handler(
                {"message": "gateway forward failed", "exception": task.exception()}
            )
