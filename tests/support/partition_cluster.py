"""The cluster of tests/partition, one process per role on its own "host" (`support.netns`):

    lb  10.77.0.10   redis-server (loopback) + frontlas (:40011 API, :40012 plane)
    fa  10.77.0.11   frontier fa (:30011 services, :30012 edges, :9091 health)
    fb  10.77.0.12   frontier fb
    cl  10.77.0.20   the clients: this test's thread (edges, a ClusterService, a Service)

Timings are shortened so that each scenario takes seconds, not minutes, while keeping
their order: frontlas's TTLs 3 s, frontiers' presence heartbeats every 0.5 s and their peer
timeout towards frontlas 2 s; clients' peer timeout 3 s (probing after 1.5 s of silence)
with a 5 s heartbeat (the gateways evict silent clients after 10 s).

`Prober` is the application under test: a round of `ClusterService.call(edge, timeout=2)`
to every edge every 0.5 s, each call's start, duration and outcome recorded, from which the
tests read failover times, the longest call and lost edges.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from frontier.sdk import Backoff, ClusterService, Edge, Request, Service
from support.netns import NetLab

__all__ = ["CALL_TIMEOUT", "Call", "PartitionCluster", "Prober", "partition_cluster"]

HOSTS = {"lb": 10, "fa": 11, "fb": 12, "cl": 20}
FRONTIERS = ("fa", "fb")
TTL = 3
CLIENT_PEER_TIMEOUT = 3.0
CLIENT_HEARTBEAT = 5
CALL_TIMEOUT = 2.0
ROUND = 0.5
BACKOFF = Backoff(initial=0.1, maximum=1.0)


@dataclass(frozen=True, slots=True)
class Call:
    edge_id: int
    started: float
    took: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Prober:
    """Calls every edge through the cluster service, round after round."""

    service: ClusterService
    edge_ids: list[int]
    calls: list[Call] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.gather(*(self._call(edge_id) for edge_id in list(self.edge_ids)))
            await asyncio.sleep(max(0.0, ROUND - (time.monotonic() - started)))

    async def _call(self, edge_id: int) -> None:
        started = time.monotonic()
        error = ""
        try:
            reply = await self.service.call(edge_id, "whoami", timeout=CALL_TIMEOUT)
            if reply != b"%d" % edge_id:
                error = f"wrong answer {reply!r}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.calls.append(Call(edge_id, started, time.monotonic() - started, error))

    def since(self, moment: float) -> list[Call]:
        return [call for call in self.calls if call.started >= moment]

    def longest(self, moment: float) -> float:
        return max((call.took for call in self.since(moment)), default=0.0)

    def failures(self, moment: float) -> list[Call]:
        return [call for call in self.since(moment) if not call.ok]

    def recovered_after(self, moment: float) -> float:
        """Seconds from `moment` until every edge's calls succeed for good (the latest
        end of an edge's last failed call)."""
        last_failure = max(
            (call.started + call.took for call in self.failures(moment)), default=moment
        )
        return last_failure - moment

    async def all_reachable(self, timeout: float = 30.0) -> float:  # noqa: ASYNC109
        """Wait for a full round in which every edge answered; seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            mark = time.monotonic()
            await asyncio.sleep(ROUND * 3)
            done = self.since(mark)
            answered = {call.edge_id for call in done if call.ok}
            if answered >= set(self.edge_ids) and not any(not c.ok for c in done):
                return time.monotonic() - started
        failing = sorted({c.edge_id for c in self.failures(started)})
        raise AssertionError(f"edges still unreachable after {timeout} s: {failing[:20]}")


class FrontlasUnavailable(Exception):
    """The cluster API answered 503 (no Redis behind it)."""


class PartitionCluster:
    def __init__(self, lab: NetLab, tmp: Path, *, rebalance: bool) -> None:
        self.lab = lab
        self.tmp = tmp
        self.rebalance = rebalance
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.edges: list[Edge] = []
        self.extra_edges: list[Edge] = []
        self.service: ClusterService | None = None
        self.prober: Prober | None = None
        self._http: aiohttp.ClientSession | None = None

    # -- processes ----------------------------------------------------------------------

    def start_redis(self) -> None:
        self.procs["redis"] = self.lab.spawn(
            "lb",
            [
                "redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.tmp),
            ],
            self.tmp / "redis.log",
        )  # fmt: skip

    def kill_redis(self) -> None:
        proc = self.procs.pop("redis")
        proc.kill()
        proc.wait(10)

    def start_frontlas(self) -> None:
        config = {
            "control_plane": {"listen": {"addr": "0.0.0.0:40011"}},
            "frontier_plane": {
                "listen": {"addr": "0.0.0.0:40012"},
                "expiration": {"edge_meta": TTL, "service_meta": TTL, "alive": TTL},
            },
            "observability": {"addr": "0.0.0.0:9092"},
            "redis": {"standalone": {"addr": "127.0.0.1:6379"}},
        }
        self.procs["frontlas"] = self._daemon("lb", "frontlas", "frontier.frontlas.cli", config)

    def start_frontier(self, fid: str) -> None:
        frontlas: dict[str, Any] = {
            "enable": True,
            "dial": {"addrs": [f"{self.lab.ip('lb')}:40012"]},
            "heartbeat": 0.5,
            "peer_timeout": 2,
        }
        if self.rebalance:
            frontlas["rebalance"] = {
                "enable": True, "interval": 1, "tolerance": 0.2, "min_excess": 5, "rate": 50,
            }  # fmt: skip
        config = {
            "daemon": {"frontier_id": fid, "drain_seconds": 1},
            "servicebound": {"listen": {"addr": "0.0.0.0:30011"}},
            "edgebound": {"listen": {"addr": "0.0.0.0:30012"}, "honour_wanted_id": True},
            "observability": {"enable": True, "addr": "0.0.0.0:9091"},
            "frontlas": frontlas,
        }
        self.procs[fid] = self._daemon(fid, fid, "frontier.gateway.cli", config)

    def _daemon(
        self, host: str, name: str, module: str, config: dict[str, Any]
    ) -> subprocess.Popen[bytes]:
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return self.lab.spawn(
            host,
            [sys.executable, "-m", module, "--config", str(path), "--loglevel", "info"],
            self.tmp / f"{name}.log",
        )

    def signal(self, name: str, sig: signal.Signals) -> None:
        self.procs[name].send_signal(sig)

    async def wait_exit(self, name: str, timeout: float = 20.0) -> int:  # noqa: ASYNC109
        proc = self.procs[name]
        started = time.monotonic()
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{name} did not exit within {timeout} s")
            await asyncio.sleep(0.05)
        return proc.returncode

    async def ready(self, host: str, port: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        started = time.monotonic()
        while True:
            try:
                if (await self.get(host, port, "/readyz"))[0] == 200:
                    return
            except (OSError, aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{host}:{port} not ready after {timeout} s\n{self.logs()}")
            await asyncio.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.tmp.glob("*.log"))
        )

    # -- frontlas's view --------------------------------------------------------------------

    async def get(self, host: str, port: int, path: str) -> tuple[int, Any]:
        assert self._http is not None
        url = f"http://{self.lab.ip(host)}:{port}{path}"
        async with self._http.get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
            text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    async def api(self, path: str) -> Any:
        status, body = await self.get("lb", 40011, path)
        if status == 503:
            raise FrontlasUnavailable(f"GET {path}: {body}")
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body}")
        return body

    async def counts(self) -> dict[str, int]:
        body = await self.api("/cluster/v1/frontiers")
        return {f["frontier_id"]: f["edge_count"] for f in body["frontiers"]}

    async def listed(self) -> dict[str, set[int]]:
        body = await self.api("/cluster/v1/edges")
        listed: dict[str, set[int]] = {}
        for edge in body["edges"]:
            listed.setdefault(edge["frontier_id"], set()).add(edge["edge_id"])
        return listed

    async def counts_at_one_instant(self) -> tuple[dict[str, int], dict[str, set[int]]] | None:
        """Counts and listed edges, read between two equal readings of the counts (None
        when they differ: something changed meanwhile, no instant to compare)."""
        before = await self.counts()
        listed = await self.listed()
        if await self.counts() != before:
            return None
        return before, listed

    async def check_counts(self) -> None:
        """The counts frontlas serves equal the edges it lists for each alive frontier
        (nothing to compare while frontlas has no Redis)."""
        try:
            read = await self.counts_at_one_instant()
        except FrontlasUnavailable:
            return
        if read is None:
            return
        counts, listed = read
        assert counts == {fid: len(listed.get(fid, set())) for fid in counts}, (counts, listed)

    async def until(
        self,
        predicate: Callable[[], Awaitable[bool]],
        timeout: float,  # noqa: ASYNC109
        what: str,
    ) -> float:
        """Wait for `predicate`, checking the counts on the way; seconds waited."""
        started = time.monotonic()
        while not await predicate():
            await self.check_counts()
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    async def settled_counts(self, expected: dict[str, int], timeout: float = 30.0) -> None:  # noqa: ASYNC109
        async def exact() -> bool:
            try:
                return await self.counts() == expected
            except FrontlasUnavailable:
                return False

        await self.until(exact, timeout, f"counts {expected}")

    # -- clients ------------------------------------------------------------------------------

    def addr(self, fid: str, port: int) -> str:
        return f"{self.lab.ip(fid)}:{port}"

    async def edge(self, edge_id: int, frontiers: tuple[str, ...]) -> Edge:
        edge = Edge(
            [self.addr(fid, 30012) for fid in frontiers],
            edge_id=edge_id,
            backoff=BACKOFF,
            heartbeat=CLIENT_HEARTBEAT,
            peer_timeout=CLIENT_PEER_TIMEOUT,
        )

        async def whoami(request: Request) -> bytes:
            return b"%d" % edge_id

        await edge.register("whoami", whoami)
        await edge.start()
        return edge

    def plain_service(self, fid: str) -> Service:
        return Service(
            self.addr(fid, 30011),
            backoff=BACKOFF,
            heartbeat=CLIENT_HEARTBEAT,
            peer_timeout=CLIENT_PEER_TIMEOUT,
        )

    def on(self, fid: str) -> list[Edge]:
        """The edges connected to frontier `fid` right now."""
        ip = self.lab.ip(fid)
        return [
            edge
            for edge in self.edges + self.extra_edges
            if edge.end is not None and edge.end.get_extra_info("peername")[0] == ip
        ]


@asynccontextmanager
async def partition_cluster(
    tmp: Path, *, edges: int = 100, rebalance: bool = False, refresh_interval: float = 1.0
) -> AsyncIterator[PartitionCluster]:
    """Build the network, start every process, connect `edges` edges (odd IDs prefer fa,
    even ones fb, both know both) and a ClusterService calling them all (`Prober`),
    running in the clients' namespace; tear it all down afterwards, whatever happened."""
    with NetLab(HOSTS) as lab:
        cluster = PartitionCluster(lab, tmp, rebalance=rebalance)
        with lab.enter("cl"):
            cluster._http = aiohttp.ClientSession()
            try:
                cluster.start_redis()
                cluster.start_frontlas()
                for fid in FRONTIERS:
                    cluster.start_frontier(fid)
                await cluster.ready("lb", 9092)
                for fid in FRONTIERS:
                    await cluster.ready(fid, 9091)
                cluster.edges = list(
                    await asyncio.gather(
                        *(
                            cluster.edge(i, ("fa", "fb") if i % 2 else ("fb", "fa"))
                            for i in range(1, edges + 1)
                        )
                    )
                )
                half = edges // 2
                await cluster.settled_counts({"fa": half, "fb": edges - half})
                service = ClusterService(
                    f"{lab.ip('lb')}:40011",
                    name="backend",
                    refresh_interval=refresh_interval,
                    backoff=BACKOFF,
                    heartbeat=CLIENT_HEARTBEAT,
                    peer_timeout=CLIENT_PEER_TIMEOUT,
                    http_timeout=2.0,
                )
                cluster.service = service
                await service.start()
                cluster.prober = Prober(service, [edge.edge_id for edge in cluster.edges])
                cluster.prober.start()
                await cluster.prober.all_reachable()
                yield cluster
            except BaseException:
                print(cluster.logs())
                raise
            finally:
                if cluster.prober is not None:
                    await cluster.prober.stop()
                if cluster.service is not None:
                    await cluster.service.close()
                await asyncio.gather(
                    *(edge.close() for edge in cluster.edges + cluster.extra_edges),
                    return_exceptions=True,
                )
                await cluster._http.close()
