"""The frontier <-> frontlas RPCs: names and JSON payloads, decoded strictly (sans-I/O).

The seven Go RPCs (``pkg/apis/proto.go``) are accepted byte for byte, so a Go frontier can
register here. Ours adds two batched RPCs, because upstream's one ``edge_heartbeat`` RPC
per edge every 20 s costs 50 000 RPCs/s at 10^6 edges:

- ``presence_report``: any number of edge/service online and offline events in one call
  (what our frontier sends for live changes and for a full resync after reconnecting);
- ``presence_heartbeat``: the IDs a frontier holds (plus its counts, which frontlas
  ignores: it counts what was reported, see `.scripts`); the answer lists the IDs frontlas
  no longer knows (e.g. Redis lost its data), which the frontier then re-reports;
- ``cluster_counts``: every alive frontier's edge count, for a frontier's rebalancing.

Our frontier also puts ``instance`` (a random ID per process) in its connection meta: it
lets frontlas tell a frontier re-registering after a frontlas restart (accepted at once)
from a second process using the same frontier ID (rejected, as upstream).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ClusterCounts",
    "EdgeRecord",
    "FrontierInstance",
    "Heartbeat",
    "HeartbeatAnswer",
    "PayloadError",
    "PresenceReport",
    "ServiceRecord",
    "id_batches",
]

RPC_EDGE_ONLINE: Final = "edge_online"
RPC_EDGE_OFFLINE: Final = "edge_offline"
RPC_EDGE_HEARTBEAT: Final = "edge_heartbeat"
RPC_SERVICE_ONLINE: Final = "service_online"
RPC_SERVICE_OFFLINE: Final = "service_offline"
RPC_SERVICE_HEARTBEAT: Final = "service_heartbeat"
RPC_FRONTIER_STATS: Final = "frontier_stats"
RPC_PRESENCE_REPORT: Final = "presence_report"
RPC_PRESENCE_HEARTBEAT: Final = "presence_heartbeat"
RPC_CLUSTER_COUNTS: Final = "cluster_counts"

_MAX_ID: Final = (1 << 64) - 1


class PayloadError(ValueError):
    """A malformed RPC payload or connection meta; the text goes back to the caller."""


def _object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError(f"{what}: expected a JSON object")
    return value


def _str(obj: dict[str, Any], key: str, what: str, *, required: bool = False) -> str:
    value = obj.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadError(f"{what}: {key} must be a string")
    if required and not value:
        raise PayloadError(f"{what}: {key} is required")
    return value


def _id(value: Any, key: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
        raise PayloadError(f"{what}: {key} must be an unsigned 64-bit integer")
    return value


def _ids(obj: dict[str, Any], key: str, what: str) -> tuple[int, ...]:
    values = obj.get(key) or []
    if not isinstance(values, list):
        raise PayloadError(f"{what}: {key} must be a list")
    return tuple(_id(v, key, what) for v in values)


def _count(obj: dict[str, Any], key: str, what: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{what}: {key} must be a non-negative integer")
    return value


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class FrontierInstance:
    """A frontier's connection meta."""

    frontier_id: str
    advertised_sb_addr: str
    advertised_eb_addr: str
    instance: str = ""
    token: str = field(default="", repr=False)
    """Ours: frontlas's `frontier_plane.token`, when it requires one (only sent when set)."""

    @classmethod
    def decode(cls, meta: bytes) -> FrontierInstance:
        obj = _object(meta, "frontier meta")
        return cls(
            frontier_id=_str(obj, "frontier_id", "frontier meta", required=True),
            advertised_sb_addr=_str(obj, "advertised_servicebound_addr", "frontier meta"),
            advertised_eb_addr=_str(obj, "advertised_edgebound_addr", "frontier meta"),
            instance=_str(obj, "instance", "frontier meta"),
            token=_str(obj, "token", "frontier meta"),
        )

    def encode(self) -> bytes:
        doc = {
            "frontier_id": self.frontier_id,
            "advertised_servicebound_addr": self.advertised_sb_addr,
            "advertised_edgebound_addr": self.advertised_eb_addr,
            "instance": self.instance,
        }
        if self.token:
            doc["token"] = self.token
        return _dumps(doc)


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    edge_id: int
    addr: str = ""


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    service_id: int
    service: str = ""
    addr: str = ""


def decode_edge(data: bytes, what: str) -> tuple[str, EdgeRecord]:
    """``edge_online`` / ``edge_offline`` / ``edge_heartbeat``: (frontier ID, edge)."""
    obj = _object(data, what)
    return (
        _str(obj, "frontier_id", what, required=True),
        EdgeRecord(_id(obj.get("edge_id"), "edge_id", what), _str(obj, "addr", what)),
    )


def decode_service(data: bytes, what: str) -> tuple[str, ServiceRecord]:
    obj = _object(data, what)
    return (
        _str(obj, "frontier_id", what, required=True),
        ServiceRecord(
            _id(obj.get("service_id"), "service_id", what),
            _str(obj, "service", what),
            _str(obj, "addr", what),
        ),
    )


def decode_stats(data: bytes) -> tuple[str, int, int]:
    obj = _object(data, RPC_FRONTIER_STATS)
    return (
        _str(obj, "frontier_id", RPC_FRONTIER_STATS, required=True),
        _count(obj, "edge_count", RPC_FRONTIER_STATS) or 0,
        _count(obj, "service_count", RPC_FRONTIER_STATS) or 0,
    )


def encode_edge(frontier_id: str, edge_id: int, addr: str | None = None) -> bytes:
    body: dict[str, Any] = {"frontier_id": frontier_id, "edge_id": edge_id}
    if addr is not None:
        body["addr"] = addr
    return _dumps(body)


@dataclass(frozen=True, slots=True)
class PresenceReport:
    frontier_id: str
    edges_online: tuple[EdgeRecord, ...] = ()
    edges_offline: tuple[int, ...] = ()
    services_online: tuple[ServiceRecord, ...] = ()
    services_offline: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return _dumps(
            {
                "frontier_id": self.frontier_id,
                "edges_online": [[e.edge_id, e.addr] for e in self.edges_online],
                "edges_offline": list(self.edges_offline),
                "services_online": [
                    [s.service_id, s.service, s.addr] for s in self.services_online
                ],
                "services_offline": list(self.services_offline),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> PresenceReport:
        what = RPC_PRESENCE_REPORT
        obj = _object(data, what)
        edges: list[EdgeRecord] = []
        for item in obj.get("edges_online") or []:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str)):
                raise PayloadError(f"{what}: edges_online items are [edge_id, addr]")
            edges.append(EdgeRecord(_id(item[0], "edges_online", what), item[1]))
        services: list[ServiceRecord] = []
        for item in obj.get("services_online") or []:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[1], str)
                and isinstance(item[2], str)
            ):
                raise PayloadError(f"{what}: services_online items are [service_id, service, addr]")
            services.append(ServiceRecord(_id(item[0], "services_online", what), *item[1:]))
        return cls(
            frontier_id=_str(obj, "frontier_id", what, required=True),
            edges_online=tuple(edges),
            edges_offline=_ids(obj, "edges_offline", what),
            services_online=tuple(services),
            services_offline=_ids(obj, "services_offline", what),
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    frontier_id: str
    edge_ids: tuple[int, ...] = ()
    service_ids: tuple[int, ...] = ()
    edge_count: int | None = None
    """The frontier's own counts, sent with the first batch of a round. Ours ignores them
    (its counts are derived from the reported records, exact at every moment); they are
    kept for frontlas versions that set their counters from them."""
    service_count: int | None = None

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "frontier_id": self.frontier_id,
            "edge_ids": list(self.edge_ids),
            "service_ids": list(self.service_ids),
        }
        if self.edge_count is not None:
            body["edge_count"] = self.edge_count
        if self.service_count is not None:
            body["service_count"] = self.service_count
        return _dumps(body)

    @classmethod
    def decode(cls, data: bytes) -> Heartbeat:
        what = RPC_PRESENCE_HEARTBEAT
        obj = _object(data, what)
        return cls(
            frontier_id=_str(obj, "frontier_id", what, required=True),
            edge_ids=_ids(obj, "edge_ids", what),
            service_ids=_ids(obj, "service_ids", what),
            edge_count=_count(obj, "edge_count", what),
            service_count=_count(obj, "service_count", what),
        )


def id_batches(
    edge_ids: Sequence[int], service_ids: Sequence[int], size: int
) -> Iterator[tuple[Sequence[int], Sequence[int]]]:
    """Edge IDs then service IDs, `size` per batch (slices, no copying of the rest), and at
    least one batch even when both are empty: a heartbeat with no IDs still renews the
    frontier itself."""
    n_edges = len(edge_ids)
    for start in range(0, max(n_edges + len(service_ids), 1), size):
        stop = start + size
        yield (
            edge_ids[start : min(stop, n_edges)],
            service_ids[max(start - n_edges, 0) : max(stop - n_edges, 0)],
        )


@dataclass(frozen=True, slots=True)
class HeartbeatAnswer:
    missing_edge_ids: tuple[int, ...] = ()
    missing_service_ids: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return _dumps(
            {
                "missing_edge_ids": list(self.missing_edge_ids),
                "missing_service_ids": list(self.missing_service_ids),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> HeartbeatAnswer:
        what = "presence_heartbeat answer"
        obj = _object(data, what) if data else {}
        return cls(
            _ids(obj, "missing_edge_ids", what),
            _ids(obj, "missing_service_ids", what),
        )


@dataclass(frozen=True, slots=True)
class ClusterCounts:
    """The answer to ``cluster_counts`` (an empty request): each alive frontier's edge
    count, as the cluster API lists it."""

    edge_counts: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _dumps({"frontiers": self.edge_counts})

    @classmethod
    def decode(cls, data: bytes) -> ClusterCounts:
        what = "cluster_counts answer"
        obj = _object(data, what)
        frontiers = obj.get("frontiers")
        if not isinstance(frontiers, dict):
            raise PayloadError(f"{what}: frontiers must be an object")
        counts: dict[str, int] = {}
        for frontier_id, count in frontiers.items():
            checked = _count({"count": count}, "count", f"{what}: {frontier_id}")
            counts[str(frontier_id)] = checked if checked is not None else 0
        return cls(counts)
