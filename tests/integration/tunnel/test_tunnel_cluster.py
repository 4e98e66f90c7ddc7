"""The entry in cluster mode (``frontlas.addr``: a ClusterService) with connectors on two
frontiers, all real processes with a private redis-server: each connector is reached
wherever it is connected, and a connector whose frontier dies fails over to the other one
and is reached there (its ID comes from its name, so frontlas finds it under the same ID)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.frontd import Backend
from support.redis_server import redis_server, require_redis_server
from support.tunnel import TOKEN, Api, Daemon, connector, echo_once, entry, frontlas, gateway

pytestmark = pytest.mark.integration


@dataclass
class Cluster:
    tmp: Path
    frontlas: Daemon
    frontiers: list[Daemon]
    entry: Daemon


def _listed(frontlas_api: int) -> int:
    url = f"http://127.0.0.1:{frontlas_api}/cluster/v1/frontiers"
    with urllib.request.urlopen(url, timeout=5) as response:
        return len(json.loads(response.read())["frontiers"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_redis_server()
    tmp = tmp_path_factory.mktemp("tunnel-cluster")
    daemons: list[Daemon] = []
    with redis_server() as redis:
        try:
            coordinator = frontlas(tmp, redis.addr)
            daemons.append(coordinator)
            plane = coordinator.ports["plane"]
            frontiers = [gateway(tmp, frontlas_plane=plane, frontier_id=f"fr-{x}") for x in "ab"]
            daemons += frontiers
            for _ in range(300):  # both registered, so that the entry dials both at start
                if _listed(coordinator.ports["api"]) == 2:
                    break
                time.sleep(0.05)
            the_entry = entry(
                tmp,
                None,
                frontlas={"addr": f"127.0.0.1:{coordinator.ports['api']}"},
                connectors=[{"name": "home", "token": TOKEN}, {"name": "office", "token": TOKEN}],
            )
            daemons.append(the_entry)
            yield Cluster(tmp, coordinator, frontiers, the_entry)
        finally:
            for daemon in reversed(daemons):
                daemon.stop()


async def test_connectors_on_every_frontier_and_failover(cluster: Cluster) -> None:
    a, b = cluster.frontiers
    home = connector(cluster.tmp, [a, b], name="home")  # on fr-a, fr-b as fallback
    office = connector(cluster.tmp, [b], name="office")  # on fr-b
    api = Api(cluster.entry)
    try:
        async with Backend() as backend:
            ports = {}
            for name in ("home", "office"):
                doc = await api.add_app(
                    name=f"{name}-echo", kind="tcp", connector=name, target=backend.addr,
                    listen="127.0.0.1:0",
                )  # fmt: skip
                ports[name] = int(doc["port"])
            assert await echo_once(ports["home"], b"via fr-a") == b"via fr-a"
            assert await echo_once(ports["office"], b"via fr-b") == b"via fr-b"
            seen = len(home.lines)
            a.stop(sig=signal.SIGKILL)  # fr-a dies: home redials fr-b
            await home.await_line("connector 'home' online", start=seen)
            for _ in range(300):  # frontlas learns where home is now
                try:
                    if await echo_once(ports["home"], b"again") == b"again":
                        break
                except (ConnectionResetError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("home was not reached after failing over")
    finally:
        home.stop()
        office.stop()
