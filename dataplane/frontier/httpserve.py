"""One small HTTP listener for the side doors: the control API and /healthz, /readyz, /metrics.

The gateway and frontlas each run one or two aiohttp applications next to their geminio
listeners. `HttpListener` wraps aiohttp's `AppRunner` and a listening socket (what aiohttp's
`TCPSite` would open, with our protocol class) so that every caller gets the same
behaviour: port 0 works (tests and ephemeral deployments read back `.port`), TLS is an
optional `ssl.SSLContext` (keyword `ssl`, as for the geminio servers), no signal
handlers are installed (the owning process handles SIGTERM and drains), and the per-request
access log is off unless asked for, because Prometheus scrapes and kubelet probes would
otherwise drown the real log lines.

Requests aiohttp cannot parse (a request line or header over 8190 bytes, a NUL in a header,
no HTTP at all) fail before any application code runs: no middleware, so no token check
either. aiohttp would answer them in ``text/plain`` and log each with a full traceback at
ERROR, which lets anyone who can connect flood the log. Here they are answered like every
other error of our APIs, JSON ``{"error": ...}`` (then the connection is closed), and each
listener logs them as single lines at INFO through a `ThrottledLog`: the first of each kind
(aiohttp's exception class) at once, then at most one per `REJECT_LOG_INTERVAL` seconds,
saying how many were left out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl as ssl_module
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .geminio.aio.listener import system_backlog
from .throttled_log import ThrottledLog

__all__ = ["REJECT_LOG_INTERVAL", "HttpListener"]

log = logging.getLogger("frontier.http")

REJECT_LOG_INTERVAL: Final = 10.0
_REASON_CHARS: Final = 160
_QUOTED_BYTES: Final = re.compile(r"""(?:bytearray\()?b['"]""")


def _reason(exc: BaseException | None, message: str | None) -> str:
    """aiohttp's parser message without the client bytes it quotes: its first line, cut
    before a quoted ``b'...'``, and at most `_REASON_CHARS` long."""
    text = exc.message if isinstance(exc, HttpProcessingError) else (message or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = _QUOTED_BYTES.split(first, maxsplit=1)[0].rstrip(": ")
    if len(first) > _REASON_CHARS:
        first = first[: _REASON_CHARS - 3] + "..."
    return first or "malformed request"


def _error_text(status: int, exc: BaseException | None, message: str | None) -> str:
    if status == HTTPStatus.BAD_REQUEST:
        return f"bad request: {_reason(exc, message)}"
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        return "internal error"  # as the APIs' own 500: no detail reaches the client
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"


class _JsonErrorsProtocol(web.RequestHandler):
    """aiohttp's HTTP protocol, answering the errors it raises itself (an unparsable
    request; a handler that raised past the application's middlewares; a handler timeout)
    as JSON, and reporting them to its listener instead of logging tracebacks."""

    __slots__ = ("_listener",)

    def __init__(self, manager: web.Server, *, listener: HttpListener, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._listener = listener

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        self._listener.report_error(request, status, exc, message)
        if request.writer.output_size > 0:  # the response had started: nothing to add
            raise ConnectionError(f"response already started; cannot send a {status}")
        response = web.json_response(
            {"error": _error_text(status, exc, message)},
            status=status,
            headers={"Cache-Control": "no-store"},
        )
        response.force_close()
        return response


class HttpListener:
    """Serves one `web.Application` on ``host:port`` until `close()`.

    `host` may be ``""`` or ``None`` for every interface (aiohttp's convention); `port` 0
    binds an ephemeral port, readable from `port` once `start()` returned (give a host too:
    with no host, IPv4 and IPv6 may get different ephemeral ports). `shutdown_timeout`
    bounds how long `close()` waits for in-flight requests before cancelling them: the
    endpoints here are short, so the default is small enough not to hold up a drain. The
    listen backlog defaults to the system's somaxconn (aiohttp's 128 overflows when many
    probes and scrapers arrive at once, as after a restart).
    """

    def __init__(
        self,
        app: web.Application,
        host: str | None,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        access_log: bool = False,
        shutdown_timeout: float = 5.0,
        backlog: int | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range")
        self.app = app
        self.host = host or None
        self._requested_port = port
        self._ssl = ssl
        self._access_log = access_log
        self._shutdown_timeout = shutdown_timeout
        self._backlog = backlog if backlog is not None else system_backlog()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._port: int | None = None
        self._rejects = ThrottledLog(log, REJECT_LOG_INTERVAL)

    async def start(self) -> None:
        """Bind and start serving; raises `OSError` if the address cannot be bound.

        On failure nothing is left behind (the runner is cleaned up), so a caller may retry
        or exit without a second cleanup call.
        """
        if self._runner is not None:
            raise RuntimeError("HttpListener already started")
        runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        try:
            self._server = await self._listen(runner)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = _bound_port(self._server, self._requested_port)
        log.debug("http listener on %s:%d", self.host or "*", self._port)

    async def _listen(self, runner: web.AppRunner) -> asyncio.AbstractServer:
        """What aiohttp's `TCPSite` does, with our protocol class: the runner's `server`
        (the application's request dispatch) behind `_JsonErrorsProtocol`."""
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {} if self._access_log else {"access_log": None}

        def protocol() -> web.RequestHandler:
            return _JsonErrorsProtocol(server, loop=loop, listener=self, **options)

        return await loop.create_server(
            protocol,
            self.host,
            self._requested_port,
            ssl=self._ssl,
            backlog=self._backlog,
            reuse_address=True,  # a restart must not wait out TIME_WAIT
        )

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was requested)."""
        if self._port is None:
            raise RuntimeError("HttpListener not started")
        return self._port

    def report_error(
        self,
        request: web.BaseRequest,
        status: int,
        exc: BaseException | None,
        message: str | None,
    ) -> None:
        """Log an error aiohttp answered itself: one line, unless the throttle says no."""
        where = f"{self.host or '*'}:{self._port}"
        kind = f"{status} {type(exc).__name__}"  # a few classes, never the client's bytes
        if status >= 500 and not isinstance(exc, HttpProcessingError):
            self._rejects.log(  # a handler failed past the app's middlewares: our bug
                logging.ERROR,
                kind,
                "http %s: %s %s from %s failed with %d",
                where,
                request.method,
                request.path,
                request.remote,
                status,
                exc_info=exc,
            )
        else:
            self._rejects.info(
                kind,
                "http %s: refused a request from %s with %d: %r",
                where,
                request.remote,
                status,
                _reason(exc, message),
            )

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (empty before `start()` and after `close()`)."""
        server = self._server if self._runner is not None else None
        return tuple(getattr(server, "sockets", None) or ())

    @property
    def scheme(self) -> str:
        return "https" if self._ssl is not None else "http"

    @property
    def started(self) -> bool:
        return self._runner is not None

    def stop_accepting(self) -> None:
        """Close the listening socket only: connections already open carry on (a drain
        that lets long requests, such as proxied WebSockets, finish)."""
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        """Stop listening, let in-flight requests finish (up to `shutdown_timeout`), and
        run the application's cleanup hooks. Safe to call twice or before `start()`."""
        server, self._server = self._server, None
        runner, self._runner = self._runner, None
        if server is not None:
            server.close()
        if runner is not None:
            await runner.cleanup()  # closes idle connections, waits for busy ones

    async def __aenter__(self) -> HttpListener:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _bound_port(server: asyncio.AbstractServer, requested: int) -> int:
    """The port the kernel gave us (the first socket's).

    With an explicit port every socket shares it. With port 0 *and* no host, asyncio binds
    IPv4 and IPv6 separately and each may get a different port: pass a host with port 0.
    """
    for sock in getattr(server, "sockets", None) or ():
        address = sock.getsockname()
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
