"""Log lines an attacker can trigger at will, at most one per interval.

A peer that can make the process log (a failed TLS handshake, a malformed HTTP request, a
refused connection) can otherwise fill disks and drown the lines that matter, at no cost to
itself. `ThrottledLog` writes the first occurrence of each kind at once, then at most one
line per `interval` seconds per kind, saying how many it left out. Counting what happened
is the metrics' job; this only keeps the log readable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

__all__ = ["ThrottledLog"]


class ThrottledLog:
    __slots__ = ("_clock", "_interval", "_logger", "_state")

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._state: dict[str, tuple[float, int]] = {}
        """kind -> (when the last line was written, occurrences left out since)."""

    def log(
        self,
        level: int,
        kind: str,
        msg: str,
        *args: object,
        exc_info: BaseException | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> bool:
        """Write `msg % args` (with `exc_info`'s traceback, if given) unless a line of this
        `kind` was written less than `interval` seconds ago; True if written. `extra`: the
        record's fields, as for `logging.Logger.log` (``edge_id``, ``service_id``)."""
        now = self._clock()
        last = self._state.get(kind)
        if last is not None and now - last[0] < self._interval:
            self._state[kind] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        if len(self._state) >= 1024 and kind not in self._state:
            self._prune(now)
        self._state[kind] = (now, 0)
        if suppressed:
            msg += " (%d more like it in the last %.0f s)"
            args = (*args, suppressed, now - last[0] if last is not None else 0.0)
        self._logger.log(level, msg, *args, exc_info=exc_info, extra=extra)
        return True

    def warning(
        self, kind: str, msg: str, *args: object, extra: Mapping[str, object] | None = None
    ) -> bool:
        return self.log(logging.WARNING, kind, msg, *args, extra=extra)

    def info(
        self, kind: str, msg: str, *args: object, extra: Mapping[str, object] | None = None
    ) -> bool:
        return self.log(logging.INFO, kind, msg, *args, extra=extra)

    def _prune(self, now: float) -> None:
        """Kinds are few by design; if a caller makes them many, forget the quiet ones
        rather than grow (the table must be bounded like everything a peer can touch)."""
        for kind, (when, _) in list(self._state.items()):
            if now - when >= self._interval:
                del self._state[kind]
        if len(self._state) >= 1024:
            self._state.clear()
