"""The commands' logging: text or one JSON object per line, level filtering, extras kept."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from frontier.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_with_exception_and_extras() -> None:
    out = io.StringIO()
    configure_logging("debug", "json", out)
    log = logging.getLogger("frontier.test")
    log.info("edge %s online", 42, extra={"edge_id": 42})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("forward failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "edge 42 online"
    assert first["level"] == "info"
    assert first["logger"] == "frontier.test"
    assert first["edge_id"] == 42
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "error"
    assert "RuntimeError: boom" in second["exc"]


def test_text_format_and_level_filter() -> None:
    out = io.StringIO()
    configure_logging("warn", "text", out)
    logging.getLogger("frontier.test").info("hidden")
    logging.getLogger("frontier.test").warning("shown")
    text = out.getvalue()
    assert "hidden" not in text
    assert "WARNING frontier.test: shown" in text


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "text", first)
    configure_logging("info", "json", second)
    logging.getLogger("x").info("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["msg"] == "once"


@pytest.mark.parametrize(("level", "fmt"), [("loud", "text"), ("info", "xml")])
def test_bad_level_or_format_is_a_clear_error(level: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="unknown log"):
        configure_logging(level, fmt, io.StringIO())  # type: ignore[arg-type]
