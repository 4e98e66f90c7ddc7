"""Calls from the gateway to the control RPCs services register.

`get_edge_id` chooses an edge's ID from its meta, `edge_online` authorises it (its error text
rejects the connection) and `edge_offline` reports its departure. Upstream sends presence
events to one service picked by `exchange.hashby`; `exchange.presence_hooks: all` sends them
to every service that registered the hook (an online error from any one rejects the edge).

`edge_ready` (ours) follows once the edge is accepted and routed to: `edge_online` runs
while the gateway still decides, so a service calling the edge from it (the natural thing
to do) got "edge not online". It is a notification: sent without a task (a future and a
callback), its answer only counted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import zlib
from collections.abc import Callable

from ..conventions import (
    ERR_ILLEGAL_EDGE_ID,
    ERR_SERVICE_NOT_ONLINE,
    RPC_EDGE_OFFLINE,
    RPC_EDGE_ONLINE,
    RPC_EDGE_READY,
    RPC_GET_EDGE_ID,
    ConventionError,
    EdgePresence,
    decode_edge_id,
)
from ..geminio.aio import EndError
from ..geminio.errors import EncodeError
from .errors import ForwardError, error_text
from .metrics import GatewayMetrics
from .registry import Registry, ServiceEntry

__all__ = ["ControlHooks", "IdAllocator"]

log = logging.getLogger("frontier.hooks")


CLUSTER_ID_NODES = 1024
"""In cluster mode IDs are ``counter * 1024 + node``: still below 2**53 (exact in JSON
numbers and JavaScript) for centuries of milliseconds."""


def cluster_id_node(frontier_id: str) -> int:
    """This frontier's residue: distinct frontiers allocate disjoint IDs unless their IDs
    hash alike (about 1 pair in 1024; a get_edge_id service rules it out entirely)."""
    return zlib.crc32(frontier_id.encode()) % CLUSTER_ID_NODES


class IdAllocator:
    """Gateway-chosen IDs: increasing from the start time in milliseconds (so IDs of a
    restarted gateway do not repeat the previous run's), skipping IDs in use.

    In cluster mode (`node` given) every frontier counts in its own residue class, so two
    frontiers started at the same time do not hand out the same IDs (with a plain counter
    from the clock they would, and a service could then reach the wrong edge)."""

    def __init__(self, in_use: Callable[[int], bool], node: int | None = None) -> None:
        start = int(time.time() * 1000)
        if node is None:
            self._next = itertools.count(start)
        else:
            self._next = itertools.count(start * CLUSTER_ID_NODES + node, CLUSTER_ID_NODES)
        self._in_use = in_use

    def __call__(self) -> int:
        while True:
            candidate = next(self._next)
            if not self._in_use(candidate):
                return candidate


class ControlHooks:
    def __init__(
        self,
        registry: Registry,
        metrics: GatewayMetrics,
        pick: Callable[[list[ServiceEntry], int, str], ServiceEntry],
        *,
        timeout: float = 30.0,
        presence_all: bool = False,
        alloc_when_no_idservice: bool = True,
        honour_wanted_id: bool = False,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.pick = pick
        self.timeout = timeout
        self.presence_all = presence_all
        self.alloc_when_no_idservice = alloc_when_no_idservice
        self.honour_wanted_id = honour_wanted_id
        self.allocate = IdAllocator(lambda i: i in registry.edges)

    async def get_edge_id(self, wanted: int, meta: bytes) -> int:
        """The ID service's answer when one is online (0 from it: we allocate), else our
        own allocation when enabled. The client's wanted ID is ignored, as upstream does,
        unless `honour_wanted_id` says to trust clients: an edge that picks its own ID can
        pick any device's."""
        services = self.registry.services_for_method(RPC_GET_EDGE_ID)
        if services:
            service = random.choice(services)
            try:
                data = await service.end.call(RPC_GET_EDGE_ID, meta, timeout=self.timeout)
                edge_id = decode_edge_id(data)
            except ConventionError:
                self.metrics.hook_calls.labels(RPC_GET_EDGE_ID, "error").inc()
                raise ForwardError(ERR_ILLEGAL_EDGE_ID) from None
            except (EndError, EncodeError) as exc:
                self.metrics.hook_calls.labels(RPC_GET_EDGE_ID, "error").inc()
                raise ForwardError(error_text(exc)) from None
            self.metrics.hook_calls.labels(RPC_GET_EDGE_ID, "ok").inc()
            return edge_id or self.allocate()
        if wanted and self.honour_wanted_id:
            return wanted
        if self.alloc_when_no_idservice:
            return self.allocate()
        raise ForwardError(ERR_SERVICE_NOT_ONLINE)

    def edge_id_now(self, wanted: int) -> int | None:
        """The ID `get_edge_id` would give without a service to ask, or None when a
        service must be asked (or the edge would be refused): the synchronous admission."""
        if self.registry.services_for_method(RPC_GET_EDGE_ID):
            return None
        if wanted and self.honour_wanted_id:
            return wanted
        return self.allocate() if self.alloc_when_no_idservice else None

    def needs_online_hook(self) -> bool:
        """Some service authorises edges (`edge_online`): admission must wait for it."""
        return bool(self.registry.services_for_method(RPC_EDGE_ONLINE))

    def _targets(self, method: str, edge_id: int, ip: str) -> list[ServiceEntry]:
        services = self.registry.services_for_method(method)
        if not services or self.presence_all:
            return list(services)
        return [self.pick(services, edge_id, ip)]

    async def edge_online(self, presence: EdgePresence, ip: str) -> None:
        """Raises `ForwardError` with the service's text when a service refuses the edge."""
        targets = self._targets(RPC_EDGE_ONLINE, presence.edge_id, ip)
        if not targets:
            return
        payload = presence.encode()
        results = await asyncio.gather(
            *(s.end.call(RPC_EDGE_ONLINE, payload, timeout=self.timeout) for s in targets),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                self.metrics.hook_calls.labels(RPC_EDGE_ONLINE, "error").inc()
                raise ForwardError(error_text(result))
        self.metrics.hook_calls.labels(RPC_EDGE_ONLINE, "ok").inc()

    async def edge_offline(self, presence: EdgePresence, ip: str) -> None:
        """Best effort: a service that misses it sees the edge gone from lookups anyway."""
        targets = self._targets(RPC_EDGE_OFFLINE, presence.edge_id, ip)
        if not targets:
            return
        payload = presence.encode()
        results = await asyncio.gather(
            *(s.end.call(RPC_EDGE_OFFLINE, payload, timeout=self.timeout) for s in targets),
            return_exceptions=True,
        )
        for service, result in zip(targets, results, strict=True):
            outcome = "error" if isinstance(result, BaseException) else "ok"
            self.metrics.hook_calls.labels(RPC_EDGE_OFFLINE, outcome).inc()
            if isinstance(result, BaseException):
                log.info(
                    "edge_offline for edge %d to service %d failed: %s",
                    presence.edge_id,
                    service.service_id,
                    error_text(result),
                    extra={"edge_id": presence.edge_id, "service_id": service.service_id},
                )

    def wants_edge_ready(self) -> bool:
        """Some service registered `edge_ready` (else there is nothing to build or send)."""
        return bool(self.registry.services_for_method(RPC_EDGE_READY))

    def edge_ready(self, presence: EdgePresence, ip: str) -> None:
        """Tell the services that registered `edge_ready` (picked as for the other
        presence hooks) that the edge is routable now. Synchronous: called right after
        the edge entered the registry; nothing is sent when nobody registered it."""
        targets = self._targets(RPC_EDGE_READY, presence.edge_id, ip)
        if not targets:
            return
        payload = presence.encode()
        for service in targets:
            try:
                future = service.end.call_future(RPC_EDGE_READY, payload, timeout=self.timeout)
            except EndError:  # the service is going away; it misses the notification
                self.metrics.hook_calls.labels(RPC_EDGE_READY, "error").inc()
                continue
            future.add_done_callback(self._edge_ready_done)

    def _edge_ready_done(self, future: asyncio.Future[bytes]) -> None:
        failed = future.cancelled() or future.exception() is not None
        self.metrics.hook_calls.labels(RPC_EDGE_READY, "error" if failed else "ok").inc()
