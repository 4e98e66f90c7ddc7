"""A drain loses no call: two real in-process gateways, SDK edges and services on loopback.

The drained gateway says goodbye to each connection once nothing of its own is in flight;
the SDK redials at once (the next address: the other gateway) and resends what crossed the
goodbye unforwarded, so callers see no error and retry nothing. A stand-in frontlas
(`support.fake_frontlas`) answers where each edge is from the gateways' own registries.
Waits are on events and conditions with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from frontier.gateway import Gateway
from frontier.geminio.events import CloseReason
from frontier.sdk import (
    Backoff,
    ClusterService,
    Edge,
    Request,
    Service,
    ServiceMessage,
    ServiceRequest,
)
from support.fake_frontlas import FakeFrontlas
from support.gateway import gateway_config, until

pytestmark = pytest.mark.integration

TRUSTING = {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}
"""Edges keep their IDs across gateways, so services reach them by the same ID after."""
SLOW = Backoff(initial=5.0, maximum=5.0, jitter=0.0)
"""A reconnect delay no test waits for: an edge back within it was not delayed."""
DRAIN = 30.0
"""The drains' deadline: a drain that loses no call ends long before it."""


class _Where(dict[int, str]):
    """frontlas's edge -> frontier answer, from the gateways themselves (an up-to-date
    frontlas): the gateway that holds the edge and is not saying goodbye to it."""

    def __init__(self, gateways: dict[str, Gateway]) -> None:
        super().__init__()
        self.gateways = gateways

    def get(self, key: int, default: Any = None) -> Any:
        for frontier_id, gw in self.gateways.items():
            entry = gw.registry.edges.get(key)
            if entry is not None and entry.end not in gw.exchange.leaving:
                return frontier_id
        return default


@dataclass
class Pair:
    frontlas: FakeFrontlas
    a: Gateway
    b: Gateway

    def edge(self, edge_id: int, **kwargs: Any) -> Edge:
        """An edge that starts on `a` and fails over to `b`."""
        addrs = [f"127.0.0.1:{gw.edgebound_port}" for gw in (self.a, self.b)]
        return Edge(addrs, edge_id=edge_id, backoff=SLOW, **kwargs)

    def service(self) -> ClusterService:
        return ClusterService(
            self.frontlas.addr, name="svc", topics=["up"], refresh_interval=0.2, backoff=SLOW
        )


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    async with (
        FakeFrontlas() as frontlas,
        Gateway(gateway_config(edgebound=TRUSTING)) as a,
        Gateway(gateway_config(edgebound=TRUSTING)) as b,
    ):
        frontlas.add("a", a.servicebound_port, a.edgebound_port)
        frontlas.add("b", b.servicebound_port, b.edgebound_port)
        frontlas.edges = _Where({"a": a, "b": b})
        yield Pair(frontlas, a, b)


@dataclass
class Traffic:
    """Calls and messages both ways, each loop back to back; every failure recorded."""

    done: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def loop(self, name: str, operation: Callable[[int], Awaitable[None]]) -> None:
        i = 0
        self.done[name] = 0
        while not self.stop.is_set():
            i += 1
            try:
                await operation(i)
            except Exception as exc:
                self.errors.append(f"{name} #{i}: {type(exc).__name__}: {exc}")
                return  # no retry: one failure is enough to fail the test
            self.done[name] += 1

    def total(self) -> int:
        return sum(self.done.values())


async def test_a_drain_under_load_answers_every_call_and_ends_once_quiet(pair: Pair) -> None:
    """Edges call and publish to a service and the service to them, continuously, while
    their gateway drains: every call and message is answered without the callers retrying,
    the edges land on the other gateway (at once: their backoff is 5 s), and the drain
    returns as soon as its connections are gone, far before its deadline."""
    traffic = Traffic()
    service = pair.service()

    async def echo(request: ServiceRequest) -> bytes:
        return b"echo:" + request.data

    await service.register("echo", echo)
    edges = [pair.edge(n) for n in range(1, 7)]

    def pong(request: Request) -> bytes:
        return b"pong:" + request.data

    for edge in edges:
        await edge.register("ping", pong)

    async def acking_service() -> None:
        while True:
            message: ServiceMessage = await service.receive()
            message.done()

    async def acking_edge(edge: Edge) -> None:
        while True:
            (await edge.receive()).done()

    def flows(edge: Edge, n: int) -> list[asyncio.Task[None]]:
        async def up_call(i: int) -> None:
            data = b"up-%d-%d" % (n, i)
            assert await edge.call("echo", data, timeout=10) == b"echo:" + data

        async def up_publish(i: int) -> None:
            await edge.publish("up", b"%d" % i, timeout=10)

        async def down_call(i: int) -> None:
            data = b"down-%d-%d" % (n, i)
            assert await service.call(n, "ping", data, timeout=10) == b"pong:" + data

        async def down_publish(i: int) -> None:
            await service.publish(n, b"%d" % i, topic="down", timeout=10)

        return [
            asyncio.create_task(traffic.loop(f"{name} {n}", op))
            for name, op in (
                ("edge->service call", up_call),
                ("edge->service publish", up_publish),
                ("service->edge call", down_call),
                ("service->edge publish", down_publish),
            )
        ]

    helpers: list[asyncio.Task[None]] = []
    tasks: list[asyncio.Task[None]] = []
    async with service, contextlib.AsyncExitStack() as stack:
        for edge in edges:
            await stack.enter_async_context(edge)
            helpers.append(asyncio.create_task(acking_edge(edge)))
        helpers.append(asyncio.create_task(acking_service()))
        assert all(edge.edge_id in pair.a.registry.edges for edge in edges)
        try:
            for n, edge in enumerate(edges, 1):
                tasks += flows(edge, n)
            await until(lambda: min(traffic.done.values(), default=0) >= 20, 20, "traffic")
            first_ends = {edge.edge_id: edge.end for edge in edges}
            started = time.monotonic()
            await asyncio.wait_for(pair.a.drain(DRAIN), DRAIN / 3)
            took = time.monotonic() - started
            assert not traffic.errors, traffic.errors
            assert pair.a.registry.edges == {}
            assert pair.a.registry.services == {}
            await until(lambda: len(pair.b.registry.edges) == len(edges), 5, "edges on b")
            for end in first_ends.values():  # each was said goodbye to, not dropped
                assert end is not None
                assert end.close_reason is not None
                assert end.close_reason.reason is CloseReason.PEER_CLOSE
            # traffic goes on through b
            after = dict(traffic.done.items())
            await until(
                lambda: bool(traffic.errors) or all(traffic.done[k] >= after[k] + 5 for k in after),
                20,
                "traffic on b",
            )
            assert not traffic.errors, traffic.errors
        finally:
            traffic.stop.set()
            await asyncio.gather(*tasks)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
    assert not traffic.errors, traffic.errors
    assert took < DRAIN / 3
    samples = {
        (reason, bound): pair.a.metrics.drain_closed.labels(bound, reason)._value.get()
        for reason in ("idle", "settled", "stopped", "deadline")
        for bound in ("edgebound", "servicebound")
    }
    assert samples[("deadline", "edgebound")] == samples[("deadline", "servicebound")] == 0
    closed = sum(samples[(reason, "edgebound")] for reason in ("idle", "settled", "stopped"))
    assert closed == len(edges)
    closed_by = {r: samples[(r, "edgebound")] for r in ("idle", "settled", "stopped")}
    refused = pair.a.metrics.drain_refused.labels("edgebound")._value.get()
    print(
        f"drain under load: {traffic.total()} operations, none failed; drain took {took:.2f} s;"
        f" edges closed {closed_by}; refused unforwarded (sent again by the SDK): {refused:.0f}"
    )


@pytest.mark.parametrize("direction", ["edge->service", "service->edge"])
async def test_a_call_in_flight_at_drain_start_is_answered_before_its_connection_closes(
    pair: Pair, direction: str
) -> None:
    """A handler still working when the drain starts: its call is answered, its edge's
    connection stays until then (an idle edge beside it is said goodbye to at once), and
    the drain ends right after instead of at its deadline."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: Any) -> bytes:
        entered.set()
        await release.wait()
        return b"answered"

    service = Service(f"127.0.0.1:{pair.a.servicebound_port}", name="svc", backoff=SLOW)
    busy = pair.edge(1)
    idle = pair.edge(2)
    if direction == "edge->service":
        await service.register("slow", slow)
        await service.register("echo", lambda request: request.data)
    else:
        await busy.register("slow", slow)
    async with service, busy, idle:
        busy_end, idle_end = busy.end, idle.end
        assert busy_end is not None
        assert idle_end is not None
        if direction == "edge->service":
            call = asyncio.create_task(busy.call("slow", timeout=20))
        else:
            call = asyncio.create_task(service.call(1, "slow", timeout=20))
        await asyncio.wait_for(entered.wait(), 5)
        drain = asyncio.create_task(pair.a.drain(DRAIN))
        await asyncio.wait_for(idle_end.wait_closed(), 5)  # the idle one: goodbye at once
        assert not busy_end.closed
        assert not call.done()
        assert not drain.done()
        assert pair.a.registry.services  # kept while an edge's call may need them
        if direction == "edge->service":
            # a new call on the draining connection, before it closes, is still answered
            assert await busy.call("echo", b"new", timeout=5) == b"new"
            assert busy.end is busy_end
        started = time.monotonic()
        release.set()
        assert await asyncio.wait_for(call, 5) == b"answered"
        await asyncio.wait_for(busy_end.wait_closed(), 5)
        assert busy_end.close_reason is not None
        assert busy_end.close_reason.reason is CloseReason.PEER_CLOSE
        await asyncio.wait_for(drain, 10)
        assert time.monotonic() - started < DRAIN / 3
        # both edges are back, on b, without waiting out their 5 s backoff
        await until(lambda: set(pair.b.registry.edges) == {1, 2}, 4, "edges on b")
    closed = pair.a.metrics.drain_closed
    # after its last answer (`stopped` if that came after the drain's 1 s patience)
    assert (
        closed.labels("edgebound", "settled")._value.get()
        + closed.labels("edgebound", "stopped")._value.get()
        == 1
    )
    assert closed.labels("edgebound", "idle")._value.get() == 1


async def test_a_cluster_service_reaches_a_moving_edge_before_frontlas_knows(
    pair: Pair,
) -> None:
    """frontlas still names the drained frontier (its reports lag): the draining gateway
    answers "moving", the cluster service probes the frontiers and finds the edge on the
    other one, so calls made while it moves are answered, not failed."""
    pair.frontlas.edges = {1: "a"}  # stale from the drain on
    service = pair.service()
    edge = pair.edge(1)

    def pong(request: Request) -> bytes:
        return b"pong:" + request.data

    await edge.register("ping", pong)
    traffic = Traffic()

    async def down_call(i: int) -> None:
        data = b"%d" % i
        assert await service.call(1, "ping", data, timeout=10) == b"pong:" + data

    async with service, edge:
        calls = asyncio.create_task(traffic.loop("service->edge call", down_call))
        try:
            await until(lambda: traffic.done.get("service->edge call", 0) >= 20, 10, "calls")
            await asyncio.wait_for(pair.a.drain(DRAIN), DRAIN / 3)
            assert 1 in pair.b.registry.edges
            done = traffic.done["service->edge call"]
            await until(
                lambda: bool(traffic.errors) or traffic.done["service->edge call"] >= done + 20,
                10,
                "calls through b",
            )
        finally:
            traffic.stop.set()
            await calls
    assert not traffic.errors, traffic.errors
    assert pair.frontlas.edges == {1: "a"}  # nobody told frontlas: the probe found b
