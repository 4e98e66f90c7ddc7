"""Which targets an edge's message goes to: services that claimed its topic, and bridges.

Upstream put services and MQs in one list per topic and let `exchange.hashby` pick one; its
``*`` fallback then divided by zero. The rules here:

- The claimants of a topic are the services that claimed it by name and the bridges that
  list it. Only when there are none do the ``*`` claimants (services and bridges) take it.
- One target (default): `exchange.hashby` picks one among all claimants, services and
  bridges alike, as upstream.
- ``mqm.fanout``: every claimant bridge gets the message, plus one claimant service picked
  by `hashby` if any (services share work, brokers each keep a copy); the edge's ack waits
  for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ..hashing import Picker, make_picker
from .base import Bridge
from .config import WILDCARD

__all__ = ["Claimant", "Route", "Router"]


class Claimant(Protocol):
    """What the router reads of a service (`ServiceEntry` in the gateway)."""

    @property
    def service(self) -> str: ...

    @property
    def service_id(self) -> int: ...

    @property
    def topics(self) -> tuple[str, ...]: ...


S = TypeVar("S", bound=Claimant)


@dataclass(frozen=True, slots=True)
class Route(Generic[S]):
    service: S | None
    bridges: tuple[Bridge, ...]


def _ring_key(target: object) -> str:
    if isinstance(target, Bridge):
        return f"mq/{target.name}"
    return f"{target.service}/{target.service_id}"  # type: ignore[attr-defined]


class Router(Generic[S]):
    def __init__(self, bridges: Sequence[Bridge], hashby: str, fanout: bool = False) -> None:
        self.bridges = tuple(bridges)
        self.fanout = fanout
        by_topic: dict[str, list[Bridge]] = {}
        for bridge in self.bridges:
            for topic in dict.fromkeys(bridge.topics):
                by_topic.setdefault(topic, []).append(bridge)
        self._by_topic = {topic: tuple(found) for topic, found in by_topic.items()}
        self._pick: Picker[S] = make_picker(hashby, _ring_key)
        self._pick_any: Picker[S | Bridge] = make_picker(hashby, _ring_key)

    def bridges_for(self, topic: str) -> tuple[Bridge, ...]:
        return self._by_topic.get(topic, ())

    def route(self, topic: str, services: Sequence[S], edge_id: int, ip: str) -> Route[S]:
        """`services`: the registry's answer for `topic` (those claiming it, else those
        claiming ``*``). An empty route means nobody takes the topic."""
        bridges = self._by_topic.get(topic)
        services_by_name = bool(services) and topic in services[0].topics
        if bridges:
            if not services_by_name:
                services = ()  # `*` services do not take a topic a bridge claimed
        elif not services_by_name:
            bridges = self._by_topic.get(WILDCARD)  # nobody claimed it: the `*` claimants
        if not bridges:
            if not services:
                return Route(None, ())
            return Route(self._pick(services, edge_id, ip), ())
        if self.fanout:
            service = self._pick(services, edge_id, ip) if services else None
            return Route(service, bridges)
        candidates: list[S | Bridge] = [*services, *bridges]
        chosen = self._pick_any(candidates, edge_id, ip)
        if isinstance(chosen, Bridge):
            return Route(None, (chosen,))
        return Route(chosen, ())
