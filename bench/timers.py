"""Timing wheel vs ``loop.call_later`` + ``TimerHandle.cancel``, on uvloop and asyncio.

Cases, each measured for the wheel and for the loop's own timers in the same run:

- schedule: add N timers (30 s +- jitter, one argument each, as a connection timeout is).
  The wheel's figure includes filing the incoming buffer into the levels.
- re-arm: 100 000 live timers; each op cancels one and adds a replacement (what a naive
  heartbeat does on every packet). The wheel is advanced every 1 000 ops so that most
  handles are filed in the levels before they are cancelled (its cheaper not-yet-filed
  path is not what is measured). ``reset()``, the wheel's own re-arm, is reported too.
- fire: N timers spread over one second, all due; time to run every callback. The loop runs
  its heap of past deadlines; the wheel is advanced once past the last one.
- memory: bytes per pending timer, RSS and tracemalloc.

Every measurement runs in a fresh interpreter: the garbage collector's state left by an
earlier case (how many long-lived objects exist) changes how often full collections run, and
so the figures, by up to 2x. Ours and the baseline alternate, three processes each (one with
--quick), and each side keeps its best, so that noise from the rest of the machine falls on
both alike. The last line of output is one JSON
object for the re-arm case against uvloop (the convention of every benchmark in bench/);
--json-out writes every row for bench/run_all.py, which regenerates the README table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from frontier.timer import LoopTimer, TimingWheel

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

LIVE = 100_000


@dataclass
class Row:
    case: str
    loop: str
    unit: str
    wheel: float
    baseline: float

    @property
    def ratio(self) -> float:
        """How many times better the wheel is (baseline / wheel, both lower-is-better)."""
        return self.baseline / self.wheel if self.wheel else float("inf")

    def as_json(self) -> dict[str, object]:
        """The row format every benchmark writes for bench/run_all.py."""
        return {
            "bench": "timers",
            "case": self.case,
            "variant": self.loop,
            "unit": self.unit,
            "value": self.wheel,
            "baseline": self.baseline,
            "baseline_name": f"{self.loop} call_later",
            "ratio": self.ratio,
            "better": "lower",
        }


class Conn:
    """Stands for the connection object a timeout callback receives."""


def on_timeout(conn: Conn) -> None:
    pass


# -- the wheel ---------------------------------------------------------------------------------


def wheel_schedule(n: int) -> float:
    conn = Conn()
    delays = [30.0 + random.random() for _ in range(n)]
    with_loop = LoopTimer()
    add = with_loop.add
    start = time.perf_counter()
    for delay in delays:
        add(delay, on_timeout, conn)
    with_loop.wheel.next_wakeup()  # files the incoming buffer: part of the cost
    elapsed = time.perf_counter() - start
    with_loop.close()
    return elapsed / n * 1e9


def wheel_rearm(ops: int) -> float:
    conn = Conn()
    timers = LoopTimer()
    wheel = timers.wheel
    add = timers.add
    handles = [add(30.0 + i * 1e-5, on_timeout, conn) for i in range(LIVE)]
    wheel.advance()
    start = time.perf_counter()
    for i in range(ops):
        j = i % LIVE
        handles[j].cancel()
        handles[j] = add(30.0, on_timeout, conn)
        if not i % 1000:
            wheel.advance()
    wheel.advance()
    elapsed = time.perf_counter() - start
    timers.close()
    return elapsed / ops * 1e9


def wheel_reset(ops: int) -> float:
    conn = Conn()
    timers = LoopTimer()
    wheel = timers.wheel
    # Created with the same timeout as the re-arms: a heartbeat only ever moves later.
    handles = [timers.add(30.0, on_timeout, conn) for _ in range(LIVE)]
    wheel.advance()
    start = time.perf_counter()
    for i in range(ops):
        handles[i % LIVE].reset(30.0)
        if not i % 1000:
            wheel.advance()
    wheel.advance()
    elapsed = time.perf_counter() - start
    timers.close()
    return elapsed / ops * 1e9


def wheel_fire(n: int) -> float:
    conn = Conn()
    wheel = TimingWheel()
    for _ in range(n):
        wheel.add(random.random(), on_timeout, conn)
    wheel.next_wakeup()  # filed, as they would be long before they fall due
    now = time.monotonic() + 1.1
    start = time.perf_counter()
    fired = wheel.advance(now)
    elapsed = time.perf_counter() - start
    assert fired == n, (fired, n)
    return elapsed / n * 1e9


# -- the loop's own timers -------------------------------------------------------------------


def loop_schedule(loop: asyncio.AbstractEventLoop, n: int) -> float:
    conn = Conn()
    delays = [30.0 + random.random() for _ in range(n)]
    call_later = loop.call_later
    start = time.perf_counter()
    handles = [call_later(delay, on_timeout, conn) for delay in delays]
    elapsed = time.perf_counter() - start
    for handle in handles:
        handle.cancel()
    return elapsed / n * 1e9


def loop_rearm(loop: asyncio.AbstractEventLoop, ops: int) -> float:
    conn = Conn()
    call_later = loop.call_later
    handles = [call_later(30.0 + i * 1e-5, on_timeout, conn) for i in range(LIVE)]
    start = time.perf_counter()
    for i in range(ops):
        j = i % LIVE
        handles[j].cancel()
        handles[j] = call_later(30.0, on_timeout, conn)
    elapsed = time.perf_counter() - start
    for handle in handles:
        handle.cancel()
    return elapsed / ops * 1e9


async def loop_fire(n: int) -> float:
    loop = asyncio.get_running_loop()
    conn = Conn()
    done = loop.create_future()
    base = loop.time() - 2.0  # every deadline already in the past: all due at once
    for _ in range(n):
        loop.call_at(base + random.random(), on_timeout, conn)
    loop.call_at(base + 1.0, done.set_result, None)  # the last one, by deadline
    start = time.perf_counter()
    await done
    return (time.perf_counter() - start) / n * 1e9


# -- memory --------------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(impl: str, loop: asyncio.AbstractEventLoop, n: int) -> dict[str, float]:
    """Bytes per pending timer, in a process that has done nothing else."""
    conn = Conn()
    timers = LoopTimer(loop=loop) if impl == "wheel" else None
    gc.collect()
    tracemalloc.start()
    rss0 = rss_bytes()
    traced0 = tracemalloc.get_traced_memory()[0]
    if timers is not None:
        keep: list[Any] = [timers.add(30.0 + i * 1e-5, on_timeout, conn) for i in range(n)]
        timers.wheel.next_wakeup()
    else:
        keep = [loop.call_later(30.0 + i * 1e-5, on_timeout, conn) for i in range(n)]
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced0
    rss = rss_bytes() - rss0
    own = 8 * len(keep)  # the benchmark's list of handles, not the timers' memory
    return {"rss": (rss - own) / n, "traced": (traced - own) / n}


# -- one measurement per process -----------------------------------------------------------------

CASES = ("schedule", "rearm", "reset", "fire", "memory")


async def run_case(case: str, impl: str, n: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    wheel = impl == "wheel"
    if case == "schedule":
        return {"ns": wheel_schedule(n) if wheel else loop_schedule(loop, n)}
    if case == "rearm":
        return {"ns": wheel_rearm(n) if wheel else loop_rearm(loop, n)}
    if case == "reset":
        return {"ns": wheel_reset(n)}
    if case == "fire":
        if wheel:
            return {"ns": wheel_fire(n)}
        return {"ns": await loop_fire(n)}
    return memory(impl, loop, n)


def child(case: str, impl: str, loop_name: str, n: int) -> dict[str, float]:
    random.seed(1)
    factory = loop_factories()[loop_name]
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run_case(case, impl, n))


def in_fresh_process(case: str, impl: str, loop_name: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, impl, loop_name, str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- driver --------------------------------------------------------------------------------------


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {}
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    factories["asyncio"] = asyncio.new_event_loop
    return factories


def measure(quick: bool) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    ops = 100_000 if quick else 1_000_000
    repeats = 1 if quick else 3
    rows: list[Row] = []
    for name in loop_factories():

        def pair(case: str, size: int, loop_name: str = name) -> tuple[float, float]:
            baseline_case = "rearm" if case == "reset" else case
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(repeats):
                ours.append(in_fresh_process(case, "wheel", loop_name, size)["ns"])
                theirs.append(in_fresh_process(baseline_case, "loop", loop_name, size)["ns"])
            return min(ours), min(theirs)

        rows.append(Row(f"schedule {n:,} timers", name, "ns/op", *pair("schedule", n)))
        live = f"{LIVE:,} live"
        rows.append(Row(f"re-arm (cancel + add), {live}", name, "ns/op", *pair("rearm", ops)))
        rows.append(Row(f"re-arm with reset(), {live}", name, "ns/op", *pair("reset", ops)))
        rows.append(Row(f"fire {n:,} due timers", name, "ns/op", *pair("fire", n)))
        ours = in_fresh_process("memory", "wheel", name, n)
        theirs = in_fresh_process("memory", "loop", name, n)
        for key, label in (("rss", "RSS"), ("traced", "traced")):
            case = f"memory per pending timer ({label}), {n:,}"
            rows.append(Row(case, name, "B", ours[key], theirs[key]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k timers instead of 1M (< 30 s)")
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, impl, loop_name, n = args.child
        print(json.dumps(child(case, impl, loop_name, int(n))))
        return

    random.seed(1)
    started = time.perf_counter()
    rows = measure(args.quick)
    print(f"{'case':44} {'loop':8} {'wheel':>10} {'loop timers':>12} {'ratio':>7}")
    for row in rows:
        print(
            f"{row.case:44} {row.loop:8} {row.wheel:>8.0f} {row.unit:<2}"
            f"{row.baseline:>10.0f} {row.unit:<2}{row.ratio:>6.2f}x"
        )
    print(f"(ratio = loop timers / wheel: higher is better; {time.perf_counter() - started:.1f} s)")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([row.as_json() for row in rows], out, indent=1)
    headline = next(r for r in rows if r.case.startswith("re-arm (cancel") and r.loop == "uvloop")
    print(
        json.dumps(
            {
                "name": "timer re-arm (cancel + add) vs uvloop call_later",
                "value": round(headline.wheel, 1),
                "baseline": round(headline.baseline, 1),
                "ratio": round(headline.ratio, 2),
                "unit": "ns/op",
            }
        )
    )


if __name__ == "__main__":
    main()
