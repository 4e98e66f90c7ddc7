"""What one idle edge costs the gateway in Python objects (the geminio End included).

A gateway's memory is mostly idle edges, so everything the gateway keeps per edge (registry
entry, the connection) is kept small: slots, no container until needed, and the exchange's
callbacks shared by every edge rather than closures per edge. Traced with tracemalloc over
frontier code only, with raw clients that send a ConnPacket and stay silent (so every
frontier allocation is the gateway's).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import cast

import pytest

from frontier.gateway import Gateway
from frontier.geminio.encoder import encode
from frontier.geminio.packets import ConnPacket
from support.gateway import gateway_config, until

pytestmark = pytest.mark.integration

EDGES = 200
BOUND_PER_EDGE = 3000
"""Bytes of traced frontier allocations per idle edge (measured ~2.4 KB on CPython 3.11; 3.6 KB
with per-edge closures, an eager rpcs set and a second table of edges)."""

_HELLO = encode(ConnPacket(packet_id=1, heartbeat=20))


class _RawEdge(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(_HELLO)

    def data_received(self, data: bytes) -> None:
        pass


def _frontier_bytes(snapshot: tracemalloc.Snapshot) -> int:
    snapshot = snapshot.filter_traces([tracemalloc.Filter(True, "*/frontier/*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def _connect(port: int, count: int) -> list[asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    transports = []
    for _ in range(count):
        transport, _ = await loop.create_connection(_RawEdge, "127.0.0.1", port)
        transports.append(transport)
    return transports


async def test_idle_edge_memory_in_the_gateway() -> None:
    async with Gateway(gateway_config()) as gw:
        warm = await _connect(gw.edgebound_port, 20)
        await until(lambda: len(gw.registry.edges) == 20, timeout=20)
        for transport in warm:
            transport.close()
        await until(lambda: not gw.registry.edges, timeout=20)
        await asyncio.sleep(0.05)
        gc.collect()
        tracemalloc.start()
        try:
            before = _frontier_bytes(tracemalloc.take_snapshot())
            transports = await _connect(gw.edgebound_port, EDGES)
            await until(lambda: len(gw.registry.edges) == EDGES, timeout=20)
            await asyncio.sleep(0.05)  # the handshake tasks finish
            gc.collect()
            after = _frontier_bytes(tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        for transport in transports:
            transport.close()
    per_edge = (after - before) / EDGES
    print(f"{per_edge:.0f} B traced per idle edge")
    assert per_edge < BOUND_PER_EDGE, f"{per_edge:.0f} B per idle edge (bound {BOUND_PER_EDGE})"
