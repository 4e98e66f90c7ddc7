"""`ClusterService` without a network: the frontlas address and payloads, the edge-route
cache, and the routing rules (which errors forget a route and retry once, which propagate
unchanged), with scripted stand-ins for the per-frontier services and for frontlas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from frontier.conventions import RPC_PROBE_EDGE
from frontier.sdk import (
    ERR_EDGE_NOT_ONLINE,
    ClusterService,
    ConnectionClosedError,
    FrontlasError,
    OpenRejected,
    OperationTimeout,
    PublishRejected,
    RPCError,
)
from frontier.sdk.cluster import FrontierInfo, _base_url, _EdgeRoutes, _EdgeUnknown, _Frontier

# ------------------------------------------------------------------- frontlas address


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("frontlas:40011", "http://frontlas:40011"),
        ("127.0.0.1:40011", "http://127.0.0.1:40011"),
        ("[::1]:40011", "http://[::1]:40011"),
        (":40011", "http://127.0.0.1:40011"),
        ("http://frontlas:40011/", "http://frontlas:40011"),
        ("https://frontlas.example", "https://frontlas.example"),
    ],
)
def test_frontlas_address(addr: str, url: str) -> None:
    assert _base_url(addr) == url
    assert ClusterService(addr).frontlas_url == url


@pytest.mark.parametrize("addr", ["frontlas", "grpc://frontlas:40011", "h:0"])
def test_frontlas_address_rejected(addr: str) -> None:
    with pytest.raises(ValueError, match="bad"):
        ClusterService(addr)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heartbeat": 7},
        {"refresh_interval": 0},
        {"http_timeout": -1.0},
        {"unlisted_grace": -1.0},
        {"peer_timeout": -1.0},
        {"peer_timeout": float("inf")},
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(
        ValueError, match=r"heartbeat|refresh_interval|http_timeout|unlisted_grace|peer_timeout"
    ):
        ClusterService("h:1", **kwargs)


def test_topics_must_not_be_a_string() -> None:
    with pytest.raises(TypeError):
        ClusterService("h:1", topics="abc")
    assert ClusterService("h:1", topics=["a", "b", "a"]).topics == ("a", "b")


# ------------------------------------------------------------------ frontier objects


def test_frontier_info_parses_the_contract() -> None:
    info = FrontierInfo.parse(
        {
            "frontier_id": "f1",
            "advertised_sb_addr": "10.0.0.1:30011",
            "advertised_eb_addr": "10.0.0.1:30012",
            "edge_count": 3,
            "service_count": 1,
        }
    )
    assert info == FrontierInfo("f1", "10.0.0.1:30011", "10.0.0.1:30012", 3, 1)
    # only the ID and the servicebound address are needed
    assert FrontierInfo.parse({"frontier_id": "f", "advertised_sb_addr": "h:1"}).edge_count == 0


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"advertised_sb_addr": "h:1"},
        {"frontier_id": "", "advertised_sb_addr": "h:1"},
        {"frontier_id": "f"},
        {"frontier_id": "f", "advertised_sb_addr": "no-port"},
    ],
)
def test_frontier_info_rejects(obj: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages vary by field
        FrontierInfo.parse(obj)


# ----------------------------------------------------------------------- route cache


def test_edge_routes() -> None:
    routes = _EdgeRoutes()
    routes.put(1, "a")
    routes.put(2, "a")
    routes.put(3, "b")
    assert (routes.get(1), routes.get(3), routes.get(4)) == ("a", "b", None)
    routes.put(2, "b")  # moved: no longer counted under a
    assert routes.drop_frontier("a") == {1}
    assert (routes.get(1), routes.get(2)) == (None, "b")
    routes.drop(2, "a")  # a newer route to b stays
    assert routes.get(2) == "b"
    routes.drop(2)
    assert routes.get(2) is None
    assert routes.drop_frontier("b") == {3}
    assert len(routes) == 0
    assert routes.drop_frontier("nobody") == set()


# ------------------------------------------------------------------------- routing


class ScriptedService:
    """Answers each call/publish/open_stream with the next scripted outcome (an
    exception to raise, or a value to return)."""

    def __init__(self, frontier_id: str, *outcomes: object, holds: tuple[int, ...] = ()) -> None:
        self.frontier_id = frontier_id
        self.outcomes = list(outcomes)
        self.holds = set(holds)
        """Edges this frontier says it holds when probed (the gateway's own answer)."""
        self.seen: list[tuple[str, int]] = []
        self.registered: list[str] = []
        self.online = True
        self.closed = False

    def _next(self, op: str, edge_id: int) -> Any:
        self.seen.append((op, edge_id))
        outcome = self.outcomes.pop(0) if self.outcomes else self.frontier_id.encode()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def call(self, edge_id: int, method: str, data: bytes = b"", **kwargs: Any) -> Any:
        if method == RPC_PROBE_EDGE:
            self.seen.append(("probe", edge_id))
            if edge_id not in self.holds:
                raise RPCError(ERR_EDGE_NOT_ONLINE)
            return b""
        return self._next("call", edge_id)

    async def publish(self, edge_id: int, data: bytes, **kwargs: Any) -> None:
        self._next("publish", edge_id)

    async def open_stream(self, edge_id: int, *, meta: bytes = b"", **kwargs: Any) -> Any:
        return self._next("open_stream", edge_id)

    async def register(self, method: str, handler: object) -> None:
        self.registered.append(method)

    async def close(self) -> None:
        self.closed = True


def info(frontier_id: str) -> FrontierInfo:
    return FrontierInfo(frontier_id, f"{frontier_id}.example:30011")


def cluster_with(
    *services: ScriptedService, frontlas: Callable[[int], FrontierInfo] | None = None
) -> tuple[ClusterService, list[int]]:
    """A started-looking ClusterService over `services`, whose frontlas lookups call
    `frontlas(edge_id)`; returns it and the list of edge IDs looked up."""
    cluster = ClusterService("frontlas:40011")
    cluster._started = True
    for service in services:
        cluster._frontiers[service.frontier_id] = _Frontier(
            info(service.frontier_id),
            service,  # type: ignore[arg-type]
            0.0,
        )
    lookups: list[int] = []

    async def lookup(edge_id: int, deadline: float | None) -> FrontierInfo:
        lookups.append(edge_id)
        if frontlas is None:
            raise _EdgeUnknown(f"edge {edge_id} is not online")
        return frontlas(edge_id)

    cluster._lookup = lookup  # type: ignore[method-assign]
    return cluster, lookups


async def test_a_cache_miss_asks_frontlas_once_then_uses_the_route() -> None:
    a, b = ScriptedService("a"), ScriptedService("b")
    cluster, lookups = cluster_with(a, b, frontlas=lambda edge_id: info("b"))
    assert await cluster.call(5, "m") == b"b"
    assert await cluster.call(5, "m") == b"b"
    await cluster.publish(5, b"x")
    assert lookups == [5]
    assert b.seen == [("call", 5), ("call", 5), ("publish", 5)]
    assert a.seen == []


async def test_edge_not_online_forgets_the_route_and_retries_once() -> None:
    a = ScriptedService("a", RPCError(ERR_EDGE_NOT_ONLINE))
    b = ScriptedService("b")
    cluster, lookups = cluster_with(a, b, frontlas=lambda edge_id: info("b"))
    cluster._routes.put(5, "a")  # stale: the edge moved to b
    assert await cluster.call(5, "m") == b"b"
    assert lookups == [5]
    assert cluster._routes.get(5) == "b"


async def test_publish_rejected_edge_not_online_retries_too() -> None:
    a = ScriptedService("a", PublishRejected(ERR_EDGE_NOT_ONLINE))
    b = ScriptedService("b")
    cluster, lookups = cluster_with(a, b, frontlas=lambda edge_id: info("b"))
    cluster._routes.put(5, "a")
    await cluster.publish(5, b"x")
    assert b.seen == [("publish", 5)]
    assert lookups == [5]


async def test_a_second_edge_not_online_is_raised() -> None:
    a = ScriptedService("a", RPCError(ERR_EDGE_NOT_ONLINE), RPCError(ERR_EDGE_NOT_ONLINE))
    cluster, lookups = cluster_with(a, frontlas=lambda edge_id: info("a"))
    with pytest.raises(RPCError) as caught:
        await cluster.call(5, "m")
    assert caught.value.text == ERR_EDGE_NOT_ONLINE
    assert len(a.seen) == 2  # once from the lookup, once retried: no more
    assert lookups == [5, 5]


@pytest.mark.parametrize(
    "error",
    [RPCError("no such rpc: m"), RPCError("sensor unplugged"), OperationTimeout("slow")],
)
async def test_other_errors_propagate_unchanged(error: Exception) -> None:
    a = ScriptedService("a", error)
    cluster, lookups = cluster_with(a, frontlas=lambda edge_id: info("a"))
    cluster._routes.put(5, "a")
    with pytest.raises(type(error)) as caught:
        await cluster.call(5, "m")
    assert caught.value is error
    assert lookups == []
    assert cluster._routes.get(5) == "a"  # the edge is still there


async def test_a_lost_connection_is_retried_once_after_a_lookup() -> None:
    a = ScriptedService("a", ConnectionClosedError("lost"))
    b = ScriptedService("b", ConnectionClosedError("lost again"))
    cluster, lookups = cluster_with(a, b, frontlas=lambda edge_id: info("b"))
    cluster._routes.put(5, "a")
    with pytest.raises(ConnectionClosedError, match="lost again"):
        await cluster.call(5, "m")
    assert lookups == [5]


async def test_an_unknown_edge_raises_edge_not_online_of_the_operation() -> None:
    a, b = ScriptedService("a"), ScriptedService("b")
    cluster, lookups = cluster_with(a, b)
    with pytest.raises(RPCError) as call:
        await cluster.call(5, "m")
    with pytest.raises(PublishRejected) as publish:
        await cluster.publish(5, b"x")
    with pytest.raises(OpenRejected) as stream:
        await cluster.open_stream(5)
    assert call.value.text == publish.value.text == stream.value.text == ERR_EDGE_NOT_ONLINE
    assert lookups == [5, 5, 5]  # once each: frontlas's answer is not retried
    # ... after asking every connected frontier, once per operation; nothing else was sent
    assert a.seen == b.seen == [("probe", 5)] * 3


async def test_an_edge_frontlas_lost_is_found_by_probing_the_frontiers() -> None:
    """frontlas answers 404 (its frontier was cut off from it and the edge's keys expired,
    or Redis restarted empty): the frontier that holds the edge says so, and the route is
    cached like one from frontlas."""
    a, b = ScriptedService("a"), ScriptedService("b", holds=(5,))
    cluster, lookups = cluster_with(a, b)
    assert await cluster.call(5, "m") == b"b"
    assert await cluster.call(5, "m") == b"b"
    assert lookups == [5]
    assert cluster._routes.get(5) == "b"
    assert a.seen == [("probe", 5)]
    assert b.seen == [("probe", 5), ("call", 5), ("call", 5)]


async def test_a_go_gateway_forwarding_the_probe_still_says_the_edge_is_there() -> None:
    """A Go gateway does not know the probe and forwards it: the edge's own error (no
    such method) proves it is connected there; only "edge not online" means absent."""

    class GoGateway(ScriptedService):
        async def call(self, edge_id: int, method: str, data: bytes = b"", **kw: Any) -> Any:
            if method == RPC_PROBE_EDGE:
                self.seen.append(("probe", edge_id))
                raise RPCError(f"no such rpc: {method}")
            return await super().call(edge_id, method, data, **kw)

    go = GoGateway("go")
    cluster, _ = cluster_with(go)
    assert await cluster.call(5, "m") == b"go"


async def test_an_unreachable_frontlas_without_a_route_probes_too() -> None:
    def frontlas(edge_id: int) -> FrontierInfo:
        raise FrontlasError("frontlas unreachable")

    a, b = ScriptedService("a", holds=(5,)), ScriptedService("b")
    cluster, _ = cluster_with(a, b, frontlas=frontlas)
    assert await cluster.call(5, "m") == b"a"
    with pytest.raises(FrontlasError):  # found nowhere: frontlas's error, not "not online"
        await cluster.call(6, "m")


async def test_a_stale_route_to_a_frontier_that_is_down_is_corrected_by_probing() -> None:
    """frontlas still names a frontier we lost (the edge failed over, its new frontier's
    report has not reached frontlas yet): the frontier that has the edge is used."""
    a, b = ScriptedService("a"), ScriptedService("b", holds=(5,))
    a.online = False
    cluster, _ = cluster_with(a, b, frontlas=lambda edge_id: info("a"))
    assert await cluster.call(5, "m") == b"b"
    assert cluster._routes.get(5) == "b"
    assert a.seen == []


async def test_offline_and_silent_frontiers_are_not_probed_or_do_not_hold_the_call() -> None:
    offline = ScriptedService("offline", holds=(5,))
    offline.online = False

    class Silent(ScriptedService):
        async def call(self, edge_id: int, method: str, data: bytes = b"", **kw: Any) -> Any:
            if method == RPC_PROBE_EDGE:
                raise OperationTimeout("no answer")
            return await super().call(edge_id, method, data, **kw)

    cluster, _ = cluster_with(offline, Silent("silent", holds=(5,)))
    with pytest.raises(RPCError, match=ERR_EDGE_NOT_ONLINE):
        await cluster.call(5, "m")
    assert offline.seen == []


# ------------------------------------------------------- frontiers frontlas stops listing


async def test_an_unlisted_frontier_is_kept_while_connected_for_its_grace() -> None:
    """A listing without a frontier whose connection is up (frontlas cut off from it,
    Redis restarted empty) keeps it, and its routes, until the grace is over."""
    a, b = ScriptedService("a"), ScriptedService("b")
    cluster, _ = cluster_with(a, b)
    cluster.unlisted_grace = 30.0
    cluster._routes.put(1, "a")
    await cluster._sync([info("b")], listed_at=1.0)
    assert set(cluster._frontiers) == {"a", "b"}
    assert cluster._routes.get(1) == "a"
    unlisted_since = cluster._frontiers["a"].unlisted_since
    assert unlisted_since is not None
    await cluster._sync([info("b")], listed_at=2.0)
    assert cluster._frontiers["a"].unlisted_since == unlisted_since  # counted from the first
    await cluster._sync([info("a"), info("b")], listed_at=3.0)  # listed again: reset
    assert cluster._frontiers["a"].unlisted_since is None
    await cluster._sync([info("b")], listed_at=4.0)
    cluster._frontiers["a"].unlisted_since = -100.0  # the grace is over
    await cluster._sync([info("b")], listed_at=5.0)
    assert set(cluster._frontiers) == {"b"}
    assert cluster._routes.get(1) is None
    await cluster.close()
    assert a.closed


async def test_an_unlisted_frontier_whose_connection_is_down_is_closed_at_once() -> None:
    a, b = ScriptedService("a"), ScriptedService("b")
    a.online = False  # redialing: frontlas says it is gone, so it is not redialed
    cluster, _ = cluster_with(a, b)
    await cluster._sync([info("b")], listed_at=1.0)
    assert set(cluster._frontiers) == {"b"}
    await cluster.close()
    assert a.closed
    assert b.closed


async def test_no_grace_keeps_unlisted_frontiers_while_they_stay_up() -> None:
    a = ScriptedService("a")
    cluster, _ = cluster_with(a)
    cluster.unlisted_grace = None
    await cluster._sync([], listed_at=1.0)
    cluster._frontiers["a"].unlisted_since = -1e9
    await cluster._sync([], listed_at=2.0)
    assert set(cluster._frontiers) == {"a"}


async def test_open_stream_looks_up_every_time_but_survives_a_frontlas_outage() -> None:
    streams: list[Any] = ["stream-1", "stream-2", "stream-3"]
    a = ScriptedService("a", *streams)
    outage: list[int | None] = []  # empty: frontlas answers; else the status it fails with

    def frontlas(edge_id: int) -> FrontierInfo:
        if outage:
            raise FrontlasError("frontlas unavailable", outage[-1])
        return info("a")

    cluster, lookups = cluster_with(a, frontlas=frontlas)
    assert await cluster.open_stream(5) is streams[0]
    assert await cluster.open_stream(5) is streams[1]
    assert lookups == [5, 5]
    outage.append(None)  # unreachable
    assert await cluster.open_stream(5) is streams[2]  # the cached route serves
    outage.append(400)  # a bad request is not an outage: raised
    with pytest.raises(FrontlasError):
        await cluster.open_stream(5)


async def test_frontlas_errors_without_a_route_are_raised() -> None:
    def frontlas(edge_id: int) -> FrontierInfo:
        raise FrontlasError("redis unavailable", 503)

    cluster, _ = cluster_with(ScriptedService("a"), frontlas=frontlas)
    with pytest.raises(FrontlasError) as caught:
        await cluster.call(5, "m")
    assert caught.value.status == 503


async def test_edge_ids_must_fit_in_64_bits() -> None:
    cluster, _ = cluster_with(ScriptedService("a"))
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="64 bits"):
            await cluster.call(bad, "m")
        with pytest.raises(ValueError, match="64 bits"):
            await cluster.open_stream(bad)


async def test_a_lost_frontier_forgets_its_routes() -> None:
    cluster, _ = cluster_with(ScriptedService("a"), ScriptedService("b"))
    cluster._routes.put(1, "a")
    cluster._routes.put(2, "a")
    cluster._routes.put(3, "b")
    cluster._lost("a")
    assert (cluster._routes.get(1), cluster._routes.get(2), cluster._routes.get(3)) == (
        None,
        None,
        "b",
    )


async def test_registrations_reach_present_services_and_are_remembered() -> None:
    a = ScriptedService("a")
    cluster, _ = cluster_with(a)
    await cluster.register("echo", lambda request: b"")
    await cluster.register("echo", lambda request: b"again")  # replaces, as in Service
    assert a.registered == ["echo", "echo"]
    assert list(cluster._registrations) == ["echo"]


# ---------------------------------------------------------------------- lifecycle


async def test_operations_before_start_and_after_close() -> None:
    cluster = ClusterService("frontlas:40011")
    with pytest.raises(ConnectionClosedError, match="not started"):
        await cluster.call(1, "m")
    with pytest.raises(ConnectionClosedError, match="not started"):
        await cluster.receive()
    await cluster.close()
    await cluster.close()  # twice is fine
    for operation in (cluster.receive, cluster.accept_stream, cluster.start):
        with pytest.raises(ConnectionClosedError):
            await operation()
    with pytest.raises(ConnectionClosedError):
        await cluster.publish(1, b"x")
    assert cluster.frontiers == []
