"""Edges over WebSocket against an in-process gateway: TLS, proxies, mixed transports.

Every data path with a WebSocket edge runs in test_sdk_paths.py (its gateway fixture is
parametrized over the transports); this module covers what is particular to WebSocket:
``wss://`` with a private CA, an HTTP CONNECT proxy in the path (from the environment or
named, with and without credentials), a TCP and a WebSocket connection claiming the same
edge ID, failing over between transports, the per-transport connection cap, draining,
metrics labelled by transport, and the clear errors for addresses that cannot work.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Backoff, Edge, EdgePresence, Service
from support.connect_proxy import connect_proxy
from support.gateway import gateway_config, until
from support.pki import client_context, make_pki
from support.ports import free_port
from support.websocket import clear_proxy_env

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.01, maximum=0.05)


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_env(monkeypatch)


def websocket_gateway(**websocket: Any) -> Gateway:
    return Gateway(
        gateway_config(
            edgebound={
                "listen": {"addr": "127.0.0.1:0"},
                "honour_wanted_id": True,
                "websocket": {"enable": True, "listen": {"addr": "127.0.0.1:0"}, **websocket},
            }
        )
    )


@pytest.fixture
async def gw() -> AsyncIterator[Gateway]:
    async with websocket_gateway(path="/geminio") as gateway:
        yield gateway


def ws_url(gw: Gateway, scheme: str = "ws", path: str = "/geminio") -> str:
    return f"{scheme}://127.0.0.1:{gw.websocket_port}{path}"


def sb(gw: Gateway) -> str:
    return f"127.0.0.1:{gw.servicebound_port}"


@pytest.fixture
async def echo(gw: Gateway) -> AsyncIterator[Service]:
    async with Service(sb(gw), name="echo", backoff=FAST) as service:
        await service.register("echo", lambda request: request.data)
        yield service


async def test_wss_with_a_private_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = {"enable": True, "certs": [{"cert": str(pki.server_cert), "key": str(pki.server_key)}]}
    async with (
        websocket_gateway(listen={"addr": "127.0.0.1:0", "tls": tls}) as gw,
        Service(sb(gw), name="echo") as service,
    ):
        await service.register("echo", lambda request: request.data)
        url = f"wss://localhost:{gw.websocket_port}/"
        async with Edge(url, ssl=client_context(pki, with_cert=False)) as edge:
            assert await edge.call("echo", b"over tls") == b"over tls"
            entry = gw.registry.edges[edge.edge_id]
            assert entry.end.get_extra_info("ssl_object") is not None
        # the system's trust store does not know the test CA: refused, not downgraded
        with pytest.raises(ssl.SSLCertVerificationError):
            await Edge(url, reconnect=False).start()
        # and the plaintext scheme against the TLS port fails rather than talking
        with pytest.raises(ConnectionRefusedError, match="valid HTTP response"):
            await Edge(f"ws://127.0.0.1:{gw.websocket_port}/", reconnect=False).start()


async def test_through_a_connect_proxy_from_the_environment(
    gw: Gateway, echo: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connect_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)  # ws:// goes through HTTP_PROXY
        async with Edge(ws_url(gw)) as edge:
            assert await edge.call("echo", b"proxied") == b"proxied"
        assert proxy.tunnels == [f"127.0.0.1:{gw.websocket_port}"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # exempted hosts are dialed directly
        async with Edge(ws_url(gw)) as edge:
            assert await edge.call("echo", b"direct") == b"direct"
        assert len(proxy.tunnels) == 1


async def test_wss_through_https_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual corporate setup: TLS end to end inside the proxy's CONNECT tunnel."""
    pki = make_pki(tmp_path)
    tls = {"enable": True, "certs": [{"cert": str(pki.server_cert), "key": str(pki.server_key)}]}
    async with (
        websocket_gateway(listen={"addr": "127.0.0.1:0", "tls": tls}) as gw,
        Service(sb(gw), name="echo") as service,
        connect_proxy() as proxy,
    ):
        await service.register("echo", lambda request: request.data)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        url = f"wss://localhost:{gw.websocket_port}/"
        async with Edge(url, ssl=client_context(pki, with_cert=False)) as edge:
            assert await edge.call("echo", b"tunnelled") == b"tunnelled"
        assert proxy.tunnels == [f"localhost:{gw.websocket_port}"]


async def test_proxy_credentials_and_refusals(
    gw: Gateway, echo: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connect_proxy(credentials=("dev", "s3cret")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url_with_credentials("dev", "s3cret"))
        async with Edge(ws_url(gw)) as edge:
            assert await edge.call("echo", b"with auth") == b"with auth"
        assert proxy.authorizations[-1].startswith("Basic ")
        monkeypatch.setenv("HTTP_PROXY", proxy.url)  # no credentials: 407
        with pytest.raises(ConnectionRefusedError, match="407"):
            await Edge(ws_url(gw), reconnect=False).start()
    async with connect_proxy(refuse=True) as refusing:
        monkeypatch.setenv("HTTP_PROXY", refusing.url)
        with pytest.raises(ConnectionRefusedError, match="403"):
            await Edge(ws_url(gw), reconnect=False).start()


async def test_an_explicit_proxy_and_no_proxy(
    gw: Gateway, echo: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connect_proxy() as named, connect_proxy() as from_env:
        monkeypatch.setenv("HTTP_PROXY", from_env.url)
        async with Edge(ws_url(gw), proxy=named.url) as edge:
            assert await edge.call("echo", b"named") == b"named"
        async with Edge(ws_url(gw), proxy=False) as edge:
            assert await edge.call("echo", b"direct") == b"direct"
        assert len(named.tunnels) == 1
        assert from_env.tunnels == []


async def test_the_same_id_over_both_transports(gw: Gateway) -> None:
    """The ID rules do not care how an edge came: a WebSocket connection claiming an ID
    that a TCP one holds replaces it (and the other way round), and services see one
    online per connection and a single offline at the end, as with two TCP ones."""
    events: list[tuple[str, int]] = []
    async with Service(sb(gw), name="presence") as service:
        await service.on_edge_online(lambda p: events.append(("online", p.edge_id)))
        await service.on_edge_offline(lambda p: events.append(("offline", p.edge_id)))
        tcp_addr = f"127.0.0.1:{gw.edgebound_port}"
        first = Edge(tcp_addr, edge_id=42, reconnect=False)
        await first.start()
        second = Edge(ws_url(gw), edge_id=42, reconnect=False)
        await second.start()
        await until(lambda: not first.online, what="the TCP connection replaced")
        entry = gw.registry.edges[42]
        assert entry.end.get_extra_info("geminio_transport") == "websocket"
        third = Edge(tcp_addr, edge_id=42, reconnect=False)
        await third.start()
        await until(lambda: not second.online, what="the WebSocket connection replaced")
        assert gw.registry.edges[42].end.get_extra_info("geminio_transport") is None
        await third.close()
        await until(lambda: ("offline", 42) in events, what="the offline")
        assert events == [("online", 42), ("online", 42), ("online", 42), ("offline", 42)]
        kicks = gw.metrics.duplicate_kicks.labels("edge")._value.get()
        assert kicks == 2


async def test_failover_across_transports(echo: Service, gw: Gateway) -> None:
    dead = free_port()
    addresses = [f"ws://127.0.0.1:{dead}/geminio", ws_url(gw), f"127.0.0.1:{gw.edgebound_port}"]
    edge = Edge(addresses, backoff=FAST)
    async with edge:
        assert await edge.call("echo", b"1") == b"1"
        first = edge.edge_id
        assert gw.registry.edges[first].end.get_extra_info("geminio_transport") == "websocket"
        gw.registry.edges[first].end.abort()  # the next address is the TCP listener
        await until(lambda: edge.reconnects == 1 and edge.online, what="edge back")
        await until(lambda: edge.edge_id in gw.registry.edges, what="edge registered")
        assert gw.registry.edges[edge.edge_id].end.get_extra_info("geminio_transport") is None
        assert await edge.call("echo", b"2") == b"2"


async def test_the_websocket_cap_is_its_own() -> None:
    """max_connections holds per transport: a full WebSocket listener stops accepting
    (the next client waits in the backlog) while TCP edges still come in."""
    async with websocket_gateway(max_connections=2) as gw:
        held = [Edge(ws_url(gw, path="/"), reconnect=False) for _ in range(2)]
        for edge in held:
            await edge.start()
        waiting = Edge(ws_url(gw, path="/"), reconnect=False)
        starting = asyncio.create_task(waiting.start())
        done, _ = await asyncio.wait([starting], timeout=0.5)
        assert not done  # queued, not refused
        paused = gw.metrics.listener_paused.labels("edgebound", "websocket")._value.get()
        assert paused == 1
        async with Edge(f"127.0.0.1:{gw.edgebound_port}", reconnect=False) as tcp_edge:
            assert tcp_edge.online
        await held[0].close()
        await asyncio.wait_for(starting, 10)
        assert waiting.online
        for edge in (held[1], waiting):
            await edge.close()


async def test_drain_closes_websocket_edges_too() -> None:
    gw = websocket_gateway()
    await gw.start()
    edge = Edge(ws_url(gw, path="/"), reconnect=False)
    await edge.start()
    await gw.drain(0.2)
    await until(lambda: not edge.online, what="the edge closed by the drain")
    assert not gw.registry.edges
    await edge.close()
    with pytest.raises(ConnectionRefusedError):  # and the listener is gone
        await Edge(ws_url(gw, path="/"), reconnect=False).start()


async def test_metrics_say_which_transport(gw: Gateway, echo: Service) -> None:
    async with Edge(ws_url(gw)) as edge, Edge(f"127.0.0.1:{gw.edgebound_port}") as tcp:
        assert await edge.call("echo", b"x") == b"x"
        assert await tcp.call("echo", b"y") == b"y"
        accepted = gw.metrics.connections.labels
        assert accepted("edge", "accepted", "", "websocket")._value.get() == 1
        assert accepted("edge", "accepted", "", "tcp")._value.get() == 1
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for m in gw.metrics.collect()
            for s in m.samples
        }
        key = ("frontier_connections_open", (("bound", "edgebound"), ("transport", "websocket")))
        assert samples[key] == 1


async def test_the_edge_presence_is_the_same(gw: Gateway) -> None:
    seen: list[EdgePresence] = []
    async with Service(sb(gw), name="presence") as service:
        await service.on_edge_online(seen.append)
        async with Edge(ws_url(gw), meta=b"device-7") as edge:
            await until(lambda: bool(seen), what="edge_online")
            assert seen[0].edge_id == edge.edge_id
            assert seen[0].meta == b"device-7"
            assert seen[0].addr.startswith("127.0.0.1:")


async def test_addresses_that_cannot_work_fail_clearly(gw: Gateway) -> None:
    with pytest.raises(ValueError, match="ws:// address"):
        Edge(ws_url(gw), ssl=ssl.create_default_context())
    with pytest.raises(ValueError, match="WebSocket addresses are for edges"):
        Service(ws_url(gw), name="svc")
    with pytest.raises(ValueError, match="bad WebSocket address"):
        Edge("ws://[::1")
    with pytest.raises(ConnectionRefusedError, match="404"):  # the wrong path
        await Edge(ws_url(gw, path="/elsewhere"), reconnect=False).start()
    with pytest.raises(ConnectionRefusedError, match="valid HTTP response"):  # TCP listener
        await Edge(f"ws://127.0.0.1:{gw.edgebound_port}/", reconnect=False).start()
