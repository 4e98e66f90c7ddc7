"""``/healthz``, ``/readyz`` and ``/metrics`` (frontier-go §12), as an aiohttp application.

Differences from upstream, on purpose:

- ``/readyz`` asks a `ready` callable, so the gateway can report "not ready" while it
  starts, drains or has lost frontlas (upstream frontier was always ready). The callable
  may be async, which frontlas needs for its Redis PING; it gets `ready_timeout` seconds.
- ``/metrics`` serves the caller's own `CollectorRegistry` (the ``frontier_*`` metrics;
  upstream had none) together with the process, platform and GC collectors. Those three are
  created per application on a private registry instead of being read from
  `prometheus_client.REGISTRY`: the output then does not depend on what else in the process
  registered globally, and several gateways in one process (the tests) never collide.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["ReadyFunc", "build_observability_app", "runtime_registry"]

log = logging.getLogger("frontier.observability")

ReadyFunc = Callable[[], bool | Awaitable[bool]]
"""True when the process should receive traffic; may be a coroutine function."""

_TEXT: Final = "text/plain"


def runtime_registry() -> CollectorRegistry:
    """A fresh registry holding the process, platform and GC collectors (``process_*``,
    ``python_info``, ``python_gc_*``) and nothing else. Cheap; never touches the global
    default registry."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class _Merged(Collector):
    """Yields the families of several collectors as one, for a single exposition."""

    def __init__(self, parts: Iterable[Collector]) -> None:
        self._parts = tuple(parts)

    def collect(self) -> Iterable[Metric]:
        for part in self._parts:
            yield from part.collect()


def build_observability_app(
    *,
    ready: ReadyFunc,
    registry: CollectorRegistry,
    ready_timeout: float = 2.0,
    include_runtime: bool = True,
) -> web.Application:
    """``GET /healthz`` (liveness: always 200 "ok" while the loop serves requests),
    ``GET /readyz`` (200 "ok" or 503 "not ready") and ``GET /metrics``.

    A `ready` that raises or (if async) exceeds `ready_timeout` counts as not ready: a probe
    must get an answer, not a 500 or a hang. With `include_runtime` false, ``/metrics`` holds
    only `registry` (for a caller that already put runtime collectors there).
    """
    exposed: Collector = _Merged((registry, runtime_registry())) if include_runtime else registry

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type=_TEXT)

    async def readyz(request: web.Request) -> web.Response:
        if await _is_ready(ready, ready_timeout):
            return web.Response(text="ok", content_type=_TEXT)
        return web.Response(status=503, text="not ready", content_type=_TEXT)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(exposed),
            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def _is_ready(ready: ReadyFunc, limit: float) -> bool:
    try:
        result = ready()
        if inspect.isawaitable(result):
            async with asyncio.timeout(limit):
                result = await result
        return bool(result)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        log.warning("readiness check timed out after %.1fs", limit)
        return False
    except Exception:
        log.exception("readiness check failed")
        return False
