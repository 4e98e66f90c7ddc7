"""A gateway in cluster mode against a real frontlas and redis-server, in process:
registration, readiness, batched reports, heartbeats, and recovery from outages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.geminio.aio import End
from support.freezable_proxy import FreezableProxy
from support.frontlas import frontlas_config, get_json, until_async
from support.gateway import connect_edge, connect_service, gateway_config, until
from support.ports import free_port
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def _cluster_gateway(
    frontlas_port: int, frontier_id: str = "fr-a", heartbeat: float = 10.0
) -> Gateway:
    return Gateway(
        gateway_config(
            daemon={"frontier_id": frontier_id},
            frontlas={
                "enable": True,
                "dial": {"addrs": [f"127.0.0.1:{frontlas_port}"]},
                "heartbeat": heartbeat,
            },
        )
    )


def _frontlas(redis: RedisServer, plane_port: int = 0) -> Frontlas:
    return Frontlas(
        frontlas_config(redis.addr, frontier_plane={"listen": {"addr": f"127.0.0.1:{plane_port}"}})
    )


@asynccontextmanager
async def _registered(
    frontlas: Frontlas, heartbeat: float = 10.0
) -> AsyncIterator[tuple[Gateway, list[End]]]:
    """A cluster-mode gateway registered with `frontlas`, and a list for the test's edges;
    both closed at the end."""
    gateway = _cluster_gateway(frontlas.frontier_plane_port, heartbeat=heartbeat)
    await gateway.start()
    edges: list[End] = []
    try:
        assert gateway.frontlas is not None
        await until(gateway.frontlas.registered.is_set, 15, "registration")
        yield gateway, edges
    finally:
        for edge in edges:
            await edge.close()
        await gateway.close()


@pytest.fixture
async def frontlas(redis_server: RedisServer, redis_client: Any) -> AsyncIterator[Frontlas]:
    async with _frontlas(redis_server) as instance:
        yield instance


async def _edge_ids(frontlas: Frontlas) -> set[int]:
    status, body = await get_json(frontlas.cluster_api_port, "/cluster/v1/edges")
    assert status == 200, body
    return {e["edge_id"] for e in body["edges"]}


async def test_ready_only_once_registered_then_presence_is_reported(
    redis_server: RedisServer, redis_client: Any
) -> None:
    plane_port = free_port()
    gateway = _cluster_gateway(plane_port)
    await gateway.start()
    edges: list[End] = []
    try:
        assert not gateway.ready  # frontlas is not there yet
        async with _frontlas(redis_server, plane_port) as frontlas:
            assert gateway.frontlas is not None
            await until(gateway.frontlas.registered.is_set, 15, "registration")
            assert gateway.ready
            api = frontlas.cluster_api_port
            status, body = await get_json(api, "/cluster/v1/frontiers")
            (frontier,) = body["frontiers"]
            assert frontier["frontier_id"] == "fr-a"
            assert frontier["advertised_sb_addr"] == f"127.0.0.1:{gateway.servicebound_port}"
            assert frontier["advertised_eb_addr"] == f"127.0.0.1:{gateway.edgebound_port}"

            edges = [await connect_edge(gateway.edgebound_port) for _ in range(5)]
            service = await connect_service(gateway.servicebound_port, "svc")
            ids = {e.client_id for e in edges}

            async def reported() -> bool:
                return await _edge_ids(frontlas) == ids

            await until_async(reported, what="the edges to be reported")
            service_path = f"/cluster/v1/service?service_id={service.client_id}"

            async def service_reported() -> bool:
                # Its own batch may follow the edges' (it came online after them).
                status, _ = await get_json(api, service_path)
                return status == 200

            await until_async(service_reported, what="the service to be reported")
            status, body = await get_json(api, service_path)
            assert status == 200
            assert body["service"]["frontier_id"] == "fr-a"
            await edges[0].close()

            async def one_left() -> bool:
                return await _edge_ids(frontlas) == ids - {edges[0].client_id}

            await until_async(one_left, what="the offline edge to be reported")
            await service.close()
        await gateway.close()
    finally:
        for edge in edges:
            await edge.close()
        await gateway.close()


async def test_changes_are_batched(frontlas: Frontlas, redis_client: Any) -> None:
    async with _registered(frontlas) as (gateway, edges):
        # Hold the first report in flight (its script waits for Redis) while 199 more edges
        # come: their events must wait and leave together, not one RPC each.
        await redis_client.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        try:
            edges += [await connect_edge(gateway.edgebound_port) for _ in range(200)]
        finally:
            await redis_client.execute_command("CLIENT", "UNPAUSE")

        async def all_reported() -> bool:
            return len(await _edge_ids(frontlas)) == 200

        await until_async(all_reported, what="200 edges reported")
        reports = frontlas.metrics.rpcs.labels("presence_report", "ok")._value.get()
        assert reports <= 2, reports  # the one held in flight, then one for everything else
        assert frontlas.metrics.rpcs.labels("edge_online", "ok")._value.get() == 0


async def test_heartbeats_restore_what_redis_lost(frontlas: Frontlas, redis_client: Any) -> None:
    async with _registered(frontlas, heartbeat=0.2) as (gateway, edges):
        edges += [await connect_edge(gateway.edgebound_port) for _ in range(3)]
        ids = {e.client_id for e in edges}

        async def reported() -> bool:
            return await _edge_ids(frontlas) == ids

        await until_async(reported, what="the edges to be reported")
        await redis_client.flushall()  # Redis restarted without persistence

        async def restored() -> bool:
            _status, body = await get_json(frontlas.cluster_api_port, "/cluster/v1/frontiers")
            return await _edge_ids(frontlas) == ids and [
                f["edge_count"] for f in body["frontiers"]
            ] == [3]

        await until_async(restored, what="the heartbeat to re-report the edges and counts")


async def test_the_gateway_re_registers_after_a_frontlas_restart(
    redis_server: RedisServer, redis_client: Any
) -> None:
    plane_port = free_port()
    first = _frontlas(redis_server, plane_port)
    await first.start()
    gateway = _cluster_gateway(plane_port)
    await gateway.start()
    edges: list[End] = []
    try:
        assert gateway.frontlas is not None
        await until(gateway.frontlas.registered.is_set, 15, "registration")
        edges += [await connect_edge(gateway.edgebound_port) for _ in range(3)]
        await first.close()
        await redis_client.flushall()  # and the state is gone
        edges.append(await connect_edge(gateway.edgebound_port))  # forwarding goes on
        async with _frontlas(redis_server, plane_port) as second:
            await until(lambda: gateway.frontlas.registrations >= 2, 15, "re-registration")  # type: ignore[union-attr]
            ids = {e.client_id for e in edges}

            async def resynced() -> bool:
                return await _edge_ids(second) == ids

            await until_async(resynced, what="a full resync after re-registering")
            assert gateway.ready
    finally:
        for edge in edges:
            await edge.close()
        await gateway.close()
        await first.close()


async def test_a_silent_frontlas_is_left_for_the_next_address_within_the_peer_timeout(
    frontlas: Frontlas,
) -> None:
    """frontlas (here: the path to it) stops answering without closing: the frontier gives
    it up after ``frontlas.peer_timeout`` and registers through its next address."""
    async with FreezableProxy("127.0.0.1", frontlas.frontier_plane_port) as proxy:
        gateway = Gateway(
            gateway_config(
                daemon={"frontier_id": "fr-a"},
                frontlas={
                    "enable": True,
                    "dial": {
                        "addrs": [
                            f"127.0.0.1:{proxy.port}",
                            f"127.0.0.1:{frontlas.frontier_plane_port}",
                        ]
                    },
                    "peer_timeout": 1.0,
                },
            )
        )
        async with gateway:
            link = gateway.frontlas
            assert link is not None
            await until(link.registered.is_set, 15, "registration")
            edge = await connect_edge(gateway.edgebound_port)
            proxy.freeze()
            waited = await until(lambda: link.registrations >= 2, 15, "registering again")
            assert waited >= 0.9  # the peer timeout, not something quicker, ended it

            async def reported() -> bool:
                return await _edge_ids(frontlas) == {edge.client_id}

            await until_async(reported, what="the edge reported through the next address")
            await edge.close()


async def test_changes_during_a_redis_outage_converge_after_it(
    frontlas: Frontlas, redis_server: RedisServer
) -> None:
    async with _registered(frontlas, heartbeat=0.3) as (gateway, edges):
        edges += [await connect_edge(gateway.edgebound_port) for _ in range(4)]

        async def reported() -> bool:
            return len(await _edge_ids(frontlas)) == 4

        await until_async(reported, what="the first edges")
        redis_server.stop()
        await edges.pop(0).close()  # an offline and two onlines that frontlas cannot store
        edges += [await connect_edge(gateway.edgebound_port) for _ in range(2)]
        await until(lambda: len(gateway.registry.edges) == 5, what="local state")
        redis_server.start()
        ids = {e.client_id for e in edges}

        async def converged() -> bool:
            try:
                return await _edge_ids(frontlas) == ids
            except AssertionError:
                return False

        await until_async(converged, timeout=20, what="the cluster view to match the gateway")


async def test_closing_the_gateway_removes_the_frontier(frontlas: Frontlas) -> None:
    gateway = _cluster_gateway(frontlas.frontier_plane_port)
    await gateway.start()
    assert gateway.frontlas is not None
    await until(gateway.frontlas.registered.is_set, 15, "registration")
    edge = await connect_edge(gateway.edgebound_port)
    api = frontlas.cluster_api_port

    async def known() -> bool:
        return (await get_json(api, f"/cluster/v1/frontier?edge_id={edge.client_id}"))[0] == 200

    await until_async(known, what="the edge to be routable")
    await gateway.close()
    await edge.close()

    async def removed() -> bool:
        return (await get_json(api, "/cluster/v1/frontiers"))[1] == {"frontiers": []}

    await until_async(removed, what="the frontier to leave the cluster")
    assert (await get_json(api, f"/cluster/v1/frontier?edge_id={edge.client_id}"))[0] == 404
