"""Logging set-up shared by the ``frontier`` and ``frontlas`` commands: text or JSON lines.

stdlib ``logging`` only (no print). JSON output is one object per line, so log shippers
(Fluent Bit, Vector, Loki's promtail) parse it without multiline rules; exceptions travel in
one ``exc`` field instead of spilling over several lines.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Literal, TextIO

__all__ = ["LEVELS", "JSONFormatter", "configure_logging"]

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


def configure_logging(
    level: str = "info",
    fmt: Literal["text", "json"] = "text",
    stream: TextIO | None = None,
) -> None:
    """Route the root logger to ``stream`` (stderr by default) at ``level`` in ``fmt``.

    Replaces handlers installed earlier, so calling it twice (flags after config) is safe.
    """
    try:
        numeric = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}") from None
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    elif fmt == "text":
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    else:
        raise ValueError(f"unknown log format {fmt!r}; use text or json")
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
