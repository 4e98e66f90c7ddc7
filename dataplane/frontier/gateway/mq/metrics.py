"""Per-bridge Prometheus metrics, on the gateway's own registry.

They live beside `GatewayMetrics` (same registry, so ``/metrics`` shows them) but in their
own object: a gateway without bridges registers none of them. Children are bound per bridge
once, so a publish costs an ``inc()`` and an ``observe()``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["FAILURE_REASONS", "BridgeMetrics", "MqMetrics"]

FAILURE_REASONS = ("unavailable", "rejected", "timeout", "error")
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BridgeMetrics:
    """The bound children of one bridge."""

    __slots__ = ("connected", "failed", "latency", "published", "reconnects")

    def __init__(self, metrics: MqMetrics, bridge: str) -> None:
        self.published = metrics.published.labels(bridge)
        self.failed = {reason: metrics.failed.labels(bridge, reason) for reason in FAILURE_REASONS}
        self.latency = metrics.latency.labels(bridge)
        self.connected = metrics.connected.labels(bridge)
        self.reconnects = metrics.reconnects.labels(bridge)


class MqMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "frontier_mq_published",
            "Messages a broker confirmed, by bridge.",
            ["bridge"],
            registry=registry,
        )
        self.failed = Counter(
            "frontier_mq_failed",
            "Messages nacked to the edge, by bridge and reason "
            "(unavailable: not connected; rejected: the broker refused it; timeout; error: "
            "the connection failed during the publish).",
            ["bridge", "reason"],
            registry=registry,
        )
        self.latency = Histogram(
            "frontier_mq_publish_latency_seconds",
            "Time from handing a message to the broker client to the broker's confirmation.",
            ["bridge"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.connected = Gauge(
            "frontier_mq_connected",
            "1 while the bridge is connected to its broker.",
            ["bridge"],
            registry=registry,
        )
        self.reconnects = Counter(
            "frontier_mq_reconnects",
            "Connections to the broker lost and retried, by bridge.",
            ["bridge"],
            registry=registry,
        )

    def bridge(self, name: str) -> BridgeMetrics:
        return BridgeMetrics(self, name)
