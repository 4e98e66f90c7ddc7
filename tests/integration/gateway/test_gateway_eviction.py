"""A dead edge (socket open, nothing sent) is evicted within 2x its heartbeat interval, and
the same ID can connect again at once (upstream issue #107: a graceful close towards a
dead peer left a stale session that blocked the reconnect)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from frontier.gateway import Gateway
from frontier.geminio import encode
from frontier.geminio.packets import ConnPacket
from support.gateway import connect_edge, gateway_config, until

pytestmark = pytest.mark.integration

HEARTBEAT = 5  # the shortest interval geminio can express


async def test_blackholed_edge_is_evicted_within_twice_its_heartbeat() -> None:
    trusting = {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}
    async with Gateway(gateway_config(edgebound=trusting)) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.edgebound_port)
        writer.write(encode(ConnPacket(packet_id=1, client_id=31, heartbeat=HEARTBEAT)))
        await writer.drain()
        header = await reader.readexactly(14)
        await reader.readexactly(int.from_bytes(header[10:14], "big"))
        assert header[1] == 0x02  # ConnAck
        await until(lambda: 31 in gw.registry.edges, what="edge registered")
        silent_since = time.monotonic()
        # From here on the "edge" says nothing and never reads: a blackholed peer.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await until(lambda: 31 not in gw.registry.edges, timeout=3 * HEARTBEAT, what="eviction")
        evicted_after = time.monotonic() - silent_since
        assert evicted_after <= 2 * HEARTBEAT + 1.0, evicted_after
        timeouts = gw.metrics.heartbeat_timeouts.labels("edge")._value.get()
        assert timeouts == 1
        again = await connect_edge(gw.edgebound_port, client_id=31)
        assert again.client_id == 31
        assert gw.registry.edges[31].end is not None
        await again.close()
        writer.close()
