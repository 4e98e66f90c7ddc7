"""Duplicate IDs: the newer connection wins, after the older one's cleanup has finished."""

from __future__ import annotations

import asyncio

import pytest

from frontier.conventions import EdgePresence
from frontier.gateway import Gateway
from frontier.geminio.aio import End, Request
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration


async def test_newer_edge_wins_and_old_cleanup_comes_first() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)
        log: list[tuple[str, int, str]] = []

        async def edge_online(request: Request) -> bytes:
            event = EdgePresence.decode(request.data)
            log.append(("online", event.edge_id, event.addr))
            return b""

        async def edge_offline(request: Request) -> bytes:
            event = EdgePresence.decode(request.data)
            log.append(("offline", event.edge_id, event.addr))
            return b""

        await service.register("edge_online", edge_online)
        await service.register("edge_offline", edge_offline)

        old = await connect_edge(gw.edgebound_port, client_id=5)
        new = await connect_edge(gw.edgebound_port, client_id=5)
        await asyncio.wait_for(old.wait_closed(), 5)
        assert gw.registry.edges[5].end is not None
        old_addr = "{}:{}".format(*old.get_extra_info("sockname")[:2])
        new_addr = "{}:{}".format(*new.get_extra_info("sockname")[:2])
        assert log == [
            ("online", 5, old_addr),
            ("offline", 5, old_addr),
            ("online", 5, new_addr),
        ]

        async def ping(request: Request) -> bytes:
            return b"new"

        await new.register("ping", ping)
        from frontier.conventions import append_edge_id

        assert await service.call("ping", custom=append_edge_id(b"", 5)) == b"new"
        assert gw.metrics.duplicate_kicks.labels("edge")._value.get() == 1
        await new.close()
        await service.close()


async def test_concurrent_duplicates_leave_exactly_one_registered() -> None:
    async with Gateway(gateway_config()) as gw:
        ends = await asyncio.gather(
            *(connect_edge(gw.edgebound_port, client_id=8) for _ in range(5)),
            return_exceptions=True,
        )
        survivors: list[End] = [e for e in ends if isinstance(e, End)]
        await until(lambda: sum(not e.closed for e in survivors) == 1, what="one survivor")
        alive = next(e for e in survivors if not e.closed)
        await until(lambda: gw.registry.edges.get(8) is not None)
        assert gw.registry.edges[8].end.meta == alive.meta
        assert len(gw.registry.edges) == 1
        # no stale state: once it leaves, the ID is free and clean
        await alive.close()
        await until(lambda: not gw.registry.edges, what="registry empty")
        again = await connect_edge(gw.edgebound_port, client_id=8)
        assert again.client_id == 8
        await again.close()


async def test_duplicate_service_id_replaces_the_older_service() -> None:
    async with Gateway(gateway_config()) as gw:
        old = await connect_service(gw.servicebound_port, name="a", topics=("t",), client_id=3)
        new = await connect_service(gw.servicebound_port, name="b", topics=("u",), client_id=3)
        await asyncio.wait_for(old.wait_closed(), 5)
        entry = gw.registry.services[3]
        assert (entry.service, entry.topics) == ("b", ("u",))
        assert gw.registry.services_for_topic("t") == []
        assert gw.registry.services_named("a") == []
        await new.close()
        await until(lambda: not gw.registry.services)
