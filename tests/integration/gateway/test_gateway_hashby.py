"""`exchange.hashby` through a real gateway: which service gets an edge's calls."""

from __future__ import annotations

import collections

import pytest

from frontier.gateway import Gateway
from frontier.geminio.aio import End, Request
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration

TRUSTING = {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}
"""The tests pick edge IDs to know where the hash sends them."""


async def _services(gw: Gateway, count: int) -> list[End]:
    services = []
    for index in range(count):
        service = await connect_service(gw.servicebound_port, name="svc", client_id=index + 1)

        async def who(request: Request, index: int = index) -> bytes:
            return str(index).encode()

        await service.register("who", who)
        services.append(service)
    return services


async def _picks(gw: Gateway, edge_ids: range) -> dict[int, int]:
    picks = {}
    for edge_id in edge_ids:
        edge = await connect_edge(gw.edgebound_port, client_id=edge_id)
        picks[edge_id] = int(await edge.call("who"))
        await edge.close()
    return picks


async def test_edgeid_is_edge_id_modulo_the_services() -> None:
    async with Gateway(gateway_config(exchange={"hashby": "edgeid"}, edgebound=TRUSTING)) as gw:
        services = await _services(gw, 3)
        picks = await _picks(gw, range(100, 130))
        assert all(pick == edge_id % 3 for edge_id, pick in picks.items())
        for service in services:
            await service.close()


async def test_srcip_sends_one_address_to_one_service() -> None:
    async with Gateway(gateway_config(exchange={"hashby": "srcip"})) as gw:
        services = await _services(gw, 3)
        picks = await _picks(gw, range(100, 112))
        # every edge comes from 127.0.0.1 = 0x7f000001; 2130706433 % 3 == 2
        assert set(picks.values()) == {0x7F000001 % 3}
        for service in services:
            await service.close()


async def test_random_spreads_over_every_service() -> None:
    async with Gateway(gateway_config(exchange={"hashby": "random"})) as gw:
        services = await _services(gw, 2)
        edge = await connect_edge(gw.edgebound_port)
        counts = collections.Counter([int(await edge.call("who")) for _ in range(200)])
        assert set(counts) == {0, 1}  # P(miss one) = 2 * 2**-200
        await edge.close()
        for service in services:
            await service.close()


async def test_consistent_moves_only_the_departed_services_edges() -> None:
    async with Gateway(gateway_config(exchange={"hashby": "consistent"}, edgebound=TRUSTING)) as gw:
        services = await _services(gw, 4)
        before = await _picks(gw, range(1000, 1200))
        assert len(set(before.values())) == 4
        await services[3].close()
        await until(lambda: len(gw.registry.services) == 3, what="the service to leave")
        after = await _picks(gw, range(1000, 1200))
        moved = [edge_id for edge_id in before if before[edge_id] != after[edge_id]]
        # only the edges of the departed service moved, and they all had to
        assert moved == [edge_id for edge_id in before if before[edge_id] == 3]
        for service in services[:3]:
            await service.close()
