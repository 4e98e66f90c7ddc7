"""A slow service pushes back through the gateway instead of being buried in bytes.

When the gateway's transport towards a service is full (the service stopped reading), new
forwards to it (messages and calls) wait for the transport, a task per waiting forward,
instead of being queued without bound, and everything is delivered and acked once the
service reads again. This exercises the relay's slow path; the fast path is every other test.
"""

from __future__ import annotations

import asyncio

import pytest

from frontier.conventions import split_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import Request
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration

MESSAGES = 48
SIZE = 1024 * 1024


async def test_messages_to_a_stalled_service_wait_then_all_arrive() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port, topics=("bulk",))

        async def echo(request: Request) -> bytes:
            return request.data

        await service.register("echo", echo)
        edge = await connect_edge(gw.edgebound_port)
        gateway_side = gw.registry.services[service.client_id].end
        service.pause_reading("test: a stalled consumer")

        publishes = [
            asyncio.create_task(edge.publish(bytes([i]) * SIZE, topic="bulk"))
            for i in range(MESSAGES)
        ]
        proto = gateway_side.protocol
        assert proto is not None
        await until(lambda: proto.writing_paused, timeout=20, what="the gateway's writes pause")
        assert not any(p.done() for p in publishes)  # nothing acked while the service stalls
        call = asyncio.create_task(edge.call("echo", b"behind the bulk"))  # waits too
        await asyncio.sleep(0.05)
        assert not call.done()

        service.resume_reading("test: a stalled consumer")
        seen = []
        for _ in range(MESSAGES):
            message = await asyncio.wait_for(service.receive(), 20)
            _, edge_id = split_edge_id(message.custom)
            assert edge_id == edge.client_id
            assert len(message.data) == SIZE
            seen.append(message.data[0])
            message.done()
        await asyncio.wait_for(asyncio.gather(*publishes), 20)
        assert await asyncio.wait_for(call, 20) == b"behind the bulk"
        assert sorted(seen) == list(range(MESSAGES))
        ok = gw.metrics.registry.get_sample_value(
            "frontier_forwarded_total",
            {"kind": "message", "direction": "to_service", "result": "ok"},
        )
        assert ok == MESSAGES
        await edge.close()
        await service.close()
