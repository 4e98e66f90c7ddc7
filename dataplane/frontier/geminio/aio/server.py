"""The listening side: `serve()` accepts geminio clients and runs Go's delegate hooks.

The handshake decision is the only work a connection costs before it is useful: a task
runs the hooks (`get_client_id`, then `on_online`) and ends with the ConnAck. After that an
idle connection runs nothing; `handler`, when given, is the application's own task.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

from ..conn_config import ConnectionConfig
from ..conn_errors import ConnectionStateError
from ..conn_server import ServerConnection
from ..events import ConnectRequested
from .end import End
from .limits import Limits
from .protocol import GeminioProtocol
from .timers import TimerService

__all__ = ["Server", "ServerHooks", "serve"]

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerHooks:
    """Go's server delegate. Each hook may be a plain function or a coroutine function.

    - `get_client_id(wanted, meta)`: the client's ID (0: the server's counter). Raising
      rejects the connection with the exception's text.
    - `on_online(end)`: before the ConnAck; raising rejects with the exception's text
      (frontier's authentication).
    - `on_connected(end)`: a plain function, called synchronously once the ConnAck is
      queued and before any later packet of the client is processed: the place to set
      hijacks and sinks, which need an accepted connection, without a race.
    - `on_offline(end)`: once the connection of an accepted End has ended.
    - `on_heartbeat(end)`: for each Heartbeat (errors are logged by asyncio, ignored).
    """

    get_client_id: Callable[[int, bytes], MaybeAwaitable[int]] | None = None
    on_online: Callable[[End], MaybeAwaitable[None]] | None = None
    on_connected: Callable[[End], None] | None = None
    on_offline: Callable[[End], MaybeAwaitable[None]] | None = None
    on_heartbeat: Callable[[End], MaybeAwaitable[None]] | None = None


ConnectionHandler = Callable[[End], Coroutine[Any, Any, None]]


class Server:
    """A listening geminio server; use `serve()` to make one."""

    def __init__(
        self,
        *,
        hooks: ServerHooks | None = None,
        handler: ConnectionHandler | None = None,
        config: ConnectionConfig | None = None,
        limits: Limits | None = None,
        timer: TimerService | None = None,
    ) -> None:
        self.hooks = hooks if hooks is not None else ServerHooks()
        self._handler = handler
        self._config = config
        self._limits = limits
        self._timer = timer
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._ends: dict[End, bool] = {}
        """Ends with a transport, in connection order -> accepted (online) yet. One table,
        not a set plus a dict: it is an entry per connection, and a gateway has many."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(
        self, host: str | None, port: int, *, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._make_protocol, host, port, ssl=ssl, reuse_address=True
        )  # SO_REUSEADDR: asyncio's default on POSIX only; a restart must not wait TIME_WAIT

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def ends(self) -> list[End]:
        """Accepted Ends whose connection has not ended, in connection order."""
        return [end for end, online in self._ends.items() if online]

    def _make_protocol(self) -> GeminioProtocol:
        conn = ServerConnection(config=self._config)
        end = End(conn, limits=self._limits, role=self)
        return _ServerProtocol(conn, end, self._timer)

    # --------------------------------------------------------------------- EndRole hooks

    def connect_requested(self, end: End, event: ConnectRequested) -> None:
        if self._closing:
            self._decided(end, "server closing", 0)
            return
        end.spawn(self._decide(end, event))

    async def _decide(self, end: End, event: ConnectRequested) -> None:
        hooks = self.hooks
        client_id = event.client_id
        try:
            if hooks.get_client_id is not None and event.client_id_acquire:
                client_id = await _resolve(hooks.get_client_id(event.client_id, event.meta))
            if client_id == 0:
                client_id = next(self._ids)
            end._assigned_id = client_id
            if hooks.on_online is not None:
                await _resolve(hooks.on_online(end))
        except Exception as exc:
            self._decided(end, str(exc) or type(exc).__name__, client_id)
            return
        self._decided(end, "", client_id)

    def _decided(self, end: End, error: str, client_id: int) -> None:
        conn = end.connection
        assert isinstance(conn, ServerConnection)
        try:
            if error:
                conn.reject(error, client_id if 0 <= client_id < 1 << 64 else 0)
            else:
                conn.accept(client_id)
        except (ConnectionStateError, ValueError) as exc:
            if not conn.closed:
                conn.reject(str(exc))
        end._flush()

    def online(self, end: End) -> None:
        if end in self._ends:
            self._ends[end] = True
        if self.hooks.on_connected is not None:
            self.hooks.on_connected(end)
        if self._handler is not None:
            end.spawn(self._handler(end))

    def heartbeat(self, end: End) -> None:
        if self.hooks.on_heartbeat is not None:
            result = self.hooks.on_heartbeat(end)
            if inspect.isawaitable(result):
                end.spawn(_resolve(result))

    def ended(self, end: End) -> None:
        self._ends.pop(end, None)

    def offline(self, end: End) -> None:
        if self.hooks.on_offline is not None:
            result = self.hooks.on_offline(end)
            if inspect.isawaitable(result):
                task: asyncio.Task[None] = asyncio.get_running_loop().create_task(_resolve(result))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------ lifecycle

    def stop_listening(self) -> None:
        """Refuse new connections (handshakes in progress are rejected) and keep the
        established ones: the first step of a drain."""
        self._closing = True
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        """Stop listening, close every connection gracefully, wait for the offline hooks."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        ends = list(self._ends)
        if ends:
            await asyncio.gather(*(end.close() for end in ends), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _ServerProtocol(GeminioProtocol):
    """Tracks its End only once the transport exists. With TLS the factory runs before the
    handshake, and a failed handshake never calls `connection_made` nor ends the End: an
    End tracked from the factory on would leak and make `Server.close()` wait forever.
    The End untracks itself through `Server.ended` when its connection ends."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        end = cast(End, self._sink)
        cast(Server, end._role)._ends[end] = False
        super().connection_made(transport)


async def _resolve(value: MaybeAwaitable[T]) -> T:
    if inspect.isawaitable(value):
        return cast(T, await value)
    return value


async def serve(
    host: str | None,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None = None,
    hooks: ServerHooks | None = None,
    handler: ConnectionHandler | None = None,
    config: ConnectionConfig | None = None,
    limits: Limits | None = None,
    timer: TimerService | None = None,
) -> Server:
    """Listen for geminio clients. `handler(end)`, if given, runs in a task the End owns
    once the End is online; return from it to leave an idle End costing no task."""
    server = Server(hooks=hooks, handler=handler, config=config, limits=limits, timer=timer)
    await server.start(host, port, ssl=ssl)
    return server
