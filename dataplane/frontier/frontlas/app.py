"""frontlas: the frontier plane, the cluster API and observability around one repository.

Redis being down never stops frontlas: it starts (or stays) up, reports not ready on
``/readyz`` and the health API, refuses new frontier registrations and fails reports with
the reason (the frontiers keep and retry them), and serves again as soon as Redis answers.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..gateway.addr import split_addr
from ..gateway.tls import check_certificates, not_after_gauge, server_ssl_context
from ..httpserve import HttpListener
from ..listen import Listener, bind
from .config import FrontlasConfig, load_config
from .metrics import FrontlasMetrics
from .plane import FrontierPlane
from .redis_conn import key_prefix, make_redis
from .repo import Repository, TTLs

__all__ = ["Frontlas"]

log = logging.getLogger("frontier.frontlas")

CLUSTER_API = Listener("cluster API", "control_plane.listen.addr", "FRONTLAS_CONTROLPLANE_PORT")
FRONTIER_PLANE = Listener(
    "frontier plane", "frontier_plane.listen.addr", "FRONTLAS_FRONTIERPLANE_PORT"
)
OBSERVABILITY = Listener("observability", "observability.addr", "FRONTLAS_OBSERVABILITY_PORT")

#: How long a Redis PING result is reused by readiness probes (they may come often).
_READY_CACHE_SECONDS = 1.0


class Frontlas:
    def __init__(self, config: FrontlasConfig | None = None) -> None:
        self.config = config if config is not None else load_config(None)
        config = self.config
        exp = config.frontier_plane.expiration
        self.metrics = FrontlasMetrics()
        self.redis = make_redis(config.redis)
        self.repo = Repository(
            self.redis,
            ttls=TTLs(alive=exp.alive, edge_meta=exp.edge_meta, service_meta=exp.service_meta),
            prefix=key_prefix(config.redis),
        )
        self.plane = FrontierPlane(self.repo, self.metrics, token=config.frontier_plane.token)
        self._http: list[HttpListener] = []
        self._api: HttpListener | None = None
        self._observability: HttpListener | None = None
        self._ready_at = 0.0
        self._ready_value = False
        self._closed = False

    @property
    def frontier_plane_port(self) -> int:
        port = self.plane.server.port
        assert port is not None, "frontlas has not started"
        return port

    @property
    def cluster_api_port(self) -> int:
        assert self._api is not None, "frontlas has not started"
        return self._api.port

    @property
    def observability_port(self) -> int | None:
        return self._observability.port if self._observability is not None else None

    async def ready(self) -> bool:
        """Redis answers a PING (cached for a second: probes must not load Redis)."""
        now = time.monotonic()
        if now - self._ready_at < _READY_CACHE_SECONDS:
            return self._ready_value
        try:
            value = await asyncio.wait_for(self.repo.ping(), 2.0)
        except Exception:  # any failure is "not ready", never a crash of the probe
            value = False
        self._ready_at, self._ready_value = time.monotonic(), value
        self.metrics.redis_up.set(1 if value else 0)
        return value

    async def start(self) -> None:
        config = self.config
        for where, tls in (
            ("control_plane.listen", config.control_plane.listen.tls),
            ("frontier_plane.listen", config.frontier_plane.listen.tls),
        ):
            check_certificates(tls, where, not_after_gauge(self.metrics.tls_not_after, where))
        try:
            if config.observability.enable:
                from ..gateway.observability import build_observability_app

                host, port = split_addr(config.observability.addr, "observability.addr")
                app = build_observability_app(ready=self.ready, registry=self.metrics.registry)
                self._observability = HttpListener(app, host, port)
                await bind(OBSERVABILITY, host, port, self._observability.start())
                self._http.append(self._observability)
            from .api import build_cluster_app

            listen = config.control_plane.listen
            host, port = split_addr(listen.addr, "control_plane.listen.addr")
            self._api = HttpListener(
                build_cluster_app(self.repo, self.ready, token=config.control_plane.token),
                host,
                port,
                ssl=server_ssl_context(listen.tls, "control_plane.listen"),
            )
            await bind(CLUSTER_API, host, port, self._api.start())
            self._http.append(self._api)
            fp = config.frontier_plane.listen
            host, port = split_addr(fp.addr, "frontier_plane.listen.addr")
            ssl = server_ssl_context(fp.tls, "frontier_plane.listen")
            await bind(
                FRONTIER_PLANE, host, port, self.plane.server.start(host or None, port, ssl=ssl)
            )
        except BaseException:
            await self.close()
            raise
        if not await self.ready():
            log.warning("redis is not reachable yet: not ready until it is")
        log.info(
            "frontlas up: cluster API :%d, frontier plane :%d%s",
            self.cluster_api_port,
            self.frontier_plane_port,
            f", observability :{self.observability_port}" if self._observability else "",
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.plane.server.close()
        for listener in reversed(self._http):
            await listener.close()
        self._http.clear()
        close = getattr(self.redis, "aclose", None) or self.redis.close
        try:
            await close()
        except Exception:  # closing a client whose server is gone must not fail shutdown
            log.debug("closing the redis client failed", exc_info=True)

    async def __aenter__(self) -> Frontlas:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
