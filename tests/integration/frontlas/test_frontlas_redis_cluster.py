"""frontlas on a real Redis cluster (three local redis-server nodes, no replicas): every key
carries the ``{frontlas}`` hash tag, so the Lua scripts stay atomic and listings page."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from frontier.frontlas.app import Frontlas
from frontier.geminio.aio import connect
from support.frontlas import frontier_meta, frontlas_config, get_json, payload
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_cluster() -> Iterator[list[str]]:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed (needed to form the cluster)")
    nodes = [RedisServer(extra=("--cluster-enabled", "yes"), cluster=True) for _ in range(3)]
    for node in nodes:
        node.extra += ("--cluster-config-file", str(node.dir / "nodes.conf"))
        node.start()
    try:
        addrs = [node.addr for node in nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        yield addrs
    finally:
        for node in nodes:
            node.cleanup()


async def test_frontlas_works_on_a_redis_cluster(redis_cluster: list[str]) -> None:
    config = frontlas_config(
        "unused:1", redis={"mode": "cluster", "cluster": {"addrs": redis_cluster[:2]}}
    )
    async with Frontlas(config) as frontlas:
        api = frontlas.cluster_api_port

        async def ready() -> bool:
            return await frontlas.ready()

        end = await connect("127.0.0.1", frontlas.frontier_plane_port, meta=frontier_meta("f1"))
        try:
            await end.call("edge_online", payload(frontier_id="f1", edge_id=7, addr="a:1"))
            report = {"frontier_id": "f1", "edges_online": [[8, "b:1"]]}
            await end.call("presence_report", json.dumps(report).encode())
            beat = {"frontier_id": "f1", "edge_ids": [7, 8, 9], "edge_count": 2}
            answer = await end.call("presence_heartbeat", json.dumps(beat).encode())
            assert json.loads(answer)["missing_edge_ids"] == [9]
            status, body = await get_json(api, "/cluster/v1/frontier?edge_id=8")
            assert status == 200
            assert body["frontier"]["edge_count"] == 2
            status, body = await get_json(api, "/cluster/v1/edges?cursor=0&count=100")
            assert status == 200
            assert {e["edge_id"] for e in body["edges"]} == {7, 8}
            assert (await get_json(api, "/cluster/v1/edges/count"))[1] == {"count": 2}
            assert await ready()
        finally:
            await end.close()
