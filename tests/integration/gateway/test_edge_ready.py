"""`edge_ready` (ours): sent once the gateway accepted an edge and routes to it, so that a
service reacting to a new edge can call it at once. With `edge_online` (which runs while
the gateway still decides) the first call always failed with "edge not online". The edge's
side of it, methods served from the handshake on, is pinned in
tests/unit/geminio/test_connection_handshake.py."""

from __future__ import annotations

import asyncio

import pytest

from frontier.conventions import EdgePresence
from frontier.gateway import Gateway
from frontier.sdk import Edge, Service
from support.gateway import connect_edge, gateway_config, until

pytestmark = pytest.mark.integration


async def test_a_service_calls_the_edge_from_edge_ready() -> None:
    async with Gateway(gateway_config()) as gw:
        answers: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="backend")

        async def ready(presence: EdgePresence) -> None:
            try:
                answers.put_nowait(await service.call(presence.edge_id, "hello", timeout=10))
            except Exception as exc:
                answers.put_nowait(exc)

        await service.on_edge_ready(ready)
        async with service:
            for n in range(20):  # every time, not by luck
                edge = Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"device-%d" % n)
                await edge.register("hello", lambda request, n=n: b"hi from %d" % n)
                async with edge:
                    assert await asyncio.wait_for(answers.get(), 10) == b"hi from %d" % n


async def test_edge_ready_follows_edge_online_with_the_same_presence() -> None:
    async with Gateway(gateway_config()) as gw:
        events: list[tuple[str, EdgePresence]] = []
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="backend")
        await service.on_edge_online(lambda p: events.append(("online", p)))
        await service.on_edge_ready(lambda p: events.append(("ready", p)))
        await service.on_edge_offline(lambda p: events.append(("offline", p)))
        async with service:
            edge = await connect_edge(gw.edgebound_port, meta=b"m-1")
            await until(lambda: len(events) == 2, what="edge_ready")
            await edge.close()
            await until(lambda: len(events) == 3, what="edge_offline")
        assert [kind for kind, _ in events] == ["online", "ready", "offline"]
        assert len({(p.edge_id, p.meta, p.addr) for _, p in events}) == 1
        assert events[0][1].meta == b"m-1"
        samples = {
            s.labels["result"]: s.value
            for metric in gw.metrics.registry.collect()
            for s in metric.samples
            if s.name == "frontier_hook_calls_total" and s.labels["hook"] == "edge_ready"
        }
        assert samples == {"ok": 1.0}


async def test_a_rejected_edge_is_never_ready() -> None:
    async with Gateway(gateway_config()) as gw:
        ready: list[int] = []
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="auth")

        def online(presence: EdgePresence) -> None:
            if presence.meta != b"friend":
                raise PermissionError("who are you")

        await service.on_edge_online(online)
        await service.on_edge_ready(lambda p: ready.append(p.edge_id))
        async with service:
            with pytest.raises(Exception, match="who are you"):
                await connect_edge(gw.edgebound_port, meta=b"stranger")
            friend = await connect_edge(gw.edgebound_port, meta=b"friend")
            await until(lambda: ready == [friend.client_id], what="the friend's edge_ready")
            await friend.close()


async def test_a_failing_edge_ready_hook_changes_nothing() -> None:
    async with Gateway(gateway_config()) as gw:
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="backend")

        def ready(presence: EdgePresence) -> None:
            raise RuntimeError("not interested")

        await service.on_edge_ready(ready)
        async with service:
            edge = await connect_edge(gw.edgebound_port)

            def failures() -> float:
                return sum(
                    s.value
                    for metric in gw.metrics.registry.collect()
                    for s in metric.samples
                    if s.name == "frontier_hook_calls_total"
                    and s.labels == {"hook": "edge_ready", "result": "error"}
                )

            await until(lambda: failures() == 1, what="the failed edge_ready to be counted")
            assert edge.client_id in gw.registry.edges  # still online
            await edge.close()
