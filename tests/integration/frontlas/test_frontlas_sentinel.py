"""frontlas with Redis in sentinel mode, against real local redis-server processes: a master
and a sentinel monitoring it (started by the test on free ports)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from frontier.frontlas.app import Frontlas
from frontier.geminio.aio import connect
from support.frontlas import frontier_meta, frontlas_config, get_json, payload
from support.ports import free_port
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[tuple[RedisServer, int]]:
    master = RedisServer()
    master.start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor frontlas-master 127.0.0.1 {master.port} 1\n"
    )
    proc = subprocess.Popen(
        [master.binary, str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            out = subprocess.run(
                ["redis-cli", "-p", str(port), "sentinel", "get-master-addr-by-name",
                 "frontlas-master"],
                capture_output=True, text=True, check=False,
            ).stdout  # fmt: skip
            if str(master.port) in out:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"the sentinel did not come up: {out!r}")
            time.sleep(0.05)
        yield master, port
    finally:
        proc.kill()
        proc.wait(10)
        master.cleanup()


async def test_frontlas_finds_its_master_through_the_sentinel(
    sentinel: tuple[RedisServer, int],
) -> None:
    master, sentinel_port = sentinel
    config = frontlas_config(
        "unused:1",
        redis={
            "mode": "sentinel",
            "sentinel": {"addrs": [f"127.0.0.1:{sentinel_port}"], "master_name": "frontlas-master"},
        },
    )
    async with Frontlas(config) as frontlas:
        end = await connect("127.0.0.1", frontlas.frontier_plane_port, meta=frontier_meta("f1"))
        try:
            await end.call("edge_online", payload(frontier_id="f1", edge_id=5, addr="a:1"))
            status, body = await get_json(
                frontlas.cluster_api_port, "/cluster/v1/frontier?edge_id=5"
            )
            assert status == 200
            assert body["frontier"]["frontier_id"] == "f1"
            assert (await get_json(frontlas.observability_port or 0, "/readyz"))[0] == 200
        finally:
            await end.close()
    # the data went to the master the sentinel named
    client = aioredis.Redis(host="127.0.0.1", port=master.port, decode_responses=True)
    try:
        assert await client.get("frontlas:alive:edges:5") == "1"
    finally:
        await client.aclose()
