"""A gateway that stops answering without closing: real `frontier` processes, one of them
SIGSTOPped (its sockets stay open, its kernel still takes some bytes, nothing is answered).

- Edges, services and a `ClusterService` notice within their peer timeout, drop the
  connection and fail over (edges to their next address, the cluster service's routes to
  the frontier that now holds the edge).
- Every operation with a timeout ends with `OperationTimeout` within it, whatever the
  transport does: with the stopped gateway's socket buffers full (a paused reader) and
  while waiting for a reconnect that cannot happen.

tests/partition runs the same against blackholed links in network namespaces.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from frontier.geminio.aio import OperationTimeout, RetryingClient
from frontier.sdk import Backoff, ClusterService, Edge, Request, Service
from support.fake_frontlas import FakeFrontlas
from support.frontier_process import FrontierProcess, frontier_process
from support.gateway import until

pytestmark = pytest.mark.integration

PEER_TIMEOUT = 2.0
DETECTION_BOUND = PEER_TIMEOUT + 8.0
"""Seconds from SIGSTOP until a client has given the gateway up and is connected elsewhere:
the peer timeout, a redial (backoff up to 0.2 s) and room for a loaded machine."""
SLACK = 1.0
"""How late an operation may end after its own timeout (a loaded 2-core machine)."""
FAST = Backoff(initial=0.05, maximum=0.2)


@pytest.fixture
async def gateways(tmp_path: Path) -> AsyncIterator[tuple[FrontierProcess, FrontierProcess]]:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            frontier_process(tmp_path, edgebound={"honour_wanted_id": True})
        )
        b = await stack.enter_async_context(
            frontier_process(tmp_path, edgebound={"honour_wanted_id": True})
        )
        try:
            yield a, b
        finally:
            for gateway in (a, b):  # a stopped process cannot be killed cleanly otherwise
                if gateway.process.returncode is None:
                    os.kill(gateway.pid, signal.SIGCONT)


def _addr(port: int) -> str:
    return f"127.0.0.1:{port}"


async def _where(whoami: Callable[[Request], bytes], edge: Edge) -> None:
    await edge.register("whoami", whoami)


async def _timed(operation: Awaitable[Any]) -> float:
    """Seconds until `operation` raised `OperationTimeout` (anything else fails)."""
    started = time.monotonic()
    with pytest.raises(OperationTimeout):
        await operation
    return time.monotonic() - started


async def test_edges_and_services_give_up_a_stopped_gateway_and_fail_over(
    gateways: tuple[FrontierProcess, FrontierProcess],
) -> None:
    a, b = gateways
    edge = Edge(
        [_addr(a.edgebound), _addr(b.edgebound)],
        edge_id=7,
        backoff=FAST,
        peer_timeout=PEER_TIMEOUT,
    )
    await edge.register("whoami", lambda request: b"edge 7")
    service_a = Service(_addr(a.servicebound), backoff=FAST, peer_timeout=PEER_TIMEOUT)
    service_b = Service(_addr(b.servicebound), backoff=FAST, peer_timeout=PEER_TIMEOUT)
    async with edge, service_a, service_b:
        assert edge.end is not None
        assert edge.end.get_extra_info("peername")[1] == a.edgebound
        assert await service_a.call(7, "whoami", timeout=5) == b"edge 7"

        os.kill(a.pid, signal.SIGSTOP)
        stopped = time.monotonic()

        def edge_on_b() -> bool:
            end = edge.end
            return end is not None and end.get_extra_info("peername")[1] == b.edgebound

        await until(edge_on_b, DETECTION_BOUND, "the edge to fail over to b")
        edge_moved = time.monotonic() - stopped
        await until(lambda: not service_a.online, DETECTION_BOUND, "the service to give a up")
        service_noticed = time.monotonic() - stopped
        assert await service_b.call(7, "whoami", timeout=5) == b"edge 7"
        print(f"edge on b {edge_moved:.2f} s, service off a {service_noticed:.2f} s after SIGSTOP")
        # the peer timeout, not something else, ended them: not before it ran out
        assert edge_moved >= PEER_TIMEOUT * 0.9
        assert service_noticed >= PEER_TIMEOUT * 0.9

        # a reconnect to a stopped gateway never completes: waiting for it is bounded too
        for timeout in (0.5, 1.0):
            took = await _timed(service_a.call(7, "whoami", timeout=timeout))
            assert timeout * 0.9 <= took <= timeout + SLACK
        assert timeout * 0.9 <= await _timed(service_a.publish(7, b"x", timeout=1.0))
        assert await _timed(service_a.open_stream(7, timeout=1.0)) <= 1.0 + SLACK
        os.kill(a.pid, signal.SIGCONT)


async def test_every_deadline_holds_against_a_paused_reader(
    gateways: tuple[FrontierProcess, FrontierProcess],
) -> None:
    """Peer timeouts off, so the connections stay up to a gateway that reads nothing: the
    first big publish fills the socket buffers and pauses the transport, and from then on
    every operation must still end at its own timeout, whether it waits for the
    transport, for an answer or for an open."""
    a, _ = gateways
    edge = Edge(_addr(a.edgebound), edge_id=9, peer_timeout=0, accept_streams=True)
    service = Service(_addr(a.servicebound), name="svc", topics=["t"], peer_timeout=0)
    retrying = RetryingClient("127.0.0.1", a.edgebound, client_id=10, backoff=FAST)
    retrying.start()
    async with edge, service:
        await retrying.wait_online(5)
        os.kill(a.pid, signal.SIGSTOP)
        big = b"x" * (4 << 20)
        for client in (service, edge):
            end = client.end
            assert end is not None
            assert end.protocol is not None
            for _ in range(4):  # until both ends' socket buffers are full
                if end.protocol.writing_paused:
                    break
                publish = (
                    service.publish(9, big, timeout=1.0)
                    if client is service
                    else edge.publish("t", big, timeout=1.0)
                )
                assert await _timed(publish) <= 1.0 + SLACK
            assert end.protocol.writing_paused
            assert end.online  # no peer timeout: still "connected"
        operations: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("Service.call", lambda: service.call(9, "m", timeout=0.5)),
            ("Service.publish", lambda: service.publish(9, b"x", timeout=0.5)),
            ("Service.open_stream", lambda: service.open_stream(9, timeout=0.5)),
            ("Edge.call", lambda: edge.call("m", timeout=0.5)),
            ("Edge.publish", lambda: edge.publish("t", b"x", timeout=0.5)),
            ("Edge.open_stream", lambda: edge.open_stream("svc", timeout=0.5)),
            ("RetryingClient.call", lambda: retrying.call("m", timeout=0.5)),
            ("RetryingClient.publish", lambda: retrying.publish(b"x", timeout=0.5)),
            ("RetryingClient.open_stream", lambda: retrying.open_stream(timeout=0.5)),
        ]
        for name, operation in operations:
            took = await _timed(operation())
            assert took <= 0.5 + SLACK, f"{name} took {took:.2f} s"
        os.kill(a.pid, signal.SIGCONT)
    await retrying.close()


async def test_retrying_client_deadlines_cover_the_wait_for_a_connection() -> None:
    from support.ports import free_port

    client = RetryingClient("127.0.0.1", free_port(), backoff=FAST)  # nothing listens
    client.start()
    try:
        for operation in (
            client.call("m", timeout=0.5),
            client.publish(b"x", timeout=0.5),
            client.open_stream(timeout=0.5),
            client.wait_online(0.5),
        ):
            assert 0.45 <= await _timed(operation) <= 0.5 + SLACK
    finally:
        await client.close()


async def test_a_cluster_service_leaves_a_stopped_frontier_and_reaches_the_edge_again(
    gateways: tuple[FrontierProcess, FrontierProcess],
) -> None:
    """The frontier holding an edge is SIGSTOPped: the edge fails over to the other one,
    the cluster service's connection to the stopped one times out (its routes are
    forgotten), and calls reach the edge again; no call outlives its timeout meanwhile."""
    a, b = gateways
    async with FakeFrontlas() as frontlas:
        frontlas.add("a", a.servicebound, a.edgebound)
        frontlas.add("b", b.servicebound, b.edgebound)
        edge = Edge(
            [_addr(a.edgebound), _addr(b.edgebound)],
            edge_id=7,
            backoff=FAST,
            peer_timeout=PEER_TIMEOUT,
        )
        await edge.register("whoami", lambda request: b"edge 7")
        cluster = ClusterService(
            frontlas.addr, backoff=FAST, peer_timeout=PEER_TIMEOUT, refresh_interval=0.5
        )
        async with edge, cluster:
            frontlas.edges[7] = "a"
            assert await cluster.call(7, "whoami", timeout=5) == b"edge 7"
            os.kill(a.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            longest = 0.0
            reached = False
            while time.monotonic() - stopped < DETECTION_BOUND + 5:
                if edge.end is not None and edge.end.get_extra_info("peername")[1] == b.edgebound:
                    frontlas.edges[7] = "b"  # what b's presence report tells frontlas
                started = time.monotonic()
                try:
                    reply = await cluster.call(7, "whoami", timeout=1.0)
                except (OperationTimeout, ConnectionError) as exc:
                    longest = max(longest, time.monotonic() - started)
                    print(f"{time.monotonic() - stopped:.2f} s: {type(exc).__name__}")
                    await asyncio.sleep(0.1)
                    continue
                longest = max(longest, time.monotonic() - started)
                if reply == b"edge 7":
                    reached = True
                    break
            failover = time.monotonic() - stopped
            print(f"cluster call reached the edge again {failover:.2f} s after SIGSTOP")
            assert reached, "the edge was not reached again"
            assert longest <= 1.0 + SLACK, f"a call took {longest:.2f} s with timeout=1"
            await until(lambda: cluster.frontiers == ["b"], DETECTION_BOUND, "a given up")
            os.kill(a.pid, signal.SIGCONT)
            await until(lambda: cluster.frontiers == ["a", "b"], DETECTION_BOUND, "a back")
