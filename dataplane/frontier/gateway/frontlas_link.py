"""Cluster mode, frontier side: register with frontlas and keep its view of us right.

The connection to frontlas is the registration (frontlas removes us when it ends), so it
is a retrying geminio client that redials with backoff, rotating over ``frontlas.dial.addrs``,
and re-registers after a frontlas restart. What it reports:

- **Changes**, batched: the registry tells us of every edge and service that comes or goes;
  events wait in a dict keyed by ID (a newer event for an ID replaces the older one, so the
  backlog is bounded by the number of IDs, never by the event rate) and go out as
  ``presence_report`` RPCs of up to `BATCH` events. A failed report (frontlas or its Redis
  down) keeps its events pending and is retried with backoff: nothing is lost, and the
  latest state wins.
- **Everything**, after each (re)registration: every edge and service we hold is reported
  again, which is how frontlas recovers after a restart or a Redis outage.
- **Heartbeats**, every ``frontlas.heartbeat`` seconds: all our IDs in batches
  (``presence_heartbeat``) with our exact counts; frontlas answers with the IDs it lost,
  which are reported again. One RPC per 5000 edges instead of upstream's one per edge.

The connection has a peer timeout (``frontlas.peer_timeout``, 50 s): a frontlas that stops
answering without closing (stopped, or behind a partition that drops packets) is given up
and redialed, the next address first, instead of being waited on for ever.

The gateway forwards locally whatever happens here: frontlas is only needed for services
in other frontiers to find our edges.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import uuid
from dataclasses import dataclass
from typing import Final, TypeVar

from ..frontlas import protocol as p
from ..geminio.aio import End, EndError, RetryingClient
from ..geminio.aio.retry import Backoff
from .addr import split_addr
from .config import FrontierConfig
from .metrics import GatewayMetrics
from .registry import EdgeEntry, Registry, ServiceEntry
from .tls import client_ssl_context

__all__ = ["FrontlasLink", "advertised_addr"]

log = logging.getLogger("frontier.frontlas_link")

BATCH: Final = 1000
"""Events per ``presence_report``."""
HEARTBEAT_BATCH: Final = 5000
"""IDs per ``presence_heartbeat`` (about 60 KB of JSON)."""
_RPC_TIMEOUT: Final = 10.0


def _route_ip(towards: str) -> str:
    """Our address on the route to `towards` (no packet is sent: a UDP connect only picks
    the route), as upstream's default-route lookup; 127.0.0.1 if there is none."""
    host, port = split_addr(towards, "frontlas.dial.addrs")
    try:
        infos = socket.getaddrinfo(host or "127.0.0.1", port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(sockaddr)
            return str(sock.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def advertised_addr(advertised: str, listen: str, bound_port: int, frontlas: str) -> str:
    """What frontlas tells cluster services and edges: the configured advertised address,
    else the listen address with the port actually bound and an unspecified host replaced
    by our address on the route to frontlas."""
    if advertised:
        return advertised
    host, _ = split_addr(listen, "listen.addr")
    if host in ("", "0.0.0.0", "::"):
        host = _route_ip(frontlas)
    return f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"


@dataclass(slots=True)
class _Pending:
    edges: dict[int, str | None]
    """edge ID -> addr (online) or None (offline)"""
    services: dict[int, tuple[str, str] | None]
    """service ID -> (name, addr) (online) or None (offline)"""


class FrontlasLink:
    """The registry's observer while cluster mode is on."""

    def __init__(
        self,
        config: FrontierConfig,
        registry: Registry,
        *,
        frontier_id: str,
        servicebound_addr: str,
        edgebound_addr: str,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        fl = config.frontlas
        if not fl.dial.addrs:
            raise ValueError("frontlas.dial.addrs: cluster mode needs a frontlas address")
        self.registry = registry
        self.metrics = metrics if metrics is not None else GatewayMetrics()
        self.frontier_id = frontier_id
        self.instance = p.FrontierInstance(
            frontier_id=frontier_id,
            advertised_sb_addr=servicebound_addr,
            advertised_eb_addr=edgebound_addr,
            instance=uuid.uuid4().hex,
            token=fl.token,
        )
        self.heartbeat_interval = fl.heartbeat
        self._pending = _Pending({}, {})
        self._wake = asyncio.Event()
        self.registered = asyncio.Event()
        """Set once the first registration was accepted (readiness waits for it)."""
        self.registrations = 0
        (host, port), *fallbacks = [
            (h or "127.0.0.1", port)
            for h, port in (split_addr(a, "frontlas.dial.addrs") for a in fl.dial.addrs)
        ]
        self._client = RetryingClient(
            host,
            port,
            fallbacks=fallbacks,
            meta=self.instance.encode(),
            ssl=client_ssl_context(fl.dial.tls, "frontlas.dial.tls"),
            backoff=Backoff(initial=0.2, maximum=5.0),
            peer_timeout=fl.peer_timeout or None,
            on_online=self._on_online,
            on_offline=self._on_offline,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.registry.observer = self
        self._client.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._flusher()), loop.create_task(self._heartbeats())]

    async def close(self, flush_timeout: float = 2.0) -> None:
        """Send what is pending (briefly), then leave: frontlas unregisters us."""
        if self._closing:
            return
        self._closing = True
        if self.registry.observer is self:
            self.registry.observer = None
        if self._client.end is not None and self._has_pending():
            with contextlib.suppress(asyncio.TimeoutError, EndError, OSError):
                await asyncio.wait_for(self._send_pending(), flush_timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.close()

    # -- registry observer ----------------------------------------------------------------

    def edge_online(self, entry: EdgeEntry) -> None:
        self._pending.edges[entry.edge_id] = entry.addr
        self._wake.set()

    def edge_offline(self, entry: EdgeEntry) -> None:
        self._pending.edges[entry.edge_id] = None
        self._wake.set()

    def service_online(self, entry: ServiceEntry) -> None:
        self._pending.services[entry.service_id] = (entry.service, entry.addr)
        self._wake.set()

    def service_offline(self, entry: ServiceEntry) -> None:
        self._pending.services[entry.service_id] = None
        self._wake.set()

    # -- connection -----------------------------------------------------------------------

    def _on_online(self, end: End) -> None:
        self.registrations += 1
        self.metrics.frontlas_registrations.inc()
        self.metrics.frontlas_connected.set(1)
        log.info(
            "registered with frontlas as %s (servicebound %s, edgebound %s)",
            self.frontier_id,
            self.instance.advertised_sb_addr,
            self.instance.advertised_eb_addr,
        )
        self._resync()
        self.registered.set()

    def _on_offline(self, end: End) -> None:
        self.metrics.frontlas_connected.set(0)
        if not self._closing:
            reason = end.close_reason
            log.warning(
                "lost frontlas (%s); forwarding continues locally, re-registering",
                reason.reason.value if reason else "closed",
            )

    def _resync(self) -> None:
        """Everything we hold is reported again (newer pending events are kept)."""
        for edge_id, entry in self.registry.edges.items():
            self._pending.edges.setdefault(edge_id, entry.addr)
        for service_id, service in self.registry.services.items():
            self._pending.services.setdefault(service_id, (service.service, service.addr))
        self._wake.set()

    # -- reports --------------------------------------------------------------------------

    def _has_pending(self) -> bool:
        return bool(self._pending.edges or self._pending.services)

    async def _flusher(self) -> None:
        delays = Backoff(initial=0.2, maximum=5.0).delays()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._has_pending():
                try:
                    await self._send_pending()
                except (TimeoutError, EndError, OSError) as exc:
                    log.info("presence report failed (retrying): %s", exc)
                    await asyncio.sleep(delays.next())
                    continue
                except Exception:  # a bug must not end the reports for good
                    log.exception("presence report failed unexpectedly (retrying)")
                    await asyncio.sleep(delays.next())
                    continue
                delays.reset()

    async def _send_pending(self) -> None:
        """One batch from the pending events; on failure they stay pending unless a newer
        event for the same ID arrived meanwhile."""
        end = await self._client.wait_online()
        pending = self._pending
        edge_batch = dict(_take(pending.edges, BATCH))
        service_batch = dict(_take(pending.services, BATCH - len(edge_batch)))
        report = p.PresenceReport(
            frontier_id=self.frontier_id,
            edges_online=tuple(
                p.EdgeRecord(i, addr) for i, addr in edge_batch.items() if addr is not None
            ),
            edges_offline=tuple(i for i, addr in edge_batch.items() if addr is None),
            services_online=tuple(
                p.ServiceRecord(i, s[0], s[1]) for i, s in service_batch.items() if s is not None
            ),
            services_offline=tuple(i for i, s in service_batch.items() if s is None),
        )
        rpcs = self.metrics.frontlas_rpcs
        try:
            await end.call(p.RPC_PRESENCE_REPORT, report.encode(), timeout=_RPC_TIMEOUT)
        except BaseException:
            for edge_id, addr in edge_batch.items():
                pending.edges.setdefault(edge_id, addr)
            for service_id, svc in service_batch.items():
                pending.services.setdefault(service_id, svc)
            rpcs.labels(p.RPC_PRESENCE_REPORT, "error").inc()
            raise
        finally:
            self.metrics.frontlas_pending.set(len(pending.edges) + len(pending.services))
        rpcs.labels(p.RPC_PRESENCE_REPORT, "ok").inc()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if self._client.end is None:
                continue
            try:
                await self.heartbeat()
            except (TimeoutError, EndError, OSError, ValueError) as exc:
                log.info("presence heartbeat failed: %s", exc)
            except Exception:  # a bug must not end the heartbeats for good
                log.exception("presence heartbeat failed unexpectedly")

    async def heartbeat(self) -> None:
        """Renew all our IDs; re-report those frontlas lost."""
        end = await self._client.wait_online()
        edge_ids = list(self.registry.edges)
        service_ids = list(self.registry.services)
        batches = p.id_batches(edge_ids, service_ids, HEARTBEAT_BATCH)
        for n, (take_e, take_s) in enumerate(batches):
            first = n == 0  # the exact counts travel once per round
            beat = p.Heartbeat(
                self.frontier_id,
                tuple(take_e),
                tuple(take_s),
                edge_count=len(edge_ids) if first else None,
                service_count=len(service_ids) if first else None,
            )
            try:
                raw = await end.call(p.RPC_PRESENCE_HEARTBEAT, beat.encode(), timeout=_RPC_TIMEOUT)
                answer = p.HeartbeatAnswer.decode(raw)
            except BaseException:
                self.metrics.frontlas_rpcs.labels(p.RPC_PRESENCE_HEARTBEAT, "error").inc()
                raise
            self.metrics.frontlas_rpcs.labels(p.RPC_PRESENCE_HEARTBEAT, "ok").inc()
            self._report_missing(answer)

    async def cluster_counts(self) -> dict[str, int]:
        """Every alive frontier's edge count, as frontlas lists it (for rebalancing)."""
        end = await self._client.wait_online(_RPC_TIMEOUT)
        raw = await end.call(p.RPC_CLUSTER_COUNTS, b"{}", timeout=_RPC_TIMEOUT)
        return p.ClusterCounts.decode(raw).edge_counts

    def _report_missing(self, answer: p.HeartbeatAnswer) -> None:
        for edge_id in answer.missing_edge_ids:
            entry = self.registry.edges.get(edge_id)
            if entry is not None:
                self._pending.edges.setdefault(edge_id, entry.addr)
        for service_id in answer.missing_service_ids:
            service = self.registry.services.get(service_id)
            if service is not None:
                self._pending.services.setdefault(service_id, (service.service, service.addr))
        if answer.missing_edge_ids or answer.missing_service_ids:
            log.info(
                "frontlas lost %d edges and %d services: reporting them again",
                len(answer.missing_edge_ids),
                len(answer.missing_service_ids),
            )
            self._wake.set()


K = TypeVar("K")
V = TypeVar("V")


def _take(source: dict[K, V], n: int) -> list[tuple[K, V]]:
    """Remove and return up to `n` items, oldest first."""
    keys = list(itertools.islice(source, n))
    return [(key, source.pop(key)) for key in keys]
