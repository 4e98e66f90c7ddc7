"""frontd's Prometheus metrics (``frontd_*``), on a registry of their own.

With several worker processes every worker counts into its own files under
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, set up by the
supervisor before it starts the workers) and the supervisor's ``/metrics`` sums them; gauges
say how (``livesum``: the sum over live workers). In one process the same objects are
ordinary metrics on `registry`. Label children the hot path touches are bound once here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .handshake import Status

__all__ = ["FrontdMetrics", "SupervisorMetrics"]

_CONNECT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class FrontdMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.connections = Counter("frontd_connections", "Client connections accepted.", registry=r)
        self.active = Gauge(
            "frontd_connections_active",
            "Client connections open now, by phase (handshake, relay).",
            ["phase"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.handshaking = self.active.labels("handshake")
        self.relaying = self.active.labels("relay")
        self.requests = Counter(
            "frontd_requests",
            "Requests answered, by status (200, 400, 401, 502, 504) and mode (line, http, binary).",
            ["status", "mode"],
            registry=r,
        )
        self.denied = Counter(
            "frontd_backends_denied",
            "Decrypted backend addresses refused by the allowlist (answered 401).",
            registry=r,
        )
        self.bytes = Counter(
            "frontd_relay_bytes",
            "Bytes relayed, by direction (upstream: client to backend).",
            ["direction"],
            registry=r,
        )
        self.upstream_bytes = self.bytes.labels("upstream")
        self.downstream_bytes = self.bytes.labels("downstream")
        self.closed = Counter(
            "frontd_relays_closed",
            "Relays ended, by reason (done, reset, idle, drain).",
            ["reason"],
            registry=r,
        )
        self.connect_seconds = Histogram(
            "frontd_backend_connect_seconds",
            "Time to connect to a backend (name resolution included), successful or not.",
            registry=r,
            buckets=_CONNECT_BUCKETS,
        )

    def request(self, status: Status, mode: str) -> None:
        self.requests.labels(str(status.value), mode).inc()


class SupervisorMetrics:
    """The supervisor's own metrics (in its process only, beside the workers' sum)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.workers = Gauge("frontd_workers", "Worker processes running.", registry=r)
        self.ready_workers = Gauge(
            "frontd_workers_ready", "Worker processes listening and accepting.", registry=r
        )
        self.restarts = Counter(
            "frontd_worker_restarts", "Worker processes restarted after they died.", registry=r
        )
