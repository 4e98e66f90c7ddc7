"""The asyncio driver, on the default loop and on uvloop. Waits on events, never on sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from frontier.timer import LoopTimer, get_loop_timer
from support.loops import LOOPS, LoopFactory
from support.loops import run as run_on

pytestmark = pytest.mark.parametrize("loop_factory", LOOPS)


def run(loop_factory: LoopFactory, coro: Coroutine[Any, Any, None]) -> None:
    run_on(loop_factory, coro, timeout=20)


def test_fires_after_delay_never_early(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with LoopTimer() as timers:
            done = asyncio.Event()
            fired_at: list[float] = []
            start = time.monotonic()
            timers.add(0.05, lambda: (fired_at.append(time.monotonic()), done.set()))
            await done.wait()
            assert fired_at[0] - start >= 0.05

    run(loop_factory, main())


def test_timers_fire_in_deadline_order(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with LoopTimer() as timers:
            order: list[float] = []
            done = asyncio.Event()
            for delay in (0.04, 0.01, 0.03, 0.02, 0.0):
                timers.add(delay, order.append, delay)
            timers.add(0.05, done.set)
            await done.wait()
            assert order == [0.0, 0.01, 0.02, 0.03, 0.04]

    run(loop_factory, main())


def test_earlier_add_re_arms_the_loop_timer(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with LoopTimer() as timers:
            timers.add(3600.0, lambda: None)
            first = timers.armed_at
            assert first is not None
            done = asyncio.Event()
            timers.add(0.02, done.set)
            assert timers.armed_at is not None
            assert timers.armed_at < first
            await done.wait()

    run(loop_factory, main())


def test_sleeps_until_the_next_slot_and_is_idle_when_empty(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with LoopTimer(tick=0.01) as timers:
            assert timers.armed_at is None
            wakeups = 0
            original = timers._on_loop_timer

            def counting() -> None:
                nonlocal wakeups
                wakeups += 1
                original()

            timers._on_loop_timer = counting  # type: ignore[method-assign]
            done = asyncio.Event()
            start = time.monotonic()
            timers.add(0.3, done.set)
            armed = timers.armed_at
            assert armed is not None
            assert start + 0.3 <= armed <= start + 0.3 + 0.011  # one wake-up, not 30 ticks
            await done.wait()
            assert wakeups <= 2  # the expiry (+1 if the loop timer fired a hair early)
            assert timers.armed_at is None  # empty wheel: no loop timer at all
            assert len(timers) == 0

    run(loop_factory, main())


def test_cyclic_and_cancel_from_callback(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with LoopTimer() as timers:
            done = asyncio.Event()
            count = 0

            def tick() -> None:
                nonlocal count
                count += 1
                if count == 3:
                    handle.cancel()
                    done.set()

            handle = timers.add(0.01, tick, cyclic=True)
            await done.wait()
            assert not handle.pending
            assert count == 3

    run(loop_factory, main())


def test_raising_callback_does_not_stop_the_driver(
    loop_factory: LoopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with LoopTimer() as timers:
            done = asyncio.Event()

            def boom() -> None:
                raise ValueError("boom")

            timers.add(0.01, boom)
            timers.add(0.02, done.set)
            await done.wait()

    run(loop_factory, main())
    assert any(r.name == "frontier.timer" and r.exc_info for r in caplog.records)


def test_close_cancels_everything_and_refuses_adds(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        timers = LoopTimer()
        handle = timers.add(0.01, pytest.fail, "must not fire")
        timers.close()
        assert timers.closed
        assert not handle.pending
        assert timers.armed_at is None
        with pytest.raises(RuntimeError, match="closed"):
            timers.add(0.01, lambda: None)
        timers.close()  # idempotent
        # A later timer on the plain loop proves the cancelled one had its chance and did not run.
        done = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, done.set)
        await done.wait()

    run(loop_factory, main())


def test_get_loop_timer_is_one_per_loop(loop_factory: LoopFactory) -> None:
    seen: list[LoopTimer] = []

    async def main() -> None:
        timer = get_loop_timer()
        assert get_loop_timer() is timer
        assert timer.loop is asyncio.get_running_loop()
        seen.append(timer)
        done = asyncio.Event()
        timer.add(0.01, done.set)
        await done.wait()

    run(loop_factory, main())
    run(loop_factory, main())
    assert seen[0] is not seen[1]
    assert seen[0].closed  # its loop closed: dropped when the next loop asked for a timer
