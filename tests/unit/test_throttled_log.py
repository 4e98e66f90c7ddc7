"""ThrottledLog: the first line of a kind at once, then one per interval with the count."""

from __future__ import annotations

import logging

import pytest

from frontier.throttled_log import ThrottledLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_kind_and_interval_then_the_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    throttled = ThrottledLog(logging.getLogger("t"), 10.0, clock=clock)
    assert throttled.info("a", "first %s", 1)
    assert throttled.info("b", "other kind")  # kinds are throttled separately
    for _ in range(5):
        clock.now += 1
        assert not throttled.info("a", "again")
    clock.now += 5  # 10 s after the first line of kind a
    assert throttled.info("a", "later")
    assert [r.getMessage() for r in caplog.records] == [
        "first 1",
        "other kind",
        "later (5 more like it in the last 10 s)",
    ]


def test_a_traceback_travels_with_the_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    throttled = ThrottledLog(logging.getLogger("t"), 10.0, clock=Clock())
    failure = RuntimeError("boom")
    assert throttled.log(logging.ERROR, "k", "failed", exc_info=failure)
    assert not throttled.log(logging.ERROR, "k", "failed", exc_info=failure)
    (record,) = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is failure
