"""Services coming and going: identity from the connection meta, duplicate IDs.

A service declares its name and topics in its meta JSON, once per connection (as upstream).
Its ID is the one it asks for, else one we allocate; a newer connection with an ID in use
replaces the older one, whose cleanup finishes first (serialised per ID, as for edges).

The servicebound port is a trust boundary: a service answers `edge_online` (authorisation)
for its share of edges and receives their traffic. With `servicebound.token` set, a service
must present the token in its meta, checked before it can replace anyone; mTLS
(`servicebound.listen.tls.mtls`) is the other way to restrict who connects (docs/security.md).
"""

from __future__ import annotations

import hmac
import logging

from ..conventions import ConventionError, ServiceMeta
from ..geminio.aio import End, ServerHooks
from .departures import Departures
from .errors import ForwardError
from .exchange import Exchange
from .hooks import IdAllocator
from .keyed_lock import KeyedLock
from .metrics import GatewayMetrics
from .registry import Registry, ServiceEntry

__all__ = ["Servicebound"]

log = logging.getLogger("frontier.servicebound")


class Servicebound:
    def __init__(
        self,
        registry: Registry,
        exchange: Exchange,
        metrics: GatewayMetrics,
        *,
        cleanup_timeout: float = 5.0,
        token: str = "",
    ) -> None:
        self.registry = registry
        self._token = token.encode()
        self.exchange = exchange
        self.metrics = metrics
        self.cleanup_timeout = cleanup_timeout
        self.allocate = IdAllocator(lambda i: i in registry.services)
        self._locks = KeyedLock()
        self._metas: dict[End, ServiceMeta] = {}
        self._departures: Departures[ServiceEntry] = Departures(cleanup_timeout)

    def server_hooks(self) -> ServerHooks:
        return ServerHooks(
            get_client_id=self.get_client_id,
            on_online=self.on_online,
            on_connected=self.on_connected,
            on_offline=self.on_offline,
        )

    def get_client_id(self, wanted: int, meta: bytes) -> int:
        return wanted or self.allocate()

    async def on_online(self, end: End) -> None:
        try:
            meta = ServiceMeta.decode(end.meta)
        except ConventionError:
            self.metrics.rejected("service", "meta")
            raise
        if self._token and not hmac.compare_digest(meta.token.encode(), self._token):
            self.metrics.rejected("service", "token")
            log.warning("service %r from %s: wrong or missing token", meta.service, _addr(end))
            raise ForwardError("service authentication failed")
        async with self._locks.hold(end.client_id):
            old = self.registry.services.get(end.client_id)
            if old is not None:
                await self.kick(old, duplicate=True)
            if end.closed:
                raise ForwardError("the connection closed during its handshake")
            self._metas[end] = meta

    def on_connected(self, end: End) -> None:
        meta = self._metas.pop(end, None) or ServiceMeta()
        entry = ServiceEntry.of(end, meta.service, meta.topics)
        previous = self.registry.add_service(entry)
        if previous is not None:
            self._departures.abandon(previous)
        self.exchange.attach_service(entry)
        self.metrics.accepted("service")
        log.info(
            "service %d (%r, topics %s) online from %s",
            entry.service_id,
            entry.service,
            list(entry.topics),
            entry.addr,
            extra={"service_id": entry.service_id},
        )

    def on_offline(self, end: End) -> None:
        self._metas.pop(end, None)
        entry = self._departures.departing(end, self.registry.services.get(end.client_id))
        if entry is None:
            return
        self.registry.remove_service(entry)
        reason = end.close_reason
        if self.metrics.ended("service", reason) and reason is not None:
            log.warning(
                "service %d from %s: %s",
                entry.service_id,
                entry.addr,
                reason.detail,
                extra={"service_id": entry.service_id},
            )
        log.info(
            "service %d offline (%s)",
            entry.service_id,
            reason.reason.value if reason else "",
            extra={"service_id": entry.service_id},
        )
        self._departures.finish(end)  # synchronous: the cleanup is complete here

    async def kick(self, entry: ServiceEntry, *, duplicate: bool = False) -> None:
        """Close the service's connection now and wait until its cleanup has finished."""
        # Still registered means its cleanup has not started: on_offline unregisters first.
        registered = self.registry.remove_service(entry)
        if duplicate:
            self.metrics.duplicate_kicks.labels("service").inc()
        await self._departures.kick(entry, registered=registered)

    async def kick_id(self, service_id: int) -> bool:
        entry = self.registry.services.get(service_id)
        if entry is None:
            return False
        await self.kick(entry)
        return True


def _addr(end: End) -> str:
    peer = end.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
