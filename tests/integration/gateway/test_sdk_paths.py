"""The Service and Edge SDKs through a real in-process gateway, on loopback.

Every data path both ways (messages, RPC, streams with raw bytes, messages and RPC on
them), the exact texts of offline targets, topic routing across services, the presence
hooks, reconnecting after a kick, and an edge failing over between gateways. Waits on
events; where only the gateway's registry can tell, polls it with a deadline (`until`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from frontier.gateway import Gateway
from frontier.sdk import (
    Backoff,
    ConnectionClosedError,
    ConnectRejected,
    Edge,
    EdgePresence,
    PublishRejected,
    Request,
    RPCError,
    Service,
    ServiceMessage,
    ServiceRequest,
    Stream,
    stream_edge_id,
)
from support.gateway import gateway_config, until
from support.websocket import clear_proxy_env

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.01, maximum=0.05)


WEBSOCKET = {"websocket": {"enable": True, "listen": {"addr": "127.0.0.1:0"}}}


@pytest.fixture(params=["tcp", "websocket"])
async def gw(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    """A gateway; its edges come over TCP, or over WebSocket (the same tests, every path)."""
    if request.param == "tcp":
        config = gateway_config()
    else:
        clear_proxy_env(monkeypatch)
        config = gateway_config(edgebound={"listen": {"addr": "127.0.0.1:0"}, **WEBSOCKET})
    async with Gateway(config) as gateway:
        yield gateway


def sb(gw: Gateway) -> str:
    return f"127.0.0.1:{gw.servicebound_port}"


def eb(gw: Gateway) -> str:
    """Where edges connect: the WebSocket listener when the gateway has one."""
    if gw.websocket_port is not None:
        return f"ws://127.0.0.1:{gw.websocket_port}/"
    return f"127.0.0.1:{gw.edgebound_port}"


# ------------------------------------------------------------------- service -> edge


async def test_service_publishes_to_an_edge_acked_end_to_end(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service, Edge(eb(gw)) as edge:
        publish = asyncio.create_task(
            service.publish(edge.edge_id, b"to the edge", topic="news", custom=b"side")
        )
        message = await edge.receive()
        assert (message.data, message.topic) == (b"to the edge", "news")
        assert message.custom == b"side"  # the gateway took the edge-ID trailer off
        assert not publish.done()  # the service's ack waits for the edge's
        message.done()
        await publish

        # a nack travels back verbatim
        publish = asyncio.create_task(service.publish(edge.edge_id, b"again", topic="news"))
        message = await edge.receive()
        message.error("edge is full")
        with pytest.raises(PublishRejected) as caught:
            await publish
        assert caught.value.text == "edge is full"


async def test_service_calls_an_edge(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service, Edge(eb(gw)) as edge:
        seen: list[tuple[str, bytes, bytes]] = []

        async def add(request: Request) -> bytes:
            seen.append((request.method, request.data, request.custom))
            a, b = request.data.split(b"+")
            return str(int(a) + int(b)).encode()

        def broken(request: Request) -> bytes:
            raise RuntimeError("sensor unplugged")

        await edge.register("add", add)
        await edge.register("broken", broken)
        assert await service.call(edge.edge_id, "add", b"2+40", custom=b"c") == b"42"
        assert seen == [("add", b"2+40", b"c")]
        with pytest.raises(RPCError) as caught:
            await service.call(edge.edge_id, "broken")
        assert caught.value.text == "sensor unplugged"
        with pytest.raises(RPCError) as caught:
            await service.call(edge.edge_id, "missing")
        assert caught.value.text == "no such rpc: missing"


async def test_service_opens_a_stream_to_an_edge(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service, Edge(eb(gw)) as edge:
        mine = await service.open_stream(edge.edge_id, meta=b"hello")
        assert stream_edge_id(mine) == edge.edge_id
        theirs = await edge.accept_stream()
        assert theirs.peer == "svc"  # the edge sees the opener's service name
        assert theirs.meta == b"hello"

        # raw bytes both ways
        mine.write(b"ping")
        assert await theirs.readexactly(4) == b"ping"
        theirs.write(b"pong")
        assert await mine.readexactly(4) == b"pong"

        # messages both ways
        sent = asyncio.create_task(mine.publish(b"m1", topic="t1"))
        got = await theirs.receive()
        assert (got.data, got.topic) == (b"m1", "t1")
        got.done()
        await sent
        sent = asyncio.create_task(theirs.publish(b"m2", topic="t2"))
        got = await mine.receive()
        assert (got.data, got.topic) == (b"m2", "t2")
        got.done()
        await sent

        # RPC both ways
        async def edge_side(request: Request) -> bytes:
            return b"edge:" + request.data

        async def service_side(request: Request) -> bytes:
            return b"service:" + request.data

        await theirs.register("who", edge_side)
        await mine.register("who", service_side)
        assert await mine.call("who", b"1") == b"edge:1"
        assert await theirs.call("who", b"2") == b"service:2"

        # closing one half closes the other
        await mine.close()
        assert await asyncio.wait_for(theirs.read(), 5) == b""


# ------------------------------------------------------------------- edge -> service


async def test_edge_publishes_by_topic(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc", topics=["metrics"]) as service, Edge(eb(gw)) as edge:
        publish = asyncio.create_task(edge.publish("metrics", b"cpu=3", custom=b"c"))
        message = await service.receive()
        assert isinstance(message, ServiceMessage)
        assert message.edge_id == edge.edge_id
        assert (message.topic, message.data, message.custom) == ("metrics", b"cpu=3", b"c")
        assert not publish.done()
        message.done()
        await publish

        publish = asyncio.create_task(edge.publish("metrics", b"bad"))
        rejected = await service.receive()
        assert rejected.error("malformed") is True
        assert rejected.done() is False  # answered once only
        with pytest.raises(PublishRejected) as caught:
            await publish
        assert caught.value.text == "malformed"


async def test_edge_calls_a_service_method(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service, Edge(eb(gw)) as edge:
        seen: list[ServiceRequest] = []

        def whoami(request: ServiceRequest) -> bytes:
            seen.append(request)
            return str(request.edge_id).encode()

        await service.register("whoami", whoami)
        assert await edge.call("whoami", b"x", custom=b"c") == str(edge.edge_id).encode()
        (request,) = seen
        assert (request.method, request.data, request.custom) == ("whoami", b"x", b"c")
        assert request.edge_id == edge.edge_id


async def test_edge_opens_a_stream_by_service_name(gw: Gateway) -> None:
    async with (
        Service(sb(gw), name="files") as files,
        Service(sb(gw), name="other") as other,
        Edge(eb(gw)) as edge,
    ):
        mine = await edge.open_stream("files", meta=b"upload")
        theirs = await files.accept_stream()
        assert stream_edge_id(theirs) == edge.edge_id
        assert theirs.meta == b"upload"
        mine.write(b"data")
        assert await theirs.readexactly(4) == b"data"
        theirs.write(b"ok")
        assert await mine.readexactly(2) == b"ok"
        assert other.end is not None
        assert other.end.streams() == [other.end]  # nothing went to the other name


def pattern(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


async def test_large_stream_transfer_both_ways(gw: Gateway) -> None:
    size = 64 * 1024 * 1024
    chunk = 1024 * 1024
    up, down = pattern(1, size), pattern(2, size)

    async def send(stream: Stream, data: bytes) -> None:
        view = memoryview(data)
        for offset in range(0, len(data), chunk):
            stream.write(view[offset : offset + chunk])
            await stream.drain()

    async def digest(stream: Stream, n: int) -> str:
        sha = hashlib.sha256()
        missing = n
        while missing:
            part = await stream.read(min(missing, chunk))
            assert part, f"EOF with {missing} bytes missing"
            sha.update(part)
            missing -= len(part)
        return sha.hexdigest()

    async with Service(sb(gw), name="bulk") as service, Edge(eb(gw)) as edge:
        mine = await edge.open_stream("bulk")
        theirs = await service.accept_stream()
        _, _, at_service, at_edge = await asyncio.wait_for(
            asyncio.gather(
                send(mine, up), send(theirs, down), digest(theirs, size), digest(mine, size)
            ),
            timeout=240,
        )
        assert at_service == hashlib.sha256(up).hexdigest()
        assert at_edge == hashlib.sha256(down).hexdigest()


# --------------------------------------------------------------------- offline targets


async def test_offline_targets_fail_at_once_with_the_exact_text(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc", topics=["mine"]) as service, Edge(eb(gw)) as edge:
        unknown = edge.edge_id + 1000
        started = time.monotonic()
        with pytest.raises(RPCError) as rpc:
            await service.call(unknown, "anything", timeout=10)
        assert rpc.value.text == "edge not online"
        with pytest.raises(PublishRejected) as pub:
            await service.publish(unknown, b"x", timeout=10)
        assert pub.value.text == "edge not online"
        with pytest.raises(RPCError) as rpc:
            await edge.call("nobody_serves_this", timeout=10)
        assert rpc.value.text == "rpc not online"
        with pytest.raises(PublishRejected) as pub:
            await edge.publish("unclaimed", b"x", timeout=10)
        assert pub.value.text == "topic not online"
        # answered by the gateway: none of the 10 s timeouts ran out
        assert time.monotonic() - started < 8

        lost = await edge.open_stream("no-such-service")
        assert await asyncio.wait_for(lost.read(), 5) == b""
        assert lost.at_eof()
        lost = await service.open_stream(unknown)
        assert await asyncio.wait_for(lost.read(), 5) == b""
        assert time.monotonic() - started < 9


# --------------------------------------------------------------------- topic routing


async def test_topics_go_to_the_services_that_claimed_them(gw: Gateway) -> None:
    received: dict[str, list[tuple[str, bytes, int]]] = {"a": [], "b": [], "any": []}

    async def collect(service: Service, key: str) -> None:
        while True:
            message = await service.receive()
            received[key].append((message.topic, message.data, message.edge_id))
            message.done()

    async with (
        Service(sb(gw), name="a", topics=["alpha", "shared-a"]) as a,
        Service(sb(gw), name="b", topics=["beta"]) as b,
        Service(sb(gw), name="any", topics=["*"]) as wildcard,
        Edge(eb(gw)) as edge,
    ):
        collectors = [
            asyncio.create_task(collect(service, key))
            for service, key in ((a, "a"), (b, "b"), (wildcard, "any"))
        ]
        for topic in ("alpha", "beta", "gamma", "shared-a", "beta", "delta"):
            await edge.publish(topic, topic.encode())  # returns once the receiver acked
        for task in collectors:
            task.cancel()
        me = edge.edge_id
        assert received["a"] == [("alpha", b"alpha", me), ("shared-a", b"shared-a", me)]
        assert received["b"] == [("beta", b"beta", me), ("beta", b"beta", me)]
        assert received["any"] == [("gamma", b"gamma", me), ("delta", b"delta", me)]


# ------------------------------------------------------------------------ hooks


async def test_presence_hooks_and_edge_ids_from_meta(gw: Gateway) -> None:
    events: asyncio.Queue[tuple[str, EdgePresence]] = asyncio.Queue()

    async def edge_id_of(meta: bytes) -> int:
        return int(meta.removeprefix(b"dev-"))

    def online(presence: EdgePresence) -> None:
        if presence.meta == b"dev-666":
            raise PermissionError("device 666 is banned")
        events.put_nowait(("online", presence))

    service = Service(sb(gw), name="auth")
    await service.on_get_edge_id(edge_id_of)  # before start: in place once connected
    await service.on_edge_online(online)
    await service.on_edge_offline(lambda presence: events.put_nowait(("offline", presence)))
    async with service:
        async with Edge(eb(gw), meta=b"dev-4242") as edge:
            assert edge.edge_id == 4242
            kind, presence = await events.get()
            assert (kind, presence.edge_id, presence.meta) == ("online", 4242, b"dev-4242")
            assert presence.addr.startswith("127.0.0.1:")
        kind, presence = await events.get()
        assert (kind, presence.edge_id) == ("offline", 4242)

        with pytest.raises(ConnectRejected) as caught:
            async with Edge(eb(gw), meta=b"dev-666", reconnect=True):
                pass
        assert caught.value.text == "device 666 is banned"
        assert 666 not in gw.registry.edges


# --------------------------------------------------------------------- reconnecting


async def test_service_reconnects_after_a_kick_and_serves_again(gw: Gateway) -> None:
    service = Service(sb(gw), name="svc", topics=["t"], backoff=FAST)
    await service.register("echo", lambda request: b"echo:" + request.data)
    joined: asyncio.Queue[int] = asyncio.Queue()
    await service.on_edge_online(lambda presence: joined.put_nowait(presence.edge_id))
    async with service, Edge(eb(gw)) as edge:
        assert await joined.get() == edge.edge_id
        assert await edge.call("echo", b"1") == b"echo:1"
        receiving = asyncio.create_task(service.receive())  # pending across the kick

        first_id = service.service_id
        gw.registry.services[first_id].end.abort()
        await until(
            lambda: (
                service.reconnects == 1
                and service.online
                and bool(gw.registry.services_for_method("echo"))
            ),
            what="the service back with its RPCs",
        )
        assert await edge.call("echo", b"2") == b"echo:2"
        publish = asyncio.create_task(edge.publish("t", b"after"))
        message = await asyncio.wait_for(receiving, 5)  # called before the kick
        assert (message.data, message.edge_id) == (b"after", edge.edge_id)
        message.done()
        await publish
        # hooks were re-registered too
        async with Edge(eb(gw)) as second:
            assert await joined.get() == second.edge_id


async def test_service_without_reconnect_fails_for_good(gw: Gateway) -> None:
    async with Service(sb(gw), name="once", reconnect=False) as service:
        receiving = asyncio.create_task(service.receive())
        gw.registry.services[service.service_id].end.abort()
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(receiving, 5)
        assert not service.online
        with pytest.raises(ConnectionClosedError):
            await service.call(1, "m")


async def test_edge_reconnects_after_a_kick(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service:
        edge = Edge(eb(gw), meta=b"e", backoff=FAST)
        await edge.register("ping", lambda request: b"pong")
        async with edge:
            first = edge.edge_id
            gw.registry.edges[first].end.abort()
            await until(lambda: edge.reconnects == 1 and edge.online, what="edge back")
            await until(lambda: edge.edge_id in gw.registry.edges, what="edge registered")
            assert await service.call(edge.edge_id, "ping") == b"pong"


async def test_edge_fails_over_between_gateways() -> None:
    async with Gateway(gateway_config()) as one, Gateway(gateway_config()) as two:
        # a dead address first: the first connection tries the next one
        with socket_port() as dead:
            edge = Edge([f"127.0.0.1:{dead}", eb(one), eb(two)], backoff=FAST)
            async with edge:
                await until(lambda: len(one.registry.edges) == 1, what="edge on gateway one")
                assert not two.registry.edges
                await one.close()  # gateway one goes away: the edge moves on to two
                await until(lambda: len(two.registry.edges) == 1, what="edge on gateway two")
                async with Service(sb(two), name="svc") as service:
                    await edge.register("where", lambda request: b"two")
                    assert await service.call(edge.edge_id, "where") == b"two"


async def test_first_connection_failure_is_raised() -> None:
    with socket_port() as dead:
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            async with Edge([f"127.0.0.1:{dead}", ("127.0.0.1", dead)], backoff=FAST):
                pass
        with pytest.raises(ConnectionRefusedError):
            async with Service(f"127.0.0.1:{dead}", reconnect=False):
                pass
        assert time.monotonic() - started < 5


async def test_close_while_starting_ends_start(gw: Gateway) -> None:
    """An edge waiting for its ConnAck (the gateway is still asking the edge_online hook)
    can be closed: start() raises instead of hanging, and nothing stays connected."""
    hook_called = asyncio.Event()
    release = asyncio.Event()

    async def slow_online(presence: EdgePresence) -> None:
        hook_called.set()
        await release.wait()

    async with Service(sb(gw), name="auth") as service:
        await service.on_edge_online(slow_online)
        for reconnect in (True, False):
            hook_called.clear()
            edge = Edge(eb(gw), reconnect=reconnect, backoff=FAST)
            starting = asyncio.create_task(edge.start())
            await asyncio.wait_for(hook_called.wait(), 5)
            await asyncio.wait_for(edge.close(), 5)
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(starting, 5)
            assert not edge.online
        release.set()
        await until(lambda: not gw.registry.edges, what="no edge left")


async def test_operations_wait_for_the_first_connection(gw: Gateway) -> None:
    async with Service(sb(gw), name="svc") as service:
        await service.register("hi", lambda request: b"hi")
        for reconnect in (True, False):
            edge = Edge(eb(gw), reconnect=reconnect)
            starting = asyncio.create_task(edge.start())
            await asyncio.sleep(0)  # one loop turn: start() is under way, not finished
            assert not edge.online
            calling = asyncio.create_task(edge.call("hi"))
            await starting
            assert await asyncio.wait_for(calling, 5) == b"hi"
            await edge.close()

    with socket_port() as dead:
        for reconnect in (True, False):
            edge = Edge(f"127.0.0.1:{dead}", reconnect=reconnect, backoff=FAST)
            starting = asyncio.create_task(edge.start())
            await asyncio.sleep(0)
            calling = asyncio.create_task(edge.call("hi"))
            with pytest.raises(ConnectionRefusedError):
                await starting
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(calling, 5)


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    """A loopback port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port
