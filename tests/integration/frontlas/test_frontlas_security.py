"""frontlas's security options. Its two ports behind tokens: a frontier must present
`frontier_plane.token` to register (else a rogue process could claim edges and misroute
every `ClusterService`), and the cluster API needs `control_plane.token` as a bearer token
(the OpenAPI document stays open). A server certificate near its expiry is warned about.
Real frontlas, gateway and redis-server, in process."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.geminio.aio import ConnectRejected, connect
from frontier.sdk import ClusterService, Edge
from frontier.sdk.cluster import FrontlasError
from support.frontlas import frontier_meta, frontlas_config
from support.gateway import gateway_config, until
from support.pki import make_pki
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def _frontlas(redis: RedisServer) -> Frontlas:
    return Frontlas(
        frontlas_config(
            redis.addr,
            control_plane={"listen": {"addr": "127.0.0.1:0"}, "token": "api-secret"},
            frontier_plane={"listen": {"addr": "127.0.0.1:0"}, "token": "plane-secret"},
        )
    )


async def _status(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=headers or {}) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


async def test_a_frontier_without_the_token_cannot_register(
    redis_server: RedisServer, redis_client: Any
) -> None:
    async with _frontlas(redis_server) as frontlas:
        for meta in (frontier_meta("rogue"), b'{"frontier_id": "rogue", "token": "guess"}'):
            with pytest.raises(ConnectRejected, match="frontier authentication failed"):
                await connect("127.0.0.1", frontlas.frontier_plane_port, meta=meta)
        rejected = frontlas.metrics.rejected.labels("token")._value.get()
        assert rejected == 2
        assert await redis_client.keys("*rogue*") == []


async def test_the_api_needs_its_token_and_a_cluster_service_uses_it(
    redis_server: RedisServer, redis_client: Any
) -> None:
    async with _frontlas(redis_server) as frontlas:
        gateway = Gateway(
            gateway_config(
                daemon={"frontier_id": "fr-a"},
                frontlas={
                    "enable": True,
                    "dial": {"addrs": [f"127.0.0.1:{frontlas.frontier_plane_port}"]},
                    "token": "plane-secret",
                },
            )
        )
        async with gateway:
            assert gateway.frontlas is not None
            await until(gateway.frontlas.registered.is_set, 15, "registration with the token")
            api = frontlas.cluster_api_port
            status, body = await _status(api, "/cluster/v1/frontiers")
            assert (status, body) == (401, {"error": "missing bearer token"})
            wrong = {"Authorization": "Bearer nope"}
            assert (await _status(api, "/cluster/v1/frontiers", wrong))[0] == 401
            status, _ = await _status(api, "/cluster/v1/openapi.json")
            assert status == 200
            right = {"Authorization": "Bearer api-secret"}
            status, body = await _status(api, "/cluster/v1/frontiers", right)
            assert status == 200
            assert [f["frontier_id"] for f in body["frontiers"]] == ["fr-a"]

            edge = Edge(f"127.0.0.1:{gateway.edgebound_port}")
            await edge.register("where", lambda request: b"fr-a")
            await edge.start()
            try:
                without = ClusterService(f"127.0.0.1:{api}", name="svc")
                with pytest.raises(FrontlasError, match="missing bearer token") as refused:
                    await without.start()
                assert refused.value.status == 401
                cluster = ClusterService(
                    f"127.0.0.1:{api}", name="svc", frontlas_token="api-secret"
                )
                async with cluster:
                    await until(lambda: cluster.frontiers == ["fr-a"], 15, "the frontier")
                    assert await cluster.call(edge.edge_id, "where", timeout=10) == b"fr-a"
            finally:
                await edge.close()


async def test_a_certificate_about_to_expire_is_warned_about(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_pki(tmp_path)  # its certificates live for an hour
    tls = {"enable": True, "certs": [{"cert": str(pki.server_cert), "key": str(pki.server_key)}]}
    config = frontlas_config(
        redis_server.addr, control_plane={"listen": {"addr": "127.0.0.1:0", "tls": tls}}
    )
    with caplog.at_level(logging.WARNING, logger="frontier.tls"):
        async with Frontlas(config) as frontlas:
            gauge = frontlas.metrics.tls_not_after.labels(
                "control_plane.listen", str(pki.server_cert)
            )
            assert 0 < gauge._value.get() - time.time() <= 3600
    assert "control_plane.listen.tls.certs[0]" in caplog.text
    assert "expires on" in caplog.text
