"""Logging set-up shared by the ``frontier`` and ``frontlas`` commands: text or JSON lines,
to stdout, stderr, a rotated file, or stdout and the file (``log.output``).

stdlib ``logging`` only (no print). JSON output is one object per line, so log shippers
(Fluent Bit, Vector, Loki's promtail) parse it without multiline rules; exceptions travel in
one ``exc`` field instead of spilling over several lines. The file is a `RotatingLogFile`
(``log.file.*``: size rotation, backups by count and age, gzip), as upstream's lumberjack.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from dataclasses import dataclass
from typing import Literal, TextIO

from .logfile import RotatingLogFile

__all__ = ["LEVELS", "OUTPUTS", "JSONFormatter", "LogFileSettings", "configure_logging"]

Output = Literal["stdout", "stderr", "file", "both"]
OUTPUTS: tuple[Output, ...] = ("stdout", "stderr", "file", "both")

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

_TEXT_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else was passed through `extra=` and is kept.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """One JSON object per record: ts (RFC 3339, UTC), level, logger, msg, exc, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_")
        )
        return json.dumps(entry, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class LogFileSettings:
    """``log.file``: where the file is and how it rotates (see `frontier.logfile`)."""

    path: str
    max_size: int = 100
    max_backups: int = 5
    max_age: int = 30
    compress: bool = False


def configure_logging(
    level: str = "info",
    fmt: Literal["text", "json"] = "text",
    stream: TextIO | None = None,
    *,
    output: Output = "stderr",
    file: LogFileSettings | None = None,
) -> None:
    """Route the root logger at ``level`` in ``fmt`` to ``output``: ``stdout``, ``stderr``,
    ``file`` (``file.path``, rotated) or ``both`` (stdout and the file). ``stream``, when
    given, replaces the stdout/stderr stream (tests).

    Replaces (and closes) handlers installed earlier, so calling it twice is safe. A file
    that cannot be opened raises `OSError` naming it, before anything is changed.
    """
    try:
        numeric = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}") from None
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JSONFormatter()
    elif fmt == "text":
        formatter = logging.Formatter(_TEXT_FORMAT)
    else:
        raise ValueError(f"unknown log format {fmt!r}; use text or json")
    if output not in OUTPUTS:
        raise ValueError(f"unknown log output {output!r}; use one of {', '.join(OUTPUTS)}")
    handlers: list[logging.Handler] = []
    if output in ("file", "both"):
        if file is None or not file.path:
            raise ValueError(f"log output {output!r} needs log.file.path")
        handlers.append(
            RotatingLogFile(
                file.path,
                max_size_mb=file.max_size,
                max_backups=file.max_backups,
                max_age_days=file.max_age,
                compress=file.compress,
            )
        )
    if output != "file":
        default = sys.stderr if output == "stderr" else sys.stdout
        handlers.append(logging.StreamHandler(stream if stream is not None else default))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for old in _installed:
        old.close()  # ours only: a file handler holds a descriptor (and maybe a mill thread)
    _installed[:] = handlers
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(numeric)


_installed: list[logging.Handler] = []
