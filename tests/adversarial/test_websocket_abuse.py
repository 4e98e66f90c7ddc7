"""Attacking the WebSocket listener of a real `frontier` process.

A WebSocket edge is the same edge as a TCP one, so the same bounds must hold for it, and
the HTTP upgrade in front adds ways to misbehave: garbage instead of HTTP, a request for
the wrong path, origin or subprotocol, an upgrade that never finishes; after it, text
messages, oversized messages, frames that break RFC 6455, and a peer that sends without
ever reading. Each must cost only the offending connection (the WebSocket bystander pair
keeps calling throughout), be counted by reason, and log without flooding the log.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from frontier.geminio import encode
from frontier.geminio.packets import ConnPacket, HeartbeatPacket, RequestPacket
from frontier.sdk import Edge
from support.bystanders import bystanders
from support.frontier_process import frontier_process, sample
from support.raw_websocket import RawWebSocket, upgrade_request
from support.websocket import clear_proxy_env

pytestmark = pytest.mark.adversarial

WRITE_TIMEOUT = 2.0
RSS_GROWTH_BOUND = 64 * 1024 * 1024


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch)


def ws_metric(name: str, **labels: str) -> str:
    return sample(name, bound="edgebound", transport="websocket", **labels)


async def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:  # noqa: ASYNC109
    """Send `data` on a fresh connection; everything the gateway answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()


async def test_bad_upgrades_are_refused_counted_and_cost_nothing_else(tmp_path: Path) -> None:
    websocket = {"path": "/geminio", "origins": ["https://app.example.com"]}
    async with (
        frontier_process(tmp_path, websocket=True, edgebound={"websocket": websocket}) as gw,
        bystanders(gw.servicebound, gw.edgebound, edge_address=gw.ws_url("/geminio")) as pair,
    ):
        port = gw.websocket
        # garbage instead of HTTP: closed without an answer
        assert (
            await raw_exchange(port, b"\x16\x03\x01\x02\x00" + b"\x00" * 300 + b"\r\n\r\n") == b""
        )
        # a plain HTTP request: told what this port is
        answer = await raw_exchange(port, b"GET /geminio HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 426 ")
        # a request line far too long: 414, not buffered
        answer = await raw_exchange(port, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 414 ")
        # the wrong path, a foreign origin, no subprotocol
        wrong_path = await RawWebSocket.open(port, "/elsewhere")
        assert wrong_path.status == 404
        foreign = await RawWebSocket.open(port, "/geminio", origin="https://evil.example")
        assert foreign.status == 403
        no_subprotocol = await RawWebSocket.open(port, "/geminio", subprotocol=None)
        assert no_subprotocol.status == 400
        for peer in (wrong_path, foreign, no_subprotocol):
            assert await peer.closed_by_peer(5)
        # the allowed origin, and no origin at all (not a browser), get in
        allowed = await RawWebSocket.open(port, "/geminio", origin="https://app.example.com")
        assert allowed.status == 101
        allowed.close()

        metrics = await gw.metrics()
        refused = "frontier_connections_refused_total"
        assert metrics[ws_metric(refused, reason="websocket_handshake")] == 4
        assert metrics[ws_metric(refused, reason="websocket_path")] == 1
        assert metrics[ws_metric(refused, reason="websocket_origin")] == 1
        assert not pair.errors, pair.summary()
        assert await pair.call_once() == b"ping"
        assert gw.log().count("websocket upgrade from") <= 3  # throttled: one per kind per 10 s


async def test_an_upgrade_that_never_finishes_is_dropped_at_the_deadline(tmp_path: Path) -> None:
    async with frontier_process(
        tmp_path, websocket=True, edgebound={"websocket": {"handshake_timeout": 1}}
    ) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.websocket)
        writer.write(upgrade_request()[:40])  # half a request line, then nothing
        started = time.monotonic()
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        assert 0.8 < time.monotonic() - started < 5
        writer.close()
        # upgraded, but no geminio hello: the same deadline covers the geminio handshake
        peer = await RawWebSocket.open(gw.websocket)
        assert peer.status == 101
        started = time.monotonic()
        assert await peer.closed_by_peer(10)
        assert time.monotonic() - started < 5
        timeouts = ws_metric("frontier_connections_refused_total", reason="websocket_timeout")
        assert await gw.metric(timeouts) == 1
        assert await gw.metric(ws_metric("frontier_connections_open")) == 0


async def test_text_oversized_and_broken_frames_close_only_that_connection(
    tmp_path: Path,
) -> None:
    async with (
        frontier_process(
            tmp_path, websocket=True, edgebound={"websocket": {"max_message": 65536}}
        ) as gw,
        bystanders(gw.servicebound, gw.edgebound, edge_address=gw.ws_url()) as pair,
    ):
        texter, ack = await RawWebSocket.hello(gw.websocket)
        assert ack.error == ""
        texter.send_text("hello")
        assert await texter.close_code() == 1003

        hoarder, _ = await RawWebSocket.hello(gw.websocket)
        hoarder.send_binary(b"\x00" * 100_000)  # above max_message
        assert await hoarder.close_code() == 1009

        rude, _ = await RawWebSocket.hello(gw.websocket)
        rude.send_raw(b"\x82\x05hello")  # a client frame without a mask (RFC 6455 5.1)
        assert await rude.close_code() == 1002

        # geminio split across messages and several frames in one: the framing is geminio's
        split, _ = await RawWebSocket.hello(gw.websocket)
        frames = encode(RequestPacket(packet_id=2, session_id=1, key=b"echo", value=b"x"))
        frames += encode(HeartbeatPacket(packet_id=3))
        for start in range(0, len(frames), 7):
            split.send_binary(frames[start : start + 7])
        answers = {type(await split.read_packet()).__name__ for _ in range(2)}
        assert answers == {"ResponsePacket", "HeartbeatAckPacket"}
        split.close()

        errors = "frontier_transport_protocol_errors_total"
        metrics = await gw.metrics()
        assert metrics[ws_metric(errors, reason="websocket_text")] == 1
        assert metrics[ws_metric(errors, reason="websocket_too_large")] == 1
        assert metrics[ws_metric(errors, reason="websocket_protocol")] == 1
        assert not pair.errors, pair.summary()
        assert await pair.call_once() == b"ping"


async def test_a_websocket_peer_that_never_reads_is_bounded_and_evicted(tmp_path: Path) -> None:
    """The flood of test_flood_without_reading (heartbeats answered at once) inside
    WebSocket messages: the gateway stops reading, then drops the peer as a slow consumer."""
    async with (
        frontier_process(
            tmp_path, websocket=True, edgebound={"websocket": {"write_timeout": WRITE_TIMEOUT}}
        ) as gw,
        bystanders(gw.servicebound, gw.edgebound, edge_address=gw.ws_url()) as pair,
    ):
        baseline = peak = gw.rss_bytes()
        peer = await RawWebSocket.open(gw.websocket)
        assert peer.status == 101
        peer.stop_reading()
        peer.send(ConnPacket(packet_id=1, heartbeat=20))
        batch = b"".join(encode(HeartbeatPacket(packet_id=i + 2)) for i in range(2000))
        sent = 0
        started = time.monotonic()
        pair.latencies.clear()
        try:
            while sent < 3_000_000:
                peer.send_binary(batch)
                sent += 2000
                await asyncio.wait_for(peer.writer.drain(), WRITE_TIMEOUT * 10)
                peak = max(peak, gw.rss_bytes())
            raise AssertionError("the gateway kept reading a peer that never reads")
        except (ConnectionError, BrokenPipeError):
            took = time.monotonic() - started
        finally:
            peer.close()
        assert peak - baseline < RSS_GROWTH_BOUND, f"RSS grew {(peak - baseline) / 2**20:.1f} MiB"
        assert took < WRITE_TIMEOUT + 15, f"evicted only after {took:.1f} s ({sent} sent)"
        slow = sample("frontier_slow_consumers_total", bound="edgebound", transport="websocket")
        assert await gw.metric(slow) == 1
        assert not pair.errors, pair.summary()
        assert await pair.call_once() == b"ping"


async def test_connection_caps_hold_per_transport(tmp_path: Path) -> None:
    """One address may hold only `max_connections_per_ip` WebSocket connections; the TCP
    listener's own cap is separate."""
    async with frontier_process(
        tmp_path, websocket=True, edgebound={"websocket": {"max_connections_per_ip": 5}}
    ) as gw:
        held = [await RawWebSocket.open(gw.websocket) for _ in range(5)]
        assert all(peer.status == 101 for peer in held)
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.websocket)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed at accept, before any work
        writer.close()
        per_ip = ws_metric("frontier_connections_refused_total", reason="per_ip")
        assert await gw.metric(per_ip) == 1
        async with Edge(f"127.0.0.1:{gw.edgebound}", reconnect=False) as tcp_edge:
            assert tcp_edge.online
        for peer in held:
            peer.close()
