"""Stateful property test: the wheel against a trivially correct model.

The model is a plain list of deadlines with exact rational arithmetic. Times are multiples of
1/256 s (a quarter tick) and the tick is 1/64 s, so the wheel's floats are exact too and both
must agree exactly: which timers fire at each advance, in deadline order, with the zero-delay
ones first. Small geometries (2-8 slots x 1-3 levels, horizons of 2 to 512 ticks) put delays
of up to 3 s (192 ticks) across every level, through cascades and beyond the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from frontier.timer import TimerHandle, TimingWheel
from support.timers import VirtualClock

TICK = Fraction(1, 64)
UNIT = Fraction(1, 256)

# Small values (a few ticks) as often as large ones: level 0 has only 4 slots, and the
# interesting states are timers a few ticks apart with advances landing between them.
delays = st.one_of(
    st.integers(min_value=0, max_value=4 * 8), st.integers(min_value=0, max_value=3 * 256)
).map(lambda n: n * UNIT)
steps = st.one_of(
    st.integers(min_value=0, max_value=4 * 4), st.integers(min_value=0, max_value=2 * 256)
).map(lambda n: n * UNIT)


@dataclass
class ModelTimer:
    ident: int
    when: Fraction
    period: Fraction | None
    anchor: Fraction
    count: int = 1
    alive: bool = True
    immediate: bool = False  # added or reset with delay 0: runs first on the next advance


class WheelVersusModel(RuleBasedStateMachine):
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.now = Fraction(0)
        self.clock = VirtualClock(0.0)
        self.wheel = TimingWheel(tick=float(TICK), clock=self.clock, origin=0.0)
        self.model: dict[int, ModelTimer] = {}
        self.immediate_order: list[int] = []
        self.fired: list[int] = []
        self.next_id = 0

    # -- model helpers -------------------------------------------------------------------------

    def _expiry_tick(self, when: Fraction) -> int:
        return math.floor(when / TICK) + 1

    def _schedule(self, timer: ModelTimer, delay: Fraction) -> None:
        timer.alive = True
        timer.when = self.now + delay
        if timer.period is not None:
            timer.period = delay
            timer.anchor = self.now
            timer.count = 1
        if timer.ident in self.immediate_order:
            self.immediate_order.remove(timer.ident)
        timer.immediate = delay == 0
        if timer.immediate:
            self.immediate_order.append(timer.ident)

    # -- rules -----------------------------------------------------------------------------------

    @initialize(slots=st.sampled_from([2, 4, 8]), levels=st.integers(min_value=1, max_value=3))
    def geometry(self, slots: int, levels: int) -> None:
        self.wheel = TimingWheel(
            tick=float(TICK), slots=slots, levels=levels, clock=self.clock, origin=0.0
        )

    @rule(target=handles, delay=delays, cyclic=st.booleans())
    def add(self, delay: Fraction, cyclic: bool) -> tuple[int, TimerHandle] | None:
        if cyclic and delay == 0:
            with pytest.raises(ValueError, match="period"):
                self.wheel.add(0, self.fired.append, -1, cyclic=True)
            return None
        ident = self.next_id
        self.next_id += 1
        handle = self.wheel.add(float(delay), self.fired.append, ident, cyclic=cyclic)
        timer = ModelTimer(ident, self.now, delay if cyclic else None, self.now)
        self.model[ident] = timer
        self._schedule(timer, delay)
        return (ident, handle)

    @rule(entry=handles)
    def cancel(self, entry: tuple[int, TimerHandle] | None) -> None:
        if entry is None:
            return
        ident, handle = entry
        timer = self.model[ident]
        assert handle.cancel() is timer.alive
        timer.alive = False
        if ident in self.immediate_order:
            self.immediate_order.remove(ident)

    @rule(entry=consumes(handles))
    def forget(self, entry: tuple[int, TimerHandle] | None) -> None:
        """Drop a handle from the bundle so that bundles stay small and varied."""

    @rule(entry=handles, delay=delays)
    def reset(self, entry: tuple[int, TimerHandle] | None, delay: Fraction) -> None:
        if entry is None:
            return
        ident, handle = entry
        timer = self.model[ident]
        if timer.period is not None and delay == 0:
            with pytest.raises(ValueError, match="period"):
                handle.reset(0)
            return
        handle.reset(float(delay))
        self._schedule(timer, delay)

    @rule(step=steps)
    def advance(self, step: Fraction) -> None:
        self.now += step
        self.clock.now = float(self.now)
        assert self.clock.now == self.now  # exact: the whole test relies on it
        last_tick = math.floor(self.now / TICK)

        immediate = list(self.immediate_order)
        self.immediate_order.clear()
        due = [
            t
            for t in self.model.values()
            if t.alive and not t.immediate and self._expiry_tick(t.when) <= last_tick
        ]
        due.sort(key=lambda t: t.when)
        fired_when = {i: self.model[i].when for i in immediate}
        fired_when.update({t.ident: t.when for t in due})

        self.fired.clear()
        count = self.wheel.advance(self.clock.now)
        actual = list(self.fired)

        assert count == len(actual)
        assert actual[: len(immediate)] == immediate
        rest = actual[len(immediate) :]
        assert sorted(rest) == sorted(t.ident for t in due)
        whens = [fired_when[i] for i in rest]
        assert whens == sorted(whens), "timers fired out of deadline order"
        for ident in actual:
            assert fired_when[ident] <= self.now, "fired early"

        for ident in immediate + rest:
            timer = self.model[ident]
            timer.immediate = False
            if timer.period is None:
                timer.alive = False
            else:
                k = timer.count + 1
                while timer.anchor + k * timer.period <= self.now:
                    k += 1
                timer.count = k
                timer.when = timer.anchor + k * timer.period

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def pending_count_matches(self) -> None:
        assert len(self.wheel) == sum(1 for t in self.model.values() if t.alive)

    @invariant()
    def next_wakeup_is_never_after_the_next_expiry(self) -> None:
        alive = [t for t in self.model.values() if t.alive]
        wake = self.wheel.next_wakeup()
        if not alive:
            assert wake is None
            return
        assert wake is not None
        if any(t.immediate for t in alive):
            assert wake <= self.clock.now
        else:
            first = min(self._expiry_tick(t.when) for t in alive)
            assert wake <= float(first * TICK)


WheelVersusModel.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None
)
TestWheelVersusModel = WheelVersusModel.TestCase
