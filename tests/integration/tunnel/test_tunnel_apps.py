"""Apps behind a real connector, through a real gateway and a real entry (three processes
as users run them): HTTP, WebSocket and raw TCP apps, the allowlist's refusals, access
control, the idle timeout, scanning, and the entry's metrics of all of it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from support.frontd import Backend
from support.tunnel import Api, Daemon, connector, entry, gateway, metrics

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    gateway: Daemon
    entry: Daemon
    connector: Daemon
    api: Api

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.entry.ports['http']}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("tunnel")
    daemons: list[Daemon] = []
    try:
        gw = gateway(tmp)
        daemons.append(gw)
        ent = entry(tmp, gw)
        daemons.append(ent)
        con = connector(tmp, gw, allow=["127.0.0.1", "localhost:1-65535"])
        daemons.append(con)
        yield Stack(gw, ent, con, Api(ent))
    finally:
        codes = [daemon.stop() for daemon in reversed(daemons)]
        for daemon in daemons:  # pytest shows this only when a test failed
            print(f"----- {daemon.name} (last lines) -----\n{daemon.log()}")
    assert codes == [0] * len(daemons), [d.log() for d in daemons]
    for daemon in daemons:  # every failure was answered, none escaped as a traceback
        assert "Traceback" not in "\n".join(daemon.lines), daemon.log()


@contextlib.contextmanager
def daemon_logs_on_failure(stack: Stack) -> Iterator[None]:
    """Print every daemon's last lines when the block fails: pytest shows a failing test's
    own output, while what `stack` prints at its teardown goes with the module's last test.
    (The 64 MiB round trip was reset mid-transfer twice in CI runs, never here; the entry
    logs why every relay ended, so the next occurrence names its cause.)"""
    try:
        yield
    except BaseException:
        for daemon in (stack.gateway, stack.entry, stack.connector):
            print(f"----- {daemon.name} (last lines) -----\n{daemon.log()}")
        raise


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    return runner, int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- HTTP


async def test_http_app_routes_proxies_and_streams(stack: Stack) -> None:
    seen: dict[str, str] = {}

    async def hello(request: web.Request) -> web.Response:
        seen.update(request.headers)
        seen["path_qs"] = request.path_qs
        return web.Response(text="hello", headers={"Server": "test-app/1.0", "X-App": "yes"})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=hashlib.sha256(body).hexdigest().encode())

    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=418, text="short and stout")

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_get("/hello", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/teapot", teapot)
    runner, port = await serve(app)
    await stack.api.add_app(
        name="web1",
        kind="http",
        connector="home",
        target=f"127.0.0.1:{port}",
        path="/web1",
        strip_path=True,
    )
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{stack.http}/web1/hello?x=1") as response:
                assert response.status == 200
                assert await response.text() == "hello"
                assert response.headers["X-App"] == "yes"
                assert response.headers["Server"] == "test-app/1.0"
            assert seen["path_qs"] == "/hello?x=1"  # the prefix stripped, the query kept
            assert seen["X-Forwarded-For"] == "127.0.0.1"
            assert seen["X-Forwarded-Prefix"] == "/web1"
            assert seen["Host"] == f"127.0.0.1:{stack.entry.ports['http']}"  # preserved
            body = os.urandom(3 * 1024 * 1024 + 5)
            async with client.post(f"{stack.http}/web1/echo", data=body) as response:
                assert await response.text() == hashlib.sha256(body).hexdigest()
            async with client.get(f"{stack.http}/web1/teapot") as response:
                assert response.status == 418
                assert await response.text() == "short and stout"
            async with client.get(f"{stack.http}/nothing-here") as response:
                assert response.status == 404
                assert "no app" in (await response.json())["error"]
        samples = await metrics(stack.entry.ports["observability"])
        assert samples['frontier_tunnel_http_requests_total{app="web1",code="200"}'] >= 1
        assert samples['frontier_tunnel_http_requests_total{app="web1",code="418"}'] == 1
        assert samples[
            'frontier_tunnel_bytes_total{app="web1",connector="home",direction="to_app"}'
        ] > len(body)
    finally:
        await stack.api.remove_app("web1")
        await runner.cleanup()


async def test_websocket_upgrade_is_relayed_both_ways(stack: Stack) -> None:
    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo: " + message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    runner, port = await serve(app)
    await stack.api.add_app(
        name="ws1", kind="http", connector="home", target=f"127.0.0.1:{port}", path="/ws"
    )
    try:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{stack.http}/ws", max_msg_size=4 * 1024 * 1024) as ws:
                for i in range(5):
                    await ws.send_str(f"message {i}")
                    assert (await ws.receive(timeout=20)).data == f"echo: message {i}"
                blob = os.urandom(2 * 1024 * 1024)
                await ws.send_bytes(blob)
                assert (await ws.receive(timeout=30)).data == blob[::-1]
                _, doc = await stack.api.call("GET", "/v1/apps/ws1")
                assert doc["active"] == 1
            # the close handshake went through: the tunnel ends
            for _ in range(200):
                _, doc = await stack.api.call("GET", "/v1/apps/ws1")
                if doc["active"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert doc["active"] == 0
            # an upgrade the app refuses is passed on as the app's answer
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(f"{stack.http}/ws/none")
            assert refused.value.status == 404
    finally:
        await stack.api.remove_app("ws1")
        await runner.cleanup()


# ------------------------------------------------------------------------------ TCP


async def tcp_app(stack: Stack, name: str, target: str, **extra: object) -> int:
    doc = await stack.api.add_app(
        name=name, kind="tcp", connector="home", target=target, listen="127.0.0.1:0", **extra
    )
    return int(doc["port"])


async def test_tcp_app_64_mib_round_trip_intact(stack: Stack) -> None:
    payload = os.urandom(64 * 1024 * 1024)
    async with Backend() as backend:  # echo
        port = await tcp_app(stack, "echo64", backend.addr)
        try:
            with daemon_logs_on_failure(stack):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)

                async def send() -> None:
                    view = memoryview(payload)
                    for i in range(0, len(payload), 1 << 20):
                        writer.write(view[i : i + (1 << 20)])
                        await writer.drain()
                    writer.write_eof()

                sender = asyncio.create_task(send())
                digest = hashlib.sha256()
                received = 0
                async with asyncio.timeout(240):
                    while chunk := await reader.read(1 << 20):
                        digest.update(chunk)
                        received += len(chunk)
                    await sender
                writer.close()
                assert received == len(payload)
                assert digest.digest() == hashlib.sha256(payload).digest()
        finally:
            await stack.api.remove_app("echo64")


async def expect_reset(port: int) -> None:
    """The entry resets the connection (maybe before the client's connect() returned)."""

    async def attempt() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"hello?")
            return await reader.read(100)
        finally:
            writer.close()

    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(attempt(), 20)


async def test_half_close_passes_through_the_tunnel(stack: Stack) -> None:
    got_eof = asyncio.Event()

    async def replies_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(-1)
        got_eof.set()
        writer.write(b"you sent %d bytes" % len(data))
        await writer.drain()

    async with Backend(replies_after_eof) as backend:
        port = await tcp_app(stack, "halfclose", backend.addr)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"x" * 100_000)
            writer.write_eof()
            await asyncio.wait_for(got_eof.wait(), 20)
            assert await asyncio.wait_for(reader.read(-1), 20) == b"you sent 100000 bytes"
            writer.close()
        finally:
            await stack.api.remove_app("halfclose")


async def test_the_connectors_allowlist_refuses_with_a_clear_status(stack: Stack) -> None:
    """127.0.0.2 is not in the connector's allowlist (only 127.0.0.1 and the name
    localhost are): the TCP user's connection is reset, the HTTP user gets a 502 saying
    why, and nothing reaches the backend."""
    async with Backend() as backend:
        port = await tcp_app(stack, "refused", f"127.0.0.2:{backend.port}")
        await stack.api.add_app(
            name="refused-web", kind="http", connector="home", target=f"127.0.0.2:{backend.port}",
            path="/refused",
        )  # fmt: skip
        try:
            await expect_reset(port)
            async with (
                aiohttp.ClientSession() as client,
                client.get(f"{stack.http}/refused/x") as response,
            ):
                assert response.status == 502
                assert response.headers["X-Frontier-Tunnel-Error"] == "not_allowed"
                doc = await response.json()
                assert "not in this connector's allowlist" in doc["error"]
            assert backend.accepted == 0
            samples = await metrics(stack.entry.ports["observability"])
            key = "frontier_tunnel_connections_total"
            assert samples[f'{key}{{app="refused",connector="home",result="not_allowed"}}'] == 1
            # a name the allowlist names is resolved, and its address checked: localhost
            # resolves to loopback, which a name rule alone does not open
            await stack.api.remove_app("refused")
            port = await tcp_app(stack, "refused", f"localhost:{backend.port}")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(4), 20) == b"ping"  # 127.0.0.1 is listed
            writer.close()
        finally:
            await stack.api.remove_app("refused")
            await stack.api.remove_app("refused-web")


async def test_idle_connections_are_dropped(stack: Stack) -> None:
    async with Backend() as backend:
        port = await tcp_app(stack, "idle", backend.addr, idle_timeout=1.0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.read(4), 20) == b"ping"
            loop = asyncio.get_running_loop()
            quiet_since = loop.time()
            with pytest.raises(ConnectionResetError):
                async with asyncio.timeout(30):
                    await reader.read(1)
            assert loop.time() - quiet_since >= 0.9
            writer.close()
        finally:
            await stack.api.remove_app("idle")


# --------------------------------------------------------------------------- access


async def test_access_control_per_app(stack: Stack) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text=f"auth header: {request.headers.get('Authorization', '-')}")

    app = web.Application()
    app.router.add_get("/", ok)
    runner, port = await serve(app)
    await stack.api.add_app(
        name="private",
        kind="http",
        connector="home",
        target=f"127.0.0.1:{port}",
        host="private.example",
        auth={"bearer_tokens": ["s3cret-token"], "basic": [{"user": "ann", "password": "pw"}]},
    )
    await stack.api.add_app(
        name="nobody", kind="http", connector="home", target=f"127.0.0.1:{port}",
        host="nobody.example", allow_from=["10.0.0.0/8"],
    )  # fmt: skip
    url = f"{stack.http}/"
    basic = "Basic " + base64.b64encode(b"ann:pw").decode()
    try:
        async with aiohttp.ClientSession() as client:
            for headers, status in (
                ({}, 401),
                ({"Authorization": "Bearer wrong"}, 401),
                ({"Authorization": "Basic " + base64.b64encode(b"ann:no").decode()}, 401),
                ({"Authorization": "Bearer s3cret-token"}, 200),
                ({"Authorization": basic}, 200),
            ):
                async with client.get(url, headers={"Host": "private.example", **headers}) as r:
                    assert r.status == status, headers
                    if status == 200:  # the entry's credentials are not passed on
                        assert await r.text() == "auth header: -"
                    else:
                        assert "Bearer" in r.headers["WWW-Authenticate"]
            async with client.get(url, headers={"Host": "nobody.example"}) as r:
                assert r.status == 403
        samples = await metrics(stack.entry.ports["observability"])
        assert (
            samples['frontier_tunnel_denied_total{app="private",reason="missing_credentials"}'] == 1
        )
        assert samples['frontier_tunnel_denied_total{app="private",reason="bad_credentials"}'] == 2
        assert samples['frontier_tunnel_denied_total{app="nobody",reason="source"}'] == 1
        assert "refused GET / from 127.0.0.1: missing_credentials" in "\n".join(stack.entry.lines)
    finally:
        await stack.api.remove_app("private")
        await stack.api.remove_app("nobody")
        await runner.cleanup()


# ----------------------------------------------------------------------------- scans


async def test_scan_finds_the_services_it_may_see(stack: Stack, tmp_path: Path) -> None:
    """A web app with a title and a Server header, a server that speaks first (SSH), a
    closed port, and an open port outside the allowlist (127.0.0.2 is not in it)."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head><title>Known App</title></head></html>",
            content_type="text/html",
            headers={"Server": "known-server/2.1"},
        )

    app = web.Application()
    app.router.add_get("/", page)
    runner, web_port = await serve(app)

    async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2 test\r\n")
        await writer.drain()
        await reader.read(100)

    # Ports nothing else takes while the scan runs: a socket bound on 127.0.0.1 that never
    # listens refuses connections there. One is the closed port; the other holds the hidden
    # server's port on 127.0.0.1, since a port picked on 127.0.0.2 alone may be one another
    # process listens on at 127.0.0.1 (the stack's own gateway did once: found "open").
    closed, reserved = socket.socket(), socket.socket()
    closed.bind(("127.0.0.1", 0))
    reserved.bind(("127.0.0.1", 0))
    closed_port, hidden_port = closed.getsockname()[1], reserved.getsockname()[1]
    async with Backend(ssh) as ssh_server:
        hidden = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.2", hidden_port)
        ports = [web_port, ssh_server.port, closed_port]
        try:
            status, job = await stack.api.call(
                "POST", "/v1/scans",
                {"connector": "home", "nets": ["127.0.0.1/32", "127.0.0.2/32"],
                 "ports": [*ports, hidden_port], "timeout": 2},
            )  # fmt: skip
            assert status == 202, job
            for _ in range(600):
                _, job = await stack.api.call("GET", f"/v1/scans/{job['id']}")
                if job["status"] not in ("starting", "running"):
                    break
                await asyncio.sleep(0.05)
            assert job["status"] == "completed", job
            found = {(a["ip"], a["port"]): a for a in job["applications"]}
            assert set(found) == {("127.0.0.1", web_port), ("127.0.0.1", ssh_server.port)}
            web_found = found[("127.0.0.1", web_port)]
            assert web_found["protocol"] == "http"
            assert web_found["status"] == 200
            assert web_found["title"] == "Known App"
            assert web_found["server"] == "known-server/2.1"
            assert web_found["service_type"] == "known-server"
            ssh_found = found[("127.0.0.1", ssh_server.port)]
            assert ssh_found["protocol"] == ssh_found["service_type"] == "ssh"
            assert job["total"] == 8  # 2 addresses x 4 ports
            assert job["scanned"] == 4  # only 127.0.0.1: the allowlist
        finally:
            hidden.close()
            closed.close()
            reserved.close()
            await runner.cleanup()
