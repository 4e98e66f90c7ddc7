"""The entry's HTTP front: an aiohttp reverse proxy for the HTTP apps, routed by Host and
path, with access checks per app and WebSocket upgrades passed through.

A request is routed (`routes.RouteTable`), checked (client network, client certificate,
bearer token or basic auth), then proxied with aiohttp's client over the app's private
Unix socket (`apps.AppListener`), whose keep-alive connections are tunnels to the app.
Hop-by-hop headers are dropped both ways; ``X-Forwarded-For``/``-Proto``/``-Host`` are
added; bodies stream both ways (nothing is held whole). A tunnel failure comes back as the
status `apps.tunnel_error_response` chose; an app that does not answer within
``response_timeout`` is a 504.

**WebSockets.** An upgrade request opens a tunnel of its own: the request head goes to the
app through it, the app's answer comes back; a 101 is passed to the client, and from then
on the connection's bytes flow both ways through the same `relay.Relay` as a TCP app,
without any timeout (the frames are the app's business). A client that goes away aborts
the tunnel, so the app sees its connection reset rather than waiting on a half-close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..httpapi import error_response
from ..throttled_log import ThrottledLog
from .apps import AppListener, http_status_for
from .config import App
from .metrics import EntryMetrics
from .relay import Relay, RelayResult, TunnelStream, stream_write
from .routes import RouteTable, check_auth, check_source, normalise_path, request_host
from .tunnels import TunnelOpener, TunnelOpenError
from .wire import Abort, Data, Eof, Event, Report, Status

__all__ = ["HttpApp", "HttpFront"]

log = logging.getLogger("frontier.tunnel.http")

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
MAX_HEAD: Final = 64 * 1024
"""Largest response head of a WebSocket handshake (and body of a refused one: 1 MiB)."""
_MAX_REFUSED_BODY: Final = 1024 * 1024
_KEEPALIVE: Final = 15.0
_SKIP_AUTO: Final = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def _hop_by_hop(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """The standard hop-by-hop headers and those the Connection header names."""
    named = {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
        if token.strip()
    }
    return set(HOP_BY_HOP) | named


def _is_websocket(request: web.Request) -> bool:
    connection = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    return "upgrade" in connection and request.headers.get("Upgrade", "").lower() == "websocket"


class _Feed:
    """aiohttp's payload-parser interface (what its WebSocket support installs with
    ``set_parser``), feeding an upgraded connection's bytes to a StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class _ResponseWriter:
    """An upgraded connection's writer for the relay: bytes go out through the 101
    response's own writer (aiohttp's back-pressure), EOF and resets to the transport."""

    def __init__(self, response: web.StreamResponse, transport: asyncio.Transport) -> None:
        self._response = response
        self._transport = transport
        self._pending: list[bytes] = []

    @property
    def transport(self) -> asyncio.Transport:
        return self._transport

    def write(self, data: bytes) -> None:
        self._pending.append(data)

    async def drain(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        if data:
            await self._response.write(data)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._transport.write_eof()

    def close(self) -> None:
        self._transport.close()

    async def wait_closed(self) -> None:
        return None  # aiohttp owns the connection's end

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)


class HttpApp:
    """One HTTP app: its Unix-socket listener (tunnels) and the client pool over it."""

    def __init__(
        self,
        app: App,
        listener: AppListener,
        opener: TunnelOpener,
        metrics: EntryMetrics,
    ) -> None:
        self.config = app
        self.listener = listener
        self.opener = opener
        self.metrics = metrics
        self.prefix = normalise_path(app.path)
        self.session: aiohttp.ClientSession | None = None
        self.relays: set[Relay] = set()
        self._busy: set[asyncio.Task[Any]] = set()
        self._log = ThrottledLog(log, 10.0)

    def tasks(self) -> set[asyncio.Task[Any]]:
        """Requests under way and upgraded WebSockets (what a drain waits for; idle pooled
        connections are not waited for)."""
        return set(self._busy)

    async def start(self) -> None:
        await self.listener.start()
        assert self.listener.unix_path is not None
        connector = aiohttp.UnixConnector(
            path=self.listener.unix_path,
            limit=self.config.max_connections,
            keepalive_timeout=_KEEPALIVE,
        )
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self, reason: str = "the app was removed") -> None:
        for relay in list(self.relays):
            relay.close(reason)
        if self.session is not None:
            await self.session.close()
        await self.listener.close(reason)

    # ------------------------------------------------------------------ requests

    def _path_qs(self, request: web.Request) -> str:
        raw = request.raw_path
        if self.config.strip_path and self.prefix != "/" and raw.startswith(self.prefix):
            raw = raw[len(self.prefix) :]
            if not raw.startswith("/"):
                raw = "/" + raw
        return raw

    def _forwarded(self, request: web.Request, drop: Iterable[str]) -> CIMultiDict[str]:
        """The headers the app gets: the client's minus `drop`, Host as configured, and
        the ``X-Forwarded-*`` trio."""
        dropped = {name.lower() for name in drop}
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in request.headers.items():
            if name.lower() not in dropped:
                headers.add(name, value)
        original_host = request.headers.get("Host", "")
        preserved = self.config.preserve_host and original_host
        headers["Host"] = original_host if preserved else self.config.target
        peer = request.remote or ""
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
        headers["X-Forwarded-Proto"] = request.scheme
        if original_host:
            headers["X-Forwarded-Host"] = original_host
        if self.config.strip_path and self.prefix != "/":
            headers["X-Forwarded-Prefix"] = self.prefix
        return headers

    def _dropped_request_headers(self, request: web.Request) -> set[str]:
        # Expect: the front already answered "100 Continue" to the client
        drop = _hop_by_hop(request.headers) | {"host", "expect"}
        if self.config.auth.bearer_tokens or self.config.auth.basic:
            drop.add("authorization")  # the entry's credentials, not the app's
        return drop

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            return await self._proxy(request)
        finally:
            if task is not None:
                self._busy.discard(task)

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        session = self.session
        assert session is not None
        name = self.config.name
        started = time.monotonic()
        headers = self._forwarded(request, self._dropped_request_headers(request))
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.opener.open_timeout + 5.0,
            sock_read=self.config.response_timeout or None,
        )
        url = URL("http://frontier-tunnel" + self._path_qs(request), encoded=True)
        data = request.content if request.body_exists else None
        try:
            async with session.request(
                request.method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=timeout,
                skip_auto_headers=_SKIP_AUTO,
                compress=None,
            ) as upstream:
                self.metrics.request_seconds.labels(name).observe(time.monotonic() - started)
                self.metrics.requests.labels(name, str(upstream.status)).inc()
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                drop = _hop_by_hop(upstream.headers)
                for key, value in upstream.headers.items():
                    if key.lower() not in drop:
                        response.headers.add(key, value)
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ServerTimeoutError:
            return self._failed(
                request,
                504,
                f"app {name!r} did not answer within {self.config.response_timeout:g} s",
            )
        except aiohttp.ClientError as exc:
            return self._failed(request, 502, f"app {name!r}: the tunnel failed: {exc}")

    def _failed(self, request: web.Request, status: int, text: str) -> web.StreamResponse:
        self.metrics.requests.labels(self.config.name, str(status)).inc()
        self._log.info(f"fail-{status}", "%s", text)
        if request.writer.output_size > 0:  # the body had started: all we can do is cut it
            raise ConnectionResetError(text)
        return error_response(status, text)

    # ---------------------------------------------------------------- websockets

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        app = self.config
        started = time.monotonic()
        try:
            tunnel = await self.opener.open_dial(app.connector, app.target, app=app.name, idle=0.0)
        except TunnelOpenError as exc:
            self.metrics.connections.labels(app.name, app.connector, exc.code).inc()
            return self._failed(request, http_status_for(exc.code), exc.text)
        self.metrics.connections.labels(app.name, app.connector, "ok").inc()
        self.metrics.setup_seconds.labels(app.name, app.connector).observe(
            time.monotonic() - started
        )
        try:
            return await self._upgrade(request, tunnel, started)
        except BaseException:  # the client left, the entry stops, or a bug: free the app
            tunnel.abort("the upgrade was not completed")
            raise

    async def _upgrade(
        self, request: web.Request, tunnel: TunnelStream, started: float
    ) -> web.StreamResponse:
        app = self.config
        headers = self._forwarded(request, self._dropped_request_headers(request))
        headers["Connection"] = "Upgrade"
        headers["Upgrade"] = request.headers.get("Upgrade", "websocket")
        lines = [f"{request.method} {self._path_qs(request)} HTTP/1.1"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        proto = tunnel.proto
        if len(head) > proto.send_credit:
            tunnel.abort("request head too large")
            return self._failed(request, 431, "the request's headers are too large")
        stream_write(tunnel.stream, proto.send_data(head))
        try:
            async with asyncio.timeout(self.config.response_timeout or None):
                status, reason, answer, rest = await _response_head(tunnel)
        except (TimeoutError, _HandshakeError) as exc:
            tunnel.abort("no handshake answer")
            text = str(exc) or f"app {app.name!r} did not answer the upgrade in time"
            return self._failed(request, 504 if isinstance(exc, TimeoutError) else 502, text)
        self.metrics.request_seconds.labels(app.name).observe(time.monotonic() - started)
        self.metrics.requests.labels(app.name, str(status)).inc()
        if status != 101:
            return await self._refused_upgrade(tunnel, status, reason, answer, rest)
        response = web.StreamResponse(status=101, reason=reason)
        drop_back = _hop_by_hop(answer)
        for key, value in answer.items():
            if key.lower() not in drop_back:
                response.headers.add(key, value)
        response.headers["Connection"] = "Upgrade"
        response.headers["Upgrade"] = answer.get("Upgrade", "websocket")
        await response.prepare(request)
        await self._relay_upgraded(request, response, tunnel, rest)
        return response

    async def _relay_upgraded(
        self,
        request: web.Request,
        response: web.StreamResponse,
        tunnel: TunnelStream,
        rest: list[Event],
    ) -> None:
        loop = asyncio.get_running_loop()
        transport = request.transport
        if transport is None:  # the client left during the handshake
            tunnel.abort("the client went away")
            return
        protocol = request.protocol
        reader = asyncio.StreamReader(limit=64 * 1024, loop=loop)
        reader.set_transport(transport)
        protocol.keep_alive(False)
        protocol.set_parser(_Feed(reader))  # type: ignore[arg-type]  # aiohttp's own WebSocket hook
        writer = _ResponseWriter(response, transport)
        tunnel.pending = rest + tunnel.pending
        app = self.config
        labels = (app.name, app.connector)
        relay = Relay(
            tunnel,
            reader,
            writer,
            idle_timeout=0.0,
            count_to_socket=self.metrics.bytes.labels(*labels, "from_app").inc,
            count_from_socket=self.metrics.bytes.labels(*labels, "to_app").inc,
            eof_first_aborts=True,
        )
        self.relays.add(relay)
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        active = self.metrics.active.labels(*labels)
        active.inc()
        try:
            result: RelayResult = await relay.run()
        finally:
            self.relays.discard(relay)
            if task is not None:
                self._busy.discard(task)
            active.dec()
        self.metrics.closed.labels(*labels, result.outcome).inc()

    async def _refused_upgrade(
        self,
        tunnel: TunnelStream,
        status: int,
        reason: str,
        answer: CIMultiDict[str],
        rest: list[Event],
    ) -> web.StreamResponse:
        """The app answered the upgrade with something else: pass that answer on (its
        body read within the response timeout, up to 1 MiB)."""
        body = b"".join(e.data for e in rest if isinstance(e, Data))
        length = answer.get("Content-Length", "")
        want = int(length) if length.isdigit() else _MAX_REFUSED_BODY
        with contextlib.suppress(TimeoutError, _HandshakeError):
            async with asyncio.timeout(self.config.response_timeout or None):
                while len(body) < min(want, _MAX_REFUSED_BODY):
                    events = await tunnel.next_events()
                    if events is None:
                        break
                    data = b"".join(e.data for e in events if isinstance(e, Data))
                    body += data
                    _grant(tunnel, len(data))
                    if any(isinstance(e, Eof | Abort) for e in events):
                        break
        tunnel.abort("the upgrade was refused")
        drop = _hop_by_hop(answer) | {"content-length"}
        headers = CIMultiDict((k, v) for k, v in answer.items() if k.lower() not in drop)
        return web.Response(status=status, reason=reason, body=body[:want], headers=headers)


class _HandshakeError(Exception):
    pass


def _grant(tunnel: TunnelStream, size: int) -> None:
    grant = tunnel.proto.consumed(size)
    if grant:
        stream_write(tunnel.stream, grant)


async def _response_head(
    tunnel: TunnelStream,
) -> tuple[int, str, CIMultiDict[str], list[Event]]:
    """Read the app's response head from the tunnel: (status, reason, headers, the events
    after it, the bytes past the head first)."""
    buffer = b""
    while True:
        events = await tunnel.next_events()
        if events is None:
            raise _HandshakeError("the app closed the connection without answering")
        for index, event in enumerate(events):
            if isinstance(event, Data):
                buffer += event.data
                end = buffer.find(b"\r\n\r\n")
                if end >= 0:
                    head, extra = buffer[: end + 4], buffer[end + 4 :]
                    _grant(tunnel, len(head))
                    rest: list[Event] = [Data(extra)] if extra else []
                    rest += events[index + 1 :]
                    status, reason, headers = _parse_head(head)
                    return status, reason, headers, rest
                if len(buffer) > MAX_HEAD:
                    raise _HandshakeError("the app's response head is too large")
            elif isinstance(event, Eof | Abort):
                raise _HandshakeError("the app closed the connection without answering")
            elif isinstance(event, Status | Report):  # pragma: no cover - refused by wire
                raise _HandshakeError("unexpected frame")


def _parse_head(head: bytes) -> tuple[int, str, CIMultiDict[str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _HandshakeError(f"the app's answer is not HTTP/1.x: {lines[0][:80]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _HandshakeError("the app's answer has a malformed header line")
        headers.add(name, value.strip())
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


class HttpFront:
    """The aiohttp application in front of every HTTP app (served by an HttpListener)."""

    def __init__(self, metrics: EntryMetrics) -> None:
        self.metrics = metrics
        self.routes: RouteTable[HttpApp] = RouteTable()
        self.apps: dict[str, HttpApp] = {}
        self._denials = ThrottledLog(log, 10.0)
        self._socket_dir = tempfile.mkdtemp(prefix="frontier-tunnel-")  # mode 0700
        self._next_socket = 0
        self.app = web.Application(client_max_size=1024**2)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def socket_path(self) -> str:
        self._next_socket += 1
        return str(Path(self._socket_dir) / f"{self._next_socket}.sock")

    def add(self, app: HttpApp) -> None:
        self.routes.add(app.config.host, app.config.path, app)
        self.apps[app.config.name] = app

    def remove(self, name: str) -> HttpApp | None:
        app = self.apps.pop(name, None)
        if app is not None:
            self.routes.remove(app.config.host, app.config.path)
        return app

    def close(self) -> None:
        with contextlib.suppress(OSError):
            for path in Path(self._socket_dir).iterdir():
                path.unlink()
            Path(self._socket_dir).rmdir()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        app = self.routes.match(request_host(request.headers.get("Host")), request.path)
        if app is None:
            self.metrics.unrouted.inc()
            return error_response(404, "no app is published at this host and path")
        config = app.config
        transport = request.transport
        has_cert = bool(transport.get_extra_info("peercert")) if transport is not None else False
        denial = check_source(config.allow_from, request.remote) or check_auth(
            config.auth, request.headers.get("Authorization"), client_cert=has_cert
        )
        if denial is not None:
            self.metrics.denied.labels(config.name, denial.reason).inc()
            self._denials.info(
                f"{config.name}-{denial.reason}",
                "app %r: refused %s %s from %s: %s",
                config.name,
                request.method,
                request.path,
                request.remote,
                denial.reason,
            )
            headers = {"WWW-Authenticate": denial.challenge} if denial.challenge else None
            return error_response(denial.status, denial.text, headers=headers)
        if _is_websocket(request):
            return await app.websocket(request)
        return await app.proxy(request)


def client_cert_context(
    context: ssl_module.SSLContext | None, ca_certs: tuple[str, ...], mtls: bool
) -> ssl_module.SSLContext | None:
    """Client certificates verified when sent (``ca_certs`` without ``mtls``)."""
    if context is not None and ca_certs and not mtls:
        context.verify_mode = ssl_module.CERT_OPTIONAL
        for ca in ca_certs:
            context.load_verify_locations(cafile=ca)
    return context
