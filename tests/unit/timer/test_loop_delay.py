"""`loop_delay`: what the loop timers hand to `call_later` (frontier.timer.loop)."""

from __future__ import annotations

import pytest

from frontier.timer.loop import loop_delay


@pytest.mark.parametrize(
    ("seconds", "delay"),
    [(-1.0, 0.0), (0.0, 0.0), (1e-9, 0.001), (0.0004, 0.001), (0.001, 0.001), (0.0011, 0.002)],
)
def test_loop_delays_are_whole_milliseconds_rounded_up(seconds: float, delay: float) -> None:
    # uvloop rounds to the nearest millisecond: 0.4 ms became 0, and re-arming for the rest
    # of a deadline spun the loop until it passed
    assert loop_delay(seconds) == pytest.approx(delay)
