"""A peer that sends without reading: what it is sent back must not pile up in the gateway.

Each flood is packets the gateway answers at once (heartbeats get acks, calls to a method
nobody serves get errors, messages to a topic nobody claims get nacks) from a socket that
never reads. The gateway must stop reading it once its answers are stuck (bounded memory),
drop it as a slow consumer after `write_timeout`, and keep serving everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from frontier.geminio import encode
from frontier.geminio.packets import (
    ConnPacket,
    HeartbeatPacket,
    MessagePacket,
    Packet,
    RequestPacket,
)
from support.bystanders import bystanders
from support.frontier_process import FrontierProcess, frontier_process
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.adversarial

WRITE_TIMEOUT = 2.0
FLOOD_PACKETS = 3_000_000
RSS_GROWTH_BOUND = 64 * 1024 * 1024
P99_BOUND = 0.100

FLOODS: dict[str, Callable[[int], Packet]] = {
    "requests": lambda i: RequestPacket(packet_id=i, session_id=1, key=b"nobody_serves_this"),
    "heartbeats": lambda i: HeartbeatPacket(packet_id=i),
    "messages": lambda i: MessagePacket(packet_id=i, session_id=1, topic="unclaimed", value=b"x"),
}


async def flood(gateway: FrontierProcess, make: Callable[[int], Packet]) -> tuple[int, float]:
    """Hello, then write FLOOD_PACKETS packets without ever reading; returns how many
    went out and how long until the gateway dropped us (raises if it never did)."""
    peer = await RawPeer.connect(gateway.edgebound)
    sock = peer.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that reads nothing
    peer.writer.transport.pause_reading()
    peer.send(ConnPacket(packet_id=1, heartbeat=20))
    batch = 2000
    chunk = b"".join(encode(make(i + 2)) for i in range(batch))
    sent = 0
    started = time.monotonic()
    try:
        while sent < FLOOD_PACKETS:
            peer.writer.write(chunk)
            sent += batch
            await asyncio.wait_for(peer.writer.drain(), WRITE_TIMEOUT * 10)
    except (ConnectionError, BrokenPipeError):
        return sent, time.monotonic() - started
    finally:
        peer.close()
    raise AssertionError(f"sent all {sent} packets: the gateway kept reading a non-reader")


@pytest.mark.parametrize("kind", sorted(FLOODS))
async def test_a_peer_that_never_reads_is_bounded_and_evicted(kind: str, tmp_path: Path) -> None:
    async with (
        frontier_process(tmp_path, edgebound={"write_timeout": WRITE_TIMEOUT}) as gateway,
        bystanders(gateway.servicebound, gateway.edgebound) as pair,
    ):
        baseline = gateway.rss_bytes()
        peak = baseline
        stop = asyncio.Event()

        async def watch_rss() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, gateway.rss_bytes())
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch_rss())
        pair.latencies.clear()
        try:
            sent, took = await flood(gateway, FLOODS[kind])
        finally:
            stop.set()
            await watcher
        growth = peak - baseline
        assert growth < RSS_GROWTH_BOUND, f"RSS grew {growth / 2**20:.1f} MiB"
        assert took < WRITE_TIMEOUT + 15, f"evicted only after {took:.1f} s ({sent} sent)"
        slow = 'frontier_slow_consumers_total{bound="edgebound",transport="tcp"}'
        assert await gateway.metric(slow) == 1
        assert "left its output unread" in gateway.log()
        assert not pair.errors, pair.summary()
        assert pair.p99() < P99_BOUND, pair.summary()
        assert await pair.call_once() == b"ping"  # and afterwards
