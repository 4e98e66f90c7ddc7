"""One lock per key, held only while someone holds or waits for it.

Every edge's admission and departure takes its ID's lock, almost always uncontended: that
path costs a dict insert and delete, no `asyncio.Lock` and no generator-based context
manager (they were a tenth of the gateway's CPU per admitted edge). Waiters queue in
arrival order (FIFO) and are woken one at a time, as `asyncio.Lock` does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from types import TracebackType

__all__ = ["KeyedLock"]


class KeyedLock:
    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[Hashable, deque[asyncio.Future[None]] | None] = {}
        """Keys held -> futures of those waiting for them (None: nobody waits)."""

    def hold(self, key: Hashable) -> _Hold:
        """``async with locks.hold(key):`` runs the block while holding `key`."""
        return _Hold(self, key)

    def __len__(self) -> int:
        return len(self._held)

    def held(self, key: Hashable) -> bool:
        """Someone holds `key` (or waits for it) now."""
        return key in self._held

    def _acquire_now(self, key: Hashable) -> bool:
        if key in self._held:
            return False
        self._held[key] = None
        return True

    def _wait(self, key: Hashable) -> asyncio.Future[None]:
        waiters = self._held[key]
        if waiters is None:
            waiters = self._held[key] = deque()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        return waiter

    def _release(self, key: Hashable) -> None:
        """Hand the key to the next live waiter (it holds it from now on), or free it."""
        waiters = self._held.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        del self._held[key]


class _Hold:
    __slots__ = ("_key", "_locks")

    def __init__(self, locks: KeyedLock, key: Hashable) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        locks, key = self._locks, self._key
        if locks._acquire_now(key):
            return
        waiter = locks._wait(key)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                locks._release(key)  # handed to us as we were cancelled: pass it on
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._locks._release(self._key)
