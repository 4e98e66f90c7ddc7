"""One small HTTP listener for the side doors: the control API and /healthz, /readyz, /metrics.

The gateway and frontlas each run one or two aiohttp applications next to their geminio
listeners. `HttpListener` wraps aiohttp's `AppRunner` + `TCPSite` pair so that every caller
gets the same behaviour: port 0 works (tests and ephemeral deployments read back `.port`),
TLS is an optional `ssl.SSLContext` (keyword `ssl`, as for the geminio servers), no signal
handlers are installed (the owning process handles SIGTERM and drains), and the per-request
access log is off unless asked for, because Prometheus scrapes and kubelet probes would
otherwise drown the real log lines.
"""

from __future__ import annotations

import logging
import socket
import ssl as ssl_module
from types import TracebackType
from typing import Any

from aiohttp import web

from .geminio.aio.listener import system_backlog

__all__ = ["HttpListener"]

log = logging.getLogger("frontier.http")


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
        self._site: web.TCPSite | None = None
        self._port: int | None = None

    async def start(self) -> None:
        """Bind and start serving; raises `OSError` if the address cannot be bound.

        On failure nothing is left behind (the runner is cleaned up), so a caller may retry
        or exit without a second cleanup call.
        """
        if self._runner is not None:
            raise RuntimeError("HttpListener already started")
        kwargs: dict[str, Any] = {}
        if not self._access_log:
            kwargs["access_log"] = None  # aiohttp's way of turning the access log off
        runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=self._shutdown_timeout, **kwargs
        )
        await runner.setup()
        site = web.TCPSite(
            runner,
            self.host,
            self._requested_port,
            ssl_context=self._ssl,
            backlog=self._backlog,
            reuse_address=True,  # a restart must not wait out TIME_WAIT (default varies)
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._site = site
        self._port = _bound_port(runner, self._requested_port)
        log.debug("http listener on %s:%d", self.host or "*", self._port)

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was requested)."""
        if self._port is None:
            raise RuntimeError("HttpListener not started")
        return self._port

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (empty before `start()` and after `close()`)."""
        server = getattr(self._site, "_server", None) if self._runner is not None else None
        return tuple(getattr(server, "sockets", None) or ())

    @property
    def scheme(self) -> str:
        return "https" if self._ssl is not None else "http"

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def close(self) -> None:
        """Stop listening, let in-flight requests finish (up to `shutdown_timeout`), and
        run the application's cleanup hooks. Safe to call twice or before `start()`."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

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


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    """The port the kernel gave us (the first socket's).

    With an explicit port every socket shares it. With port 0 *and* no host, asyncio binds
    IPv4 and IPv6 separately and each may get a different port: pass a host with port 0.
    """
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
