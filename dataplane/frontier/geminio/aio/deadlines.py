"""Deadlines for operations that take several steps (wait for a connection, look up a
route, dial, call): a ``timeout`` is one budget for all of them, not a fresh one per step."""

from __future__ import annotations

import asyncio

from .errors import OperationTimeout

__all__ = ["deadline_in", "time_left"]


def deadline_in(timeout: float | None) -> float | None:
    """The loop time `timeout` seconds from now (None: no deadline)."""
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


def time_left(deadline: float | None) -> float | None:
    """Seconds to `deadline` (None: no deadline); `OperationTimeout` once it has passed."""
    if deadline is None:
        return None
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise OperationTimeout("the operation's timeout expired")
    return left
