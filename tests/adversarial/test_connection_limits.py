"""Holding connections open: descriptors and connection slots are bounded, and the process
keeps what it needs to stay healthy.

The gateway runs under a small RLIMIT_NOFILE so that "the limit" is reached with a few
hundred sockets. Without bounds, idle handshaken connections used up every descriptor: new
edges failed, `/healthz` stopped answering (the kubelet would restart the pod), and nothing
was logged. Now the edgebound listener stops accepting at its share of the descriptors,
health keeps answering, it says so in the log and metrics, and it resumes when room frees.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from frontier.geminio.packets import ConnPacket
from frontier.sdk import Edge
from support.frontier_process import edge_tcp, frontier_process
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.adversarial

NOFILE = 512
"""With 512 descriptors the budget is 64 in reserve, 22 for services and 426 for edges."""
EDGE_SLOTS = 426


async def hold(port: int, count: int, *, source: str | None = None) -> list[RawPeer]:
    """`count` connections that say hello (heartbeat 80 s) and then sit there."""
    peers = []
    for _ in range(count):
        peer = await RawPeer.connect(port, source=source)
        peer.send(ConnPacket(packet_id=1, heartbeat=80))
        peers.append(peer)
    return peers


async def answered(peers: list[RawPeer], within: float) -> int:
    """How many of `peers` got their ConnAck within `within` seconds (each read once)."""

    async def one(peer: RawPeer) -> bool:
        try:
            await peer.read_packet(within)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return False
        return True

    return sum(await asyncio.gather(*(one(p) for p in peers)))


async def test_idle_connections_cannot_exhaust_descriptors(tmp_path: Path) -> None:
    async with frontier_process(tmp_path, nofile=NOFILE) as gateway:
        assert f"max connections: {EDGE_SLOTS} edges, 22 services; RLIMIT_NOFILE {NOFILE}" in (
            gateway.log()
        )
        peers = await hold(gateway.edgebound, EDGE_SLOTS)
        assert await answered(peers, 10) == EDGE_SLOTS
        waiting = await hold(gateway.edgebound, 200)  # queued by the kernel, not accepted
        assert await answered(waiting[:20], 0.5) == 0
        assert await gateway.healthz() == 200  # the reserve keeps the side doors open
        assert await gateway.metric(edge_tcp("frontier_listener_paused")) == 1
        assert await gateway.metric(edge_tcp("frontier_connections_open")) == EDGE_SLOTS
        assert "not accepting until one closes" in gateway.log()
        assert gateway.open_fds() < NOFILE
        for peer in peers[:100]:
            peer.close()
        # 100 slots free: the first 100 waiting are taken in (in order), without a retry.
        assert await answered(waiting[:100], 10) == 100
        for peer in [*peers[100:], *waiting]:
            peer.close()
        await asyncio.sleep(0)
        edge = Edge(f"127.0.0.1:{gateway.edgebound}", reconnect=False)
        await asyncio.wait_for(edge.start(), 10)  # and new edges connect once they left
        await edge.close()
        assert await gateway.metric(edge_tcp("frontier_listener_paused")) == 0


async def test_one_address_cannot_take_every_slot(tmp_path: Path) -> None:
    async with frontier_process(tmp_path, edgebound={"max_connections_per_ip": 50}) as gateway:
        attacker = await hold(gateway.edgebound, 80, source="127.0.0.1")
        assert await answered(attacker, 10) == 50  # the other 30 were closed at accept
        refused = edge_tcp("frontier_connections_refused_total", reason="per_ip")
        assert await gateway.metric(refused) == 30
        device, ack = await RawPeer.hello(gateway.edgebound, source="127.0.0.2")
        assert ack.error == ""  # another address is not affected
        assert gateway.log().count("max_connections_per_ip") <= 2  # throttled
        for peer in [*attacker, device]:
            peer.close()


async def test_running_out_of_descriptors_pauses_accept_instead_of_spinning(
    tmp_path: Path,
) -> None:
    """A max_connections above what the descriptors allow (a misconfiguration, warned about
    at start) makes accept() fail with EMFILE: that is logged once, counted, and accepting
    pauses; the process does not spin on the readable listening socket."""
    async with frontier_process(
        tmp_path, nofile=128, edgebound={"max_connections": 1000}
    ) as gateway:
        assert "expect EMFILE" in gateway.log()
        peers = await hold(gateway.edgebound, 300)
        await gateway.wait_log("accept() failed (EMFILE")
        cpu = gateway.cpu_seconds()
        await asyncio.sleep(2.0)
        spent = gateway.cpu_seconds() - cpu
        assert spent < 0.5, f"{spent:.2f} s of CPU in 2 s while out of descriptors"
        assert gateway.log().count("accept() failed") <= 2  # throttled
        for peer in peers:  # (until then even /metrics has no descriptor to answer with)
            peer.close()
        device = Edge(f"127.0.0.1:{gateway.edgebound}", reconnect=False)
        await asyncio.wait_for(device.start(), 10)  # accepting resumed
        await device.close()
        errors = edge_tcp("frontier_accept_errors_total", error="EMFILE")
        assert await gateway.metric(errors) >= 1
