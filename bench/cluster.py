"""frontlas presence load: batched heartbeats vs one ``edge_heartbeat`` RPC per edge.

Why. Upstream's Go frontier keeps each edge alive in frontlas with one ``edge_heartbeat``
RPC per edge every 20 s: 50 000 RPCs/s, and as many Redis scripts, at 10^6 edges, for a
coordinator that is a single process. Our frontier sends ``presence_heartbeat`` RPCs of
5000 IDs (frontier.gateway.frontlas_link.HEARTBEAT_BATCH) that frontlas turns into a few
scripts of 2000 IDs each, pipelined. This benchmark measures what that saves, on both
frontlas and Redis, against the unbatched path measured in the same run.

Arrangement. A private ``redis-server`` (free loopback port, no persistence) and the
deployed ``frontlas`` command (``python -m frontier.frontlas.cli --config FILE``, every
listener on a free loopback port) run as processes of their own, so that frontlas's CPU time
is read from /proc apart from this driver's: from the schedstat of its threads (ns; a batched
round of 10^5 edges is only about 10 clock ticks), with /proc/<pid>/stat utime + stime printed
beside it (and used where there is no schedstat). The driver (asyncio on uvloop) connects to the
frontier plane as a frontier with the geminio client and registers N edges with
``presence_report`` RPCs of 1000 edges (BATCH, as our frontier sends them); then it measures
one heartbeat round for all N edges, two ways:

1. batched: ``presence_heartbeat`` RPCs of 5000 IDs, one after the other, the first carrying
   the exact counts (exactly what our frontier does every interval);
2. unbatched (the baseline): N ``edge_heartbeat`` RPCs with the Go payload
   ``{frontier_id, edge_id}``, 256 in flight (the frontier plane's handler limit).

For each: wall time; frontlas CPU (total and per edge); Redis commands per edge (the delta of
the sum of ``calls=`` over ``INFO commandstats``, INFO itself excluded; commands run inside
the Lua scripts count too, so EVALSHA calls per edge, the requests frontlas sends, are given
apart, and so are Redis's socket reads, which is about its round trips); Redis CPU per edge
(``used_cpu_sys`` + ``used_cpu_user`` of ``INFO cpu``). N is 100 000 with --quick (< 90 s on 2
cores) and 1 000 000 otherwise. The batched round, cheap, runs 3 times and the round of
median frontlas CPU is compared (it is only N / 5000 RPCs); the baseline, N RPCs, runs once.

Correctness is checked in the run, not assumed: after registration the frontier's edge count
is N; before each round the TTLs of a random sample of edges are cut to 600 s (of 3600), and
after it they must be back above that (renewed); the batched answers must list no missing
edge; the edge count must still be N after each round (the Go path re-creates, and counts
again, any edge Redis lost). A failed check fails the run. frontlas's log is scanned for
warnings and errors, which are printed.

The last line of output is one JSON object for the frontlas CPU per edge (the convention of
every benchmark in bench/); --json-out writes every row for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import asyncio as aioredis

from _procstat import cpu_schedstat_seconds, cpu_ticks_seconds, free_port
from frontier.frontlas import protocol as p
from frontier.gateway.frontlas_link import BATCH, HEARTBEAT_BATCH
from frontier.geminio.aio import End, connect

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    uvloop = None  # type: ignore[assignment]

HOST = "127.0.0.1"
FRONTIER_ID = "bench-frontier"
CONCURRENCY = 256
"""Go-style RPCs in flight (the frontier plane runs at most 256 handlers per connection)."""
TTL = 3600
"""Alive and meta TTLs: long enough that nothing expires during the run whatever its length
(the TTL's value does not change the cost of renewing it)."""
SAMPLE = 200
"""Edges whose TTLs are cut before each round and checked after it."""
CUT_TTL = 600
"""Longer than any round (a key cut shorter could expire before its heartbeat comes), far
below TTL, so a renewed key is told apart from one that was not."""
FIRST_EDGE_ID = 10**12
RPC_TIMEOUT = 60.0
BASELINE = "one edge_heartbeat RPC per edge (Go protocol), same frontlas"


@dataclass
class Problems:
    """Whatever went wrong on the way: printed at the end, never swallowed."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


PROBLEMS = Problems()
"""Log lines above INFO, printed; the checks' failures go to FAILED and fail the run."""
FAILED = Problems()


# -- processes ----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL us when the parent dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A private redis-server on a free port, no persistence; yields (process, port)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    args = [
        binary,
        "--port", str(port),
        "--bind", HOST,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on :{port} exited with {proc.returncode}")
            try:
                with socket.create_connection((HOST, port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on :{port} did not answer within 10 s")
            time.sleep(0.02)
        yield proc, port
    finally:
        _stop(proc)


@contextlib.contextmanager
def frontlas(workdir: Path, redis_port: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The `frontlas` command on free loopback ports; yields (process, frontier plane port)."""
    config = {
        "log": {"level": "info"},
        "control_plane": {"listen": {"addr": f"{HOST}:0"}},
        "frontier_plane": {
            "listen": {"addr": f"{HOST}:0"},
            "expiration": {"service_meta": TTL, "edge_meta": TTL, "alive": TTL},
        },
        "redis": {"standalone": {"addr": f"{HOST}:{redis_port}"}},
        "observability": {"enable": True, "addr": f"{HOST}:0"},
    }
    config_path = workdir / "frontlas.yaml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    log = workdir / "frontlas.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "FRONTLAS_", "LOG_")) and k != "MASTER_NAME"
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "frontier.frontlas.cli", "--config", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            found = re.search(
                r"frontlas up: cluster API :\d+, frontier plane :(\d+)", log.read_text()
            )
            if found:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"frontlas did not come up:\n{log.read_text()}")
            time.sleep(0.02)
        yield proc, int(found[1])
    finally:
        _stop(proc)
        for line in log.read_text().splitlines():
            if re.search(r" (WARNING|ERROR|CRITICAL) |Traceback|Error", line):
                PROBLEMS.add(f"frontlas log: {line.strip()}")


# -- Redis counters -----------------------------------------------------------------------------


@dataclass
class RedisSnapshot:
    calls: dict[str, int]
    """Per command (``cmdstat_`` stripped), INFO excluded: this driver's own probes."""
    cpu: float
    reads: int

    @classmethod
    async def take(cls, client: Any) -> RedisSnapshot:
        stats = await client.info("commandstats")
        cpu = await client.info("cpu")
        general = await client.info("stats")
        calls = {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
        return cls(
            calls=calls,
            cpu=float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
            reads=int(general["total_reads_processed"]),
        )

    def minus(self, before: RedisSnapshot) -> RedisSnapshot:
        calls = {
            name: count - before.calls.get(name, 0)
            for name, count in self.calls.items()
            if count != before.calls.get(name, 0)
        }
        return RedisSnapshot(calls, self.cpu - before.cpu, self.reads - before.reads)


# -- one measured round -------------------------------------------------------------------------


@dataclass
class Round:
    name: str
    edges: int
    rpcs: int
    wall: float
    ticks_cpu: float
    """frontlas's utime + stime (/proc/<pid>/stat), seconds, in 10 ms clock ticks."""
    ns_cpu: float
    """frontlas's CPU time from the schedstat of its threads, seconds, ns resolution."""
    driver_cpu: float
    redis: RedisSnapshot

    @property
    def cpu(self) -> float:
        """frontlas's CPU seconds: schedstat (a batched round of 10^5 edges is only about 10
        clock ticks), utime + stime where there is no schedstat."""
        return self.ticks_cpu if math.isnan(self.ns_cpu) else self.ns_cpu

    @property
    def us_per_edge(self) -> float:
        return self.cpu / self.edges * 1e6

    @property
    def commands_per_edge(self) -> float:
        return sum(self.redis.calls.values()) / self.edges

    @property
    def scripts_per_edge(self) -> float:
        return (self.redis.calls.get("evalsha", 0) + self.redis.calls.get("eval", 0)) / self.edges

    @property
    def reads_per_edge(self) -> float:
        return self.redis.reads / self.edges

    @property
    def redis_us_per_edge(self) -> float:
        return self.redis.cpu / self.edges * 1e6


async def measured(
    name: str,
    edges: int,
    rpcs: int,
    op: Callable[[], Awaitable[None]],
    frontlas_pid: int,
    client: Any,
) -> Round:
    await asyncio.sleep(0.2)  # let the previous round's stragglers (logging, GC) settle
    before = await RedisSnapshot.take(client)
    ticks0, ns0 = cpu_ticks_seconds(frontlas_pid), cpu_schedstat_seconds(frontlas_pid)
    mine0 = time.process_time()
    start = time.perf_counter()
    await op()
    wall = time.perf_counter() - start
    ticks1, ns1 = cpu_ticks_seconds(frontlas_pid), cpu_schedstat_seconds(frontlas_pid)
    mine = time.process_time() - mine0
    after = await RedisSnapshot.take(client)
    return Round(
        name=name,
        edges=edges,
        rpcs=rpcs,
        wall=wall,
        ticks_cpu=ticks1 - ticks0,
        ns_cpu=ns1 - ns0,
        driver_cpu=mine,
        redis=after.minus(before),
    )


# -- the driver ---------------------------------------------------------------------------------


class Driver:
    """One frontier connection to the frontier plane, plus a Redis client for checks."""

    def __init__(self, end: End, client: Any, frontlas_pid: int, edge_ids: list[int]) -> None:
        self.end = end
        self.client = client
        self.frontlas_pid = frontlas_pid
        self.edge_ids = edge_ids

    @property
    def n(self) -> int:
        return len(self.edge_ids)

    # -- frontlas's key schema, for the checks (repo.py, standalone prefix) --

    @staticmethod
    def alive_key(edge_id: int) -> str:
        return f"frontlas:alive:edges:{edge_id}"

    @staticmethod
    def meta_key(edge_id: int) -> str:
        return f"frontlas:edges:{edge_id}"

    async def edge_count(self) -> int:
        """What frontlas serves as the frontier's edge_count: its index's current members."""
        seconds, micros = await self.client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return int(
            await self.client.zcount(f"frontlas:frontier_edges:{FRONTIER_ID}", now_ms, "+inf")
        )

    async def check_count(self, when: str) -> None:
        count = await self.edge_count()
        if count != self.n:
            FAILED.add(f"{when}: the frontier's edge_count is {count:,}, not {self.n:,}")

    async def cut_ttls(self) -> list[int]:
        """Cut the TTLs of SAMPLE random edges to CUT_TTL s (before the snapshot)."""
        sample = random.sample(self.edge_ids, min(SAMPLE, self.n))
        async with self.client.pipeline(transaction=False) as pipe:
            for edge_id in sample:
                pipe.expire(self.alive_key(edge_id), CUT_TTL)
                pipe.expire(self.meta_key(edge_id), CUT_TTL)
            cut = await pipe.execute()
        if not all(cut):
            FAILED.add(f"TTL spot check: {cut.count(0)} sampled keys did not exist")
        return sample

    async def check_ttls(self, sample: list[int], when: str) -> int:
        """How many sampled keys were renewed (TTL back above CUT_TTL); a problem if not all."""
        async with self.client.pipeline(transaction=False) as pipe:
            for edge_id in sample:
                pipe.ttl(self.alive_key(edge_id))
                pipe.ttl(self.meta_key(edge_id))
            ttls = await pipe.execute()
        renewed = sum(1 for ttl in ttls if ttl > CUT_TTL)
        if renewed != len(ttls):
            stale = [ttl for ttl in ttls if ttl <= CUT_TTL][:5]
            FAILED.add(f"{when}: only {renewed} of {len(ttls)} sampled TTLs renewed (e.g. {stale})")
        return renewed

    # -- the RPCs --

    async def register(self) -> None:
        """Every edge online, `BATCH` per presence_report, 2 RPCs in flight."""
        batches = [self.edge_ids[i : i + BATCH] for i in range(0, self.n, BATCH)]
        queue = iter(batches)

        async def worker() -> None:
            for batch in queue:
                report = p.PresenceReport(
                    FRONTIER_ID,
                    edges_online=tuple(
                        p.EdgeRecord(
                            edge_id,
                            f"10.{(edge_id >> 16) & 255}.{(edge_id >> 8) & 255}"
                            f".{edge_id & 255}:40000",
                        )
                        for edge_id in batch
                    ),
                )
                await self.end.call(p.RPC_PRESENCE_REPORT, report.encode(), timeout=RPC_TIMEOUT)

        await asyncio.gather(worker(), worker())

    async def batched(self) -> None:
        """One interval of our frontier: presence_heartbeat RPCs of HEARTBEAT_BATCH IDs, one
        at a time, the first with the exact counts (as FrontlasLink.heartbeat)."""
        missing: list[int] = []
        for i in range(0, self.n, HEARTBEAT_BATCH):
            beat = p.Heartbeat(
                FRONTIER_ID,
                tuple(self.edge_ids[i : i + HEARTBEAT_BATCH]),
                edge_count=self.n if i == 0 else None,
                service_count=0 if i == 0 else None,
            )
            answer = p.HeartbeatAnswer.decode(
                await self.end.call(p.RPC_PRESENCE_HEARTBEAT, beat.encode(), timeout=RPC_TIMEOUT)
            )
            missing.extend(answer.missing_edge_ids)
        if missing:
            FAILED.add(f"batched heartbeat: {len(missing):,} edges missing, e.g. {missing[:5]}")

    async def unbatched(self) -> None:
        """One interval of a Go frontier: one edge_heartbeat RPC per edge, CONCURRENCY in
        flight."""
        queue = iter(self.edge_ids)
        errors = 0
        first_error = ""
        call = self.end.call

        async def worker() -> None:
            nonlocal errors, first_error
            for edge_id in queue:
                try:
                    await call(
                        p.RPC_EDGE_HEARTBEAT,
                        p.encode_edge(FRONTIER_ID, edge_id),
                        timeout=RPC_TIMEOUT,
                    )
                except Exception as exc:
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        if errors:
            FAILED.add(f"unbatched heartbeat: {errors:,} failed RPCs, first: {first_error}")

    async def round(self, name: str, op: Callable[[], Awaitable[None]], rpcs: int) -> Round:
        sample = await self.cut_ttls()
        result = await measured(name, self.n, rpcs, op, self.frontlas_pid, self.client)
        await self.check_ttls(sample, name)
        await self.check_count(f"after the {name} round")
        return result


@dataclass
class Results:
    n: int
    register: Round
    batched: list[Round]
    unbatched: Round
    keys: int
    redis_memory: int

    @property
    def median_batched(self) -> Round:
        """The batched round of median frontlas CPU (a round is only N / 5000 RPCs, so a
        single one is noisier than the baseline's N RPCs)."""
        ranked = sorted(self.batched, key=lambda r: r.cpu)
        return ranked[len(ranked) // 2]


async def run(n: int, batched_rounds: int, workdir: Path) -> Results:
    with (
        redis_server(workdir) as (_redis_proc, redis_port),
        frontlas(workdir, redis_port) as (frontlas_proc, plane_port),
    ):
        client = aioredis.Redis(host=HOST, port=redis_port, decode_responses=True)
        meta = p.FrontierInstance(
            FRONTIER_ID, f"{HOST}:30011", f"{HOST}:30012", instance="bench"
        ).encode()
        end = await connect(HOST, plane_port, meta=meta)
        try:
            edge_ids = list(range(FIRST_EDGE_ID, FIRST_EDGE_ID + n))
            driver = Driver(end, client, frontlas_proc.pid, edge_ids)
            register = await measured(
                "register",
                n,
                -(-n // BATCH),
                driver.register,
                frontlas_proc.pid,
                client,
            )
            await driver.check_count("after registration")
            rpcs = -(-n // HEARTBEAT_BATCH)
            batched = [
                await driver.round("batched", driver.batched, rpcs) for _ in range(batched_rounds)
            ]
            unbatched = await driver.round("unbatched", driver.unbatched, n)
            keys = int(await client.dbsize())
            memory = int((await client.info("memory"))["used_memory"])
            return Results(n, register, batched, unbatched, keys, memory)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(end.close(), 5)
            await client.aclose()


# -- report -------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    unit: str
    value: float
    baseline: float
    variant: str

    @property
    def ratio(self) -> float:
        """Baseline / ours (everything here is lower-is-better): > 1 means batched wins."""
        if not self.value:
            return 1.0 if not self.baseline else float("inf")
        return self.baseline / self.value

    def as_json(self) -> dict[str, object]:
        """The row format every benchmark writes for bench/run_all.py."""
        return {
            "bench": "cluster",
            "case": self.case,
            "variant": self.variant,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_name": BASELINE,
            "ratio": self.ratio,
            "better": "lower",
        }


def build_rows(res: Results) -> list[Row]:
    ours, theirs = res.median_batched, res.unbatched
    variant = f"{res.n:,} edges"
    return [
        Row(
            "frontlas heartbeat CPU per edge (batched vs one RPC per edge)",
            "us",
            ours.us_per_edge,
            theirs.us_per_edge,
            variant,
        ),
        Row(
            "Redis commands per edge per interval",
            "cmds",
            ours.commands_per_edge,
            theirs.commands_per_edge,
            variant,
        ),
        Row(
            "Redis requests (EVALSHA) per edge per interval",
            "calls",
            ours.scripts_per_edge,
            theirs.scripts_per_edge,
            variant,
        ),
        Row(
            "Redis CPU per edge per interval",
            "us",
            ours.redis_us_per_edge,
            theirs.redis_us_per_edge,
            variant,
        ),
        Row(
            "heartbeat round for every edge, wall time",
            "s",
            ours.wall,
            theirs.wall,
            variant,
        ),
    ]


def _times(ours: float, theirs: float) -> str:
    if not ours:
        return "n/a"
    ratio = theirs / ours
    return f"{ratio:,.1f}x less" if ratio >= 1 else f"{1 / ratio:,.2f}x MORE"


def compare(
    what: str, ours: float, theirs: float, spec: str = ".4f", unit: str = "", note: str = ""
) -> None:
    """One line: "what: batched X vs unbatched Y = Zx less"."""
    print(
        f"{what}: batched {ours:{spec}}{unit} vs unbatched {theirs:{spec}}{unit} = "
        f"{_times(ours, theirs)}{note}"
    )


def print_report(res: Results, rows: list[Row], elapsed: float) -> None:
    ours, theirs = res.median_batched, res.unbatched
    print(f"frontlas presence load, {res.n:,} edges, one heartbeat round each way")
    print(
        f"{'round':10} {'RPCs':>9} {'wall s':>8} {'frontlas CPU s':>15} {'us/edge':>8} "
        f"{'utime+stime':>11} {'Redis cmds/edge':>16} {'EVALSHA/edge':>13} {'reads/edge':>11} "
        f"{'Redis us/edge':>14} {'driver CPU s':>13}"
    )
    for r in [res.register, *res.batched, res.unbatched]:
        print(
            f"{r.name:10} {r.rpcs:>9,} {r.wall:>8.2f} {r.cpu:>15.3f} {r.us_per_edge:>8.2f}"
            f" {r.ticks_cpu:>11.2f} {r.commands_per_edge:>16.3f}"
            f" {r.scripts_per_edge:>13.4f} {r.reads_per_edge:>11.4f} {r.redis_us_per_edge:>14.2f}"
            f" {r.driver_cpu:>13.2f}"
        )
    if len(res.batched) > 1:
        print(f"(batched: the round of median frontlas CPU of {len(res.batched)} is compared)")
    print()
    compare("CPU per edge", ours.us_per_edge, theirs.us_per_edge, ".2f", " us")
    compare(
        "Redis commands per edge",
        ours.commands_per_edge,
        theirs.commands_per_edge,
        ".3f",
        note=" (commands run inside the Lua scripts included)",
    )
    compare("Redis requests (EVALSHA) per edge", ours.scripts_per_edge, theirs.scripts_per_edge)
    compare(
        "Redis socket reads (~ round trips) per edge", ours.reads_per_edge, theirs.reads_per_edge
    )
    compare("Redis CPU per edge", ours.redis_us_per_edge, theirs.redis_us_per_edge, ".2f", " us")
    compare("wall time for the round", ours.wall, theirs.wall, ".2f", " s")
    for label, r in (("batched", ours), ("unbatched", theirs)):
        share = r.us_per_edge * 1e6 / 20 / 1e6 * 100
        redis_share = r.redis_us_per_edge * 1e6 / 20 / 1e6 * 100
        print(
            f"  at 10^6 edges every 20 s, {label}: frontlas {share:.0f} % of a core, "
            f"Redis {redis_share:.0f} % of a core"
        )
    for label, r in (("batched", ours), ("unbatched", theirs)):
        top = sorted(r.redis.calls.items(), key=lambda kv: -kv[1])
        print(f"  Redis commands, {label}: " + ", ".join(f"{k} {v:,}" for k, v in top))
    print(
        f"registration: {res.register.rpcs:,} presence_report RPCs in {res.register.wall:.1f} s "
        f"({res.n / res.register.wall:,.0f} edges/s), frontlas {res.register.us_per_edge:.1f} "
        f"us/edge; Redis then held {res.keys:,} keys in {res.redis_memory / 2**20:,.0f} MiB"
    )
    print(
        f"checks: edge_count == {res.n:,} after registration and after every round; "
        f"{SAMPLE} sampled edges' alive and meta TTLs cut to {CUT_TTL} s before each round and "
        "renewed by it; no missing edge in the batched answers"
    )
    for title, problems in (("checks FAILED", FAILED), ("frontlas logged", PROBLEMS)):
        if problems.lines:
            print(f"{title}:")
            for line in problems.lines:
                print(f"  ! {line}")
    if not (FAILED.lines or PROBLEMS.lines):
        print("problems seen: none (every check passed, nothing logged above INFO)")
    print(f"(ratio = unbatched / batched, higher is better; {elapsed:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="100 000 edges, one round each way (< 90 s)"
    )
    parser.add_argument("--edges", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    random.seed(1)
    n = args.edges if args.edges is not None else (100_000 if args.quick else 1_000_000)
    if n < 1:
        parser.error("--edges must be at least 1")
    batched_rounds = 3
    with tempfile.TemporaryDirectory(prefix="frontier-bench-cluster-") as tmp:
        factory = uvloop.new_event_loop if uvloop is not None else asyncio.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            res = runner.run(run(n, batched_rounds, Path(tmp)))
    rows = build_rows(res)
    print_report(res, rows, time.perf_counter() - started)
    if FAILED.lines:
        raise SystemExit("cluster bench: checks failed (see above)")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([row.as_json() for row in rows], out, indent=1)
    headline = rows[0]
    print(
        json.dumps(
            {
                "name": "frontlas heartbeat CPU per edge, batched vs one edge_heartbeat RPC each",
                "value": round(headline.value, 3),
                "baseline": round(headline.baseline, 3),
                "ratio": round(headline.ratio, 2),
                "unit": "us/edge",
            }
        )
    )


if __name__ == "__main__":
    main()
