"""The per-ID lock: mutual exclusion per key, FIFO hand-off, cancelled waiters skipped,
and nothing kept once nobody holds or waits (one entry per key in use, none at rest)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.gateway.keyed_lock import KeyedLock


async def test_holders_of_one_key_take_turns_in_arrival_order() -> None:
    locks = KeyedLock()
    order: list[int] = []
    inside = 0

    async def worker(n: int) -> None:
        nonlocal inside
        async with locks.hold("k"):
            inside += 1
            assert inside == 1
            order.append(n)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(worker(n) for n in range(10)))
    assert order == list(range(10))
    assert len(locks) == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    locks = KeyedLock()
    async with locks.hold(1):
        async with asyncio.timeout(1):
            async with locks.hold(2):
                assert len(locks) == 2
    assert len(locks) == 0


async def test_a_cancelled_waiter_is_skipped_and_a_cancelled_heir_passes_it_on() -> None:
    locks = KeyedLock()
    entered: list[str] = []

    async def take(name: str) -> None:
        async with locks.hold("k"):
            entered.append(name)

    async with locks.hold("k"):
        a = asyncio.create_task(take("a"))
        b = asyncio.create_task(take("b"))
        c = asyncio.create_task(take("c"))
        await asyncio.sleep(0)
        a.cancel()  # while waiting
        await asyncio.sleep(0)
    b.cancel()  # handed the key as it is cancelled: it must pass it on to c
    await asyncio.gather(a, b, c, return_exceptions=True)
    assert entered == ["c"]
    assert len(locks) == 0


@settings(max_examples=50, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.booleans()), min_size=1, max_size=30
    )
)
def test_exclusion_and_cleanup_under_any_schedule(plan: list[tuple[int, int, bool]]) -> None:
    """Workers (key, yields inside, cancelled early?) in any mix: never two inside one key,
    every uncancelled worker gets in, and the table is empty at the end."""

    async def main() -> None:
        locks = KeyedLock()
        inside: dict[int, int] = {}
        done: list[int] = []

        async def worker(i: int, key: int, yields: int) -> None:
            async with locks.hold(key):
                inside[key] = inside.get(key, 0) + 1
                assert inside[key] == 1
                for _ in range(yields):
                    await asyncio.sleep(0)
                inside[key] -= 1
                done.append(i)

        tasks = [asyncio.create_task(worker(i, k, y)) for i, (k, y, _) in enumerate(plan)]
        await asyncio.sleep(0)
        for task, (_, _, cancel) in zip(tasks, plan, strict=True):
            if cancel:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            if not isinstance(result, BaseException):
                assert i in done
        assert len(locks) == 0

    asyncio.run(main())
