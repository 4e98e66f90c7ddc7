"""Behaviour of the pure timing wheel on a virtual clock."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import frontier.timer.wheel
from frontier.timer import MAX_DELAY, TimingWheel
from support.source_modules import load_source
from support.timers import Recorder, VirtualClock


def interpreted_wheel_module() -> ModuleType:
    """wheel.py loaded from its source as a module of its own, whichever build is installed:
    a test that counts what the wheel does by overriding one of its methods needs a class
    that interpreted code may subclass, which a compiled one is not."""
    source = Path(frontier.timer.wheel.__file__).with_name("wheel.py")
    return load_source("_interpreted_wheel", source)


def step_until(wheel: TimingWheel, clock: VirtualClock, end: float, step: float) -> None:
    """Advance in small steps, as a driver would, so firing times are observable."""
    while clock.now < end:
        clock.now = min(end, clock.now + step)
        wheel.advance(clock.now)


# -- timing rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delay",
    [0.0001, 0.005, 0.01, 0.0100001, 0.015, 0.5, 2.55, 2.56, 2.57, 30.0, 700.0, 655.37],
)
def test_fires_never_early_and_at_most_one_tick_late(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder, delay: float
) -> None:
    start = clock.now
    wheel.add(delay, rec, "t")
    step_until(wheel, clock, start + delay + 0.05, 0.001)
    assert rec.labels == ["t"]
    fired_at = rec.calls[0][1]
    assert fired_at >= start + delay
    assert fired_at <= start + delay + wheel.tick + 0.001  # + one driver step


@settings(max_examples=200, deadline=None)
@given(
    start=st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    delays=st.lists(st.floats(min_value=0.0, max_value=3000.0), min_size=1, max_size=20),
    nows=st.lists(st.floats(min_value=0.0, max_value=3100.0), min_size=1, max_size=30),
)
def test_never_early_with_arbitrary_floats(
    start: float, delays: list[float], nows: list[float]
) -> None:
    """No rounding of the tick arithmetic ever lets a timer fire before its deadline."""
    clock = VirtualClock(start)
    wheel = TimingWheel(tick=0.01, clock=clock)
    fired: list[tuple[float, float]] = []
    for delay in delays:
        wheel.add(delay, lambda d=delay: fired.append((d, clock.now)))
    for offset in sorted(nows):
        clock.now = start + offset
        wheel.advance(clock.now)
        for delay, at in fired:
            assert at >= start + delay or delay == 0.0
        # Everything due a full tick ago has fired (give or take float ulps of the clock).
        due = sum(1 for d in delays if start + d + wheel.tick + 1e-6 <= clock.now)
        assert len(fired) >= due


def test_add_zero_fires_on_next_advance_even_without_time_passing(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    wheel.advance(clock.now)
    wheel.add(0, rec, "zero")
    assert wheel.advance(clock.now) == 1
    assert rec.labels == ["zero"]
    assert wheel.advance(clock.now) == 0


def test_zero_delay_runs_before_timers_found_due(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    wheel.add(0.05, rec, "later")
    clock.now += 1.0
    wheel.add(0, rec, "now")
    wheel.advance(clock.now)
    assert rec.labels == ["now", "later"]


@pytest.mark.parametrize("delay", [-1.0, -1e-9, math.nan, math.inf, -math.inf, MAX_DELAY * 2])
def test_invalid_delays_raise(wheel: TimingWheel, rec: Recorder, delay: float) -> None:
    with pytest.raises(ValueError, match="delay"):
        wheel.add(delay, rec)
    handle = wheel.add(1.0, rec)
    with pytest.raises(ValueError, match="delay"):
        handle.reset(delay)
    assert handle.pending  # a refused reset leaves the timer as it was


def test_cyclic_needs_positive_period(wheel: TimingWheel, rec: Recorder) -> None:
    with pytest.raises(ValueError, match="period"):
        wheel.add(0, rec, cyclic=True)
    handle = wheel.add(1.0, rec, cyclic=True)
    with pytest.raises(ValueError, match="period"):
        handle.reset(0)


@pytest.mark.parametrize(
    ("tick", "slots", "levels"), [(0.0, 256, 4), (-1.0, 256, 4), (0.01, 3, 4), (0.01, 256, 0)]
)
def test_bad_geometry_raises(tick: float, slots: int, levels: int) -> None:
    with pytest.raises(ValueError, match=r"tick|slots|levels"):
        TimingWheel(tick, slots, levels)


def test_deadline_order_within_one_tick_and_across_ticks(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    for delay in [0.009, 0.001, 0.005, 0.003, 0.031, 0.017, 0.025, 0.011]:
        wheel.add(delay, rec, delay)
    clock.now += 1.0
    assert wheel.advance(clock.now) == 8
    assert rec.labels == sorted(rec.labels)  # type: ignore[type-var]


def test_advance_returns_the_number_fired(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    for i in range(5):
        wheel.add(0.1 * (i + 1), rec, i)
    clock.now += 0.25
    assert wheel.advance(clock.now) == 2
    clock.now += 1
    assert wheel.advance(clock.now) == 3


# -- cancel and reset -------------------------------------------------------------------------


def test_cancel_prevents_firing_and_reports_state(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    handle = wheel.add(0.5, rec, "x")
    assert handle.pending
    assert handle.cancel() is True
    assert not handle.pending
    assert handle.cancel() is False
    clock.now += 1
    wheel.advance(clock.now)
    assert rec.calls == []
    assert len(wheel) == 0


def test_cancel_after_firing_is_false_and_harmless(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    handle = wheel.add(0.1, rec, "x")
    other = wheel.add(0.2, rec, "y")
    clock.now += 0.15
    wheel.advance(clock.now)
    assert handle.cancel() is False
    clock.now += 0.1
    wheel.advance(clock.now)
    assert rec.labels == ["x", "y"]
    assert not other.pending


def test_cancel_of_a_timer_due_in_the_same_advance_from_a_callback(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    victim = wheel.add(0.002, rec, "victim")  # same tick as the killer, later deadline
    wheel.add(0.001, lambda: rec("killer") or victim.cancel())
    wheel.add(0.5, lambda: rec("far-killer") or far.cancel())
    far = wheel.add(0.9, rec, "far")
    clock.now += 1.0
    wheel.advance(clock.now)
    assert rec.labels == ["killer", "far-killer"]


def test_cyclic_timer_cancels_itself_from_its_callback(
    wheel: TimingWheel, clock: VirtualClock
) -> None:
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count == 3:
            assert handle.cancel() is True

    handle = wheel.add(0.1, tick, cyclic=True)
    step_until(wheel, clock, clock.now + 2.0, 0.01)
    assert count == 3
    assert not handle.pending


def test_reset_from_callback_re_arms(wheel: TimingWheel, clock: VirtualClock) -> None:
    times: list[float] = []

    def again() -> None:
        times.append(clock.now)
        if len(times) < 3:
            handle.reset(0.2)

    start = clock.now
    handle = wheel.add(0.1, again)
    step_until(wheel, clock, start + 1.0, 0.005)
    assert len(times) == 3
    assert times[1] - times[0] >= 0.2
    assert times[2] - times[1] >= 0.2


def test_reset_later_is_honoured(wheel: TimingWheel, clock: VirtualClock, rec: Recorder) -> None:
    start = clock.now
    handle = wheel.add(1.0, rec, "hb")
    for _ in range(50):  # a heartbeat re-armed on every packet
        step_until(wheel, clock, clock.now + 0.1, 0.01)
        handle.reset(1.0)
    assert rec.calls == []
    step_until(wheel, clock, clock.now + 1.05, 0.01)
    assert rec.labels == ["hb"]
    assert rec.calls[0][1] >= start + 5.0 + 1.0


def test_reset_earlier_fires_earlier(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    start = clock.now
    handle = wheel.add(100.0, rec, "x")
    wheel.advance(clock.now)  # filed into level 1
    handle.reset(0.5)
    step_until(wheel, clock, start + 1.0, 0.01)
    assert rec.labels == ["x"]
    assert start + 0.5 <= rec.calls[0][1] <= start + 0.52


def test_reset_of_fired_or_cancelled_timer_re_arms(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    handle = wheel.add(0.1, rec, "a")
    step_until(wheel, clock, clock.now + 0.2, 0.01)
    handle.reset(0.1)
    step_until(wheel, clock, clock.now + 0.2, 0.01)
    handle.cancel()
    handle.reset(0.1)
    step_until(wheel, clock, clock.now + 0.2, 0.01)
    assert rec.labels == ["a", "a", "a"]


def test_reset_to_zero_fires_on_next_advance(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    handle = wheel.add(10.0, rec, "x")
    wheel.advance(clock.now)
    handle.reset(0)
    assert wheel.advance(clock.now) == 1


# -- callbacks misbehaving ------------------------------------------------------------------


def test_raising_callback_is_logged_and_the_wheel_carries_on(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    wheel.add(0.01, rec, "before")
    wheel.add(0.02, boom)
    wheel.add(0.03, rec, "after")
    with caplog.at_level(logging.ERROR, logger="frontier.timer"):
        clock.now += 1
        assert wheel.advance(clock.now) == 3
    assert rec.labels == ["before", "after"]
    assert any("boom" in r.getMessage() or r.exc_info for r in caplog.records)
    wheel.add(0.01, rec, "next")
    clock.now += 1
    wheel.advance(clock.now)
    assert rec.labels[-1] == "next"


def test_advance_from_a_callback_is_refused(wheel: TimingWheel, clock: VirtualClock) -> None:
    errors: list[BaseException] = []

    def reenter() -> None:
        try:
            wheel.advance(clock.now)
        except RuntimeError as exc:
            errors.append(exc)

    wheel.add(0.01, reenter)
    clock.now += 1
    wheel.advance(clock.now)
    assert len(errors) == 1


def test_base_exception_propagates_without_losing_the_rest_of_the_batch(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    wheel.add(0.001, interrupt)
    wheel.add(0.002, rec, "a")
    wheel.add(0.003, rec, "b")
    clock.now += 0.05
    with pytest.raises(KeyboardInterrupt):
        wheel.advance(clock.now)
    assert wheel.advance(clock.now) == 2
    assert rec.labels == ["a", "b"]


def test_add_zero_from_callback_waits_for_the_next_advance(
    wheel: TimingWheel, clock: VirtualClock
) -> None:
    count = 0

    def respawn() -> None:
        nonlocal count
        count += 1
        wheel.add(0, respawn)

    wheel.add(0, respawn)
    assert wheel.advance(clock.now) == 1
    assert wheel.advance(clock.now) == 1
    assert count == 2


def test_timer_added_by_callback_and_due_in_the_same_advance_fires(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    wheel.add(0.01, lambda: wheel.add(0.05, rec, "child"))
    clock.now += 0.02
    wheel.advance(clock.now)  # parent fires; the child is due at +0.06
    clock.now += 1.0
    wheel.advance(clock.now)
    assert rec.labels == ["child"]


# -- cyclic -------------------------------------------------------------------------------------


def test_cyclic_keeps_phase_without_drift(wheel: TimingWheel, clock: VirtualClock) -> None:
    start = clock.now
    fired: list[float] = []
    handle = wheel.add(0.1, lambda: fired.append(handle.when), cyclic=True)
    # Advance at irregular, late moments: firings stay on start + k * period.
    step_until(wheel, clock, start + 1000.0, 0.037)
    assert len(fired) == 9999 or len(fired) == 10000
    # handle.when inside the callback is already the next expiry.
    for k, when in enumerate(fired, start=2):
        assert when == pytest.approx(start + k * 0.1, abs=1e-9)


def test_cyclic_skips_periods_missed_while_stalled(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    start = clock.now
    handle = wheel.add(0.1, rec, "c", cyclic=True)
    clock.now = start + 1.05  # the loop stalled for ten periods
    assert wheel.advance(clock.now) == 1
    assert handle.when == pytest.approx(start + 1.1)
    clock.now = start + 1.12
    assert wheel.advance(clock.now) == 1


def test_cyclic_reset_changes_period(wheel: TimingWheel, clock: VirtualClock) -> None:
    start = clock.now
    times: list[float] = []
    handle = wheel.add(0.1, lambda: times.append(clock.now), cyclic=True)
    step_until(wheel, clock, start + 0.35, 0.01)
    assert len(times) == 3
    handle.reset(0.5)
    assert handle.period == 0.5
    step_until(wheel, clock, start + 1.9, 0.01)
    assert len(times) == 6
    assert times[3] - start >= 0.85


# -- structure: levels, cascades, horizon, jumps -----------------------------------------------


@pytest.mark.parametrize("ticks", [1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 200, 1000])
def test_cascades_fire_at_the_exact_tick(ticks: int) -> None:
    """A tiny wheel (4 slots x 3 levels = 64 ticks horizon) exercises every cascade path."""
    clock = VirtualClock(0.0)
    wheel = TimingWheel(tick=1.0, slots=4, levels=3, clock=clock)
    fired: list[float] = []
    clock.now = 0.5  # mid-tick phase
    wheel.advance(clock.now)
    wheel.add(ticks - 0.25, lambda: fired.append(clock.now))
    for step in range(ticks + 3):
        clock.now = 0.5 + step
        wheel.advance(clock.now)
    # Due at ticks + 0.25: the first tick boundary after that is ticks + 1, and the first
    # advance past it is at ticks + 1.5.
    assert fired == [ticks + 1.5]


def test_beyond_the_horizon_still_fires_on_time() -> None:
    clock = VirtualClock(0.0)
    wheel = TimingWheel(tick=0.01, slots=16, levels=2, clock=clock)  # horizon 2.56 s
    fired: list[float] = []
    wheel.add(1000.0, lambda: fired.append(clock.now))
    assert wheel.horizon == pytest.approx(2.56)
    clock.now = 999.99
    wheel.advance(clock.now)
    assert fired == []
    clock.now = 1000.01
    wheel.advance(clock.now)
    assert fired == [1000.01]


def test_advance_jumps_over_empty_ticks() -> None:
    """An hour of idle ticks is one step, not 360 000."""
    clock = VirtualClock(0.0)
    processed: list[int] = []

    class Counting(interpreted_wheel_module().TimingWheel):  # type: ignore[misc,name-defined]
        __slots__ = ()

        def _process_tick(self, t: int, now: float) -> int:
            processed.append(t)
            return super()._process_tick(t, now)

    wheel = Counting(tick=0.01, clock=clock)
    fired: list[float] = []
    wheel.add(3600.0, lambda: fired.append(clock.now))
    clock.now = 3600.5
    wheel.advance(clock.now)
    assert fired == [3600.5]
    assert len(processed) <= 4  # one cascade per level, then the expiry


def test_next_wakeup_tracks_the_next_event(wheel: TimingWheel, clock: VirtualClock) -> None:
    assert wheel.next_wakeup() is None
    handle = wheel.add(0.5, lambda: None)
    when = wheel.next_wakeup()
    assert when is not None
    assert clock.now + 0.5 <= when <= clock.now + 0.5 + wheel.tick
    handle.cancel()
    assert wheel.next_wakeup() is None  # stale bits are cleared, no spurious wake-up
    wheel.add(0, lambda: None)
    when = wheel.next_wakeup()
    assert when is not None
    assert when <= clock.now


def test_wakeup_callback_only_for_earlier_adds(wheel: TimingWheel, clock: VirtualClock) -> None:
    requests: list[float] = []
    wheel.set_wakeup_callback(requests.append)
    wheel.add(5.0, lambda: None)
    assert len(requests) == 1  # idle wheel: first add asks for a wake-up
    assert requests[0] >= clock.now + 5.0
    wheel.add(6.0, lambda: None)
    assert len(requests) == 1  # later: nothing to do
    wheel.add(1.0, lambda: None)
    assert len(requests) == 2
    assert clock.now + 1.0 <= requests[1] <= clock.now + 1.0 + wheel.tick
    late = wheel.add(50.0, lambda: None)
    late.reset(0.5)
    assert len(requests) == 3
    wheel.add(0, lambda: None)
    assert len(requests) == 4
    assert requests[3] <= clock.now
    wheel.set_wakeup_callback(None)
    wheel.add(0.001, lambda: None)
    assert len(requests) == 4


def test_len_and_clear(wheel: TimingWheel, clock: VirtualClock, rec: Recorder) -> None:
    handles = [wheel.add(d, rec, d) for d in (0.0, 0.05, 3.0, 700.0, 1e6)]
    assert len(wheel) == 5
    wheel.advance(clock.now)  # fires the zero-delay one, files the rest
    assert len(wheel) == 4
    wheel.clear()
    assert len(wheel) == 0
    assert not any(h.pending for h in handles)
    clock.now += 2e6
    wheel.advance(clock.now)
    assert rec.labels == [0.0]


def test_clear_from_a_callback_stops_the_rest_of_the_batch(
    wheel: TimingWheel, clock: VirtualClock, rec: Recorder
) -> None:
    wheel.add(0.001, wheel.clear)
    wheel.add(0.002, rec, "never")
    clock.now += 0.05
    wheel.advance(clock.now)
    assert rec.calls == []


def test_handle_repr_and_properties(wheel: TimingWheel) -> None:
    one = wheel.add(1.0, print)
    cyc = wheel.add(2.0, print, cyclic=True)
    assert not one.cyclic
    assert one.period is None
    assert cyc.cyclic
    assert cyc.period == 2.0
    assert "pending" in repr(one)
    assert "every 2.0s" in repr(cyc)
    one.cancel()
    assert "done" in repr(one)
    assert "pending=1" in repr(wheel)


def test_advance_keeps_the_drivers_arming(wheel: TimingWheel, clock: VirtualClock) -> None:
    """advance() leaves the driver armed where it was, so later adds do not re-arm it."""
    requests: list[float] = []
    wheel.set_wakeup_callback(requests.append)
    wheel.add(5.0, lambda: None)
    assert len(requests) == 1
    wheel.advance(clock.now)  # e.g. advanced by someone else: the driver is still set for +5 s
    wheel.add(6.0, lambda: None)
    wheel.add(5.5, lambda: None)
    assert len(requests) == 1


def test_registering_a_driver_on_a_busy_wheel_arms_it(
    wheel: TimingWheel, clock: VirtualClock
) -> None:
    wheel.add(0.1, lambda: None)
    requests: list[float] = []
    wheel.set_wakeup_callback(requests.append)
    assert len(requests) == 1
    assert clock.now + 0.1 <= requests[0] <= clock.now + 0.1 + wheel.tick


def test_the_drivers_own_advance_is_not_called_back_by_callbacks(
    wheel: TimingWheel, clock: VirtualClock
) -> None:
    """Adds made by callbacks are later than the wake-up being served: no call-back storm;
    the driver learns the next time from next_wakeup(), as it always does after advance()."""
    requests: list[float] = []
    wheel.set_wakeup_callback(requests.append)
    wheel.add(0, lambda: [wheel.add(0.2, lambda: None) for _ in range(100)])
    assert len(requests) == 1
    wheel.advance(clock.now)
    assert len(requests) == 1
    when = wheel.next_wakeup()
    assert when is not None
    assert clock.now + 0.2 <= when <= clock.now + 0.2 + wheel.tick
