"""A published app's listener at the entry: each accepted connection becomes a tunnel to
the app's connector and a `Relay`.

A TCP app listens on its own ``listen`` address (TLS and client certificates optional). An
HTTP app listens on a Unix socket in a private directory (mode 0700) that only the HTTP
front connects to: the front's aiohttp client pools keep-alive connections to it, so one
tunnel serves many requests. When a tunnel cannot be opened, a TCP client's connection is
reset, and the HTTP front's connection gets an HTTP answer saying why (503 the connector
is offline or busy, 504 it did not answer in time, 502 it refused or could not connect),
with the code in ``X-Frontier-Tunnel-Error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl as ssl_module
import time
from http import HTTPStatus
from typing import Final

from ..addr import split_addr
from ..listen import Listener, bind
from ..throttled_log import ThrottledLog
from .config import App
from .metrics import EntryMetrics
from .relay import Relay, RelayResult, reset
from .routes import check_source
from .tunnels import OFFLINE, TunnelOpener, TunnelOpenError
from .wire import StatusCode

__all__ = ["AppListener", "http_status_for", "tunnel_error_response"]

log = logging.getLogger("frontier.tunnel.apps")

_HTTP_STATUS: Final = {
    OFFLINE: 503,
    StatusCode.BUSY: 503,
    StatusCode.TIMEOUT: 504,
}


def http_status_for(code: str) -> int:
    """The HTTP status that reports a tunnel failure with `code`."""
    return _HTTP_STATUS.get(code, 502)


def tunnel_error_response(code: str, text: str) -> bytes:
    status = http_status_for(code)
    body = json.dumps({"error": text, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        f"X-Frontier-Tunnel-Error: {code}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class AppListener:
    """Serves one app: `start()`, then each connection is relayed until `close()`."""

    def __init__(
        self,
        app: App,
        opener: TunnelOpener,
        metrics: EntryMetrics,
        *,
        ssl: ssl_module.SSLContext | None = None,
        unix_path: str | None = None,
    ) -> None:
        self.app = app
        self.opener = opener
        self.metrics = metrics
        self.ssl = ssl
        self.unix_path = unix_path
        self.relays: set[Relay] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._connecting = 0
        self._failures = ThrottledLog(log, 10.0)
        labels = (app.name, app.connector)
        self._active = metrics.active.labels(*labels)
        self._to_app = metrics.bytes.labels(*labels, "to_app")
        self._from_app = metrics.bytes.labels(*labels, "from_app")
        self._setup = metrics.setup_seconds.labels(*labels)

    @property
    def port(self) -> int:
        assert self._server is not None
        assert self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, where: str = "") -> None:
        if self.unix_path is not None:
            self._server = await asyncio.start_unix_server(self._client, self.unix_path)
            return
        host, port = split_addr(self.app.listen, f"{where}.listen")
        listener = Listener(f"app {self.app.name!r}", f"{where or 'app'}.listen")
        starting = asyncio.start_server(
            self._client,
            host or None,
            port,
            ssl=self.ssl,
            ssl_handshake_timeout=10.0 if self.ssl else None,
            reuse_address=True,
        )
        server: list[asyncio.Server] = []

        async def open_it() -> None:
            server.append(await starting)

        await bind(listener, host, port, open_it())
        self._server = server[0]

    def tasks(self) -> set[asyncio.Task[None]]:
        """The connections being served (their tasks end when they do)."""
        return set(self._pending)

    @property
    def active(self) -> int:
        return len(self.relays) + self._connecting

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pending.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # close(): the connection has been reset. The task is asyncio's server's, whose
            # done-callback would log a cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._pending.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        app = self.app
        if self.unix_path is None:
            peer = writer.get_extra_info("peername")
            denial = check_source(app.allow_from, peer[0] if peer else None)
            if denial is not None:
                self._deny(writer, "source", f"connection from {peer[0] if peer else '?'} refused")
                return
        if app.max_connections and self.active >= app.max_connections:
            self._deny(writer, "limit", f"{self.active} connections already (max_connections)")
            return
        self._connecting += 1
        started = time.monotonic()
        try:
            tunnel = await self.opener.open_dial(
                app.connector,
                app.target,
                app=app.name,
                idle=app.idle_timeout if app.kind == "tcp" else 0.0,
            )
        except TunnelOpenError as exc:
            self.metrics.connections.labels(app.name, app.connector, exc.code).inc()
            self._failures.info(
                exc.code, "app %r: cannot reach %s: %s", app.name, app.target, exc.text
            )
            await self._fail(writer, exc)
            return
        except BaseException:  # cancelled (the app is being removed, the entry stops)
            reset(writer)
            raise
        finally:
            self._connecting -= 1
        self._setup.observe(time.monotonic() - started)
        self.metrics.connections.labels(app.name, app.connector, StatusCode.OK).inc()
        relay = Relay(
            tunnel,
            reader,
            writer,
            idle_timeout=app.idle_timeout if app.kind == "tcp" else 0.0,
            count_to_socket=self._from_app.inc,
            count_from_socket=self._to_app.inc,
        )
        self.relays.add(relay)
        self._active.inc()
        try:
            result = await relay.run()
        finally:
            self.relays.discard(relay)
            self._active.dec()
        self._ended(result)

    def _ended(self, result: RelayResult) -> None:
        app = self.app
        self.metrics.closed.labels(app.name, app.connector, result.outcome).inc()
        if result.outcome not in ("done", "closed"):
            self._failures.info(
                f"relay-{result.outcome}",
                "app %r: a connection ended: %s%s",
                app.name,
                result.outcome,
                f" ({result.reason})" if result.reason else "",
            )

    def _deny(self, writer: asyncio.StreamWriter, reason: str, text: str) -> None:
        self.metrics.denied.labels(self.app.name, reason).inc()
        self._failures.info(f"denied-{reason}", "app %r: %s", self.app.name, text)
        reset(writer)

    async def _fail(self, writer: asyncio.StreamWriter, exc: TunnelOpenError) -> None:
        if self.unix_path is None:
            reset(writer)
            return
        with contextlib.suppress(OSError, TimeoutError):
            writer.write(tunnel_error_response(exc.code, exc.text))
            async with asyncio.timeout(5.0):
                await writer.drain()
        writer.close()

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    async def close(self, reason: str = "the app was removed") -> None:
        """Stop listening and end every connection (reset, the connector told why)."""
        self.stop_listening()
        for relay in list(self.relays):
            relay.close(reason)
        for task in list(self._pending):  # those still opening their tunnel, too
            task.cancel()
        if self._pending:
            await asyncio.wait(self._pending, timeout=5.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await self._server.wait_closed()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)
