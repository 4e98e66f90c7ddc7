"""frontlas in process: the frontier plane with Go RPC payloads, the REST cluster API, and
the behaviour while its Redis is down."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from frontier.frontlas.app import Frontlas
from frontier.geminio.aio import ConnectRejected, End, RPCError, connect
from support.frontlas import frontier_meta, frontlas_config, get_json, payload, until_async
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def frontlas(redis_server: RedisServer, redis_client: Any) -> AsyncIterator[Frontlas]:
    async with Frontlas(frontlas_config(redis_server.addr)) as instance:
        yield instance


async def _frontier(frontlas: Frontlas, fid: str = "f1", instance: str = "") -> End:
    return await connect(
        "127.0.0.1",
        frontlas.frontier_plane_port,
        meta=frontier_meta(fid, instance, sb="10.0.0.5:30011", eb="10.0.0.5:30012"),
    )


async def test_a_go_frontier_registers_and_reports_with_the_go_payloads(frontlas: Frontlas) -> None:
    port = frontlas.cluster_api_port
    end = await _frontier(frontlas)
    try:
        # exactly what the Go frontier's informer sends (pkg/apis/proto.go)
        await end.call("edge_online", payload(frontier_id="f1", edge_id=42, addr="1.1.1.1:9"))
        await end.call("edge_heartbeat", payload(frontier_id="f1", edge_id=42))
        await end.call(
            "service_online",
            payload(frontier_id="f1", service_id=7, service='{"service":"s"}', addr="2.2.2.2:1"),
        )
        await end.call("service_heartbeat", payload(frontier_id="f1", service_id=7))
        await end.call("frontier_stats", payload(frontier_id="f1", edge_count=1, service_count=1))

        assert await get_json(port, "/cluster/v1/frontiers") == (
            200,
            {
                "frontiers": [
                    {
                        "frontier_id": "f1",
                        "advertised_sb_addr": "10.0.0.5:30011",
                        "advertised_eb_addr": "10.0.0.5:30012",
                        "edge_count": 1,
                        "service_count": 1,
                    }
                ]
            },
        )
        status, body = await get_json(port, "/cluster/v1/frontier?edge_id=42")
        assert status == 200
        assert body["frontier"]["frontier_id"] == "f1"
        assert body["fontier"] == body["frontier"]  # upstream's field name, for its clients
        status, body = await get_json(port, "/cluster/v1/edge?edge_id=42")
        assert status == 200
        assert body["edge"]["addr"] == "1.1.1.1:9"
        assert body["edge"]["edge_id"] == 42
        status, body = await get_json(port, "/cluster/v1/edges?edge_ids=42,43")
        assert [e["edge_id"] for e in body["edges"]] == [42]
        status, body = await get_json(port, "/cluster/v1/service?service_id=7")
        assert status == 200
        assert body["service"]["service"] == '{"service":"s"}'
        assert (await get_json(port, "/cluster/v1/edges/count"))[1] == {"count": 1}
        assert (await get_json(port, "/cluster/v1/services/count"))[1] == {"count": 1}
        status, body = await get_json(port, "/cluster/v1/frontiers?edge_ids=42")
        assert [f["frontier_id"] for f in body["frontiers"]] == ["f1"]

        await end.call("edge_offline", payload(frontier_id="f1", edge_id=42))
        await end.call("service_offline", payload(frontier_id="f1", service_id=7))
        assert (await get_json(port, "/cluster/v1/edge?edge_id=42"))[0] == 404
        assert (await get_json(port, "/cluster/v1/services"))[1] == {"services": []}
    finally:
        await end.close()

    async def gone() -> bool:
        return (await get_json(port, "/cluster/v1/frontiers"))[1] == {"frontiers": []}

    await until_async(gone, what="the frontier to be removed when its connection ends")


async def test_duplicate_frontier_ids_are_refused_with_a_reason(frontlas: Frontlas) -> None:
    first = await _frontier(frontlas, "f1", instance="a")
    try:
        with pytest.raises(ConnectRejected, match="already registered"):
            await _frontier(frontlas, "f1", instance="b")
        with pytest.raises(ConnectRejected, match="already registered"):
            await _frontier(frontlas, "f1")  # a Go frontier (no instance)
        # the same process may come back on a new connection (frontlas restart, network)
        again = await _frontier(frontlas, "f1", instance="a")
        await again.close()
    finally:
        await first.close()


async def test_bad_input_fails_the_call_and_keeps_the_connection(frontlas: Frontlas) -> None:
    with pytest.raises(ConnectRejected, match="frontier meta"):
        await connect("127.0.0.1", frontlas.frontier_plane_port, meta=b"not json")
    end = await _frontier(frontlas)
    try:
        with pytest.raises(RPCError, match="not JSON"):
            await end.call("edge_online", b"{")
        with pytest.raises(RPCError, match="edge_id must be an unsigned 64-bit integer"):
            await end.call("edge_online", payload(frontier_id="f1", edge_id=-1))
        with pytest.raises(RPCError, match="not this connection's"):
            await end.call("edge_online", payload(frontier_id="other", edge_id=1))
        with pytest.raises(RPCError, match="no such rpc"):
            await end.call("drop_everything", b"{}")
        await end.call("edge_online", payload(frontier_id="f1", edge_id=1, addr="a:1"))
    finally:
        await end.close()
    port = frontlas.cluster_api_port
    status, body = await get_json(port, "/cluster/v1/edge?edge_id=abc")
    assert status == 400
    assert "edge_id" in body["error"]
    status, body = await get_json(port, "/cluster/v1/frontier")
    assert status == 400
    assert "required" in body["error"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("/cluster/v1/edge?edge_id=\u0661\u0662", "edge_id"),  # Arabic-Indic digits, not 12
        ("/cluster/v1/edge?edge_id=\uff11\uff12", "edge_id"),  # fullwidth digits
        ("/cluster/v1/frontier?edge_id=\u00b2", "edge_id"),  # a superscript two
        ("/cluster/v1/edge?edge_id=%2B12", "edge_id"),
        ("/cluster/v1/edge?edge_id=1_2", "edge_id"),
        ("/cluster/v1/edge?edge_id=18446744073709551616", "edge_id"),
        ("/cluster/v1/edge?edge_id=", "edge_id"),  # required: empty is absent
        ("/cluster/v1/frontiers?count=1&count=abc", "count"),  # repeats are not ignored
        ("/cluster/v1/frontiers?count=1&count=1", "count"),
        ("/cluster/v1/edge?edge_id=12&edge_id=12", "edge_id"),
        ("/cluster/v1/edges?cursor=%D9%A1", "cursor"),
        ("/cluster/v1/edges?edge_ids=12,\u0662", "edge_ids"),
        ("/cluster/v1/edges?edge_ids=", "edge_ids"),  # an empty list is not "everything"
        ("/cluster/v1/services?service_ids=1,,2", "service_ids"),
        ("/cluster/v1/frontiers?frontier_ids=f1,", "frontier_ids"),
        ("/cluster/v1/edges?edge_id=12", "edge_id"),  # a typo is not a full listing
        ("/cluster/v1/edges/count?verbose=1", "verbose"),
        ("/cluster/v1/health?x=", "x"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    frontlas: Frontlas, query: str, param: str
) -> None:
    status, body = await get_json(frontlas.cluster_api_port, query)
    assert status == 400, body
    assert body["param"] == param
    assert body["error"].startswith(f"{param}: ") or f" {param} " in body["error"]


async def test_parameters_in_every_accepted_form(frontlas: Frontlas) -> None:
    end = await _frontier(frontlas)
    try:
        for edge_id in (12, 13):
            await end.call("edge_online", payload(frontier_id="f1", edge_id=edge_id, addr="a:1"))
        port = frontlas.cluster_api_port
        for query in ("edge_ids=12&edge_ids=13", "edge_ids=12,13", "edge_ids=0012&edge_ids=13"):
            status, body = await get_json(port, f"/cluster/v1/edges?{query}")
            assert status == 200, (query, body)
            assert sorted(e["edge_id"] for e in body["edges"]) == [12, 13], query
        status, body = await get_json(port, "/cluster/v1/edge?edge_id=00012")
        assert (status, body["edge"]["edge_id"]) == (200, 12)
        status, body = await get_json(port, "/cluster/v1/edges?cursor=&count=")  # absent
        assert status == 200
        assert "cursor" not in body
        status, body = await get_json(port, "/cluster/v1/edges?cursor=0&count=18446744073709551615")
        assert status == 200  # the count is capped, not refused
        assert body["cursor"] == 0
        assert len(body["edges"]) == 2
    finally:
        await end.close()


async def test_unknown_paths_and_methods_are_json(frontlas: Frontlas) -> None:
    base = f"http://127.0.0.1:{frontlas.cluster_api_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/cluster/v1/nothing") as response:
            assert response.status == 404
            assert await response.json() == {"error": "not found"}
        async with session.post(f"{base}/cluster/v1/edges") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "GET,HEAD"
            assert await response.json() == {"error": "method not allowed"}


async def test_the_openapi_document_describes_every_route(frontlas: Frontlas) -> None:
    status, doc = await get_json(frontlas.cluster_api_port, "/cluster/v1/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    routes = {r.resource.canonical for r in frontlas._api.app.router.routes()}  # type: ignore[union-attr]
    documented = set(doc["paths"]) | {"/cluster/v1/openapi.json"}
    assert routes == documented
    for path, item in doc["paths"].items():
        assert "200" in item["get"]["responses"], path


async def test_observability_reports_redis_and_rpcs(frontlas: Frontlas) -> None:
    port = frontlas.observability_port
    assert port is not None
    assert (await get_json(port, "/healthz"))[0] == 200
    assert (await get_json(port, "/readyz"))[0] == 200
    end = await _frontier(frontlas)
    await end.call("edge_online", payload(frontier_id="f1", edge_id=1, addr="a:1"))
    await end.close()
    status, text = await get_json(port, "/metrics")
    assert status == 200
    assert 'frontlas_rpcs_total{method="edge_online",result="ok"} 1.0' in text
    assert "frontlas_redis_up 1.0" in text


async def test_redis_outage_makes_frontlas_unready_not_dead(
    frontlas: Frontlas, redis_server: RedisServer
) -> None:
    obs, api = frontlas.observability_port, frontlas.cluster_api_port
    assert obs is not None
    end = await _frontier(frontlas)
    try:
        redis_server.stop()

        async def unready() -> bool:
            return (await get_json(obs, "/readyz"))[0] == 503

        await until_async(unready, what="/readyz to report the outage")
        assert (await get_json(obs, "/healthz"))[0] == 200  # alive: do not restart us
        status, body = await get_json(api, "/cluster/v1/health")
        assert (status, body) == (417, {"status": "NOT_SERVING"})
        status, body = await get_json(api, "/cluster/v1/frontiers")
        assert status == 503
        assert "redis unavailable" in body["error"]
        with pytest.raises(RPCError, match="redis unavailable"):
            await end.call("edge_online", payload(frontier_id="f1", edge_id=1, addr="a:1"))
        with pytest.raises(ConnectRejected, match="redis unavailable"):
            await _frontier(frontlas, "f2")

        redis_server.start()  # empty: the harshest case

        async def ready() -> bool:
            return (await get_json(obs, "/readyz"))[0] == 200

        await until_async(ready, what="/readyz after Redis returned")
        # the frontier is still connected: its reports work again and re-create its keys
        await end.call(
            "presence_heartbeat", json.dumps({"frontier_id": "f1", "edge_ids": [1]}).encode()
        )
        await end.call("edge_online", payload(frontier_id="f1", edge_id=1, addr="a:1"))
        status, body = await get_json(api, "/cluster/v1/frontier?edge_id=1")
        assert status == 200
        assert body["frontier"]["frontier_id"] == "f1"
    finally:
        await end.close()


async def test_geminio_heartbeats_keep_a_go_frontier_registered(
    frontlas: Frontlas, redis_client: Any
) -> None:
    """A Go frontier sends no presence heartbeat RPC: its connection's geminio heartbeats
    renew its registration (here every 5 s, the shortest interval geminio allows)."""
    end = await connect(
        "127.0.0.1", frontlas.frontier_plane_port, meta=frontier_meta("go-1"), heartbeat=5
    )
    try:
        key = "frontlas:alive:frontiers:go-1"
        await redis_client.expire(key, 8)  # would lapse before a second heartbeat
        await redis_client.expire("frontlas:frontiers:go-1", 8)

        async def renewed() -> bool:
            return bool(await redis_client.ttl(key) > 8)

        await until_async(renewed, timeout=15, what="a heartbeat to renew the registration")
        assert await redis_client.ttl("frontlas:frontiers:go-1") > 8
    finally:
        await end.close()
