"""The Prometheus metrics of the entry and the connector (``frontier_tunnel_*``), each on a
registry of its own. Labels are app and connector names from the configuration (and the
API), results from fixed lists: never anything a user of an app chooses."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ConnectorMetrics", "EntryMetrics"]

_SETUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_REQUEST_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class EntryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.connections = Counter(
            "frontier_tunnel_connections",
            "Tunnels opened to connectors, by app, connector and result (ok, offline, "
            "not_allowed, unreachable, timeout, unauthorized, busy, bad_request, error).",
            ["app", "connector", "result"],
            registry=r,
        )
        self.active = Gauge(
            "frontier_tunnel_connections_active",
            "Tunnels open now, by app and connector.",
            ["app", "connector"],
            registry=r,
        )
        self.bytes = Counter(
            "frontier_tunnel_bytes",
            "Bytes relayed, by app, connector and direction (to_app, from_app).",
            ["app", "connector", "direction"],
            registry=r,
        )
        self.setup_seconds = Histogram(
            "frontier_tunnel_setup_seconds",
            "Time to open a tunnel: the stream through the gateway and the connector's dial.",
            ["app", "connector"],
            buckets=_SETUP_BUCKETS,
            registry=r,
        )
        self.closed = Counter(
            "frontier_tunnel_relays_closed",
            "Relays ended, by app, connector and outcome (done, reset, peer, lost, idle, "
            "protocol, closed).",
            ["app", "connector", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "frontier_tunnel_http_requests",
            "HTTP requests proxied, by app and status code.",
            ["app", "code"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "frontier_tunnel_http_request_seconds",
            "Time from an HTTP request to its response headers, by app.",
            ["app"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.denied = Counter(
            "frontier_tunnel_denied",
            "Requests and connections refused at the entry, by app and reason (source, "
            "client_cert, missing_credentials, bad_credentials, limit).",
            ["app", "reason"],
            registry=r,
        )
        self.unrouted = Counter(
            "frontier_tunnel_http_unrouted",
            "HTTP requests no app's host and path matched (answered 404).",
            registry=r,
        )
        self.connector_online = Gauge(
            "frontier_tunnel_connector_online",
            "1 while the connector is connected to the gateway, as far as the entry knows.",
            ["connector"],
            registry=r,
        )
        self.connector_events = Counter(
            "frontier_tunnel_connector_events",
            "Connector presence events, by connector and event (online, offline, rejected).",
            ["connector", "event"],
            registry=r,
        )
        self.rejected_unknown = Counter(
            "frontier_tunnel_connectors_rejected_unknown",
            "Edges refused because their meta named no configured connector (or bore a "
            "wrong proof).",
            registry=r,
        )
        self.scans = Counter(
            "frontier_tunnel_scans",
            "Scans requested, by connector and result (completed, refused, failed).",
            ["connector", "result"],
            registry=r,
        )
        self.gateway_online = Gauge(
            "frontier_tunnel_gateway_online",
            "1 while the entry is connected to the gateway (to every frontier, in cluster "
            "mode: the number of frontiers).",
            registry=r,
        )


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.dials = Counter(
            "frontier_tunnel_dials",
            "Requests to dial, by result (ok, not_allowed, unreachable, timeout, "
            "unauthorized, busy, bad_request, error).",
            ["result"],
            registry=r,
        )
        self.dial_seconds = Histogram(
            "frontier_tunnel_dial_seconds",
            "Time to resolve and connect to a target.",
            buckets=_SETUP_BUCKETS,
            registry=r,
        )
        self.active = Gauge("frontier_tunnel_relays_active", "Relays open now.", registry=r)
        self.bytes = Counter(
            "frontier_tunnel_relay_bytes",
            "Bytes relayed, by direction (to_app, from_app).",
            ["direction"],
            registry=r,
        )
        self.to_app = self.bytes.labels("to_app")
        self.from_app = self.bytes.labels("from_app")
        self.closed = Counter(
            "frontier_tunnel_relays_closed",
            "Relays ended, by outcome (done, reset, peer, lost, idle, protocol, closed).",
            ["outcome"],
            registry=r,
        )
        self.scans = Counter(
            "frontier_tunnel_scans",
            "Scans, by result (completed, refused, cancelled).",
            ["result"],
            registry=r,
        )
        self.probes = Counter(
            "frontier_tunnel_scan_probes",
            "Addresses and ports probed by scans, by result (open, closed).",
            ["result"],
            registry=r,
        )
        self.gateway_online = Gauge(
            "frontier_tunnel_gateway_online",
            "1 while connected to a gateway with the ID the entry assigns (reachable).",
            registry=r,
        )
