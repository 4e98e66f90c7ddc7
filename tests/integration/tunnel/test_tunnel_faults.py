"""The tunnel when things go wrong, with real processes: a connector that stops while idle
or dies during a transfer (the user gets a clean error, new connections work once it is
back), one that never reads (the entry's memory stays bounded), strangers and wrong
tokens (refused), and an entry restart (connectors stay reachable: their IDs come from
their names)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from frontier.sdk import Edge, Stream
from frontier.tunnel.wire import (
    ConnectorMeta,
    OpenRequest,
    Status,
    StatusCode,
    TunnelProtocol,
    connector_proof,
    status_proof,
)
from support.frontd import Backend
from support.tunnel import TOKEN, Api, Daemon, connector, echo_once, entry, gateway, metrics

pytestmark = pytest.mark.integration

CONNECTORS = [{"name": "home", "token": TOKEN}, {"name": "mute", "token": TOKEN}]


@dataclass
class Stack:
    tmp: Path
    gateway: Daemon
    entry: Daemon

    @property
    def api(self) -> Api:
        return Api(self.entry)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.entry.ports['http']}"

    def connector(self, **kwargs: object) -> Daemon:
        return connector(self.tmp, self.gateway, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("tunnel-faults")
    gw = gateway(tmp)
    try:
        the_stack = Stack(tmp, gw, entry(tmp, gw, connectors=CONNECTORS))
        try:
            yield the_stack
        finally:
            assert the_stack.entry.stop() == 0, the_stack.entry.log()
    finally:
        gw.stop()


async def tcp_app(stack: Stack, name: str, target: str, connector: str = "home") -> int:
    doc = await stack.api.add_app(
        name=name, kind="tcp", connector=connector, target=target, listen="127.0.0.1:0"
    )
    return int(doc["port"])


async def refused(port: int) -> bool:
    """The entry resets the connection (or closes it before any byte came back)."""
    try:
        data = await asyncio.wait_for(echo_once(port), 20)
    except (ConnectionResetError, asyncio.IncompleteReadError):
        return True
    return not data


async def wait_offline(stack: Stack, name: str = "home") -> None:
    for _ in range(400):
        _, doc = await stack.api.call("GET", "/v1/connectors")
        state = {c["name"]: c["online"] for c in doc["connectors"]}
        if not state[name]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"connector {name} still online: {doc}")


async def test_connector_restart_while_idle(stack: Stack) -> None:
    async with Backend() as backend:
        home = stack.connector()
        port = await tcp_app(stack, "idle-restart", backend.addr)
        await stack.api.add_app(
            name="idle-restart-web", kind="http", connector="home", target=backend.addr,
            path="/idle-restart",
        )  # fmt: skip
        try:
            assert await echo_once(port) == b"ping"
            assert await home.astop() == 0  # SIGTERM: the connector leaves the gateway
            await wait_offline(stack)
            assert await refused(port)
            async with (
                aiohttp.ClientSession() as client,
                client.get(f"{stack.http}/idle-restart/") as response,
            ):
                assert response.status == 503
                assert response.headers["X-Frontier-Tunnel-Error"] == "offline"
                assert "not connected" in (await response.json())["error"]
            home = stack.connector()  # back: new connections work at once
            assert await echo_once(port, b"again") == b"again"
        finally:
            home.stop()
            await stack.api.remove_app("idle-restart")
            await stack.api.remove_app("idle-restart-web")


async def test_connector_killed_during_a_transfer(stack: Stack) -> None:
    """SIGKILL (a power cut) while bytes flow: the user's connection is reset, not ended
    as if the transfer were complete; after the connector is back, new ones work."""
    async with Backend() as backend:
        home = stack.connector()
        port = await tcp_app(stack, "transfer", backend.addr)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            chunk = os.urandom(64 * 1024)
            echoed = 0

            async def pump() -> None:
                nonlocal echoed
                while True:
                    writer.write(chunk)
                    await writer.drain()
                    echoed += len(await reader.readexactly(len(chunk)))

            transfer = asyncio.create_task(pump())
            while echoed < 4 * 1024 * 1024:  # well under way
                assert not transfer.done(), transfer
                await asyncio.sleep(0.01)
            home.kill()
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                await asyncio.wait_for(transfer, 30)
            writer.close()
            home = stack.connector()
            assert await echo_once(port, b"after") == b"after"
        finally:
            home.stop()
            await stack.api.remove_app("transfer")


class MuteConnector:
    """A connector (the "mute" one, with the right token) that answers every dial with
    ok and then never reads a byte: a stalled or hostile private side."""

    def __init__(self, stack: Stack) -> None:
        meta = ConnectorMeta("mute", connector_proof(TOKEN, "mute")).encode()
        self.edge = Edge(f"127.0.0.1:{stack.gateway.ports['edgebound']}", meta=meta)
        self.streams: list[Stream] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MuteConnector:
        await self.edge.start()
        self._task = asyncio.create_task(self._answer())
        return self

    async def _answer(self) -> None:
        while True:
            stream = await self.edge.accept_stream()
            request = OpenRequest.decode(stream.meta)
            proof = status_proof(TOKEN, request.nonce, StatusCode.OK)
            stream.write(TunnelProtocol.send_status(Status(StatusCode.OK, "", 65536, proof)))
            self.streams.append(stream)  # ... and never read from it

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.edge.close()


def _sysctl_max(name: str) -> int:
    return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[-1])


async def test_a_connector_that_never_reads_holds_one_window(stack: Stack) -> None:
    """The user pushes 128 MiB at a connector that reads nothing: the entry stops reading
    the user after one window (512 KiB) plus what the kernel buffers, and its memory does
    not grow with what the user tries to send."""
    async with MuteConnector(stack) as mute:
        port = await tcp_app(stack, "mute-app", "127.0.0.1:9", connector="mute")
        try:
            for _ in range(200):  # the entry learns that "mute" is online (edge_ready)
                _, doc = await stack.api.call("GET", "/v1/connectors")
                if {c["name"]: c["online"] for c in doc["connectors"]}["mute"]:
                    break
                await asyncio.sleep(0.05)
            rss_before = stack.entry.rss_bytes()
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            chunk = b"\0" * (1 << 20)
            sent = 0
            with contextlib.suppress(TimeoutError):
                while sent < 128 << 20:
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), 3.0)
                    sent += len(chunk)
            assert mute.streams, "the mute connector got no stream"
            kernel = _sysctl_max("tcp_wmem") + _sysctl_max("tcp_rmem")
            assert sent < 512 * 1024 + kernel + 8 * (1 << 20), (sent, kernel)
            growth = stack.entry.rss_bytes() - rss_before
            assert growth < 16 * (1 << 20), growth
            writer.transport.abort()
        finally:
            await stack.api.remove_app("mute-app")


async def test_a_user_that_never_reads_holds_one_window_at_the_connector(stack: Stack) -> None:
    """The mirror case: an app floods a user who reads nothing. The connector stops reading
    the app after one window (plus kernel and gateway buffers), and its memory stays put."""
    written = 0
    stalled = asyncio.Event()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        chunk = b"\0" * (1 << 20)
        try:
            while written < 256 << 20:
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 3.0)
                written += len(chunk)
        except TimeoutError:
            stalled.set()

    async with Backend(flood) as backend:
        home = stack.connector()
        port = await tcp_app(stack, "flood", backend.addr)
        try:
            rss_before = home.rss_bytes()
            _, writer = await asyncio.open_connection("127.0.0.1", port)  # and never read
            await asyncio.wait_for(stalled.wait(), 60)
            kernel = _sysctl_max("tcp_wmem") + _sysctl_max("tcp_rmem")
            assert written < 2 * kernel + 2 * 512 * 1024 + 8 * (1 << 20), (written, kernel)
            growth = home.rss_bytes() - rss_before
            assert growth < 16 * (1 << 20), growth
            writer.transport.abort()
        finally:
            home.stop()
            await stack.api.remove_app("flood")


async def test_strangers_and_wrong_tokens_are_refused(stack: Stack) -> None:
    before = await metrics(stack.entry.ports["observability"])
    stranger = stack.connector(name="stranger", wait_online=False)
    impostor = stack.connector(token="not-the-token-at-all", wait_online=False)
    try:
        await stack.entry.await_line("refused connector 'stranger'")
        await stack.entry.await_line("refused connector 'home'")
        await stranger.await_line("is not known to the entry, or its token is wrong")
        samples = await metrics(stack.entry.ports["observability"])
        key = "frontier_tunnel_connectors_rejected_unknown_total"
        assert samples[key] >= before.get(key, 0) + 2
        assert "online (edge" not in "\n".join(impostor.lines)
    finally:
        stranger.stop(sig=signal.SIGKILL)
        impostor.stop(sig=signal.SIGKILL)


async def test_an_entry_restart_keeps_connectors_reachable(stack: Stack) -> None:
    """The connector stays connected while the entry restarts; the new entry reaches it
    by the ID its name gives (no reconnect needed) and sees it online (it asks)."""
    async with Backend() as backend:
        home = stack.connector()
        try:
            assert await stack.entry.astop() == 0
            stack.entry = await asyncio.to_thread(entry, stack.tmp, stack.gateway,
                                                  connectors=CONNECTORS)  # fmt: skip
            port = await tcp_app(stack, "after-restart", backend.addr)
            assert await echo_once(port) == b"ping"
            _, doc = await stack.api.call("GET", "/v1/connectors")
            assert {c["name"]: c["online"] for c in doc["connectors"]}["home"] is True
            assert "offline, reconnecting" not in "\n".join(home.lines)
        finally:
            home.stop()
