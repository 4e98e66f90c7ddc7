"""The forwarding counters (`ForwardTally`, bumped in place) expose what prometheus_client's
own Counter and Histogram would: same names, labels, values, order."""

from __future__ import annotations

import re
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from frontier.gateway.metrics import DIRECTIONS, KINDS, RESULTS, GatewayMetrics

LATENCIES = (0.00005, 0.0001, 0.0003, 0.002, 0.2, 0.2, 7.0, 31.0, 1000.0)


def _reference(bounds: tuple[float, ...]) -> CollectorRegistry:
    """The two metrics as prometheus_client classes, children made in the gateway's order."""
    registry = CollectorRegistry()
    forwarded = Counter(
        "frontier_forwarded",
        "Messages, RPCs and streams forwarded, by kind, direction and result.",
        ["kind", "direction", "result"],
        registry=registry,
    )
    latency = Histogram(
        "frontier_forward_latency_seconds",
        "Time from receiving a message or call to having the target's ack or response.",
        ["kind", "direction"],
        buckets=bounds,
        registry=registry,
    )
    for result in RESULTS:
        for kind in KINDS:
            for direction in DIRECTIONS:
                forwarded.labels(kind, direction, result)
    for kind in KINDS:
        for direction in DIRECTIONS:
            latency.labels(kind, direction)
    # the same traffic as below
    for n, latency_s in enumerate(LATENCIES):
        latency.labels("rpc", "to_service").observe(latency_s)
        forwarded.labels("rpc", "to_service", "ok").inc()
        if n % 2:
            forwarded.labels("message", "to_edge", "error").inc()
        if n % 3 == 0:
            forwarded.labels("stream", "to_service", "offline").inc()
    return registry


def _ours_only(text: str) -> str:
    """The two metrics' lines of an exposition, creation times blanked."""
    lines = [line for line in text.splitlines() if "frontier_forward" in line]
    return "\n".join(re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", line) for line in lines)


def test_tallies_expose_what_prometheus_client_would() -> None:
    metrics = GatewayMetrics()
    rpc = metrics.tally("rpc", "to_service")
    for n, latency_s in enumerate(LATENCIES):
        rpc.ok += 1
        rpc.observe(latency_s)
        if n % 2:
            metrics.tally("message", "to_edge").error += 1
        if n % 3 == 0:
            metrics.tally("stream", "to_service").offline += 1
    ours = _ours_only(generate_latest(metrics.registry).decode())
    reference = _ours_only(generate_latest(_reference(tuple(rpc.bounds))).decode())
    assert ours == reference
    assert "frontier_forward_latency_seconds_count" in ours  # (the filter kept something)
    assert metrics.registry.get_sample_value(
        "frontier_forwarded_total", {"kind": "rpc", "direction": "to_service", "result": "ok"}
    ) == len(LATENCIES)


def test_succeeded_counts_and_times() -> None:
    tally = GatewayMetrics().tally("message", "to_edge")
    tally.succeeded(time.perf_counter() - 0.003)
    assert tally.ok == 1
    assert sum(tally.buckets) == 1
    assert 0.003 <= tally.sum < 10
    index = tally.buckets.index(1)
    assert tally.bounds[index] >= tally.sum
    assert index == 0 or tally.bounds[index - 1] < tally.sum
