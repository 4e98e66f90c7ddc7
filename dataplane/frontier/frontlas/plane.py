"""The frontier plane (:40012): frontiers connect over geminio and report presence.

A frontier's connection is its registration: accepted only if its frontier ID is free in
Redis (or held by the same process, re-registering after a frontlas restart), kept alive by
its heartbeats, removed when it ends. Go frontiers send the seven upstream RPCs and plain
geminio heartbeats; ours send the batched ``presence_report`` / ``presence_heartbeat``.

A Redis failure fails the RPC with its text and nothing else: the frontier keeps the events
and retries them, and its heartbeats re-create whatever Redis lost, which is how the state
resynchronises after an outage.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from redis import RedisError

from ..geminio.aio import End, Server, ServerHooks
from ..geminio.aio.listener import ListenerLimits
from ..geminio.aio.messages import Request
from ..geminio.conn_config import ConnectionConfig
from . import protocol as p
from .metrics import FrontlasMetrics
from .repo import Repository

__all__ = ["FrontierPlane", "RedisUnavailable"]

log = logging.getLogger("frontier.frontlas.plane")

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis did not answer; the text goes back to the frontier."""


@dataclass(slots=True)
class _Session:
    instance: p.FrontierInstance
    token: str


_CONNECTION = ConnectionConfig(write_timeout=30.0, max_meta=64 * 1024)
"""Frontiers are trusted once admitted, but the port is open to whoever reaches it: a
connection that never reads is dropped, and a registration's meta is small."""
_LISTENER = ListenerLimits(max_connections=4096, handshake_timeout=10.0)
"""Far more frontiers than any cluster runs; the bound keeps descriptors for Redis."""


class FrontierPlane:
    def __init__(self, repo: Repository, metrics: FrontlasMetrics, *, token: str = "") -> None:
        self.repo = repo
        self.metrics = metrics
        self.sessions: dict[End, _Session] = {}
        self._next_id = 0
        self._token = token.encode()
        self.server = Server(
            hooks=ServerHooks(
                get_client_id=self._client_id,
                on_online=self._on_online,
                on_connected=self._on_connected,
                on_offline=self._on_offline,
                on_heartbeat=self._on_heartbeat,
            ),
            config=_CONNECTION,
            listener_limits=_LISTENER,
            name="frontier plane",
        )
        self._handlers: dict[str, Callable[[_Session, bytes], Awaitable[bytes]]] = {
            p.RPC_EDGE_ONLINE: self._edge_online,
            p.RPC_EDGE_OFFLINE: self._edge_offline,
            p.RPC_EDGE_HEARTBEAT: self._edge_heartbeat,
            p.RPC_SERVICE_ONLINE: self._service_online,
            p.RPC_SERVICE_OFFLINE: self._service_offline,
            p.RPC_SERVICE_HEARTBEAT: self._service_heartbeat,
            p.RPC_FRONTIER_STATS: self._frontier_stats,
            p.RPC_PRESENCE_REPORT: self._presence_report,
            p.RPC_PRESENCE_HEARTBEAT: self._presence_heartbeat,
            p.RPC_CLUSTER_COUNTS: self._cluster_counts,
        }

    # -- connections ------------------------------------------------------------------------

    def _client_id(self, wanted: int, meta: bytes) -> int:
        self._next_id += 1
        return self._next_id

    async def _on_online(self, end: End) -> None:
        try:
            inst = p.FrontierInstance.decode(end.meta)
        except p.PayloadError:
            self.metrics.rejected.labels("bad_meta").inc()
            raise
        if self._token and not hmac.compare_digest(inst.token.encode(), self._token):
            self.metrics.rejected.labels("token").inc()
            log.warning("rejected frontier %r: wrong or missing token", inst.frontier_id)
            raise ValueError("frontier authentication failed")
        token = f"{inst.instance or '-'}/{uuid.uuid4().hex}"
        try:
            registered = await self._redis(self.repo.register_frontier(inst, token))
        except RedisUnavailable:
            self.metrics.rejected.labels("redis").inc()
            raise
        if not registered:
            self.metrics.rejected.labels("duplicate").inc()
            log.warning("rejected frontier %r: its ID is in use", inst.frontier_id)
            raise ValueError(f"frontier {inst.frontier_id} already registered")
        self.sessions[end] = _Session(inst, token)
        self.metrics.frontiers.set(len(self.sessions))
        log.info(
            "frontier %s online: servicebound %s, edgebound %s",
            inst.frontier_id,
            inst.advertised_sb_addr,
            inst.advertised_eb_addr,
        )

    def _on_connected(self, end: End) -> None:
        end.hijack(self._handle)

    async def _on_offline(self, end: End) -> None:
        session = self.sessions.pop(end, None)
        self.metrics.frontiers.set(len(self.sessions))
        if session is None:
            return
        log.info("frontier %s offline", session.instance.frontier_id)
        with contextlib.suppress(RedisUnavailable):  # else its keys expire with their TTL
            await self._redis(
                self.repo.unregister_frontier(session.instance.frontier_id, session.token)
            )

    async def _on_heartbeat(self, end: End) -> None:
        """Go frontiers keep their registration alive with geminio heartbeats."""
        session = self.sessions.get(end)
        if session is None:
            return
        try:
            await self._refresh(session)
        except (RedisUnavailable, ValueError) as exc:
            log.warning("frontier %s heartbeat: %s", session.instance.frontier_id, exc)

    async def _refresh(self, session: _Session) -> None:
        ok = await self._redis(self.repo.refresh_frontier(session.instance, session.token))
        if not ok:
            raise ValueError(
                f"frontier {session.instance.frontier_id} is registered by another process"
            )

    # -- RPCs -------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> bytes:
        method = request.method
        handler = self._handlers.get(method)
        if handler is None:
            self.metrics.rpcs.labels("unknown", "error").inc()
            raise ValueError(f"no such rpc: {method}")
        session = self.sessions.get(request.stream.end)
        if session is None:
            raise ValueError("frontier not registered")
        started = time.perf_counter()
        try:
            answer = await handler(session, request.data)
        except Exception:
            self.metrics.rpcs.labels(method, "error").inc()
            raise
        self.metrics.rpcs.labels(method, "ok").inc()
        self.metrics.rpc_seconds.labels(method).observe(time.perf_counter() - started)
        return answer

    async def _redis(self, op: Awaitable[T]) -> T:
        try:
            result = await op
        except (RedisError, OSError) as exc:
            self.metrics.redis_up.set(0)
            raise RedisUnavailable(f"frontlas: redis unavailable: {exc}") from exc
        self.metrics.redis_up.set(1)
        return result

    @staticmethod
    def _own(session: _Session, frontier_id: str) -> str:
        """The frontier ID an RPC acts for: its connection's (a frontier reports only its
        own edges; upstream trusted the payload)."""
        own = session.instance.frontier_id
        if frontier_id != own:
            raise p.PayloadError(f"frontier_id {frontier_id!r} is not this connection's {own!r}")
        return own

    async def _edge_online(self, session: _Session, data: bytes) -> bytes:
        fid, edge = p.decode_edge(data, p.RPC_EDGE_ONLINE)
        await self._redis(self.repo.edge_online(self._own(session, fid), edge))
        self.metrics.presence_events.labels("edge_online").inc()
        return b""

    async def _edge_offline(self, session: _Session, data: bytes) -> bytes:
        fid, edge = p.decode_edge(data, p.RPC_EDGE_OFFLINE)
        await self._redis(self.repo.edge_offline(self._own(session, fid), edge.edge_id))
        self.metrics.presence_events.labels("edge_offline").inc()
        return b""

    async def _edge_heartbeat(self, session: _Session, data: bytes) -> bytes:
        fid, edge = p.decode_edge(data, p.RPC_EDGE_HEARTBEAT)
        await self._redis(self.repo.edge_heartbeat(self._own(session, fid), edge.edge_id))
        self.metrics.heartbeat_ids.inc()
        return b""

    async def _service_online(self, session: _Session, data: bytes) -> bytes:
        fid, service = p.decode_service(data, p.RPC_SERVICE_ONLINE)
        await self._redis(self.repo.service_online(self._own(session, fid), service))
        self.metrics.presence_events.labels("service_online").inc()
        return b""

    async def _service_offline(self, session: _Session, data: bytes) -> bytes:
        fid, service = p.decode_service(data, p.RPC_SERVICE_OFFLINE)
        await self._redis(self.repo.service_offline(self._own(session, fid), service.service_id))
        self.metrics.presence_events.labels("service_offline").inc()
        return b""

    async def _service_heartbeat(self, session: _Session, data: bytes) -> bytes:
        fid, service = p.decode_service(data, p.RPC_SERVICE_HEARTBEAT)
        fid = self._own(session, fid)
        if not await self._redis(self.repo.service_heartbeat(fid, service.service_id)):
            # Redis lost it: re-create it from what we know (the name is unknown to a
            # heartbeat; the next online report restores it)
            await self._redis(self.repo.service_online(fid, service))
        self.metrics.heartbeat_ids.inc()
        return b""

    async def _frontier_stats(self, session: _Session, data: bytes) -> bytes:
        """Go frontiers' counts: checked and ignored, since counts are derived from what
        each frontier reported (exact at every moment; a sent count is not)."""
        fid, _, _ = p.decode_stats(data)
        self._own(session, fid)
        return b""

    async def _presence_report(self, session: _Session, data: bytes) -> bytes:
        report = p.PresenceReport.decode(data)
        fid = self._own(session, report.frontier_id)
        await self._redis(
            self.repo.report(
                fid,
                report.edges_online,
                report.edges_offline,
                report.services_online,
                report.services_offline,
            )
        )
        events = self.metrics.presence_events
        events.labels("edge_online").inc(len(report.edges_online))
        events.labels("edge_offline").inc(len(report.edges_offline))
        events.labels("service_online").inc(len(report.services_online))
        events.labels("service_offline").inc(len(report.services_offline))
        return b""

    async def _presence_heartbeat(self, session: _Session, data: bytes) -> bytes:
        beat = p.Heartbeat.decode(data)
        self._own(session, beat.frontier_id)
        await self._refresh(session)  # the counts it carries are not needed (see stats)
        answer = await self._redis(self.repo.heartbeat(beat))
        self.metrics.heartbeat_ids.inc(len(beat.edge_ids) + len(beat.service_ids))
        return answer.encode()

    async def _cluster_counts(self, session: _Session, data: bytes) -> bytes:
        """Every alive frontier's edge count (what a frontier's rebalancing compares its
        own with)."""
        page = await self._redis(self.repo.list_frontiers())
        counts = {f["frontier_id"]: f["edge_count"] for f in page.items}
        return p.ClusterCounts(counts).encode()
