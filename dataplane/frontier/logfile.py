"""A log file rotated by size, with lumberjack's rules (what the Go daemons' ``log.file.*``
keys configure), on the standard library's `RotatingFileHandler`.

- ``max_size`` megabytes: a line that would take the file to that size first moves the
  file aside as ``<name>-<UTC time>.<ext>`` (``frontier-2024-05-01T10-00-00.000.log``,
  lumberjack's names) and starts a new one (0 means 100, as lumberjack);
- ``max_backups``: at most this many backups are kept, the newest (0: keep them all);
- ``max_age`` days: backups older than this are removed (0: no age limit);
- ``compress``: backups are gzipped (``....log.gz``).

Compressing 100 MB takes seconds, and the line that triggered the rotation is written on
the event loop's thread, so compression and pruning run in one background thread
("milling", as lumberjack calls it). They also run at start-up, which applies the limits to
what an earlier process left. `close()` (called by `logging.shutdown` at exit) waits for a
mill in progress so a clean exit leaves no half-compressed file; one cut short by a kill is
redone at the next start. Two processes must not share one path.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import logging.handlers
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["MIB", "RotatingLogFile"]

MIB = 1024 * 1024
_STAMP = "%Y-%m-%dT%H-%M-%S"
_CLOSE_WAIT = 30.0
"""Seconds `close()` waits for a compression in progress."""


class RotatingLogFile(logging.handlers.RotatingFileHandler):
    """Size-rotated log file with lumberjack's naming, retention and compression."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_size_mb: int = 100,
        max_backups: int = 5,
        max_age_days: int = 30,
        compress: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Opens (creating its directory) at once, so an unusable path fails here, at
        start-up, as an `OSError` naming it."""
        if max_size_mb < 0 or max_backups < 0 or max_age_days < 0:
            raise ValueError("log file limits must not be negative")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.compress = compress
        self._clock = clock
        self._mill_lock = threading.Lock()
        self._mill_thread: threading.Thread | None = None
        self._mill_again = False
        super().__init__(
            self.path,
            maxBytes=(max_size_mb or 100) * MIB,
            backupCount=0,
            encoding="utf-8",
        )
        self._mill()

    # -- rotation ------------------------------------------------------------------------

    def doRollover(self) -> None:
        """Move the file aside under a timestamped name and start a new one (called with
        the handler's lock held, from `emit`)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.path.exists():
            os.replace(self.path, self._backup_name())
        self.stream = self._open()
        self._mill()

    def _backup_name(self) -> Path:
        now = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)
        stamp = now.strftime(_STAMP) + f".{now.microsecond // 1000:03d}"
        stem, suffix = _split(self.path.name)
        candidate = self.path.with_name(f"{stem}-{stamp}{suffix}")
        extra = 1
        while candidate.exists() or Path(f"{candidate}.gz").exists():  # same millisecond
            candidate = self.path.with_name(f"{stem}-{stamp}.{extra}{suffix}")
            extra += 1
        return candidate

    # -- milling: compression and retention, in one background thread ----------------------

    def _mill(self) -> None:
        with self._mill_lock:
            if self._mill_thread is not None:
                self._mill_again = True  # the running mill goes round once more
                return
            self._mill_thread = threading.Thread(
                target=self._mill_loop, name="log-file-mill", daemon=True
            )
            self._mill_thread.start()

    def _mill_loop(self) -> None:
        while True:
            try:
                self.mill_once()
            except OSError:
                self.handleError(logging.makeLogRecord({"msg": "log file milling failed"}))
            with self._mill_lock:  # decided under the lock `_mill` takes: no request lost
                if not self._mill_again:
                    self._mill_thread = None
                    return
                self._mill_again = False

    def mill_once(self) -> None:
        """Compress and prune the backups now, in the calling thread."""
        backups = self.backups()
        keep = backups
        if self.max_backups:
            keep = backups[: self.max_backups]
        if self.max_age_days:
            cutoff = self._clock() - self.max_age_days * 86400
            keep = [b for b in keep if b.timestamp >= cutoff]
        kept = {b.path for b in keep}
        for backup in backups:
            if backup.path not in kept:
                for path in backup.files():
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        if self.compress:
            for backup in keep:
                if backup.path.exists():
                    _gzip(backup.path)
        for stale in self.path.parent.glob(f"{_split(self.path.name)[0]}-*.gz.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()  # left by a process killed while compressing

    def backups(self) -> list[Backup]:
        """This file's backups, newest first."""
        stem, suffix = _split(self.path.name)
        pattern = re.compile(
            re.escape(stem) + r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)\.(\d{3})(?:\.(\d+))?"
            + re.escape(suffix) + r"(\.gz)?"
        )  # fmt: skip
        found: dict[Path, Backup] = {}
        for entry in self.path.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match is None:
                continue
            plain = entry.with_name(entry.name.removesuffix(".gz"))
            when = datetime.datetime.strptime(match[1], _STAMP).replace(tzinfo=datetime.UTC)
            stamp = when.timestamp() + int(match[2]) / 1000
            found[plain] = Backup(plain, stamp, int(match[3] or 0))
        return sorted(found.values(), key=lambda b: (b.timestamp, b.extra), reverse=True)

    def close(self) -> None:
        thread = self._mill_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_CLOSE_WAIT)
        super().close()


class Backup:
    """One rotated file: ``path`` is its uncompressed name, whichever form exists."""

    __slots__ = ("extra", "path", "timestamp")

    def __init__(self, path: Path, timestamp: float, extra: int) -> None:
        self.path = path
        self.timestamp = timestamp
        self.extra = extra

    def files(self) -> list[Path]:
        return [self.path, Path(f"{self.path}.gz")]

    def __repr__(self) -> str:
        return f"<Backup {self.path.name}>"


def _split(name: str) -> tuple[str, str]:
    """``frontier.log`` -> (``frontier``, ``.log``); no extension -> (name, "")."""
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if stem else (name, "")


def _gzip(path: Path) -> None:
    """`path` -> `path`.gz, atomically (a temporary name, then rename), then remove it."""
    target = Path(f"{path}.gz")
    temporary = Path(f"{path}.gz.tmp")
    with path.open("rb") as source, gzip.open(temporary, "wb") as sink:
        shutil.copyfileobj(source, sink, MIB)
    with contextlib.suppress(OSError):
        shutil.copystat(path, temporary)
    os.replace(temporary, target)
    path.unlink()
