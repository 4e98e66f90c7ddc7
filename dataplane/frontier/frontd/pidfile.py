"""The pid file: written when frontd starts, removed when it stops.

A pid file naming a live process is "already running" (frontd refuses to start rather than
overwrite it); one naming a dead process is stale and replaced. The file is written whole
(temporary file + rename), so a reader never sees half a pid.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["PidFile"]


class PidFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._written = False

    def acquire(self) -> None:
        """Write our pid; `OSError` if another live process holds the file."""
        other = self._holder()
        if other is not None and other != os.getpid():
            raise OSError(f"pid file {self.path} names process {other}, which is running")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, self.path)
        self._written = True

    def release(self) -> None:
        """Remove the file if it still names us."""
        if self._written and self._holder() == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()
        self._written = False

    def _holder(self) -> int | None:
        try:
            pid = int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None  # stale
        except PermissionError:
            return pid  # alive, someone else's
        return pid
