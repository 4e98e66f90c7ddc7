"""Edges coming and going: ID choice, authorisation, duplicate IDs, presence.

A newcomer is admitted fully before it may touch anyone: its ID is chosen (`get_edge_id`,
else allocated; a client's wanted ID only with `edgebound.honour_wanted_id`) and it is
authorised (`edge_online`) while an older connection with the same ID stays online and
routable. Only an admitted newcomer replaces the older one, which is closed at once; a
rejected newcomer changes nothing. (Kicking first, as upstream and our earlier versions
did, let any client knock any device offline by claiming its ID, even a client the auth
hook then refused.)

Presence for services: a replaced connection gets no `edge_offline` (the edge did not go
offline: its newer connection is online), so services see `online(old) online(new) ...
offline(new)`, never an offline after the newer online. Presence changes for one ID are
serialised by a per-ID lock: an older connection that dies on its own while a newcomer is
being authorised reports its departure only once the newcomer's fate is known, and only if
the newcomer was refused.

Flapping: when an admitted newcomer from one address replaces a connection from another,
the replaced address may not take the ID back for `replace_hold` seconds (two devices
sharing credentials would otherwise kick each other in a loop).

Routing starts in `on_connected`, synchronously after the ConnAck is queued, so the first
packet the edge sends after its handshake is already routed.
"""

from __future__ import annotations

import functools
import logging
import time

from ..conventions import EdgePresence
from ..geminio.aio import End, ServerHooks
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
        replace_hold: float = 5.0,
    ) -> None:
        self.registry = registry
        self.exchange = exchange
        self.hooks = hooks
        self.metrics = metrics
        self.cleanup_timeout = cleanup_timeout
        self.replace_hold = replace_hold
        self._locks = KeyedLock()
        # No table of every edge beside the registry (an entry per edge costs memory):
        # only edges being kicked or replaced, and cleanups someone waits for, are tracked.
        self._departures: Departures[EdgeEntry] = Departures(cleanup_timeout)
        self._replaced: set[End] = set()
        self._admitted: dict[End, EdgeEntry] = {}
        """Entries between `on_online` and `on_connected` (the same loop turn)."""
        self._holds: dict[int, tuple[str, float]] = {}
        """edge ID -> (the address it was just taken from, until when it may not retake it)."""

    def server_hooks(self, transport: str = "tcp") -> ServerHooks:
        """The hooks of one listener; `transport` labels its connections' metrics (the
        edges themselves are the same whichever way they came)."""
        if transport == "tcp":  # the bound methods as they are: no call in between
            return ServerHooks(
                get_client_id=self.get_client_id,
                on_online=self.on_online,
                on_connected=self.on_connected,
                on_offline=self.on_offline,
                admit_now=self.admit_now,
            )
        return ServerHooks(
            get_client_id=functools.partial(self.get_client_id, transport=transport),
            on_online=functools.partial(self.on_online, transport=transport),
            on_connected=functools.partial(self.on_connected, transport=transport),
            on_offline=functools.partial(self.on_offline, transport=transport),
            admit_now=self.admit_now,
        )

    def admit_now(self, end: End, wanted: int, meta: bytes) -> int | None:
        """Admit without waiting when nothing needs asking: no service assigns IDs or
        authorises edges, and the ID is neither online, held back nor being decided.
        The same outcome as `get_client_id` + `on_online`, without their task, lock and
        coroutines (most of an admission's cost when the gateway has no hooks to call)."""
        hooks = self.hooks
        if hooks.needs_online_hook():
            return None
        edge_id = hooks.edge_id_now(wanted)
        if edge_id is None or edge_id in self.registry.edges or self._locks.held(edge_id):
            return None
        if edge_id in self._holds:
            return None  # `on_online` decides (and refuses while held)
        self._admitted[end] = EdgeEntry.of(end, edge_id)
        return edge_id

    async def get_client_id(self, wanted: int, meta: bytes, transport: str = "tcp") -> int:
        try:
            return await self.hooks.get_edge_id(wanted, meta)
        except ForwardError:
            self.metrics.rejected("edge", "get_edge_id", transport)
            raise

    async def on_online(self, end: End, transport: str = "tcp") -> None:
        edge_id = end.client_id
        entry = EdgeEntry.of(end)
        async with self._locks.hold(edge_id):
            self._check_hold(edge_id, entry.ip, transport)
            try:
                await self.hooks.edge_online(_presence(entry), entry.ip)
            except ForwardError:
                self.metrics.rejected("edge", "edge_online", transport)
                raise
            if end.closed:
                raise ForwardError("the connection closed during its handshake")
            old = self.registry.edges.get(edge_id)
            if old is not None:
                self._replace(old, entry)
            # on_connected runs right after this returns, before the lock's next holder,
            # and registers this very entry.
            self._admitted[end] = entry

    def _check_hold(self, edge_id: int, ip: str, transport: str) -> None:
        hold = self._holds.get(edge_id)
        if hold is None:
            return
        held_ip, until = hold
        if time.monotonic() >= until:
            del self._holds[edge_id]
        elif ip == held_ip:
            self.metrics.edge_id_conflicts.labels("held").inc()
            self.metrics.rejected("edge", "replace_hold", transport)
            log.info(
                "edge %d: refused a reconnect from %s, which just lost the ID",
                edge_id,
                ip,
                extra={"edge_id": edge_id},
            )
            raise ForwardError("edge id in use by another connection; retry later")

    def _replace(self, old: EdgeEntry, new: EdgeEntry) -> None:
        """Close `old` for the admitted `new`: no offline for it, nothing to wait for."""
        self.registry.remove_edge(old)
        self._replaced.add(old.end)
        self.metrics.duplicate_kicks.labels("edge").inc()
        if old.ip != new.ip:
            self.metrics.edge_id_conflicts.labels("replaced").inc()
            if self.replace_hold > 0:
                self._prune_holds()
                self._holds[new.edge_id] = (old.ip, time.monotonic() + self.replace_hold)
        log.info(
            "edge %d: connection from %s replaced by one from %s",
            new.edge_id,
            old.addr,
            new.addr,
            extra={"edge_id": new.edge_id},
        )
        self._departures.abandon(old)

    def _prune_holds(self) -> None:
        if len(self._holds) < 1024:
            return
        now = time.monotonic()
        for edge_id, (_, until) in list(self._holds.items()):
            if now >= until:
                del self._holds[edge_id]

    def on_connected(self, end: End, transport: str = "tcp") -> None:
        entry = self._admitted.pop(end, None) or EdgeEntry.of(end)
        previous = self.registry.add_edge(entry)
        if previous is not None:  # not expected (the lock serialises), but never leak one
            self._departures.abandon(previous)
        self.exchange.attach_edge(entry)
        self.metrics.accepted("edge", transport)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "edge %d online from %s",
                entry.edge_id,
                entry.addr,
                extra={"edge_id": entry.edge_id},
            )
        if self.hooks.wants_edge_ready():
            self.hooks.edge_ready(_presence(entry), entry.ip)  # routable from here on

    async def on_offline(self, end: End, transport: str = "tcp") -> None:
        self._admitted.pop(end, None)  # admitted but gone before its ConnAck went out
        entry = self._departures.departing(end, self.registry.edges.get(end.client_id))
        if entry is None:
            self._replaced.discard(end)
            return
        self.registry.remove_edge(entry)
        self._departures.begin(end)
        reason = end.close_reason
        if self.metrics.ended("edge", reason, transport) and reason is not None:
            log.warning(
                "edge %d from %s: %s",
                entry.edge_id,
                entry.addr,
                reason.detail,
                extra={"edge_id": entry.edge_id},
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "edge %d offline (%s)",
                entry.edge_id,
                reason.reason.value if reason else "",
                extra={"edge_id": entry.edge_id},
            )
        try:
            # After any newcomer for this ID is admitted or refused: replaced connections
            # are not offline (the edge is), refused newcomers leave this one's offline due.
            async with self._locks.hold(entry.edge_id):
                if end in self._replaced:
                    self._replaced.discard(end)
                    return
                await self.hooks.edge_offline(_presence(entry), entry.ip)
        finally:
            self._departures.finish(end)

    async def kick(self, entry: EdgeEntry) -> None:
        """Close the edge's connection now and wait until its cleanup has finished."""
        # Still registered means its cleanup has not started: on_offline unregisters first.
        registered = self.registry.remove_edge(entry)
        await self._departures.kick(entry, registered=registered)

    async def kick_id(self, edge_id: int) -> bool:
        entry = self.registry.edges.get(edge_id)
        if entry is None:
            return False
        await self.kick(entry)
        return True


def _presence(entry: EdgeEntry) -> EdgePresence:
    return EdgePresence(edge_id=entry.edge_id, meta=entry.meta, net="tcp", addr=entry.addr)
