"""Who is online: the gateway's in-memory state, and the only source of truth for it.

Upstream kept a second copy in buntdb/sqlite for the control plane and updated the two
without a transaction (frontier-go §16.1). Here one object holds the entries and the indexes
the exchange routes by (method, topic and name to services), changed only from the event
loop, so every change is atomic with respect to routing and to the control API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..geminio.aio import End
from .flow import Flow

__all__ = ["WILDCARD_TOPIC", "EdgeEntry", "PresenceObserver", "Registry", "ServiceEntry"]

_NO_RPCS: frozenset[str] = frozenset()

WILDCARD_TOPIC = "*"
"""A service (or bridge) claiming ``*`` receives the topics nobody else claimed."""


def _peer(end: End) -> tuple[str, str]:
    """(``host:port``, host) of the connection's remote end; empty when unknown."""
    peer = end.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return (f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"), host
    return "", ""


@dataclass(eq=False, slots=True)
class EdgeEntry:
    """One online edge. Identity is the object, not the ID: an old connection's late
    cleanup must never remove its successor's entry."""

    edge_id: int
    end: End
    meta: bytes = b""
    addr: str = ""
    create_time: float = field(default_factory=time.time)
    rpcs: set[str] | frozenset[str] = _NO_RPCS
    """Methods the edge registered (a shared empty frozenset until the first: most edges
    register none, and an empty set per edge would be a tenth of an idle edge's memory)."""
    flow: Flow | None = None
    """The exchange's in-flight bound for what this edge sends (from its first message)."""

    @property
    def ip(self) -> str:
        """The source address without the port (derived: one string less per edge)."""
        return self.addr.rpartition(":")[0].strip("[]")

    @classmethod
    def of(cls, end: End, edge_id: int | None = None) -> EdgeEntry:
        """The entry of `end`, under `edge_id` (default: the ID the End was given)."""
        addr, _ = _peer(end)
        return cls(
            edge_id=end.client_id if edge_id is None else edge_id,
            end=end,
            meta=end.meta,
            addr=addr,
        )


@dataclass(eq=False, slots=True)
class ServiceEntry:
    service_id: int
    end: End
    service: str = ""
    topics: tuple[str, ...] = ()
    addr: str = ""
    ip: str = ""
    create_time: float = field(default_factory=time.time)
    rpcs: set[str] | frozenset[str] = _NO_RPCS
    flow: Flow | None = None

    @classmethod
    def of(cls, end: End, service: str, topics: tuple[str, ...]) -> ServiceEntry:
        addr, ip = _peer(end)
        return cls(
            service_id=end.client_id,
            end=end,
            service=service,
            topics=topics,
            addr=addr,
            ip=ip,
        )


class PresenceObserver(Protocol):
    """Told of every change of who is online (frontlas reporting): synchronous, so it
    sees the changes in the order they happened, and must not block."""

    def edge_online(self, entry: EdgeEntry) -> None: ...
    def edge_offline(self, entry: EdgeEntry) -> None: ...
    def service_online(self, entry: ServiceEntry) -> None: ...
    def service_offline(self, entry: ServiceEntry) -> None: ...


class Registry:
    """Edges by ID; services by ID, RPC method, topic and name.

    Index lists keep services in the order they came online (then registered), which keeps
    hash picks stable for a given set of services.
    """

    def __init__(self) -> None:
        self.edges: dict[int, EdgeEntry] = {}
        self.services: dict[int, ServiceEntry] = {}
        self._by_method: dict[str, list[ServiceEntry]] = {}
        self._by_topic: dict[str, list[ServiceEntry]] = {}
        self._by_name: dict[str, list[ServiceEntry]] = {}
        self.observer: PresenceObserver | None = None

    # ------------------------------------------------------------------------------ edges

    def add_edge(self, entry: EdgeEntry) -> EdgeEntry | None:
        """Register `entry`; returns the entry it replaced (the caller closes that one)."""
        old = self.edges.get(entry.edge_id)
        self.edges[entry.edge_id] = entry
        if self.observer is not None:
            self.observer.edge_online(entry)
        return old

    def remove_edge(self, entry: EdgeEntry) -> bool:
        """Remove `entry` if it is still the current one for its ID."""
        if self.edges.get(entry.edge_id) is entry:
            del self.edges[entry.edge_id]
            if self.observer is not None:
                self.observer.edge_offline(entry)
            return True
        return False

    def edge(self, edge_id: int) -> EdgeEntry | None:
        return self.edges.get(edge_id)

    # --------------------------------------------------------------------------- services

    def add_service(self, entry: ServiceEntry) -> ServiceEntry | None:
        old = self.services.get(entry.service_id)
        if old is not None:
            self._unindex(old)
        self.services[entry.service_id] = entry
        for topic in entry.topics:
            self._by_topic.setdefault(topic, []).append(entry)
        self._by_name.setdefault(entry.service, []).append(entry)
        for method in entry.rpcs:
            self._by_method.setdefault(method, []).append(entry)
        if self.observer is not None:
            self.observer.service_online(entry)
        return old

    def remove_service(self, entry: ServiceEntry) -> bool:
        if self.services.get(entry.service_id) is not entry:
            return False
        del self.services[entry.service_id]
        self._unindex(entry)
        if self.observer is not None:
            self.observer.service_offline(entry)
        return True

    @staticmethod
    def add_edge_rpc(entry: EdgeEntry, method: str) -> None:
        if not isinstance(entry.rpcs, set):
            entry.rpcs = set()
        entry.rpcs.add(method)

    def add_service_rpc(self, entry: ServiceEntry, method: str) -> None:
        if method in entry.rpcs:
            return
        if not isinstance(entry.rpcs, set):
            entry.rpcs = set()
        entry.rpcs.add(method)
        if self.services.get(entry.service_id) is entry:
            self._by_method.setdefault(method, []).append(entry)

    def service(self, service_id: int) -> ServiceEntry | None:
        return self.services.get(service_id)

    def services_for_method(self, method: str) -> list[ServiceEntry]:
        return self._by_method.get(method) or []

    @property
    def method_index(self) -> dict[str, list[ServiceEntry]]:
        """Method -> the services that registered it, in order: the same dict for the
        registry's life (the exchange keeps it, to look a forwarded call's method up
        itself, compiled, rather than call into this interpreted module). Read-only to
        callers; this class alone changes it."""
        return self._by_method

    def services_for_topic(self, topic: str) -> list[ServiceEntry]:
        """The services that claimed `topic`, else those claiming the wildcard."""
        return self._by_topic.get(topic) or self._by_topic.get(WILDCARD_TOPIC) or []

    def services_named(self, name: str) -> list[ServiceEntry]:
        return self._by_name.get(name) or []

    def topics(self) -> Iterator[tuple[str, list[ServiceEntry]]]:
        return iter(self._by_topic.items())

    def _unindex(self, entry: ServiceEntry) -> None:
        for index, keys in (
            (self._by_topic, entry.topics),
            (self._by_name, (entry.service,)),
            (self._by_method, tuple(entry.rpcs)),
        ):
            for key in keys:
                members = index.get(key)
                if members is None:
                    continue
                members[:] = [m for m in members if m is not entry]
                if not members:
                    del index[key]
