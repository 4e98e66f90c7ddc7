"""Rebalancing (``frontlas.rebalance``) across two in-process gateways, a real frontlas and
redis-server: edges that all landed on one frontier are moved, paced, until both hold about
the mean, and none is lost on the way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.sdk import Backoff, Edge
from support.frontlas import frontlas_config, get_json, until_async
from support.gateway import gateway_config, until
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration

EDGES = 20
REBALANCE = {"enable": True, "interval": 0.3, "tolerance": 0.2, "min_excess": 2, "rate": 50}


def _gateway(frontlas: Frontlas, frontier_id: str) -> Gateway:
    return Gateway(
        gateway_config(
            daemon={"frontier_id": frontier_id},
            frontlas={
                "enable": True,
                "dial": {"addrs": [f"127.0.0.1:{frontlas.frontier_plane_port}"]},
                "heartbeat": 0.5,
                "rebalance": REBALANCE,
            },
        )
    )


@pytest.fixture
async def frontlas(redis_server: RedisServer, redis_client: Any) -> AsyncIterator[Frontlas]:
    async with Frontlas(frontlas_config(redis_server.addr)) as instance:
        yield instance


async def _counts(frontlas: Frontlas) -> dict[str, int]:
    status, body = await get_json(frontlas.cluster_api_port, "/cluster/v1/frontiers")
    assert status == 200, body
    return {f["frontier_id"]: f["edge_count"] for f in body["frontiers"]}


async def test_a_frontier_holding_every_edge_sheds_its_excess_to_the_other(
    frontlas: Frontlas,
) -> None:
    async with _gateway(frontlas, "fr-a") as a, _gateway(frontlas, "fr-b") as b:
        for gateway in (a, b):
            assert gateway.frontlas is not None
            await until(gateway.frontlas.registered.is_set, 15, "registration")
        addresses = [f"127.0.0.1:{a.edgebound_port}", f"127.0.0.1:{b.edgebound_port}"]
        # every edge tries a first: all land there, as after b failed and came back
        edges = [Edge(addresses, backoff=Backoff(initial=0.05, maximum=0.2)) for _ in range(EDGES)]
        try:
            for edge in edges:
                await edge.start()

            async def balanced() -> bool:
                counts = await _counts(frontlas)
                return (
                    len(a.registry.edges) + len(b.registry.edges) == EDGES
                    and abs(len(a.registry.edges) - len(b.registry.edges)) <= 4
                    and counts == {"fr-a": len(a.registry.edges), "fr-b": len(b.registry.edges)}
                )

            await until_async(balanced, timeout=30, what="the edges to spread over both")
            # A background round that began before the balance may still be asking its last
            # edges to move (paced): stop the background rounds, then look once all is still.
            assert a.rebalancer is not None
            assert b.rebalancer is not None
            await a.rebalancer.close()
            await b.rebalancer.close()
            await until_async(balanced, timeout=30, what="the last moved edges to land")
            moved = _rebalanced(a)
            assert EDGES // 2 - 2 <= moved <= EDGES // 2 + 2
            assert _rebalanced(b) == 0  # below the mean: never sheds

            # balanced: no more moves (a few rounds later, nothing was shed)
            for _ in range(3):
                assert await a.rebalancer.round() == 0
            assert _rebalanced(a) == moved

            # and no edge was lost: every one is online again, held by one of the two (an
            # edge learns it was moved a moment after its gateway let it go: wait for both)
            def settled() -> bool:
                held = set(a.registry.edges) | set(b.registry.edges)
                ids = {edge.edge_id for edge in edges}
                return all(edge.online for edge in edges) and held == ids

            await until(settled, 10, "every edge online, each held by one of the two")
        finally:
            for edge in edges:
                await edge.close()


def _rebalanced(gateway: Gateway) -> float:
    value = gateway.metrics.registry.get_sample_value("frontier_rebalanced_edges_total")
    return value or 0.0
