"""`ClusterService` against two real in-process gateways and a stand-in frontlas.

The frontlas here (`support.fake_frontlas`) serves the REST cluster contract from dicts the
test edits, so each test decides which frontiers are alive and where each edge is. Edges
ask for their IDs (the gateways honour ``edge_id=``: `honour_wanted_id`), which
lets an edge "move" to the other frontier under the same ID. Waits are on conditions with
deadlines (`until`), never fixed sleeps; refreshes run every 0.2 s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from frontier.conventions import RPC_PROBE_EDGE
from frontier.gateway import Gateway
from frontier.sdk import (
    ERR_EDGE_NOT_ONLINE,
    Backoff,
    ClusterService,
    ConnectionClosedError,
    Edge,
    EdgePresence,
    FrontlasError,
    OpenRejected,
    PublishRejected,
    RPCError,
    Service,
    ServiceRequest,
    stream_edge_id,
)
from support.fake_frontlas import FakeFrontlas
from support.gateway import gateway_config, until

TRUSTING = {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}
"""Edges pick their IDs (`edge_id=`), so that a test can move one between frontiers."""

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.01, maximum=0.05)
REFRESH = 0.2
LOOKUP = "/cluster/v1/frontier"
LISTING = "/cluster/v1/frontiers"


@dataclass
class Cluster:
    frontlas: FakeFrontlas
    a: Gateway
    b: Gateway

    def gateway(self, frontier_id: str) -> Gateway:
        return self.a if frontier_id == "a" else self.b

    def service(self, **kwargs: object) -> ClusterService:
        options: dict[str, object] = {
            "name": "svc",
            "topics": ["t"],
            "refresh_interval": REFRESH,
            "backoff": FAST,
            "http_timeout": 1.0,
            **kwargs,
        }
        return ClusterService(self.frontlas.addr, **options)  # type: ignore[arg-type]

    async def edge(self, frontier_id: str, edge_id: int, answer: bytes = b"") -> Edge:
        """An edge with ID `edge_id` on that frontier, known to frontlas, serving
        ``where`` (answers `answer`, default the frontier ID)."""
        gw = self.gateway(frontier_id)
        edge = Edge(
            f"127.0.0.1:{gw.edgebound_port}", edge_id=edge_id, backoff=FAST, accept_streams=True
        )
        reply = answer or frontier_id.encode()
        await edge.register("where", lambda request: reply)
        await edge.start()
        assert edge.edge_id == edge_id
        self.frontlas.edges[edge_id] = frontier_id
        return edge


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with (
        FakeFrontlas() as frontlas,
        Gateway(gateway_config(edgebound=TRUSTING)) as a,
        Gateway(gateway_config(edgebound=TRUSTING)) as b,
    ):
        frontlas.add("a", a.servicebound_port, a.edgebound_port)
        frontlas.add("b", b.servicebound_port, b.edgebound_port)
        yield Cluster(frontlas, a, b)


# ------------------------------------------------------------------- to edges


async def test_discovers_both_frontiers_and_reaches_edges_on_each(cluster: Cluster) -> None:
    async with cluster.service() as service:
        assert service.frontiers == ["a", "b"]
        assert len(cluster.a.registry.services) == len(cluster.b.registry.services) == 1
        one = await cluster.edge("a", 1)
        two = await cluster.edge("b", 2)
        try:
            # call
            assert await service.call(1, "where") == b"a"
            assert await service.call(2, "where") == b"b"
            lookups = cluster.frontlas.hits[LOOKUP]
            assert lookups == 2
            assert await service.call(1, "where", timeout=5) == b"a"  # cached route
            assert cluster.frontlas.hits[LOOKUP] == lookups

            # publish, acked by the edge
            for edge, edge_id in ((one, 1), (two, 2)):
                publish = asyncio.create_task(
                    service.publish(edge_id, b"to %d" % edge_id, topic="news", custom=b"c")
                )
                message = await asyncio.wait_for(edge.receive(), 5)
                assert (message.data, message.topic, message.custom) == (
                    b"to %d" % edge_id,
                    "news",
                    b"c",
                )
                message.done()
                await asyncio.wait_for(publish, 5)

            # open_stream, bytes both ways
            for edge, edge_id in ((one, 1), (two, 2)):
                mine = await service.open_stream(edge_id, meta=b"m")
                assert stream_edge_id(mine) == edge_id
                theirs = await asyncio.wait_for(edge.accept_stream(), 5)
                assert (theirs.peer, theirs.meta) == ("svc", b"m")
                mine.write(b"ping")
                assert await asyncio.wait_for(theirs.readexactly(4), 5) == b"ping"
                theirs.write(b"pong")
                assert await asyncio.wait_for(mine.readexactly(4), 5) == b"pong"
                await mine.close()
        finally:
            await one.close()
            await two.close()
    # a gateway drops the service when it reads the closing handshake's last frame,
    # which may be after the client's close() returned
    await until(
        lambda: not cluster.a.registry.services and not cluster.b.registry.services,
        what="both gateways to drop the closed service",
    )


async def test_unknown_edge_raises_what_a_single_service_gets(cluster: Cluster) -> None:
    async with cluster.service() as service:
        with pytest.raises(RPCError) as caught:
            await service.call(999, "where")
        assert caught.value.text == ERR_EDGE_NOT_ONLINE
        with pytest.raises(PublishRejected) as rejected:
            await service.publish(999, b"x")
        assert rejected.value.text == ERR_EDGE_NOT_ONLINE
        with pytest.raises(OpenRejected) as refused:
            await service.open_stream(999)
        assert refused.value.text == ERR_EDGE_NOT_ONLINE

        # the same type and text as a plain Service that asks its gateway
        async with Service(f"127.0.0.1:{cluster.a.servicebound_port}") as single:
            with pytest.raises(RPCError) as direct:
                await single.call(999, "where")
            assert direct.value.text == caught.value.text
            with pytest.raises(PublishRejected) as direct_publish:
                await single.publish(999, b"x")
            assert direct_publish.value.text == rejected.value.text

        # frontlas is stale (says frontier a, the edge is not there): one retry, then the
        # gateway's own answer
        cluster.frontlas.edges[998] = "a"
        before = cluster.frontlas.hits[LOOKUP]
        with pytest.raises(RPCError) as stale:
            await service.call(998, "where")
        assert stale.value.text == ERR_EDGE_NOT_ONLINE
        assert cluster.frontlas.hits[LOOKUP] == before + 2


async def test_an_edge_that_moved_is_reached_on_its_new_frontier(cluster: Cluster) -> None:
    async with cluster.service() as service:
        edge = await cluster.edge("a", 7)
        assert await service.call(7, "where") == b"a"
        await edge.close()
        await until(lambda: 7 not in cluster.a.registry.edges, what="edge 7 gone from a")

        edge = await cluster.edge("b", 7)  # same ID, other frontier; frontlas updated
        lookups = cluster.frontlas.hits[LOOKUP]
        assert await service.call(7, "where") == b"b"  # a says "edge not online": retried
        assert cluster.frontlas.hits[LOOKUP] == lookups + 1
        assert await service.call(7, "where") == b"b"  # the new route is cached
        assert cluster.frontlas.hits[LOOKUP] == lookups + 1

        # and back, this time found by a publish
        await edge.close()
        await until(lambda: 7 not in cluster.b.registry.edges, what="edge 7 gone from b")
        edge = await cluster.edge("a", 7)
        publish = asyncio.create_task(service.publish(7, b"found you"))
        message = await asyncio.wait_for(edge.receive(), 5)
        assert message.data == b"found you"
        message.done()
        await asyncio.wait_for(publish, 5)

        # a stream after a move goes to the new frontier at once (looked up every time)
        await edge.close()
        await until(lambda: 7 not in cluster.a.registry.edges, what="edge 7 gone from a")
        edge = await cluster.edge("b", 7)
        stream = await service.open_stream(7)
        theirs = await asyncio.wait_for(edge.accept_stream(), 5)
        theirs.write(b"here")
        assert await asyncio.wait_for(stream.readexactly(4), 5) == b"here"
        await edge.close()


# ------------------------------------------------------------------ from edges


async def test_receive_and_accept_stream_fan_in_from_both_frontiers(cluster: Cluster) -> None:
    async with cluster.service(accept_streams=True) as service:
        one = await cluster.edge("a", 1)
        two = await cluster.edge("b", 2)
        try:
            publishes = [
                asyncio.create_task(one.publish("t", b"from 1", custom=b"c1")),
                asyncio.create_task(two.publish("t", b"from 2", custom=b"c2")),
            ]
            got = {}
            for _ in range(2):
                message = await asyncio.wait_for(service.receive(), 5)
                got[message.edge_id] = (message.topic, message.data, message.custom)
                message.done()
            assert got == {1: ("t", b"from 1", b"c1"), 2: ("t", b"from 2", b"c2")}
            await asyncio.wait_for(asyncio.gather(*publishes), 5)

            opened = [await one.open_stream("svc"), await two.open_stream("svc")]
            accepted = {}
            for _ in range(2):
                stream = await asyncio.wait_for(service.accept_stream(), 5)
                edge_id = stream_edge_id(stream)
                assert edge_id is not None
                accepted[edge_id] = stream
            assert sorted(accepted) == [1, 2]
            for edge_id, mine in zip((1, 2), opened, strict=True):
                mine.write(b"up%d" % edge_id)
                assert await asyncio.wait_for(accepted[edge_id].readexactly(3), 5) == (
                    b"up%d" % edge_id
                )
                accepted[edge_id].write(b"dn")
                assert await asyncio.wait_for(mine.readexactly(2), 5) == b"dn"
        finally:
            await one.close()
            await two.close()

        receiving = asyncio.create_task(service.receive())
        accepting = asyncio.create_task(service.accept_stream())
        await asyncio.sleep(0)
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(receiving, 5)
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(accepting, 5)
    with pytest.raises(ConnectionClosedError):
        await service.receive()


async def test_registrations_reach_a_later_frontier_and_survive_reconnects(
    cluster: Cluster,
) -> None:
    del cluster.frontlas.frontiers["b"]  # only a at first
    service = cluster.service()
    online: asyncio.Queue[int] = asyncio.Queue()
    await service.on_edge_online(lambda presence: online.put_nowait(presence.edge_id))
    async with service:
        assert service.frontiers == ["a"]

        def whoami(request: ServiceRequest) -> bytes:
            return b"edge %d" % request.edge_id

        await service.register("whoami", whoami)  # after start: to the present frontier
        one = await cluster.edge("a", 1)
        assert await asyncio.wait_for(online.get(), 5) == 1
        assert await one.call("whoami") == b"edge 1"

        # b appears: the next refresh connects it, with the method and the hook
        cluster.frontlas.add("b", cluster.b.servicebound_port, cluster.b.edgebound_port)
        await until(lambda: service.frontiers == ["a", "b"], what="frontier b connected")
        two = await cluster.edge("b", 2)
        assert await asyncio.wait_for(online.get(), 5) == 2
        assert await two.call("whoami") == b"edge 2"
        assert await service.call(2, "where") == b"b"

        # b drops our connection: the Service redials and registers everything again;
        # the routes through b are forgotten meanwhile (the next call asks frontlas)
        b_service = service.services["b"]
        cluster.b.registry.services[b_service.service_id].end.abort()
        await until(
            lambda: (
                b_service.reconnects == 1
                and b_service.online
                and bool(cluster.b.registry.services_for_method("whoami"))
            ),
            what="b's connection back with its RPCs",
        )
        assert await two.call("whoami") == b"edge 2"
        lookups = cluster.frontlas.hits[LOOKUP]
        assert await service.call(2, "where") == b"b"
        assert cluster.frontlas.hits[LOOKUP] == lookups + 1
        three = await cluster.edge("b", 3)
        assert await asyncio.wait_for(online.get(), 5) == 3
        for edge in (one, two, three):
            await edge.close()


async def test_a_frontier_that_leaves_the_listing_is_disconnected_after_its_grace(
    cluster: Cluster,
) -> None:
    async with cluster.service(unlisted_grace=0.5) as service:
        assert service.frontiers == ["a", "b"]
        del cluster.frontlas.frontiers["b"]
        await until(lambda: service.frontiers == ["a"], what="b dropped")
        await until(lambda: not cluster.b.registry.services, what="b without our service")
        assert len(cluster.a.registry.services) == 1
        # and it comes back when listed again
        cluster.frontlas.add("b", cluster.b.servicebound_port)
        await until(lambda: service.frontiers == ["a", "b"], what="b back")


async def test_an_unlisted_frontier_still_serves_its_edges_even_those_frontlas_forgot(
    cluster: Cluster,
) -> None:
    """frontlas cut off from frontier b: it stops listing b and forgets b's edges (404),
    while the service's own connection to b is fine. b's edges stay reachable: the cached
    route serves, and an edge frontlas does not know is found by probing the frontiers."""
    async with cluster.service() as service:
        one = await cluster.edge("b", 1)
        two = await cluster.edge("b", 2)
        assert await service.call(1, "where") == b"b"  # route to 1 cached
        lookups = cluster.frontlas.hits[LOOKUP]
        del cluster.frontlas.frontiers["b"]
        cluster.frontlas.edges.clear()
        listings = cluster.frontlas.hits[LISTING]
        await until(lambda: cluster.frontlas.hits[LISTING] >= listings + 2, what="refreshes")
        assert service.frontiers == ["a", "b"]  # kept: its connection is up
        assert await service.call(1, "where", timeout=5) == b"b"  # cached
        assert await service.call(2, "where", timeout=5) == b"b"  # 404, then probed
        assert cluster.frontlas.hits[LOOKUP] == lookups + 1
        assert await service.call(2, "where", timeout=5) == b"b"  # the probe's route cached
        assert cluster.frontlas.hits[LOOKUP] == lookups + 1
        with pytest.raises(RPCError, match=ERR_EDGE_NOT_ONLINE):  # nobody has edge 3
            await service.call(3, "where", timeout=5)
        await one.close()
        await two.close()


async def test_the_gateway_answers_the_edge_probe_itself(cluster: Cluster) -> None:
    """The probe never reaches an edge, even one serving a method of that name."""
    probed: list[bytes] = []
    edge = await cluster.edge("a", 1)
    await edge.register(RPC_PROBE_EDGE, lambda request: probed.append(request.data) or b"x")
    async with Service(f"127.0.0.1:{cluster.a.servicebound_port}") as service:
        assert await service.call(1, RPC_PROBE_EDGE, b"data", timeout=5) == b""
        with pytest.raises(RPCError, match=ERR_EDGE_NOT_ONLINE):
            await service.call(2, RPC_PROBE_EDGE, timeout=5)
        assert await service.call(1, "where", timeout=5) == b"a"  # the edge is reachable
    assert probed == []
    await edge.close()


async def test_a_cache_miss_connects_a_frontier_before_the_next_refresh(
    cluster: Cluster,
) -> None:
    del cluster.frontlas.frontiers["b"]
    async with cluster.service(refresh_interval=60.0) as service:
        assert service.frontiers == ["a"]
        cluster.frontlas.add("b", cluster.b.servicebound_port)
        edge = await cluster.edge("b", 5)
        assert await service.call(5, "where") == b"b"
        assert service.frontiers == ["a", "b"]
        assert cluster.frontlas.hits[LISTING] == 1
        await edge.close()


async def test_a_frontlas_outage_keeps_traffic_flowing(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="frontier.sdk.cluster")

    def failed_refreshes() -> int:
        return sum("refreshing the frontiers failed" in r.getMessage() for r in caplog.records)

    async with cluster.service() as service:
        one = await cluster.edge("a", 1)
        two = await cluster.edge("b", 2)
        assert await service.call(1, "where") == b"a"
        assert await service.call(2, "where") == b"b"

        # frontlas without Redis (503), then gone altogether (connection refused)
        cluster.frontlas.down = True
        await until(lambda: failed_refreshes() >= 2, what="two failed refreshes (503)")
        assert service.frontiers == ["a", "b"]
        assert await service.call(1, "where") == b"a"
        await cluster.frontlas.stop()
        await until(lambda: failed_refreshes() >= 4, what="two failed refreshes (refused)")
        assert service.frontiers == ["a", "b"]
        assert await service.call(2, "where") == b"b"
        assert await service.open_stream(1)  # falls back to the cached route
        publish = asyncio.create_task(two.publish("t", b"still here"))
        message = await asyncio.wait_for(service.receive(), 5)
        assert (message.edge_id, message.data) == (2, b"still here")
        message.done()
        await asyncio.wait_for(publish, 5)
        # an edge never looked up cannot be found meanwhile
        with pytest.raises(FrontlasError):
            await service.call(3, "where")

        # frontlas back: refreshes resume
        cluster.frontlas.down = False
        await cluster.frontlas.start()
        listings = cluster.frontlas.hits[LISTING]
        await until(lambda: cluster.frontlas.hits[LISTING] > listings, what="a refresh")
        await one.close()
        await two.close()


async def test_a_frontier_that_drains_is_a_normal_close_not_an_error(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A graceful drain closes the default stream a round trip before the connection:
    that must read as the frontier going away (routes forgotten, edges reached on the
    other frontier), never as an ERROR with a traceback."""
    caplog.set_level(logging.DEBUG, logger="frontier.sdk")
    edge = Edge(
        [f"127.0.0.1:{cluster.a.edgebound_port}", f"127.0.0.1:{cluster.b.edgebound_port}"],
        edge_id=1,
        backoff=FAST,
    )
    await edge.register("where", lambda request: b"here")
    async with cluster.service() as service, edge:
        cluster.frontlas.edges[1] = "a"
        assert await service.call(1, "where", timeout=5) == b"here"
        receiving = asyncio.create_task(service.receive())  # a pump is waiting on each
        await cluster.a.drain(0)
        await until(lambda: service.frontiers == ["b"], what="a gone")
        await until(lambda: cluster.b.registry.edges.get(1) is not None, what="edge on b")
        cluster.frontlas.edges[1] = "b"
        assert await service.call(1, "where", timeout=5) == b"here"
        assert not receiving.done()  # the fan-in survives one frontier leaving
        receiving.cancel()
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert noisy == [], [r.getMessage() for r in noisy]


# ---------------------------------------------------------------------- starting


async def test_start_fails_when_frontlas_is_unreachable(cluster: Cluster) -> None:
    await cluster.frontlas.stop()
    service = cluster.service()
    with pytest.raises(FrontlasError):
        await service.start()
    with pytest.raises(ConnectionClosedError):
        await service.call(1, "where")


async def test_start_with_no_frontier_listed(cluster: Cluster) -> None:
    cluster.frontlas.frontiers.clear()
    async with cluster.service() as service:
        assert service.frontiers == []
        with pytest.raises(RPCError) as caught:
            await service.call(1, "where")
        assert caught.value.text == ERR_EDGE_NOT_ONLINE
        cluster.frontlas.add("a", cluster.a.servicebound_port)
        await until(lambda: service.frontiers == ["a"], what="a connected by a refresh")


async def test_start_fails_when_no_listed_frontier_answers(cluster: Cluster) -> None:
    ports = (cluster.a.servicebound_port, cluster.b.servicebound_port)
    await cluster.a.close()
    await cluster.b.close()
    cluster.frontlas.add("a", ports[0])
    cluster.frontlas.add("b", ports[1])
    with pytest.raises(ConnectionRefusedError):
        async with cluster.service():
            pass


async def test_hooks_are_applied_on_every_frontier(cluster: Cluster) -> None:
    service = cluster.service()
    gone: asyncio.Queue[EdgePresence] = asyncio.Queue()
    await service.on_get_edge_id(lambda meta: int(meta.removeprefix(b"dev-")))
    await service.on_edge_offline(gone.put_nowait)
    async with service:
        for frontier_id, gw in (("a", cluster.a), ("b", cluster.b)):
            number = 40 if frontier_id == "a" else 41
            edge = Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"dev-%d" % number)
            await edge.register("where", lambda request: b"x")
            async with edge:
                assert edge.edge_id == number
                cluster.frontlas.edges[number] = frontier_id
                assert await service.call(number, "where") == b"x"
            presence = await asyncio.wait_for(gone.get(), 5)
            assert presence.edge_id == number


async def test_edge_ready_teaches_the_route_before_frontlas_knows_the_edge(
    cluster: Cluster,
) -> None:
    """A call from `on_edge_ready` goes straight to the frontier that reported the edge:
    frontlas, which hears of new edges a moment later, is not asked (here it never is);
    `on_edge_offline` forgets the route again."""
    answers: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
    offline: asyncio.Queue[int] = asyncio.Queue()
    async with cluster.service() as service:

        async def ready(presence: EdgePresence) -> None:
            try:
                answers.put_nowait(await service.call(presence.edge_id, "where", timeout=5))
            except Exception as exc:
                answers.put_nowait(exc)

        await service.on_edge_ready(ready)
        await service.on_edge_offline(lambda presence: offline.put_nowait(presence.edge_id))
        edge = Edge(f"127.0.0.1:{cluster.b.edgebound_port}", edge_id=77, backoff=FAST)
        await edge.register("where", lambda request: b"b")
        async with edge:  # frontlas (the fake) is never told about edge 77
            assert await asyncio.wait_for(answers.get(), 10) == b"b"
        assert cluster.frontlas.hits[LOOKUP] == 0
        assert await asyncio.wait_for(offline.get(), 10) == 77
        with pytest.raises(RPCError, match=ERR_EDGE_NOT_ONLINE):
            await service.call(77, "where", timeout=5)  # the route was forgotten: frontlas
        assert cluster.frontlas.hits[LOOKUP] == 1
