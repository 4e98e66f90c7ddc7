"""Routing between services and bridges: exact claimants first, ``*`` only for unclaimed
topics, `hashby` over services and bridges alike, fan-out to every bridge plus one service;
and a property: any topic set routes to claimants only and never crashes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from frontier.gateway.mq import Bridge, Record, Router
from frontier.gateway.mq.config import Reconnect
from frontier.gateway.mq.metrics import MqMetrics


@dataclass(frozen=True)
class Svc:
    service: str
    service_id: int
    topics: tuple[str, ...]


class FakeBridge(Bridge):
    kind = "fake"

    def __init__(self, name: str, topics: tuple[str, ...]) -> None:
        super().__init__(topics, MqMetrics(CollectorRegistry()).bridge(name), 1.0, Reconnect())
        self.name = name

    async def _connect(self) -> None:
        pass

    async def _send(self, record: Record) -> None:
        pass

    async def _disconnect(self) -> None:
        pass


def services_for(services: list[Svc], topic: str) -> list[Svc]:
    """What the gateway's registry answers: claimants by name, else `*` claimants."""
    named = [s for s in services if topic in s.topics]
    return named or [s for s in services if "*" in s.topics]


def route(router: Router[Svc], services: list[Svc], topic: str, edge_id: int = 0) -> object:
    result = router.route(topic, services_for(services, topic), edge_id, "10.0.0.1")
    service = result.service.service if result.service is not None else None
    return service, tuple(b.name for b in result.bridges)


def test_bridge_only_service_only_and_nobody() -> None:
    kafka = FakeBridge("kafka", ("metrics",))
    router: Router[Svc] = Router([kafka], "edgeid")
    svc = Svc("svc", 1, ("orders",))
    assert route(router, [svc], "metrics") == (None, ("kafka",))
    assert route(router, [svc], "orders") == ("svc", ())
    assert route(router, [svc], "other") == (None, ())


def test_wildcard_takes_only_unclaimed_topics() -> None:
    catch_all = FakeBridge("redis", ("*",))
    kafka = FakeBridge("kafka", ("metrics",))
    router: Router[Svc] = Router([catch_all, kafka], "edgeid")
    star_service = Svc("star", 1, ("*",))
    orders = Svc("orders", 2, ("orders",))
    services = [star_service, orders]
    assert route(router, services, "orders") == ("orders", ())  # claimed by a service
    assert route(router, services, "metrics") == (None, ("kafka",))  # claimed by a bridge
    for edge_id in range(4):  # unclaimed: the `*` service and the `*` bridge compete
        assert route(router, services, "misc", edge_id) in {("star", ()), (None, ("redis",))}
    assert {route(router, services, "misc", e) for e in range(4)} == {
        ("star", ()),
        (None, ("redis",)),
    }
    assert route(router, [orders], "misc") == (None, ("redis",))  # no `*` service
    router_without_star: Router[Svc] = Router([kafka], "edgeid")
    assert route(router_without_star, [orders], "misc") == (None, ())  # upstream crashed


def test_hashby_edgeid_over_services_then_bridges() -> None:
    a, b = FakeBridge("amqp", ("t",)), FakeBridge("nats", ("t",))
    router: Router[Svc] = Router([a, b], "edgeid")
    svc = Svc("svc", 1, ("t",))
    # candidates [svc, amqp, nats]: edge ID mod 3, as upstream
    assert route(router, [svc], "t", 0) == ("svc", ())
    assert route(router, [svc], "t", 1) == (None, ("amqp",))
    assert route(router, [svc], "t", 5) == (None, ("nats",))


def test_fanout_every_bridge_and_one_service() -> None:
    a, b, c = FakeBridge("amqp", ("t",)), FakeBridge("nats", ("t",)), FakeBridge("nsq", ("u",))
    router: Router[Svc] = Router([a, b, c], "edgeid", fanout=True)
    one, two = Svc("s", 1, ("t",)), Svc("s", 2, ("t",))
    assert route(router, [one, two], "t", 0) == ("s", ("amqp", "nats"))
    assert route(router, [], "t") == (None, ("amqp", "nats"))
    assert route(router, [one], "u") == (None, ("nsq",))


@pytest.mark.parametrize("hashby", ["edgeid", "srcip", "random", "consistent"])
def test_every_hashby_mode_works_with_bridges(hashby: str) -> None:
    router: Router[Svc] = Router([FakeBridge("redis", ("t",))], hashby)
    result = router.route("t", [Svc("s", 1, ("t",))], 7, "192.0.2.1")
    assert (result.service is None) != (not result.bridges)


topics = st.sampled_from(["a", "b", "c", "*"])


@given(
    bridge_topics=st.lists(st.lists(topics, max_size=3), max_size=4),
    service_topics=st.lists(st.lists(topics, max_size=3), max_size=4),
    topic=st.sampled_from(["a", "b", "c", "d", "*"]),
    edge_id=st.integers(min_value=0, max_value=2**64 - 1),
    hashby=st.sampled_from(["edgeid", "srcip", "random", "consistent"]),
    fanout=st.booleans(),
)
def test_routing_always_picks_a_claimant(
    bridge_topics: list[list[str]],
    service_topics: list[list[str]],
    topic: str,
    edge_id: int,
    hashby: str,
    fanout: bool,
) -> None:
    bridges = [FakeBridge(f"b{i}", tuple(t)) for i, t in enumerate(bridge_topics)]
    services = [Svc("s", i, tuple(t)) for i, t in enumerate(service_topics)]
    router: Router[Svc] = Router(bridges, hashby, fanout=fanout)
    result = router.route(topic, services_for(services, topic), edge_id, "198.51.100.7")

    named = [s for s in services if topic in s.topics] + [b for b in bridges if topic in b.topics]
    claimants = named or (
        [s for s in services if "*" in s.topics] + [b for b in bridges if "*" in b.topics]
    )
    chosen = ([result.service] if result.service is not None else []) + list(result.bridges)
    assert all(any(c is x for x in claimants) for c in chosen)
    assert bool(chosen) == bool(claimants)  # a target whenever anyone claims the topic
    if not fanout:
        assert len(chosen) <= 1
    else:
        claimant_bridges = [b for b in claimants if isinstance(b, Bridge)]
        assert list(result.bridges) == claimant_bridges
