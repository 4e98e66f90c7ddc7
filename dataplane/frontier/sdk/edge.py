"""The Edge SDK: a device, agent or client that reaches services through a frontier gateway.

An edge never names a service instance: it publishes by topic, calls by method name and
opens streams by service name, and the gateway picks a service that claimed it. Services
reach the edge by the edge ID the gateway assigned (see `Edge.edge_id`).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Awaitable, Callable

from ..geminio.aio import Backoff, End, Handler, Message, Request, Stream
from ._base import Addresses, ClientBase, Reply, maybe_await, to_bytes

__all__ = ["Edge", "EdgeHandler", "edge_handler"]

EdgeHandler = Callable[[Request], Reply | Awaitable[Reply]]
"""An edge RPC handler, plain or async: it gets the geminio `Request` (`method`, `data`,
`custom`) and returns the response data (None: empty); raising sends ``str(exc)`` back to
the calling service as the error text."""


def edge_handler(fn: EdgeHandler) -> Handler:
    """Adapt an `EdgeHandler` (plain or async) to geminio's handler."""

    async def handle(request: Request) -> bytes:
        return to_bytes(await maybe_await(fn(request)))

    return handle


class Edge(ClientBase):
    """A frontier edge: call, publish to and stream with services; serve their calls,
    messages and streams.

    ``addr`` is the gateway's edgebound address (``"host:port"`` or ``(host, port)``), or
    its WebSocket listener's URL (``"wss://gw.example.com/geminio"``, ``ws://`` without
    TLS; dialed through the HTTP proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name, unless
    ``NO_PROXY`` exempts the host), or a list of them, kinds mixed as needed: the edge
    then fails over between gateways, trying the next address on each (re)connect, round
    robin. ``ssl`` is used for TLS on TCP and for ``wss://`` (default for ``wss://``: the
    system's trust store). ``proxy`` overrides the environment for WebSocket addresses: an
    ``http://[user:pass@]host:port`` proxy URL, or False to dial directly. ``meta`` is
    opaque bytes the gateway hands to the services' `get_edge_id` / `edge_online` hooks
    (an ID, a token, ...).

    ``edge_id`` is the ID asked for; gateways ignore it (the ID comes from a service's
    `get_edge_id` hook or the gateway's own counter) unless configured to trust clients
    (``edgebound.honour_wanted_id``). ``reconnect``, ``backoff``, ``heartbeat`` and
    ``peer_timeout`` (how long a silent gateway is trusted before the edge redials it or
    the next address; default 2.5 x ``heartbeat``) are as for `Service`; after a reconnect
    the gateway may assign a different ID unless a `get_edge_id` hook derives it from
    ``meta``. Streams services open to this edge are refused until the first
    `accept_stream()` call, unless ``accept_streams=True``. ``start_retry`` (seconds)
    makes `start()` retry a failing first connection for that long instead of raising at
    once: what a device that may start while its gateway restarts wants.
    """

    def __init__(
        self,
        addr: Addresses,
        *,
        meta: bytes = b"",
        edge_id: int = 0,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        heartbeat: int = 20,
        peer_timeout: float | None = None,
        accept_streams: bool = False,
        start_retry: float | None = None,
        proxy: str | bool = True,
    ) -> None:
        super().__init__(
            addr,
            meta=meta,
            client_id=edge_id,
            ssl=ssl,
            server_hostname=server_hostname,
            reconnect=reconnect,
            backoff=backoff,
            heartbeat=heartbeat,
            peer_timeout=peer_timeout,
            accept_streams=accept_streams,
            start_retry=start_retry,
            proxy=proxy,
        )
        self.meta = meta

    @property
    def edge_id(self) -> int:
        """The ID the gateway assigned to the current connection (the last one while
        reconnecting; 0 before the first connection)."""
        end = self._end
        return end.client_id if end is not None else self._last_id

    # ------------------------------------------------------------------ to services

    async def call(
        self,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the call's deadline goes on the wire
    ) -> bytes:
        """Call `method` on a service that registered it (the gateway picks one). Raises
        `RPCError` with the service's error text, or ``"rpc not online"`` if no service
        serves `method`."""

        async def call(end: End, left: float | None) -> bytes:
            return await end.call(method, data, custom=custom, timeout=left)

        return await self._operate(timeout, call)

    async def publish(
        self,
        topic: str,
        data: bytes,
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the deadline goes on the wire
    ) -> None:
        """Publish on `topic` to a service that claimed it (or a ``"*"`` service); returns
        once that service acked. A nack raises `PublishRejected` with the service's text,
        or ``"topic not online"`` if nobody takes `topic`."""

        async def publish(end: End, left: float | None) -> None:
            await end.publish(data, topic=topic, custom=custom, timeout=left)

        await self._operate(timeout, publish)

    async def open_stream(
        self,
        service_name: str,
        *,
        meta: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the open is forgotten on expiry
    ) -> Stream:
        """Open a stream to a service named `service_name`. If there is none, the gateway
        closes the stream at once (reads see EOF). `timeout` bounds the wait for a
        connection and the open (`OperationTimeout`)."""
        started = asyncio.get_running_loop().time()
        end = await self._wait_end(timeout)
        return await end.open_stream(meta, service_name, timeout=self._remaining(timeout, started))

    # --------------------------------------------------------------- from services

    async def register(self, method: str, handler: EdgeHandler) -> None:
        """Serve `method` to services (and keep serving it after reconnects). Allowed
        before `start()`: the method is then registered as part of connecting, so no
        service call can arrive before it is served."""
        await self._register(method, edge_handler(handler))

    async def receive(self) -> Message:
        """The next message a service published to this edge (answer it with `done()` or
        `error(text)`). Waits across reconnects; `ConnectionClosedError` once closed."""
        return await self._receive()

    async def accept_stream(self) -> Stream:
        """The next stream a service opened to this edge (its ``peer`` is the service's
        name). Waits across reconnects like `receive()`. The first call opts in to
        streams (refused until then, unless ``accept_streams=True``)."""
        return await self._accept()

    def __repr__(self) -> str:
        state = "online" if self.online else "offline"
        return f"<Edge id={self.edge_id} {state}>"
