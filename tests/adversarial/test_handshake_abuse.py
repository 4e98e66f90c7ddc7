"""Abusing the handshake: silence, half a hello, a heartbeat the server will not wait
for, a huge meta, refusing to finish a refused connection, TLS that never starts. Each
costs the attacker a connection that ends within the configured bounds, logged without
letting it flood the log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from frontier.geminio import encode
from frontier.geminio.packets import ConnPacket
from frontier.sdk import Service
from support.frontier_process import edge_tcp, frontier_process
from support.pki import make_pki
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.adversarial


async def test_a_heartbeat_above_the_maximum_is_refused_and_closed(tmp_path: Path) -> None:
    async with frontier_process(tmp_path) as gateway:
        peer, ack = await RawPeer.hello(gateway.edgebound, heartbeat=320)
        assert ack.error == "heartbeat interval 320 s is above this server's maximum of 80 s"
        assert await peer.closed_by_peer(2)
        refused = edge_tcp("frontier_connections_refused_total", reason="heartbeat")
        assert await gateway.metric(refused) == 1


async def test_a_huge_meta_is_refused(tmp_path: Path) -> None:
    async with frontier_process(tmp_path) as gateway:
        peer, ack = await RawPeer.hello(gateway.edgebound, meta=b"m" * 100_000)
        assert ack.error == "meta too large (at most 65536 bytes)"
        assert await peer.closed_by_peer(2)


async def test_a_rejected_client_cannot_hold_its_socket(tmp_path: Path) -> None:
    """Refused by `edge_online`, the client ignores the DisConn it is sent: the gateway
    closes right after its ConnAck instead of waiting 10 s for a DisConnAck."""
    async with frontier_process(tmp_path) as gateway:
        auth = Service(f"127.0.0.1:{gateway.servicebound}", name="auth")

        def refuse(_: object) -> None:
            raise PermissionError("nope")

        await auth.on_edge_online(refuse)
        await auth.start()
        try:
            peer, ack = await RawPeer.hello(gateway.edgebound)
            assert ack.error == "nope"
            started = time.monotonic()
            assert await peer.closed_by_peer(5)
            assert time.monotonic() - started < 2
        finally:
            await auth.close()


async def test_half_a_hello_is_dropped_at_the_handshake_deadline(tmp_path: Path) -> None:
    async with frontier_process(tmp_path, edgebound={"handshake_timeout": 1}) as gateway:
        peer = await RawPeer.connect(gateway.edgebound)
        peer.writer.write(encode(ConnPacket(packet_id=1, meta=b"slow"))[:10])  # slowloris
        started = time.monotonic()
        assert await peer.closed_by_peer(10)
        assert 0.8 < time.monotonic() - started < 5
        assert await gateway.metric(edge_tcp("frontier_connections_open")) == 0


async def test_tls_that_never_starts_is_dropped_and_counted_quietly(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = {"enable": True, "certs": [{"cert": str(pki.server_cert), "key": str(pki.server_key)}]}
    edgebound = {"listen": {"tls": tls}, "handshake_timeout": 1}
    async with frontier_process(tmp_path, edgebound=edgebound) as gateway:
        # The test certificate lives for an hour: warned about at start, and exported.
        assert "expires on" in gateway.log()
        samples = await gateway.metrics()
        assert any(k.startswith("frontier_tls_certificate_not_after") for k in samples)
        silent = await RawPeer.connect(gateway.edgebound)
        started = time.monotonic()
        assert await silent.closed_by_peer(10)  # the 60 s default of asyncio no longer
        assert time.monotonic() - started < 5
        for _ in range(50):
            scanner = await RawPeer.connect(gateway.edgebound)
            scanner.writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await scanner.closed_by_peer(5)
        failures = await gateway.metrics()
        tls = "frontier_tls_handshake_failures_total"
        assert failures[edge_tcp(tls, reason="timeout")] == 1
        protocol = edge_tcp(tls, reason="protocol")
        assert failures[protocol] == 50
        assert gateway.log().count("TLS handshake from") <= 3  # one line per kind per 10 s
