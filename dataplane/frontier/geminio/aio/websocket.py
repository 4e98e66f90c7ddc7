"""geminio over WebSocket: a second transport for the same connection, not a second stack.

Edges behind HTTP proxies and firewalls that pass only HTTP(S) reach the gateway over a
WebSocket (RFC 6455). The WebSocket itself is `websockets`' sans-I/O protocol; the geminio
connection is the usual one (`GeminioProtocol` over a `ServerConnection` or
`ClientConnection`). `WebSocketBridge` sits between the two: towards the TCP (or TLS)
transport it is an `asyncio.Protocol`; towards the geminio protocol it is an
`asyncio.Transport`. Binary messages carry geminio bytes in any split (a geminio frame may
span messages or several may share one: geminio does its own framing); a text message
closes the connection with code 1003, a message above `max_message` with 1009, and a
WebSocket protocol error with 1002: only that connection. Pings are answered by
`websockets`. Flow control is the TCP transport's, passed through: `pause_writing` and
`resume_writing` reach the geminio protocol unchanged and its `pause_reading` pauses the
socket, so every bound of a TCP edge (slow consumer, paused reading, write deadlines)
holds for a WebSocket edge.

A server bridge answers the HTTP upgrade first: only the configured path, the configured
subprotocol (required when one is configured) and, when an allowlist is given, an allowed
`Origin` are accepted; anything else gets its HTTP error and the socket is closed. A
request without `Origin` is not a browser's and is let through the allowlist: the check
exists to stop web pages from opening connections with a visitor's network position, and
a non-browser client can send any `Origin` it likes anyway. The whole handshake (TLS,
upgrade, geminio) has one deadline from accept, as on the TCP listener.

We send geminio bytes in messages of at most `SEND_CHUNK` (64 KiB), so a server with
`max_message` of 64 KiB or more accepts whatever our clients send.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl as ssl_module
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.proxy import get_proxy, parse_proxy
from websockets.server import ServerProtocol
from websockets.typing import Origin, Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from ...throttled_log import ThrottledLog
from .client import is_websocket_url
from .listener import Listener, ListenerObserver

__all__ = [
    "MAX_MESSAGE",
    "SEND_CHUNK",
    "SUBPROTOCOL",
    "WebSocketBridge",
    "WebSocketOptions",
    "is_websocket_url",
    "open_websocket",
    "parse_websocket_url",
    "server_bridge",
]

log = logging.getLogger("frontier.geminio.websocket")
_peer_log = ThrottledLog(log)
_wire_log = logging.getLogger("frontier.geminio.websocket.wire")
"""`websockets`' own per-connection log ("connection open", ...): warnings only unless
someone lowers its level to debug a handshake."""
_wire_log.setLevel(logging.WARNING)

SUBPROTOCOL = "geminio"
"""The WebSocket subprotocol geminio is carried in."""
MAX_MESSAGE = 1 << 20
"""Largest WebSocket message accepted by default."""
SEND_CHUNK = 64 * 1024
"""Largest message we send: geminio frames may span messages, so nothing needs more."""

_CLOSE_REASONS = {1002: "protocol", 1003: "text", 1007: "protocol", 1009: "too_large"}
"""Close codes we send for a peer's fault -> the reason it is counted under."""


def parse_websocket_url(url: str) -> WebSocketURI:
    """``ws://host[:port][/path]`` or ``wss://...``; ValueError naming what is wrong."""
    try:
        return parse_uri(url)
    except (InvalidURI, ValueError) as exc:
        raise ValueError(f"bad WebSocket address {url!r}: {exc}") from None


class WebSocketOptions:
    """What a server bridge accepts (one object per listener)."""

    __slots__ = ("max_message", "origins", "path", "subprotocols")

    def __init__(
        self,
        *,
        path: str = "/",
        origins: Sequence[str] = (),
        subprotocol: str = SUBPROTOCOL,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a WebSocket path starts with '/': {path!r}")
        if max_message < SEND_CHUNK:
            raise ValueError(f"max_message must be at least {SEND_CHUNK} bytes")
        self.path = path
        self.origins: list[Origin | re.Pattern[str] | None] | None = (
            [*(Origin(o.rstrip("/")) for o in origins), None] if origins else None
        )
        self.subprotocols = [Subprotocol(subprotocol)] if subprotocol else None
        self.max_message = max_message


class WebSocketBridge(asyncio.Protocol, asyncio.Transport):
    """A geminio protocol carried over one WebSocket (server or client side)."""

    __slots__ = (
        "_admission",
        "_closing",
        "_deadline_handle",
        "_inner",
        "_inner_factory",
        "_ip",
        "_lost",
        "_observer",
        "_opened",
        "_options",
        "_reported",
        "_status",
        "lower",
        "ws",
    )

    def __init__(
        self,
        ws: Protocol,
        inner_factory: Callable[[], asyncio.Protocol],
        *,
        options: WebSocketOptions | None = None,
        listener: Listener | None = None,
        ip: str = "",
        deadline: float | None = None,
        opened: asyncio.Future[None] | None = None,
    ) -> None:
        self.ws = ws
        self._inner_factory: Callable[[], asyncio.Protocol] | None = inner_factory
        self._inner: asyncio.Protocol | None = None
        self._options = options
        """Set on the server side only."""
        self._admission = listener
        self._observer: ListenerObserver | None = (
            listener.observer if listener is not None else None
        )
        self._ip = ip
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._opened = opened
        self.lower: asyncio.Transport | None = None
        self._closing = False
        self._lost = False
        self._reported = False
        self._status = 400
        """The status of the upgrade's answer (server side)."""
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._deadline_handle = loop.call_at(deadline, self._upgrade_too_late)

    # ---------------------------------------------------------------- towards the socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.lower = cast(asyncio.Transport, transport)
        ws = self.ws
        if isinstance(ws, ClientProtocol) and ws.state is State.CONNECTING:
            ws.send_request(ws.connect())
            self._send()

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        refused = False
        for event in ws.events_received():
            if isinstance(event, Frame):
                opcode = event.opcode
                if opcode is Opcode.BINARY or opcode is Opcode.CONT:
                    inner = self._inner
                    # nothing after a text message earlier in the same read
                    if inner is not None and event.data and not refused:
                        inner.data_received(event.data)  # type: ignore[arg-type]
                elif opcode is Opcode.TEXT and not refused:
                    refused = True
                    ws.fail(1003, "geminio travels in binary messages")
            elif isinstance(event, Request):
                self._answer_upgrade(event)
            else:
                self._upgraded()
                event.headers.clear()  # kept by the parser, as the request is
                event.body = b""
        self._after_input()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._after_input()
        return None  # the TCP connection is closed: geminio sees connection_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._cancel_deadline()
        if self._opened is not None and not self._opened.done():
            reason = self.ws.handshake_exc
            self._opened.set_exception(
                ConnectionRefusedError(f"WebSocket upgrade refused: {reason}")
                if reason is not None
                else ConnectionResetError("the connection ended during the WebSocket upgrade")
            )
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.connection_lost(exc)
        self._inner_factory = None
        self.release_admission()

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def release_admission(self) -> None:
        listener, self._admission = self._admission, None
        if listener is not None:
            listener.release(self._ip)

    def _after_input(self) -> None:
        self._send()
        ws = self.ws
        if ws.close_sent is not None or ws.handshake_exc is not None:
            self._report_failure()
        # A server closes the TCP connection itself once the WebSocket is done (RFC 6455
        # 7.1.1); a client waits for the server to, unless the WebSocket is already gone.
        if ws.state is State.CLOSED or (self._options is not None and ws.close_expected()):
            lower = self.lower
            if lower is not None and not lower.is_closing():
                lower.close()

    def _report_failure(self) -> None:
        """Count and log (throttled) a refused upgrade or a peer's protocol violation."""
        if self._reported or self._options is None:
            return
        ws = self.ws
        reason: str | None = None
        if ws.state is State.CONNECTING or (ws.handshake_exc is not None and self._inner is None):
            status = self._status
            reason = {404: "websocket_path", 403: "websocket_origin"}.get(
                status, "websocket_handshake"
            )
            detail = str(ws.handshake_exc or f"HTTP {status}")
            self._reported = True
            if self._observer is not None:
                self._observer.refused(reason)
            _peer_log.info(
                f"ws:{reason}",
                "websocket upgrade from %s refused (%s): %s",
                self._who(), reason, detail,
            )  # fmt: skip
            return
        close = ws.close_sent
        if close is None:
            return
        reason = _CLOSE_REASONS.get(close.code)
        if reason is None:
            return
        self._reported = True
        if self._observer is not None:
            self._observer.protocol_error(f"websocket_{reason}")
        _peer_log.info(
            f"ws:{reason}",
            "websocket peer %s closed with %d: %s",
            self._who(), close.code, close.reason or reason,
        )  # fmt: skip

    # --------------------------------------------------------------------- the upgrade

    def _answer_upgrade(self, request: Request) -> None:
        ws = cast(ServerProtocol, self.ws)
        options = self._options
        assert options is not None
        if request.path.split("?", 1)[0] != options.path:
            response = ws.reject(404, "Not Found\n")
            ws.handshake_exc = InvalidHandshake(f"path {request.path[:200]!r} is not served")
        else:
            response = ws.accept(request)
        self._status = response.status_code
        ws.send_response(response)
        # The library's parser keeps the request (a local of a suspended generator) for
        # the connection's life: its headers were a third of an idle WebSocket edge.
        request.headers.clear()
        if response.status_code == 101:
            self._open()

    def _upgraded(self) -> None:
        if self.ws.handshake_exc is None:  # refused: connection_lost reports it
            self._open()

    def _open(self) -> None:
        self._cancel_deadline()
        factory, self._inner_factory = self._inner_factory, None
        if factory is None or self._lost:
            return
        self._inner = factory()
        self._inner.connection_made(self)
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _upgrade_too_late(self) -> None:
        self._deadline_handle = None
        if self._inner is None and self.lower is not None and not self._lost:
            if self._observer is not None and not self._reported:
                self._reported = True
                self._observer.refused("websocket_timeout")
            self.lower.abort()

    def _cancel_deadline(self) -> None:
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None

    # ------------------------------------------------------------ output and closing

    def _send(self) -> None:
        chunks = self.ws.data_to_send()
        lower = self.lower
        if lower is None or self._lost or lower.is_closing():
            return
        for chunk in chunks:
            if chunk:
                lower.write(chunk)
            elif lower.can_write_eof():
                lower.write_eof()

    def _who(self) -> str:
        peer = self.lower.get_extra_info("peername") if self.lower is not None else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "a client"

    # ------------------------------------------------- towards geminio: the transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        ws = self.ws
        if self._closing or self._lost or ws.state is not State.OPEN:
            return
        if len(data) <= SEND_CHUNK:
            ws.send_binary(data)
        else:
            view = memoryview(data)
            for start in range(0, len(view), SEND_CHUNK):
                ws.send_binary(view[start : start + SEND_CHUNK])
        self._send()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        parts = list_of_data if isinstance(list_of_data, list) else list(list_of_data)
        if len(parts) == 1:
            self.write(parts[0])
        elif parts:
            self.write(b"".join(parts))

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a WebSocket has no half-close")

    def close(self) -> None:
        """A graceful end: what was written is sent, then a close frame, then the
        TCP connection is closed (the peer's close frame is not waited for: geminio
        ended the connection by its own handshake already)."""
        if self._closing:
            return
        self._closing = True
        if self.ws.state is State.OPEN:
            self.ws.send_close(1000)
            self._send()
        if self.lower is not None and not self.lower.is_closing():
            self.lower.close()

    def abort(self) -> None:
        self._closing = True
        if self.lower is not None:
            self.lower.abort()

    def is_closing(self) -> bool:
        lower = self.lower
        return self._closing or self._lost or lower is None or lower.is_closing()

    def pause_reading(self) -> None:
        if self.lower is not None and not self._lost:
            self.lower.pause_reading()

    def resume_reading(self) -> None:
        if self.lower is not None and not self._lost and not self.lower.is_closing():
            self.lower.resume_reading()

    def is_reading(self) -> bool:
        return self.lower is not None and not self._lost and self.lower.is_reading()

    def get_write_buffer_size(self) -> int:
        return self.lower.get_write_buffer_size() if self.lower is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.lower.get_write_buffer_limits() if self.lower is not None else (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self.lower is not None:
            self.lower.set_write_buffer_limits(high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The socket's extra info, and ``geminio_transport``: ``"websocket"``."""
        if name == "geminio_transport":
            return "websocket"
        if self.lower is None:
            return default
        return self.lower.get_extra_info(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return cast(asyncio.BaseProtocol, self._inner)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner = cast(asyncio.Protocol, protocol)


def server_bridge(
    options: WebSocketOptions,
    inner_factory: Callable[[], asyncio.Protocol],
    *,
    listener: Listener,
    ip: str,
    deadline: float,
) -> WebSocketBridge:
    """The accepting side's bridge: answers the upgrade, then starts `inner_factory()`."""
    ws = ServerProtocol(
        origins=options.origins,
        subprotocols=options.subprotocols,
        max_size=options.max_message,
        logger=_wire_log,
    )
    return WebSocketBridge(
        ws, inner_factory, options=options, listener=listener, ip=ip, deadline=deadline
    )


async def open_websocket(
    url: str,
    inner_factory: Callable[[], asyncio.Protocol],
    *,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    proxy: str | bool = True,
    subprotocol: str = SUBPROTOCOL,
    origin: str | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - the dial's own deadline, TLS and upgrade included
) -> WebSocketBridge:
    """Dial `url`, upgrade to WebSocket, and start `inner_factory()` on top.

    ``proxy=True`` goes through the HTTP proxy the environment names for the URL's scheme
    (``HTTPS_PROXY`` for ``wss://``, ``HTTP_PROXY`` for ``ws://``, ``NO_PROXY`` honoured),
    with an HTTP CONNECT; a string names the proxy (``http://[user:pass@]host:port``);
    ``False`` dials directly. `ssl` is used for ``wss://`` (default: the system's trust
    store). Raises `OSError` (refused, reset, an upgrade the server or the proxy refused)
    or `TimeoutError`.
    """
    uri = parse_websocket_url(url)
    if not uri.secure and ssl is not None:
        raise ValueError(f"{url}: a TLS context was given for a ws:// address (use wss://)")
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    ws = ClientProtocol(
        uri,
        origin=Origin(origin) if origin else None,
        subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
        max_size=MAX_MESSAGE,
        logger=_wire_log,
    )
    bridge = WebSocketBridge(ws, inner_factory, opened=opened)
    if uri.secure and ssl is None:
        ssl = ssl_module.create_default_context()
    hostname = server_hostname or uri.host
    proxy_url = get_proxy(uri) if proxy is True else (proxy or None)
    try:
        async with asyncio.timeout(timeout):
            if proxy_url:
                tunnel = await _through_proxy(proxy_url, uri)
                if ssl is not None:
                    tls = await loop.start_tls(tunnel, bridge, ssl, server_hostname=hostname)
                    if tls is None:
                        raise ConnectionResetError(f"proxy {proxy_url}: the tunnel closed")
                    tunnel = tls
                else:
                    tunnel.set_protocol(bridge)
                bridge.connection_made(tunnel)
            else:
                await loop.create_connection(
                    lambda: bridge, uri.host, uri.port, ssl=ssl,
                    server_hostname=hostname if ssl is not None else None,
                )  # fmt: skip
            await opened
    except BaseException:
        bridge.abort()
        raise
    return bridge


async def _through_proxy(proxy_url: str, uri: WebSocketURI) -> asyncio.Transport:
    """A TCP connection to `uri` through an HTTP CONNECT proxy."""
    from websockets.asyncio.client import connect_http_proxy

    try:
        proxy = parse_proxy(proxy_url)
    except InvalidURI as exc:
        raise ValueError(f"bad proxy address {proxy_url!r}: {exc}") from None
    if proxy.scheme not in ("http", "https"):
        raise ValueError(f"proxy {proxy_url}: only HTTP CONNECT proxies are supported")
    kwargs: dict[str, Any] = {}
    if proxy.scheme == "https":
        kwargs = {"ssl": ssl_module.create_default_context(), "server_hostname": proxy.host}
    try:
        return await connect_http_proxy(proxy, uri, **kwargs)
    except InvalidHandshake as exc:
        raise ConnectionRefusedError(f"proxy {proxy_url}: {exc}") from None
