"""Connections leaving: which ones were kicked, and the cleanups that kicks wait for.

Both listeners close an older connection when a newer one claims its ID, and the newer one
may go on only after the older one's offline cleanup has finished. The offline hook
unregisters its entry before anything else, so at kick time "still registered" means "its
cleanup has not started". Nothing here is kept per idle connection: a kicked connection is
remembered, and a future created, only while a kick waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Generic, Protocol, TypeVar

from ..geminio.aio import End

__all__ = ["Departures"]


class _Entry(Protocol):
    @property
    def end(self) -> End: ...


E = TypeVar("E", bound=_Entry)


class Departures(Generic[E]):
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._kicked: dict[End, E] = {}
        self._cleaned: dict[End, asyncio.Future[None]] = {}

    def departing(self, end: End, current: E | None) -> E | None:
        """For the offline hook: the entry whose cleanup this is, `current` (the registered
        entry for the connection's ID) when it is this connection's, else the kicked one;
        None when there is nothing to clean up."""
        if current is not None and current.end is end:
            return current
        return self._kicked.pop(end, None)

    def begin(self, end: End) -> None:
        """An asynchronous cleanup starts: a kick arriving now must wait for `finish`."""
        if end not in self._cleaned:
            self._cleaned[end] = asyncio.get_running_loop().create_future()

    def finish(self, end: End) -> None:
        cleaned = self._cleaned.pop(end, None)
        if cleaned is not None and not cleaned.done():
            cleaned.set_result(None)

    def abandon(self, entry: E) -> None:
        """Close a replaced connection without waiting; its cleanup still runs."""
        self._kicked[entry.end] = entry
        entry.end.abort()

    async def kick(self, entry: E, *, registered: bool) -> None:
        """Close `entry`'s connection now and wait (up to `timeout`) until its cleanup has
        finished; `registered`: the caller just unregistered it (its cleanup had not
        started)."""
        end = entry.end
        cleaned = self._cleaned.get(end)  # present while its cleanup runs
        if cleaned is None:
            if not registered:  # its cleanup has finished
                end.abort()
                return
            self._kicked[end] = entry
            cleaned = self._cleaned[end] = asyncio.get_running_loop().create_future()
        end.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(cleaned), self.timeout)
