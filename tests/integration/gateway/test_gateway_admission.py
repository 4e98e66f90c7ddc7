"""Admission without anything to wait for takes no task of its own.

With no service assigning IDs or authorising edges, the gateway decides synchronously in
the handshake (`ServerHooks.admit_now`); with an `edge_online` service it asks it, as
before. Both admit the same edges under the same rules."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from frontier.conventions import EdgePresence
from frontier.gateway import Gateway
from support.gateway import connect_edge, connect_service, gateway_config


def _count_tasks(counted: list[str]) -> Any:
    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any]
    ) -> asyncio.Task[Any]:
        counted.append(getattr(coro, "__qualname__", "?"))
        return asyncio.Task(coro, loop=loop)  # type: ignore[arg-type]

    return factory


async def test_without_hooks_no_decision_task_is_made() -> None:
    async with Gateway(gateway_config()) as gw:
        loop = asyncio.get_running_loop()
        counted: list[str] = []
        loop.set_task_factory(_count_tasks(counted))
        try:
            edges = [await connect_edge(gw.edgebound_port) for _ in range(5)]
        finally:
            loop.set_task_factory(None)
        assert not [name for name in counted if "_decide" in name], counted
        assert sorted(gw.registry.edges) == sorted(e.client_id for e in edges)
        for edge in edges:
            await edge.close()


async def test_an_authorising_service_is_still_asked() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)
        seen: list[int] = []

        async def online(request: Any) -> bytes:
            seen.append(EdgePresence.decode(request.data).edge_id)
            return b""

        await service.register("edge_online", online)
        edge = await connect_edge(gw.edgebound_port)
        assert seen == [edge.client_id]
        await edge.close()
        await service.close()
