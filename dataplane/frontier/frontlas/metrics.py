"""frontlas's Prometheus metrics (``frontlas_*``), in a registry of their own (tests and
several instances in one process do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["FrontlasMetrics"]


class FrontlasMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frontiers = Gauge(
            "frontlas_frontiers_connected", "Frontiers connected to this frontlas", registry=r
        )
        self.redis_up = Gauge(
            "frontlas_redis_up", "1 when the last Redis command succeeded", registry=r
        )
        self.rpcs = Counter(
            "frontlas_rpcs_total",
            "Frontier-plane RPCs by method and result (ok, error)",
            ["method", "result"],
            registry=r,
        )
        self.rpc_seconds = Histogram(
            "frontlas_rpc_seconds",
            "Time to serve a frontier-plane RPC, Redis included",
            ["method"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
        )
        self.presence_events = Counter(
            "frontlas_presence_events_total",
            "Edge and service events applied (kind: edge_online, edge_offline, ...)",
            ["kind"],
            registry=r,
        )
        self.heartbeat_ids = Counter(
            "frontlas_heartbeat_ids_total",
            "Edge and service IDs renewed by heartbeats (batched or one per RPC)",
            registry=r,
        )
        self.rejected = Counter(
            "frontlas_frontiers_rejected_total",
            "Frontier connections refused (reason: duplicate, bad_meta, redis)",
            ["reason"],
            registry=r,
        )
        self.tls_not_after = Gauge(
            "frontlas_tls_certificate_not_after_timestamp_seconds",
            "When each configured server certificate expires (Unix time).",
            ["listener", "cert"],
            registry=r,
        )
