"""A first connection that fails for a transient reason is retried when asked to.

In a reconnect storm or during a gateway restart, `start()` may meet a refused or reset
connection. By default it raises at once, as Go's does; with ``start_retry`` it keeps
trying with the reconnect backoff until that long has passed."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Backoff, Edge, Service
from support.gateway import gateway_config
from support.ports import free_port

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, maximum=0.2)


def _config(port: int) -> dict[str, object]:
    return {"edgebound": {"listen": {"addr": f"127.0.0.1:{port}"}}}


@pytest.mark.parametrize("reconnect", [True, False])
async def test_an_edge_waits_for_a_gateway_that_is_not_up_yet(reconnect: bool) -> None:
    port = free_port()
    edge = Edge(f"127.0.0.1:{port}", backoff=FAST, reconnect=reconnect, start_retry=20)
    starting = asyncio.create_task(edge.start())
    await asyncio.sleep(0.3)  # refused a few times meanwhile
    assert not starting.done()
    async with Gateway(gateway_config(**_config(port))) as gw:
        await asyncio.wait_for(starting, 10)
        assert edge.online
        assert edge.edge_id in gw.registry.edges
        await edge.close()


async def test_resets_during_a_storm_are_retried() -> None:
    """The first connections are accepted and reset (as an overloaded gateway or a proxy in
    front of it does); the edge gets through once the gateway takes it."""
    port = free_port()
    resets = 0
    three = asyncio.Event()

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal resets
        resets += 1
        if resets >= 3:
            three.set()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST

    resetter = await asyncio.start_server(reset, "127.0.0.1", port)
    edge = Edge(f"127.0.0.1:{port}", backoff=FAST, start_retry=20)
    starting = asyncio.create_task(edge.start())
    await asyncio.wait_for(three.wait(), 10)
    resetter.close()
    await resetter.wait_closed()
    async with Gateway(gateway_config(**_config(port))):
        await asyncio.wait_for(starting, 10)
        assert edge.online
        await edge.close()


async def test_the_retry_ends_with_the_last_error() -> None:
    port = free_port()
    service = Service(f"127.0.0.1:{port}", name="svc", backoff=FAST, start_retry=0.6)
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        await service.start()
    assert 0.5 < time.monotonic() - started < 5


async def test_fail_fast_stays_the_default_and_can_be_forced() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        await Edge(f"127.0.0.1:{port}", backoff=FAST).start()
    with pytest.raises(ConnectionRefusedError):
        await Edge(f"127.0.0.1:{port}", backoff=FAST, start_retry=30).start(retry=0)
    assert time.monotonic() - started < 2
