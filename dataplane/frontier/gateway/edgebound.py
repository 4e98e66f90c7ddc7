"""Edges coming and going: ID choice, authorisation, duplicate IDs, presence.

Duplicate IDs: the newer connection wins. Connections claiming one ID are serialised by a
per-ID lock; the newest closes the older one (forcibly: it may be a dead peer, see upstream
issue #107) and waits until its cleanup, `edge_offline` included, has finished before it is
itself authorised and announced. There is no "please connect later" (upstream's answer to a
concurrent duplicate) and no window in which both are registered.

Routing starts in `on_connected`, synchronously after the ConnAck is queued, so the first
packet the edge sends after its handshake is already routed.
"""

from __future__ import annotations

import logging

from ..conventions import EdgePresence
from ..geminio.aio import End, ServerHooks
from ..geminio.events import CloseReason
from .departures import Departures
from .errors import ForwardError
from .exchange import Exchange
from .hooks import ControlHooks
from .keyed_lock import KeyedLock
from .metrics import GatewayMetrics
from .registry import EdgeEntry, Registry

__all__ = ["Edgebound"]

log = logging.getLogger("frontier.edgebound")


class Edgebound:
    def __init__(
        self,
        registry: Registry,
        exchange: Exchange,
        hooks: ControlHooks,
        metrics: GatewayMetrics,
        *,
        cleanup_timeout: float = 35.0,
    ) -> None:
        self.registry = registry
        self.exchange = exchange
        self.hooks = hooks
        self.metrics = metrics
        self.cleanup_timeout = cleanup_timeout
        self._locks = KeyedLock()
        # No table of every edge beside the registry (an entry per edge costs memory):
        # only edges being kicked, and cleanups someone waits for, are tracked.
        self._departures: Departures[EdgeEntry] = Departures(cleanup_timeout)

    def server_hooks(self) -> ServerHooks:
        return ServerHooks(
            get_client_id=self.get_client_id,
            on_online=self.on_online,
            on_connected=self.on_connected,
            on_offline=self.on_offline,
        )

    async def get_client_id(self, wanted: int, meta: bytes) -> int:
        try:
            return await self.hooks.get_edge_id(wanted, meta)
        except ForwardError:
            self.metrics.rejected("edge", "get_edge_id")
            raise

    async def on_online(self, end: End) -> None:
        edge_id = end.client_id
        async with self._locks.hold(edge_id):
            old = self.registry.edges.get(edge_id)
            if old is not None:
                await self.kick(old, duplicate=True)
            entry = EdgeEntry.of(end)
            try:
                await self.hooks.edge_online(_presence(entry), entry.ip)
            except ForwardError:
                self.metrics.rejected("edge", "edge_online")
                raise
            if end.closed:
                raise ForwardError("the connection closed during its handshake")
            # on_connected runs right after this returns, before the lock's next holder.

    def on_connected(self, end: End) -> None:
        entry = EdgeEntry.of(end)
        previous = self.registry.add_edge(entry)
        if previous is not None:  # not expected (the lock serialises), but never leak one
            self._departures.abandon(previous)
        self.exchange.attach_edge(entry)
        self.metrics.accepted("edge")
        self.metrics.edges_online.set(len(self.registry.edges))
        log.debug(
            "edge %d online from %s", entry.edge_id, entry.addr, extra={"edge_id": entry.edge_id}
        )
        self.hooks.edge_ready(_presence(entry), entry.ip)  # routable from here on

    async def on_offline(self, end: End) -> None:
        entry = self._departures.departing(end, self.registry.edges.get(end.client_id))
        if entry is None:
            return
        self.registry.remove_edge(entry)
        self._departures.begin(end)
        self.metrics.edges_online.set(len(self.registry.edges))
        reason = end.close_reason
        if reason is not None and reason.reason is CloseReason.HEARTBEAT_TIMEOUT:
            self.metrics.heartbeat_timeouts.labels("edge").inc()
        log.debug(
            "edge %d offline (%s)",
            entry.edge_id,
            reason.reason.value if reason else "",
            extra={"edge_id": entry.edge_id},
        )
        try:
            await self.hooks.edge_offline(_presence(entry), entry.ip)
        finally:
            self._departures.finish(end)

    async def kick(self, entry: EdgeEntry, *, duplicate: bool = False) -> None:
        """Close the edge's connection now and wait until its cleanup has finished."""
        # Still registered means its cleanup has not started: on_offline unregisters first.
        registered = self.registry.remove_edge(entry)
        if duplicate:
            self.metrics.duplicate_kicks.labels("edge").inc()
        await self._departures.kick(entry, registered=registered)

    async def kick_id(self, edge_id: int) -> bool:
        entry = self.registry.edges.get(edge_id)
        if entry is None:
            return False
        await self.kick(entry)
        return True


def _presence(entry: EdgeEntry) -> EdgePresence:
    return EdgePresence(edge_id=entry.edge_id, meta=entry.meta, net="tcp", addr=entry.addr)
