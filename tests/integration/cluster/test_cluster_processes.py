"""Cluster mode end to end, across processes: one frontlas, two frontier processes, a real
redis-server, a ClusterService and edges spread over both frontiers.

Faults: one frontier is SIGKILLed (its edges fail over to the other and the service reaches
them again within `FAILOVER_BOUND` seconds), and Redis is stopped and started empty in the
middle (forwarding goes on meanwhile and no routing is lost once it is back).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from frontier.geminio.aio import Backoff, Request, Stream
from frontier.sdk import ClusterService, Edge
from support.frontlas import get_json, until_async
from support.ports import free_port
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.integration

FAILOVER_BOUND = 15.0
"""Seconds from SIGKILL of a frontier until the service reaches every one of its edges
through the other frontier (edges redial with 0.2-1 s backoff; typically ~2 s)."""

EDGES = 6


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            self.popen.wait(15)


def _spawn(name: str, module: str, config: dict[str, Any], tmp: Path, env: dict[str, str]) -> Proc:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp / f"{name}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", module, "--config", str(path), "--loglevel", "debug"],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Proc(name, popen, log, {})


@dataclass
class Cluster:
    redis: RedisServer
    frontlas: Proc
    frontiers: dict[str, Proc]
    tmp: Path

    @property
    def api(self) -> int:
        return self.frontlas.ports["api"]

    def logs(self) -> str:
        return "\n".join(
            f"--- {proc.name} ---\n{proc.log.read_text()[-4000:]}"
            for proc in (self.frontlas, *self.frontiers.values())
        )


async def _ready(port: int) -> bool:
    try:
        return (await get_json(port, "/readyz"))[0] == 200
    except OSError:
        return False


@pytest.fixture
def redis_srv() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def cluster(redis_srv: RedisServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    api, plane, fl_obs = free_port(), free_port(), free_port()
    frontlas = _spawn(
        "frontlas",
        "frontier.frontlas.cli",
        {
            "control_plane": {"listen": {"addr": f"127.0.0.1:{api}"}},
            "frontier_plane": {"listen": {"addr": f"127.0.0.1:{plane}"}},
            "observability": {"addr": f"127.0.0.1:{fl_obs}"},
            "redis": {"standalone": {"addr": redis_srv.addr}},
        },
        tmp_path,
        {},
    )
    frontlas.ports = {"api": api, "plane": plane, "obs": fl_obs}
    frontiers = {}
    for fid in ("fr-a", "fr-b"):
        sb, eb, obs = free_port(), free_port(), free_port()
        proc = _spawn(
            fid,
            "frontier.gateway.cli",
            {
                "servicebound": {"listen": {"addr": f"127.0.0.1:{sb}"}},
                # edges pick their IDs, so that one can be followed across frontiers
                "edgebound": {"listen": {"addr": f"127.0.0.1:{eb}"}, "honour_wanted_id": True},
                "observability": {"enable": True, "addr": f"127.0.0.1:{obs}"},
                "frontlas": {
                    "enable": True,
                    "dial": {"addrs": [f"127.0.0.1:{plane}"]},
                    "heartbeat": 0.5,
                },
            },
            tmp_path,
            {"FRONTIER_ID": fid, "FRONTIER_DRAIN_SECONDS": "0"},
        )
        proc.ports = {"sb": sb, "eb": eb, "obs": obs}
        frontiers[fid] = proc
    result = Cluster(redis_srv, frontlas, frontiers, tmp_path)
    try:
        for proc in (frontlas, *frontiers.values()):
            port = proc.ports["obs"]

            async def ready(port: int = port) -> bool:
                return await _ready(port)

            await until_async(ready, timeout=30, what=f"{proc.name} to be ready")
        yield result
    except BaseException:
        print(result.logs())
        raise
    finally:
        for proc in (*frontiers.values(), frontlas):
            proc.kill(signal.SIGTERM if proc.alive() else signal.SIGKILL)


async def _edges(cluster: Cluster) -> list[Edge]:
    """EDGES edges with fixed IDs, half preferring each frontier, both addresses known."""
    a = f"127.0.0.1:{cluster.frontiers['fr-a'].ports['eb']}"
    b = f"127.0.0.1:{cluster.frontiers['fr-b'].ports['eb']}"
    edges = []
    for i in range(EDGES):
        edge_id = 1000 + i
        edge = Edge(
            [a, b] if i % 2 == 0 else [b, a],
            edge_id=edge_id,
            backoff=Backoff(initial=0.2, maximum=1.0),
            accept_streams=True,
        )

        async def whoami(request: Request, edge_id: int = edge_id) -> bytes:
            return f"edge {edge_id}: ".encode() + request.data

        await edge.register("whoami", whoami)
        await edge.start()
        edges.append(edge)
    return edges


async def _where(cluster: Cluster, edge_id: int) -> str | None:
    status, body = await get_json(cluster.api, f"/cluster/v1/frontier?edge_id={edge_id}")
    return body["frontier"]["frontier_id"] if status == 200 else None


async def _reach_all(service: ClusterService, edges: list[Edge], tag: bytes) -> None:
    for edge in edges:
        reply = await service.call(edge.edge_id, "whoami", tag, timeout=5)
        assert reply == f"edge {edge.edge_id}: ".encode() + tag


async def _echo_streams(edges: list[Edge]) -> list[asyncio.Task[None]]:
    async def serve(edge: Edge) -> None:
        while True:
            stream: Stream = await edge.accept_stream()
            data = await stream.read(100)
            stream.write(data[::-1])
            await stream.close()

    return [asyncio.create_task(serve(edge)) for edge in edges]


async def test_a_cluster_service_reaches_every_edge_and_survives_faults(cluster: Cluster) -> None:
    edges = await _edges(cluster)
    service = ClusterService(
        f"127.0.0.1:{cluster.api}", name="backend", refresh_interval=0.5, accept_streams=True
    )
    servers: list[asyncio.Task[None]] = []
    try:

        async def spread() -> bool:
            where = [await _where(cluster, e.edge_id) for e in edges]
            return sorted(where) == ["fr-a"] * (EDGES // 2) + ["fr-b"] * (EDGES // 2)

        await until_async(spread, what="the edges to be reported on both frontiers")
        await service.start()
        await until_async(
            lambda: _true(sorted(service.frontiers) == ["fr-a", "fr-b"]), what="both frontiers"
        )

        # calls, publishes and streams, to every edge on both frontiers
        await _reach_all(service, edges, b"hello")
        for edge in edges:
            receiving = asyncio.create_task(_receive_and_ack(edge))
            await service.publish(edge.edge_id, b"note %d" % edge.edge_id, timeout=5)
            assert await asyncio.wait_for(receiving, 5) == b"note %d" % edge.edge_id
        servers = await _echo_streams(edges)
        for edge in edges:
            stream = await service.open_stream(edge.edge_id)
            stream.write(b"abc%d" % edge.edge_id)
            assert await asyncio.wait_for(stream.read(100), 5) == (b"abc%d" % edge.edge_id)[::-1]
            await stream.close()

        # edges -> the service (fan-in from both frontiers)
        for edge in edges:
            await edge.open_stream("backend")  # reaches the service's accept_stream
        accepted = [await asyncio.wait_for(service.accept_stream(), 5) for _ in edges]
        assert len(accepted) == EDGES
        for stream in accepted:
            await stream.close()

        # SIGKILL one frontier: its edges fail over and are reachable again within the bound
        killed = cluster.frontiers["fr-a"]
        on_a = [e for e in edges if await _where(cluster, e.edge_id) == "fr-a"]
        assert len(on_a) == EDGES // 2
        started = time.monotonic()
        killed.kill(signal.SIGKILL)

        async def all_reachable() -> bool:
            try:
                await _reach_all(service, edges, b"after failover")
            except Exception:
                return False
            return True

        await until_async(all_reachable, timeout=FAILOVER_BOUND, what="failover", interval=0.1)
        failover = time.monotonic() - started
        print(f"failover: every edge reachable again {failover:.2f} s after SIGKILL")

        async def view_after_failover() -> bool:
            # frontlas drops fr-a when its connection ends, on its own schedule
            _, body = await get_json(cluster.api, "/cluster/v1/frontiers")
            return [f["frontier_id"] for f in body["frontiers"]] == ["fr-b"] and all(
                [await _where(cluster, e.edge_id) == "fr-b" for e in edges]
            )

        await until_async(view_after_failover, what="fr-a gone from the cluster view")

        # Redis stopped: forwarding goes on (routes are cached; frontiers forward locally)
        cluster.redis.stop()
        await _reach_all(service, edges, b"during outage")
        cluster.redis.start()  # empty: every key is gone

        # once it is back, the heartbeats restore every route, for a brand-new service too
        async def restored() -> bool:
            try:
                return all([await _where(cluster, e.edge_id) == "fr-b" for e in edges])
            except (OSError, KeyError):
                return False

        await until_async(restored, timeout=20, what="routing restored after Redis returned")
        async with ClusterService(f"127.0.0.1:{cluster.api}", refresh_interval=0.5) as fresh:
            await _reach_all(fresh, edges, b"after outage")
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        for task in servers:
            task.cancel()
        await service.close()
        for edge in edges:
            await edge.close()


async def _receive_and_ack(edge: Edge) -> bytes:
    message = await edge.receive()
    message.done()
    return message.data


async def _true(value: bool) -> bool:
    return value
