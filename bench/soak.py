"""Soak under attack: N idle edges, an unrelated pair calling, and two attackers at once.

Why. The gateway faces the internet, so what matters is what an attack costs everyone
else. tests/adversarial/ checks each bound alone; this measures them together at scale and
prints what users would see, beside the same run's quiet phase (no attackers).

Arrangement. The deployed ``frontier`` command (``python -m frontier.gateway.cli``) runs in
its own process with loopback listeners on free ports and the defaults but for
``edgebound.max_connections`` (sized so that N edges, the pair and all the holder's
connections fit: tests/adversarial shows what happens at the cap, this measures the cost),
``edgebound.write_timeout`` 2 s (so the flooder is dropped within the window) and
``edgebound.handshake_timeout`` 3 s. N idle edges are another process
(bench/_gateway_peers.py ``edges``, heartbeat 20 s). This driver (uvloop) runs the pair (an
SDK service serving ``echo`` and an SDK edge calling it back to back) and the attackers:

1. quiet: the pair calls for W seconds; gateway RSS and CPU are read from /proc.
2. attacked: for W seconds, while the pair calls,
   - the flooder completes a handshake, then writes calls to a method nobody serves, and
     never reads (each call is answered with an error the gateway cannot send);
   - the holder opens H connections from another loopback address (127.0.0.2): half say
     hello and then idle, half never finish the handshake (they are dropped after
     ``handshake_timeout``, and open again).

Reported: the pair's p99 latency and its failures in each phase (ratio quiet / attacked:
1.0 means the attack cost the pair nothing, lower is worse); the gateway's RSS growth
during the attacked phase beside the quiet one; whether the flooder was evicted, and when;
whether every idle edge is still online at the end. N is 2 000 with --quick (W = 4 s) and
19 000 otherwise (W = 15 s), fewer if the descriptor limit is lower.

The last line of output is one JSON object (the pair's p99 under attack), as every
benchmark in bench/ prints; --json-out writes the rows for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import aiohttp
import yaml

from _procstat import cpu_seconds, free_port, rss_kb
from frontier.geminio.aio import Backoff
from frontier.geminio.encoder import encode
from frontier.geminio.packets import ConnPacket, RequestPacket
from frontier.sdk import Edge, Service

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    uvloop = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
HOLDER_SOURCE = "127.0.0.2"
WRITE_TIMEOUT = 2.0
HANDSHAKE_TIMEOUT = 3.0
BASELINE = "the same gateway and pair, no attacker (quiet phase of the same run)"


@dataclass
class Problems:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


PROBLEMS = Problems()


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    servicebound: int
    edgebound: int
    observability: int
    log: Path

    async def metrics(self) -> dict[str, float]:
        url = f"http://{HOST}:{self.observability}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


@contextlib.contextmanager
def gateway(workdir: Path, max_edges: int) -> Iterator[Gateway]:
    sb, eb, obs = free_port(), free_port(), free_port()
    config = {
        "servicebound": {"listen": {"addr": f"{HOST}:{sb}"}, "max_connections": 16},
        "edgebound": {
            "listen": {"addr": f"{HOST}:{eb}"},
            "max_connections": max_edges,
            "write_timeout": WRITE_TIMEOUT,
            "handshake_timeout": HANDSHAKE_TIMEOUT,
        },
        "observability": {"enable": True, "addr": f"{HOST}:{obs}"},
    }
    path = workdir / "frontier.yaml"
    path.write_text(yaml.safe_dump(config))
    log = workdir / "frontier.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "frontier.gateway.cli", "--config", str(path)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "frontier up" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"frontier did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Gateway(proc, sb, eb, obs, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def idle_edges(port: int, count: int) -> Iterator[dict[str, object]]:
    peers = str(HERE / "_gateway_peers.py")
    proc = subprocess.Popen(
        [sys.executable, peers, "edges", HOST, str(port), str(count), "20"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        summary = json.loads(proc.stdout.readline())
        yield summary
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)


# -- the pair ---------------------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rss_start: int = 0
    rss_peak: int = 0
    cpu: float = 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    @property
    def growth_mb(self) -> float:
        return (self.rss_peak - self.rss_start) / 2**20


@contextlib.asynccontextmanager
async def pair(gw: Gateway) -> AsyncIterator[Edge]:
    fast = Backoff(initial=0.05, maximum=0.5)
    service = Service(f"{HOST}:{gw.servicebound}", name="pair", backoff=fast)
    await service.register("echo", lambda request: request.data)
    await service.start()
    edge = Edge(f"{HOST}:{gw.edgebound}", backoff=fast)
    await edge.start()
    try:
        yield edge
    finally:
        await edge.close()
        await service.close()


async def measure(gw: Gateway, edge: Edge, seconds: float) -> Phase:
    phase = Phase(rss_start=rss_kb(gw.proc.pid) * 1024)
    phase.rss_peak = phase.rss_start
    cpu = cpu_seconds(gw.proc.pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            await edge.call("echo", b"ping", timeout=5)
        except Exception as exc:  # a failure is a finding, counted
            phase.failures.append(f"{type(exc).__name__}: {exc}")
        phase.latencies.append(time.monotonic() - started)
        phase.rss_peak = max(phase.rss_peak, rss_kb(gw.proc.pid) * 1024)
        await asyncio.sleep(0.005)
    phase.cpu = cpu_seconds(gw.proc.pid) - cpu
    return phase


# -- the attackers --------------------------------------------------------------------------


async def flooder(port: int, evicted: asyncio.Future[float]) -> None:
    """Handshake, then calls nobody serves, never reading; sets `evicted` to the seconds
    until the gateway dropped it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    _, writer = await asyncio.open_connection(sock=sock)
    cast(asyncio.ReadTransport, writer.transport).pause_reading()
    writer.write(encode(ConnPacket(packet_id=1, heartbeat=20)))
    chunk = b"".join(
        encode(RequestPacket(packet_id=i, session_id=1, key=b"nobody")) for i in range(2, 2002)
    )
    started = time.monotonic()
    try:
        while True:
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, BrokenPipeError):
        evicted.set_result(time.monotonic() - started)
    finally:
        writer.transport.abort()


async def holder(port: int, count: int, stop: asyncio.Event) -> int:
    """`count` connections from another address: half idle after hello, half silent;
    reopened when dropped. Returns how many were opened in all."""
    opened = 0
    loop = asyncio.get_running_loop()

    async def hold(hello: bool) -> None:
        sock = socket.socket()
        sock.bind((HOLDER_SOURCE, 0))
        sock.setblocking(False)
        try:
            # A full listener leaves SYNs unanswered: do not wait for the kernel's retries.
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), 2.0)
        except (OSError, TimeoutError):
            sock.close()
            await asyncio.sleep(0.2)
            return
        nonlocal opened
        opened += 1
        if hello:
            sock.send(encode(ConnPacket(packet_id=1, heartbeat=80)))
        try:
            while await loop.sock_recv(sock, 1 << 16):  # until the gateway drops us
                pass
        except OSError:
            pass
        finally:
            sock.close()

    async def one(hello: bool) -> None:
        while not stop.is_set():
            attempt = asyncio.ensure_future(hold(hello))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (attempt, stopping):
                task.cancel()
            await asyncio.gather(attempt, stopping, return_exceptions=True)

    await asyncio.gather(*(one(i % 2 == 0) for i in range(count)))
    return opened


async def attack(port: int, holders: int, seconds: float) -> None:
    """The attacker process: flood and hold for `seconds`, then wait (a while) for the
    flooder's eviction; prints ``{"evicted_after": seconds or null, "opened": n}``."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    evicted: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    flood = asyncio.create_task(flooder(port, evicted))
    hold = asyncio.create_task(holder(port, holders, stop))
    await asyncio.sleep(seconds)
    stop.set()
    opened = await hold
    with contextlib.suppress(TimeoutError):  # it may take 2 x write_timeout
        await asyncio.wait_for(asyncio.shield(evicted), 4 * WRITE_TIMEOUT)
    flood.cancel()
    await asyncio.gather(flood, return_exceptions=True)
    after = evicted.result() if evicted.done() else None
    print(json.dumps({"evicted_after": after, "opened": opened}), flush=True)


# -- the run --------------------------------------------------------------------------------


@dataclass
class Results:
    edges: int
    connected: int
    holder: int
    quiet: Phase
    attacked: Phase
    evicted_after: float | None
    online_after: float
    slow_consumers: float
    held_open: float


async def run(n: int, holders: int, seconds: float, workdir: Path) -> Results:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fit = max(100, hard - 300 - holders)
    if n > fit:
        print(f"(RLIMIT_NOFILE hard limit {hard}: {fit:,} idle edges instead of {n:,})")
        n = fit
    max_edges = n + 3 + holders  # room for everyone: this measures cost, not the cap
    with gateway(workdir, max_edges) as gw, idle_edges(gw.edgebound, n) as summary:
        connected = int(summary["connected"])  # type: ignore[call-overload]
        if connected != n:
            PROBLEMS.add(f"{connected} of {n} idle edges connected: {summary['error']}")
        async with pair(gw) as edge:
            await measure(gw, edge, 1.0)  # warm-up
            quiet = await measure(gw, edge, seconds)
            # The attackers are a process of their own: their work must not be measured
            # as the pair's latency.
            attacker = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--attack", str(gw.edgebound),
                str(holders), str(seconds), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            attacked = await measure(gw, edge, seconds)
            out, _ = await attacker.communicate()
            outcome = json.loads(out.decode().strip().splitlines()[-1])
            samples = await gw.metrics()
        log = gw.log.read_text(errors="replace")
        for line in log.splitlines():
            if " ERROR " in line or "Traceback" in line:
                PROBLEMS.add(f"frontier: {line.strip()}")
    return Results(
        edges=n,
        connected=connected,
        holder=int(outcome["opened"]),
        quiet=quiet,
        attacked=attacked,
        evicted_after=outcome["evicted_after"],
        online_after=samples.get("frontier_edges_online", 0.0),
        slow_consumers=samples.get(
            'frontier_slow_consumers_total{bound="edgebound",transport="tcp"}', 0.0
        ),
        held_open=samples.get('frontier_connections_open{bound="edgebound",transport="tcp"}', 0.0),
    )


@dataclass
class Row:
    case: str
    unit: str
    value: float
    baseline: float
    variant: str

    @property
    def ratio(self) -> float:
        """Baseline / ours (lower is better for both rows): 1.0 means the attack cost
        nothing, below 1 is what it cost."""
        if not self.value:
            return 1.0
        return self.baseline / self.value

    def as_json(self) -> dict[str, object]:
        return {
            "bench": "soak",
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
    variant = f"{res.edges:,} idle edges, flooder + {res.holder:,} held connections"
    return [
        Row(
            "unrelated pair's RPC p99 under attack",
            "ms",
            res.attacked.p99_ms(),
            res.quiet.p99_ms(),
            variant,
        ),
        Row(
            "gateway RSS growth during the phase",
            "MB",
            max(res.attacked.growth_mb, 0.01),
            max(res.quiet.growth_mb, 0.01),
            variant,
        ),
    ]


def report(res: Results, rows: list[Row], took: float) -> None:
    print(f"soak: {res.edges:,} idle edges ({res.connected:,} connected), run took {took:.0f} s")
    for name, phase in (("quiet", res.quiet), ("attacked", res.attacked)):
        print(
            f"  {name:>8}: {len(phase.latencies):,} calls, p99 {phase.p99_ms():.1f} ms, "
            f"max {max(phase.latencies, default=0) * 1000:.1f} ms, failures "
            f"{len(phase.failures)}, gateway RSS {phase.rss_start / 2**20:.0f} -> "
            f"{phase.rss_peak / 2**20:.0f} MB, gateway CPU {phase.cpu:.2f} s"
        )
        for failure in phase.failures[:3]:
            print(f"            {failure}")
    evicted = f"after {res.evicted_after:.1f} s" if res.evicted_after is not None else "NOT"
    print(
        f"  flooder evicted {evicted} (slow consumers counted: {res.slow_consumers:.0f}); "
        f"holder opened {res.holder:,} connections; {res.held_open:.0f} edgebound connections "
        f"open at the end, {res.online_after:.0f} edges online"
    )
    for row in rows:
        print(
            f"  {row.case}: {row.value:.2f} {row.unit} vs {row.baseline:.2f} {row.unit} quiet "
            f"({row.ratio:.2f}x)"
        )
    if res.evicted_after is None:
        PROBLEMS.add("the flooder was not evicted")
    if res.attacked.failures:
        PROBLEMS.add(f"the pair saw {len(res.attacked.failures)} failures under attack")
    if res.online_after < res.connected + 1:
        PROBLEMS.add(f"{res.online_after:.0f} edges online at the end, of {res.connected + 1}")
    for line in PROBLEMS.lines:
        print(f"  problem: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 000 edges, 4 s phases")
    parser.add_argument("--edges", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    parser.add_argument("--attack", nargs=3, help=argparse.SUPPRESS)  # the attacker process
    args = parser.parse_args()
    factory = uvloop.new_event_loop if uvloop is not None else asyncio.new_event_loop
    if args.attack:
        port, holders, seconds = args.attack
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(attack(int(port), int(holders), float(seconds)))
        return
    n = args.edges if args.edges is not None else (2_000 if args.quick else 19_000)
    seconds = 4.0 if args.quick else 15.0
    holders = 200 if args.quick else 400
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="frontier-bench-soak-") as tmp,
        asyncio.Runner(loop_factory=factory) as runner,
    ):
        res = runner.run(run(n, holders, seconds, Path(tmp)))
    rows = build_rows(res)
    report(res, rows, time.perf_counter() - started)
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([row.as_json() for row in rows], out, indent=1)
    head = rows[0]
    print(
        json.dumps(
            {
                "name": "unrelated pair's RPC p99 under attack vs quiet",
                "value": round(head.value, 2),
                "baseline": round(head.baseline, 2),
                "ratio": round(head.ratio, 2),
                "unit": "ms",
            }
        )
    )


if __name__ == "__main__":
    main()
