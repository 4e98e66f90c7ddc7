"""The gateway's Prometheus metrics, on a registry of their own.

Each Gateway owns a `GatewayMetrics` (several gateways in one test process must not share
counters, and the process-global default registry would make them). Label children that the
hot path touches are bound once here, so a forward costs an attribute lookup and an `inc()`,
not a label resolution; forwarded calls and messages cost less still: `frontier_forwarded`
and `frontier_forward_latency_seconds` are plain numbers in `ForwardTally`s (tally.py),
turned into samples by `ForwardCollector` on a scrape. Names are documented in the README.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import prometheus_client.metrics
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ..geminio.aio.listener import ListenerObserver
from ..geminio.events import CloseReason, ConnectionClosed
from .tally import ByteTally, ForwardTally

__all__ = ["BOUNDS", "DIRECTIONS", "KINDS", "TRANSPORTS", "ForwardCollector", "GatewayMetrics"]

BOUNDS = ("edgebound", "servicebound")
TRANSPORTS = ("tcp", "websocket")
"""How a connection reaches its listener: geminio on TCP (TLS or not), or in a WebSocket."""

KINDS = ("message", "rpc", "stream")
DIRECTIONS = ("to_edge", "to_service")
RESULTS = ("ok", "error", "offline")
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.edges_online = Gauge("frontier_edges_online", "Edges connected now.", registry=r)
        self.services_online = Gauge(
            "frontier_services_online", "Services connected now.", registry=r
        )
        self.connections = Counter(
            "frontier_connections",
            "Connections by side, transport and outcome (accepted, or rejected with a reason).",
            ["side", "result", "reason", "transport"],
            registry=r,
        )
        self.forwards = {
            (k, d): ForwardTally(k, d, _LATENCY_BUCKETS) for k in KINDS for d in DIRECTIONS
        }
        """Every (kind, direction)'s forwards: `frontier_forwarded` and
        `frontier_forward_latency_seconds`, bumped in place by the exchange and the relay
        (`ForwardTally`: no prometheus_client call per forward), collected on a scrape."""
        r.register(ForwardCollector(tuple(self.forwards.values())))
        self.bytes_to_edge = ByteTally("to_edge")
        self.bytes_to_service = ByteTally("to_service")
        """`frontier_relayed_bytes`, bumped per relayed chunk (gateway/splice.py)."""
        r.register(RelayedBytesCollector((self.bytes_to_edge, self.bytes_to_service)))
        self.frontlas_connected = Gauge(
            "frontier_frontlas_connected",
            "1 while registered with frontlas (cluster mode), else 0.",
            registry=r,
        )
        self.frontlas_registrations = Counter(
            "frontier_frontlas_registrations",
            "Registrations with frontlas (the first, then one per reconnect).",
            registry=r,
        )
        self.frontlas_rpcs = Counter(
            "frontier_frontlas_rpcs",
            "Presence reports and heartbeats sent to frontlas, by RPC and result.",
            ["rpc", "result"],
            registry=r,
        )
        self.rebalanced = Counter(
            "frontier_rebalanced_edges",
            "Edges asked to reconnect elsewhere because this frontier held far more than the "
            "cluster's mean (frontlas.rebalance).",
            registry=r,
        )
        self.frontlas_pending = Gauge(
            "frontier_frontlas_pending_events",
            "Presence changes not yet accepted by frontlas (at most one per edge/service).",
            registry=r,
        )
        self.heartbeat_timeouts = Counter(
            "frontier_heartbeat_timeouts",
            "Connections dropped because the peer went silent for 2x its heartbeat.",
            ["side"],
            registry=r,
        )
        self.hook_calls = Counter(
            "frontier_hook_calls",
            "Calls to services' control RPCs (get_edge_id, edge_online, edge_offline).",
            ["hook", "result"],
            registry=r,
        )
        self.duplicate_kicks = Counter(
            "frontier_duplicate_kicks",
            "Older connections closed because a newer one came with the same ID.",
            ["side"],
            registry=r,
        )
        # -- drain (docs/gateway.md "Drain") ----------------------------------------------
        self.drain_closed = Counter(
            "frontier_drain_closed",
            "Connections a drain closed, by listener and reason: idle (nothing in flight when "
            "the drain began), settled (once its last call or message was answered), "
            "stopped (likewise, after new work on it was refused), deadline (still busy at "
            "daemon.drain_seconds).",
            ["bound", "reason"],
            registry=r,
        )
        self.drain_refused = Counter(
            "frontier_drain_refused",
            "Calls and messages a draining gateway refused unforwarded with the retryable "
            "'frontier draining' text (sent on a connection taking no new work, or across "
            "its goodbye on the wire).",
            ["bound"],
            registry=r,
        )
        # -- limits (docs/security.md) -------------------------------------------------
        self.connections_open = Gauge(
            "frontier_connections_open",
            "Connections accepted and not yet closed (handshakes included), by listener.",
            ["bound", "transport"],
            registry=r,
        )
        self.listener_paused = Gauge(
            "frontier_listener_paused",
            "1 while a listener does not accept because it holds max_connections.",
            ["bound", "transport"],
            registry=r,
        )
        self.connections_refused = Counter(
            "frontier_connections_refused",
            "Connections closed before any hook ran: per_ip (max_connections_per_ip), "
            "heartbeat (above max_heartbeat), meta (above max_meta), websocket_path, "
            "websocket_origin, websocket_handshake, websocket_timeout (a refused or "
            "unfinished WebSocket upgrade).",
            ["bound", "reason", "transport"],
            registry=r,
        )
        self.accept_errors = Counter(
            "frontier_accept_errors",
            "accept() failures for lack of descriptors or memory (accepting pauses).",
            ["bound", "error", "transport"],
            registry=r,
        )
        self.tls_failures = Counter(
            "frontier_tls_handshake_failures",
            "Failed TLS handshakes: timeout, certificate, protocol, reset, other.",
            ["bound", "reason", "transport"],
            registry=r,
        )
        self.tls_not_after = Gauge(
            "frontier_tls_certificate_not_after_timestamp_seconds",
            "When each configured server certificate expires (Unix time).",
            ["listener", "cert"],
            registry=r,
        )
        self.slow_consumers = Counter(
            "frontier_slow_consumers",
            "Connections closed because they left their output unread past write_timeout.",
            ["bound", "transport"],
            registry=r,
        )
        self.streams_open = Gauge(
            "frontier_streams_open", "Streams spliced across the gateway now.", registry=r
        )
        self.streams_refused = Counter(
            "frontier_streams_refused",
            "Streams whose far half could not be opened: no_target, refused (the target "
            "takes no streams or its backlog is full), max_streams (the target holds its "
            "max_streams), error.",
            ["direction", "reason"],
            registry=r,
        )
        self.protocol_errors = Counter(
            "frontier_transport_protocol_errors",
            "Admitted connections closed for breaking their transport's rules: "
            "websocket_text (a text message, close 1003), websocket_too_large (above "
            "max_message, 1009), websocket_protocol (1002/1007).",
            ["bound", "reason", "transport"],
            registry=r,
        )
        self.edge_id_conflicts = Counter(
            "frontier_edge_id_conflicts",
            "Admitted edges claiming an ID online from another address: replaced (the old "
            "connection was closed) or held (refused during replace_hold).",
            ["result"],
            registry=r,
        )
        # bound children for the hot path
        self._accepted = {
            (side, transport): self.connections.labels(side, "accepted", "", transport)
            for side, transport in (("edge", "tcp"), ("edge", "websocket"), ("service", "tcp"))
        }

    def tally(self, kind: str, direction: str) -> ForwardTally:
        """The forwards of `kind` (message, rpc, stream) in `direction`."""
        return self.forwards[kind, direction]

    def accepted(self, side: str, transport: str = "tcp") -> None:
        self._accepted[side, transport].inc()

    def rejected(self, side: str, reason: str, transport: str = "tcp") -> None:
        self.connections.labels(side, "rejected", reason, transport).inc()

    def ended(self, side: str, close: ConnectionClosed | None, transport: str = "tcp") -> bool:
        """Count why a connection of `side` (edge, service) ended, where a metric says so;
        True if it was dropped as a slow consumer (worth a log line)."""
        if close is None:
            return False
        if close.reason is CloseReason.HEARTBEAT_TIMEOUT:
            self.heartbeat_timeouts.labels(side).inc()
        elif close.reason is CloseReason.SLOW_CONSUMER:
            self.slow_consumers.labels(f"{side}bound", transport).inc()
            return True
        return False

    def listener_observer(self, bound: str, transport: str = "tcp") -> ListenerObserver:
        return _ListenerMetrics(self, bound, transport)

    def collect(self) -> list[Metric]:
        return list(self.registry.collect())


class ForwardCollector(Collector):
    """`frontier_forwarded` (a counter) and `frontier_forward_latency_seconds` (a histogram)
    read from the `ForwardTally`s, sample for sample what a prometheus_client Counter and
    Histogram with these labels, children made at start, would expose."""

    _FORWARDED = "frontier_forwarded"
    _LATENCY = "frontier_forward_latency_seconds"

    def __init__(self, tallies: tuple[ForwardTally, ...]) -> None:
        self._tallies = tallies
        self._created = time.time()
        bounds = (*tallies[0].bounds, float("inf")) if tallies else ()
        self._le: tuple[str, ...] = tuple(
            floatToGoString(bound)  # type: ignore[no-untyped-call]
            for bound in bounds
        )

    def describe(self) -> Iterable[Metric]:
        return [
            Metric(self._FORWARDED, _FORWARDED_HELP, "counter"),
            Metric(self._LATENCY, _LATENCY_HELP, "histogram"),
        ]

    def collect(self) -> Iterable[Metric]:
        # read where prometheus_client reads it (PROMETHEUS_DISABLE_CREATED_SERIES)
        created = prometheus_client.metrics._use_created
        forwarded, latency = self.describe()
        total, created_name = f"{self._FORWARDED}_total", f"{self._FORWARDED}_created"
        for result in RESULTS:
            for tally in self._tallies:
                labels = {"kind": tally.kind, "direction": tally.direction, "result": result}
                count = tally.ok if result == "ok" else tally.error
                if result == "offline":
                    count = tally.offline
                forwarded.add_sample(total, labels, float(count))
                if created:
                    forwarded.add_sample(created_name, labels, self._created)
        name = self._LATENCY
        for tally in self._tallies:
            labels = {"kind": tally.kind, "direction": tally.direction}
            acc = 0.0
            for le, count in zip(self._le, tally.buckets, strict=True):
                acc += count
                latency.add_sample(f"{name}_bucket", {**labels, "le": le}, acc)
            latency.add_sample(f"{name}_count", labels, acc)
            latency.add_sample(f"{name}_sum", labels, tally.sum)
            if created:
                latency.add_sample(f"{name}_created", labels, self._created)
        return [forwarded, latency]


class RelayedBytesCollector(Collector):
    """`frontier_relayed_bytes` (a counter by direction) read from the `ByteTally`s, as a
    prometheus_client Counter with these labels would expose it."""

    _NAME = "frontier_relayed_bytes"

    def __init__(self, tallies: tuple[ByteTally, ...]) -> None:
        self._tallies = tallies
        self._created = time.time()

    def describe(self) -> Iterable[Metric]:
        return [Metric(self._NAME, "Raw stream bytes relayed, by direction.", "counter")]

    def collect(self) -> Iterable[Metric]:
        created = prometheus_client.metrics._use_created
        (relayed,) = self.describe()
        for tally in self._tallies:
            labels = {"direction": tally.direction}
            relayed.add_sample(f"{self._NAME}_total", labels, float(tally.total))
            if created:
                relayed.add_sample(f"{self._NAME}_created", labels, self._created)
        return [relayed]


_FORWARDED_HELP = "Messages, RPCs and streams forwarded, by kind, direction and result."
_LATENCY_HELP = "Time from receiving a message or call to having the target's ack or response."


class _ListenerMetrics(ListenerObserver):
    """A listener's reports as the gateway's metrics."""

    __slots__ = ("_bound", "_metrics", "_transport")

    def __init__(self, metrics: GatewayMetrics, bound: str, transport: str) -> None:
        self._metrics = metrics
        self._bound = bound
        self._transport = transport

    def paused(self, paused: bool) -> None:
        self._metrics.listener_paused.labels(self._bound, self._transport).set(1 if paused else 0)

    def refused(self, reason: str) -> None:
        self._metrics.connections_refused.labels(self._bound, reason, self._transport).inc()

    def accept_failed(self, error: str) -> None:
        self._metrics.accept_errors.labels(self._bound, error, self._transport).inc()

    def tls_failed(self, reason: str) -> None:
        self._metrics.tls_failures.labels(self._bound, reason, self._transport).inc()

    def protocol_error(self, reason: str) -> None:
        self._metrics.protocol_errors.labels(self._bound, reason, self._transport).inc()
