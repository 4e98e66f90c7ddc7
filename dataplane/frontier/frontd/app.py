"""Running frontd: one process, or a supervisor of SO_REUSEPORT workers (`supervisor`).

What both share lives here: the observability listener (``/healthz``, ``/readyz``,
``/metrics``), the optional backend liveness checks that ``/readyz`` adds, the start-up
warning for the default allowlist, and the stop sequence (SIGTERM drains; a second signal
exits at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from prometheus_client.registry import CollectorRegistry

from ..addr import split_addr
from ..daemon import stop_event
from ..httpserve import HttpListener
from .allow import Allowlist
from .config import FrontdConfig
from .metrics import FrontdMetrics
from .server import Worker

__all__ = ["BackendChecks", "Serving", "run_single", "serve", "stop_on_signals"]

log = logging.getLogger("frontier.frontd")

_CHECK_CACHE_SECONDS = 1.0
_CHECK_TIMEOUT = 1.0


class BackendChecks:
    """``observability.ready_checks``: every listed backend accepts a TCP connection
    (results reused for a second, so frequent probes do not load the backends)."""

    def __init__(self, addrs: tuple[str, ...]) -> None:
        self.targets = [split_addr(a, "observability.ready_checks") for a in addrs]
        self._at = float("-inf")
        self._value = True

    async def __call__(self) -> bool:
        if not self.targets:
            return True
        if time.monotonic() - self._at < _CHECK_CACHE_SECONDS:
            return self._value
        results = await asyncio.gather(*(self._check(h, p) for h, p in self.targets))
        self._at, self._value = time.monotonic(), all(results)
        return self._value

    @staticmethod
    async def _check(host: str, port: int) -> bool:
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


async def start_observability(
    config: FrontdConfig, ready: Callable[[], Awaitable[bool]], registry: CollectorRegistry
) -> HttpListener | None:
    if not config.observability.enable:
        return None
    from ..gateway.observability import build_observability_app  # the shared side door

    host, port = split_addr(config.observability.addr, "observability.addr")
    listener = HttpListener(build_observability_app(ready=ready, registry=registry), host, port)
    await listener.start()
    return listener


def warn_defaults(config: FrontdConfig) -> None:
    allowlist = Allowlist.parse(config.backend.allow)
    if allowlist.is_default:
        log.warning(
            "no allowlist (--allow): any backend a valid ciphertext names is reachable, except "
            "this host's own, loopback, link-local and cloud metadata addresses; "
            "list your backend networks with --allow CIDR[:PORTS]"
        )
    else:
        log.info("%s", allowlist.describe())


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGTERM/SIGINT; a second one exits at once."""
    return stop_event(_exit_now)


def _exit_now() -> None:
    log.warning("second signal: exiting without finishing the drain")
    os._exit(1)


class Serving(Protocol):
    """What `serve` runs: a `Worker` (one process) or a `Supervisor` (workers)."""

    @property
    def port(self) -> int: ...
    @property
    def registry(self) -> CollectorRegistry: ...
    def ready(self) -> bool: ...
    def describe(self) -> str: ...
    async def start(self) -> None: ...
    async def drain(self, seconds: float) -> None: ...
    async def close(self) -> None: ...


async def serve(config: FrontdConfig, server: Serving) -> int:
    """Serve until a stop signal, then drain: the whole life of a `frontd` process."""
    stop = stop_on_signals()
    checks = BackendChecks(config.observability.ready_checks)

    async def ready() -> bool:
        return server.ready() and await checks()

    observability: HttpListener | None = None
    try:
        observability = await start_observability(config, ready, server.registry)
        await server.start()
        warn_defaults(config)
        log.info(
            "frontd up: :%d (%s)%s",
            server.port,
            server.describe(),
            f", observability :{observability.port}" if observability else "",
        )
        await stop.wait()
        log.info("signal received: draining for up to %.1f s", config.daemon.drain_seconds)
        await server.drain(config.daemon.drain_seconds)
    finally:
        await server.close()
        if observability is not None:
            await observability.close()
    log.info("frontd stopped")
    return 0


async def run_single(config: FrontdConfig) -> int:
    """frontd in this process."""
    return await serve(config, Worker(config, FrontdMetrics()))
