"""The Service SDK: a backend that serves edges through a frontier gateway.

A service holds one geminio connection to the gateway's servicebound port. It names edges
by ID: every call, publish or stream it starts carries the target edge ID (the 8-byte
trailer on `custom`, or the stream's decimal ``peer``), and whatever an edge sends it
arrives with the source edge ID the same way. This module hides both conventions (from
`frontier.conventions`, shared with the gateway) behind `edge_id` arguments and attributes.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable

from ..conventions import (
    MAX_EDGE_ID,
    RPC_EDGE_OFFLINE,
    RPC_EDGE_ONLINE,
    RPC_EDGE_READY,
    RPC_GET_EDGE_ID,
    EdgePresence,
    ServiceMeta,
    append_edge_id,
    encode_edge_id,
    split_edge_id,
)
from ..geminio.aio import Backoff, End, Handler, Message, Request, Stream
from ..geminio.aio.client import is_websocket_url
from ._base import Addresses, ClientBase, Reply, maybe_await, to_bytes

__all__ = [
    "EdgeIdHook",
    "PresenceHook",
    "Service",
    "ServiceHandler",
    "ServiceMessage",
    "ServiceRequest",
    "get_edge_id_handler",
    "presence_handler",
    "service_handler",
    "stream_edge_id",
    "strip_edge_id",
]


def strip_edge_id(custom: bytes) -> tuple[bytes, int]:
    """(custom without the edge-ID trailer, edge ID). Without a trailer (under 8 bytes,
    e.g. a peer that is not a frontier gateway) the custom is kept and the ID is 0, as in
    Go's service SDK."""
    if len(custom) < 8:
        return custom, 0
    return split_edge_id(custom)


def stream_edge_id(stream: Stream) -> int | None:
    """The edge at the far end of a service's stream (its ``peer`` is the decimal edge ID,
    both for streams an edge opened to us and for those we opened); None if the peer is
    not an edge ID."""
    peer = stream.peer
    if not peer.isascii() or not peer.isdigit():
        return None
    edge_id = int(peer)
    return edge_id if edge_id <= MAX_EDGE_ID else None


class ServiceRequest:
    """An edge's call to one of our methods: what a `Service.register` handler receives."""

    __slots__ = ("custom", "edge_id", "raw")

    def __init__(self, raw: Request) -> None:
        self.raw = raw
        """The geminio request as received (its `custom` still has the trailer)."""
        self.custom, self.edge_id = strip_edge_id(raw.custom)

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def data(self) -> bytes:
        return self.raw.data

    def __repr__(self) -> str:
        return f"<ServiceRequest {self.method!r} from edge {self.edge_id} {len(self.data)} bytes>"


class ServiceMessage:
    """A message an edge published on one of our topics. Answer it once: `done()` acks,
    `error(text)` nacks; the edge's `publish` waits for that answer (and raises
    `PublishRejected(text)` on a nack)."""

    __slots__ = ("custom", "edge_id", "raw")

    def __init__(self, raw: Message) -> None:
        self.raw = raw
        self.custom, self.edge_id = strip_edge_id(raw.custom)

    @property
    def data(self) -> bytes:
        return self.raw.data

    @property
    def topic(self) -> str:
        return self.raw.topic

    def done(self) -> bool:
        """Ack. False if already answered or the connection is gone."""
        return self.raw.done()

    def error(self, text: str) -> bool:
        """Nack with `text`, which the publishing edge receives verbatim."""
        return self.raw.error(text)

    def __repr__(self) -> str:
        return (
            f"<ServiceMessage topic={self.topic!r} from edge {self.edge_id} {len(self.data)} bytes>"
        )


ServiceHandler = Callable[[ServiceRequest], Reply | Awaitable[Reply]]
"""A service RPC handler, plain or async: returns the response data (None: empty);
raising sends ``str(exc)`` back to the calling edge as the error text."""
EdgeIdHook = Callable[[bytes], int | Awaitable[int]]
PresenceHook = Callable[[EdgePresence], object]


def service_handler(fn: ServiceHandler) -> Handler:
    """Adapt a `ServiceHandler` to geminio's handler (strip the trailer, await if needed)."""

    async def handle(request: Request) -> bytes:
        return to_bytes(await maybe_await(fn(ServiceRequest(request))))

    return handle


def get_edge_id_handler(fn: EdgeIdHook) -> Handler:
    """The `get_edge_id` RPC: the gateway sends a connecting edge's meta and expects its ID
    as 8 bytes big-endian (0: let the gateway pick). Raising rejects the edge."""

    async def handle(request: Request) -> bytes:
        edge_id = await maybe_await(fn(request.data))
        if isinstance(edge_id, bool) or not isinstance(edge_id, int):
            raise TypeError(f"get_edge_id hook returned {type(edge_id).__name__}, not int")
        return encode_edge_id(edge_id)

    return handle


def presence_handler(fn: PresenceHook) -> Handler:
    """The `edge_online` / `edge_offline` RPC: decode the presence JSON and call `fn`.
    For `edge_online`, raising rejects the edge with the exception's text (the gateway
    passes it on to the edge in its ConnAck): this is where edges are authenticated."""

    async def handle(request: Request) -> bytes:
        await maybe_await(fn(EdgePresence.decode(request.data)))
        return b""

    return handle


class Service(ClientBase):
    """A frontier service: call, publish to and stream with edges; serve their calls,
    messages and streams; optionally assign edge IDs and authenticate edges.

    ``addr`` is the gateway's servicebound address (``"host:port"`` or ``(host, port)``).
    ``name`` is what edges open streams to; ``topics`` are the message topics this service
    receives (``"*"``: every topic no other service claims). Both are sent once, in the
    connection meta, so they are fixed for the life of the object.

    ``service_id`` asks for a fixed ID (0: the gateway picks one, and a reconnect gets a
    new one). ``reconnect`` (default True) redials after losing the gateway, with
    ``backoff`` between attempts, and re-registers every RPC and hook on the new
    connection; what was in flight fails with `ConnectionClosedError` and is not retried
    (a publish may have been delivered). With ``reconnect=False`` the first loss is final.
    ``heartbeat`` is the advertised interval in seconds (5, 20, 80 or 320): the gateway
    drops a service that is silent for twice as long. ``peer_timeout`` is the other
    direction: a gateway we hear nothing from for that many seconds (stopped, cut off by a
    partition that drops packets without a reset) is given up and redialed (default
    2.5 x ``heartbeat``, 50 s; after half of it in silence a heartbeat probes the gateway;
    0 turns the check off, as Go's SDK has it).

    ``start_retry`` (seconds) makes `start()` retry a failing first connection for that
    long instead of raising at once (see `start`). ``token`` is the gateway's
    ``servicebound.token``, when it requires one. Streams edges
    open to our ``name`` are refused (the edge's stream ends at once) until the first
    `accept_stream()` call, unless ``accept_streams=True``: nobody would take them.

    Use ``async with Service(...) as service:`` or `start()` / `close()`.
    """

    def __init__(
        self,
        addr: Addresses,
        *,
        name: str = "",
        topics: Iterable[str] = (),
        service_id: int = 0,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        heartbeat: int = 20,
        peer_timeout: float | None = None,
        token: str = "",
        accept_streams: bool = False,
        start_retry: float | None = None,
    ) -> None:
        if isinstance(topics, str):
            raise TypeError("topics must be an iterable of strings, not a string")
        self.name = name
        self.topics = tuple(dict.fromkeys(topics))
        if any(is_websocket_url(a) for a in ([addr] if isinstance(addr, str) else addr)):
            raise ValueError("services connect over TCP: WebSocket addresses are for edges")
        super().__init__(
            addr,
            meta=ServiceMeta(name, self.topics, token).encode(),
            client_id=service_id,
            ssl=ssl,
            server_hostname=server_hostname,
            reconnect=reconnect,
            backoff=backoff,
            heartbeat=heartbeat,
            peer_timeout=peer_timeout,
            accept_streams=accept_streams,
            start_retry=start_retry,
        )
        self._last_id = service_id

    @property
    def service_id(self) -> int:
        """The ID the gateway gave this connection (the last one while reconnecting; 0
        before the first connection unless a fixed ``service_id`` was asked for)."""
        end = self._end
        return end.client_id if end is not None else self._last_id

    # ------------------------------------------------------------------- to an edge

    async def call(
        self,
        edge_id: int,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the call's deadline goes on the wire
    ) -> bytes:
        """Call `method` on edge `edge_id` and return its result.

        Raises `RPCError` with the edge's error text, or the gateway's: ``"edge not
        online"`` if no such edge is connected, ``"no such rpc: <method>"``-like texts if
        the edge does not serve `method`. `timeout` bounds the call (and any wait for a
        reconnect before it); the gateway also gives up after its own forward timeout.
        """
        trailer = append_edge_id(custom, edge_id)

        async def call(end: End, left: float | None) -> bytes:
            return await end.call(method, data, custom=trailer, timeout=left)

        return await self._operate(timeout, call)

    async def publish(
        self,
        edge_id: int,
        data: bytes,
        *,
        topic: str = "",
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the deadline goes on the wire
    ) -> None:
        """Send a message to edge `edge_id`; returns once the edge acked it (the gateway
        waits for the edge before acking us). A nack raises `PublishRejected` with the
        edge's text, or ``"edge not online"``."""
        trailer = append_edge_id(custom, edge_id)

        async def publish(end: End, left: float | None) -> None:
            await end.publish(data, topic=topic, custom=trailer, timeout=left)

        await self._operate(timeout, publish)

    async def open_stream(
        self,
        edge_id: int,
        *,
        meta: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the open is forgotten on expiry
    ) -> Stream:
        """Open a stream to edge `edge_id`: raw bytes, messages and RPC both ways. If the
        edge is not online the gateway closes the stream at once (reads see EOF).
        `timeout` bounds the wait for a connection and the open (`OperationTimeout`);
        without it the open itself gives up after 30 s."""
        if not 0 <= edge_id <= MAX_EDGE_ID:
            raise ValueError(f"edge ID {edge_id} does not fit in 64 bits")
        started = asyncio.get_running_loop().time()
        end = await self._wait_end(timeout)
        return await end.open_stream(meta, str(edge_id), timeout=self._remaining(timeout, started))

    # ----------------------------------------------------------------- from edges

    async def register(self, method: str, handler: ServiceHandler) -> None:
        """Serve `method` to edges (and keep serving it after reconnects). Allowed before
        `start()`: the method is then registered as part of connecting."""
        await self._register(method, service_handler(handler))

    async def receive(self) -> ServiceMessage:
        """The next message an edge published on one of our topics (answer it with
        `done()` or `error()`). Waits across reconnects; `ConnectionClosedError` once the
        service is closed (or its only connection is lost, with ``reconnect=False``)."""
        return ServiceMessage(await self._receive())

    async def accept_stream(self) -> Stream:
        """The next stream an edge opened to this service's name; `stream_edge_id(stream)`
        tells which edge. Waits across reconnects like `receive()`. The first call opts in
        to streams (refused until then, unless ``accept_streams=True``); at most 64 wait
        for it, more are refused rather than queued."""
        return await self._accept()

    # ------------------------------------------------------------ gateway hooks

    async def on_get_edge_id(self, fn: EdgeIdHook) -> None:
        """Let this service choose the ID of each connecting edge: ``fn(meta) -> int``
        (plain or async; 0 lets the gateway pick; raising rejects the edge). IDs derived
        from meta stay stable across an edge's reconnects."""
        await self._register(RPC_GET_EDGE_ID, get_edge_id_handler(fn))

    async def on_edge_online(self, fn: PresenceHook) -> None:
        """Be told of each edge that comes online: ``fn(EdgePresence)``, plain or async.
        Raising rejects the edge, which sees the exception's text (authentication).
        The gateway tells only one of the services that registered this hook.

        It runs while the gateway decides, so the edge is not reachable yet: to call or
        publish to a new edge, use `on_edge_ready`."""
        await self._register(RPC_EDGE_ONLINE, presence_handler(fn))

    async def on_edge_ready(self, fn: PresenceHook) -> None:
        """Be told of each edge once the gateway accepted it and routes to it:
        ``fn(EdgePresence)``, plain or async, after `on_edge_online` said yes. A call or
        publish to the edge from here reaches it (an edge SDK serves the methods it
        registered before connecting from its first moment online). What `fn` raises
        changes nothing. As for the other presence hooks, the gateway tells one of the
        services that registered it (``exchange.presence_hooks: all``: each). Ours: a Go
        frontier never sends it."""
        await self._register(RPC_EDGE_READY, presence_handler(fn))

    async def on_edge_offline(self, fn: PresenceHook) -> None:
        """Be told of each edge that went offline: ``fn(EdgePresence)``, plain or async."""
        await self._register(RPC_EDGE_OFFLINE, presence_handler(fn))

    def __repr__(self) -> str:
        state = "online" if self.online else "offline"
        return f"<Service {self.name!r} id={self.service_id} {state}>"
