"""Giving freed memory back to the system, now and then.

A closed connection's memory is freed at once (no reference cycles), but glibc's allocator
keeps freed memory in its heap for reuse, and a burst of TLS handshakes (each with
OpenSSL's state and the event loop's buffers) leaves the heap full of holes it never
returns: under TLS churn a gateway's RSS crept up by tens of MB and stayed there, while
the memory was free. `malloc_trim(0)` hands the free pages back (it releases whole free
pages anywhere in the heap, not only at its end). Calling it every few seconds costs
milliseconds; where there is no glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

__all__ = ["TRIM_INTERVAL", "malloc_trim", "trim_periodically"]

log = logging.getLogger("frontier.memory")

TRIM_INTERVAL = 10.0
"""Seconds between two `malloc_trim` calls of a daemon."""


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    with contextlib.suppress(OSError, AttributeError):
        function: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
        return function
    return None


_TRIM = _load_trim()


def malloc_trim() -> bool:
    """Return free heap memory to the system now; False where glibc is not in use."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


async def trim_periodically(interval: float = TRIM_INTERVAL) -> None:
    """Run `malloc_trim` every `interval` seconds until cancelled (a daemon's task)."""
    if _TRIM is None:
        log.debug("no malloc_trim here (not glibc): freed memory stays with the allocator")
        return
    while True:
        await asyncio.sleep(interval)
        malloc_trim()
