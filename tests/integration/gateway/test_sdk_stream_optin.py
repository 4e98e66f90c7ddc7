"""Streams reach an SDK `Service` or `Edge` only once the application accepts streams.

Until the first `accept_stream()` (or with ``accept_streams=True`` from the start) the SDK
refuses them, so the opener's stream ends at once instead of waiting in a backlog nobody
reads; after that they queue (up to 64) and survive reconnects."""

from __future__ import annotations

import asyncio

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Backoff, Edge, Service, stream_edge_id
from support.gateway import gateway_config, until

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, maximum=0.2)


async def test_a_service_refuses_streams_until_it_accepts() -> None:
    async with Gateway(gateway_config()) as gw:
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="svc", backoff=FAST)
        edge = Edge(f"127.0.0.1:{gw.edgebound_port}", backoff=FAST)
        async with service, edge:
            early = await edge.open_stream("svc")
            assert await asyncio.wait_for(early.read(), 5) == b""  # refused: ends at once
            refused = gw.metrics.streams_refused.labels("to_service", "refused")
            assert refused._value.get() == 1
            accepting = asyncio.create_task(service.accept_stream())
            await until(lambda: service.end is not None and service.end.accept_backlog == 64)
            late = await edge.open_stream("svc", meta=b"late")
            accepted = await asyncio.wait_for(accepting, 5)
            assert (accepted.meta, stream_edge_id(accepted)) == (b"late", edge.edge_id)
            late.write(b"hi")
            assert await asyncio.wait_for(accepted.readexactly(2), 5) == b"hi"
            # Accepting survives a reconnect (the gateway kicks the service here).
            await gw.servicebound.kick_id(service.service_id)
            await until(lambda: service.reconnects == 1 and service.online, what="reconnect")
            again = await edge.open_stream("svc", meta=b"after")
            accepted = await asyncio.wait_for(service.accept_stream(), 5)
            assert accepted.meta == b"after"
            await again.close()


async def test_accept_streams_takes_them_before_the_first_call() -> None:
    async with Gateway(gateway_config()) as gw:
        service = Service(
            f"127.0.0.1:{gw.servicebound_port}", name="svc", accept_streams=True, backoff=FAST
        )
        edge = Edge(f"127.0.0.1:{gw.edgebound_port}", accept_streams=True, backoff=FAST)
        async with service, edge:
            opened = await edge.open_stream("svc", meta=b"early")
            opened.write(b"queued")
            accepted = await asyncio.wait_for(service.accept_stream(), 5)
            assert await asyncio.wait_for(accepted.readexactly(6), 5) == b"queued"
            towards_edge = await service.open_stream(edge.edge_id, meta=b"down")
            towards_edge.write(b"x")
            on_edge = await asyncio.wait_for(edge.accept_stream(), 5)
            assert on_edge.meta == b"down"
            assert await asyncio.wait_for(on_edge.readexactly(1), 5) == b"x"


async def test_an_edge_refuses_streams_until_it_accepts() -> None:
    async with Gateway(gateway_config()) as gw:
        service = Service(f"127.0.0.1:{gw.servicebound_port}", name="svc", backoff=FAST)
        edge = Edge(f"127.0.0.1:{gw.edgebound_port}", backoff=FAST)
        async with service, edge:
            stream = await service.open_stream(edge.edge_id)
            assert await asyncio.wait_for(stream.read(), 5) == b""
            refused = gw.metrics.streams_refused.labels("to_edge", "refused")
            assert refused._value.get() == 1
