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
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from ...timer import get_loop_timer
from ..conn_config import ConnectionConfig
from ..conn_errors import ConnectionStateError
from ..conn_server import ServerConnection
from ..events import ConnectRequested
from .end import End
from .limits import Limits
from .listener import Admitted, Listener, ListenerLimits, ListenerObserver
from .protocol import GeminioProtocol
from .timers import TimerService

if TYPE_CHECKING:
    from .websocket import WebSocketOptions

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
    - `admit_now(end, wanted, meta)`: a plain function, asked first: the client's ID if
      the decision needs nothing to wait for (then `get_client_id` and `on_online` are
      skipped and the ConnAck goes out at once, with no task), or None to take the
      asynchronous path. What a gateway does when no service needs asking.
    """

    get_client_id: Callable[[int, bytes], MaybeAwaitable[int]] | None = None
    on_online: Callable[[End], MaybeAwaitable[None]] | None = None
    on_connected: Callable[[End], None] | None = None
    on_offline: Callable[[End], MaybeAwaitable[None]] | None = None
    on_heartbeat: Callable[[End], MaybeAwaitable[None]] | None = None
    admit_now: Callable[[End, int, bytes], int | None] | None = None


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
        listener_limits: ListenerLimits | None = None,
        observer: ListenerObserver | None = None,
        name: str = "geminio server",
        websocket: WebSocketOptions | None = None,
    ) -> None:
        self.hooks = hooks if hooks is not None else ServerHooks()
        self._websocket = websocket
        """When set, clients speak geminio inside a WebSocket (see `.websocket`)."""
        self._handler = handler
        self._config = config
        self._limits = limits
        self._timer = timer
        if listener_limits is None:
            timeout = (config if config is not None else ConnectionConfig()).connect_timeout
            listener_limits = ListenerLimits(handshake_timeout=timeout)
        self._listener = Listener(
            self._make_protocol, listener_limits, name=name, observer=observer
        )
        self._ids = itertools.count(1)
        self._ends: dict[End, bool] = {}
        """Ends with a transport, in connection order -> accepted (online) yet. One table,
        not a set plus a dict: it is an entry per connection, and a gateway has many."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        """Known from `start` on, and handed to each connection's protocol: on CPython
        3.11 every `asyncio.get_running_loop()` is a getpid() system call, and a
        connection would otherwise ask twice while it is admitted."""

    async def start(
        self, host: str | None, port: int, *, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        self._loop = loop = asyncio.get_running_loop()
        if self._timer is None:
            self._timer = get_loop_timer(loop)  # what each protocol would look up
        await self._listener.start(host, port, ssl=ssl)

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        return self._listener.port

    @property
    def sockets(self) -> tuple[Any, ...]:
        return self._listener.sockets

    @property
    def listener(self) -> Listener:
        """The accept loop: its limits and how many connections it holds."""
        return self._listener

    @property
    def ends(self) -> list[End]:
        """Accepted Ends whose connection has not ended, in connection order."""
        return [end for end, online in self._ends.items() if online]

    def _make_protocol(self, listener: Listener, ip: str, deadline: float) -> Admitted:
        if self._websocket is not None:
            from .websocket import server_bridge

            return server_bridge(
                self._websocket,
                lambda: self._geminio_protocol(None, ip, deadline),
                listener=listener,
                ip=ip,
                deadline=deadline,
            )
        return self._geminio_protocol(listener, ip, deadline)

    def _geminio_protocol(
        self, listener: Listener | None, ip: str, deadline: float
    ) -> _ServerProtocol:
        """The connection's protocol; `listener`: None when a bridge holds the admission."""
        conn = ServerConnection(config=self._config)
        if self.hooks.on_heartbeat is None:
            conn.report_heartbeats = False
        end = End(conn, limits=self._limits, role=self)
        return _ServerProtocol(conn, end, self._timer, listener, ip, deadline, self._loop)

    # --------------------------------------------------------------------- EndRole hooks

    def connect_requested(self, end: End, event: ConnectRequested) -> None:
        if self._closing:
            self._decided(end, "server closing", 0)
            return
        admit_now = self.hooks.admit_now
        if admit_now is not None:
            try:
                client_id = admit_now(end, event.client_id, event.meta)
            except Exception as exc:
                self._decided(end, str(exc) or type(exc).__name__, 0)
                return
            if client_id is not None:
                end._assigned_id = client_id
                self._decided(end, "", client_id)
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
        conn = end.connection
        if isinstance(conn, ServerConnection) and conn.refusal:
            self._listener.observer.refused(conn.refusal)

    def offline(self, end: End) -> None:
        if self.hooks.on_offline is not None:
            result = self.hooks.on_offline(end)
            if inspect.isawaitable(result):
                loop = self._loop if self._loop is not None else asyncio.get_running_loop()
                task: asyncio.Task[None] = loop.create_task(_resolve(result))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------ lifecycle

    def stop_listening(self) -> None:
        """Refuse new connections (handshakes in progress are rejected) and keep the
        established ones: the first step of a drain."""
        self._closing = True
        self._listener.stop_listening()

    async def close(self) -> None:
        """Stop listening, close every connection gracefully, wait for the offline hooks."""
        self._closing = True
        await self._listener.close()
        ends = list(self._ends)
        if ends:
            await asyncio.gather(*(end.close() for end in ends), return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _ServerProtocol(GeminioProtocol):
    """A server's connection: it holds one of the listener's admissions until it is lost,
    the handshake deadline runs from accept (TLS included), and it stops reading while its
    output is above the high-water mark (see `READ_WHILE_WRITE_PAUSED`).

    It tracks its End only once the transport exists. With TLS the factory runs before the
    handshake, and a failed handshake never calls `connection_made` nor ends the End: an
    End tracked from the factory on would leak and make `Server.close()` wait forever.
    The End untracks itself through `Server.ended` when its connection ends."""

    __slots__ = ("_admission", "_deadline", "_ip")

    READ_WHILE_WRITE_PAUSED = False

    def __init__(
        self,
        conn: ServerConnection,
        end: End,
        timer: TimerService | None,
        listener: Listener | None,
        ip: str,
        deadline: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(conn, end, timer)
        self._loop = loop
        self._admission: Listener | None = listener
        self._ip = ip
        self._deadline = deadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        end = cast(End, self._sink)
        cast(Server, end._role)._ends[end] = False
        super().connection_made(transport)

    def _start_connection(self) -> None:
        conn = self.conn
        assert isinstance(conn, ServerConnection)
        conn.start(self._deadline - self.loop.time())

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.release_admission()

    def release_admission(self) -> None:
        listener, self._admission = self._admission, None
        if listener is not None:
            listener.release(self._ip)


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
    listener_limits: ListenerLimits | None = None,
    observer: ListenerObserver | None = None,
    websocket: WebSocketOptions | None = None,
) -> Server:
    """Listen for geminio clients. `handler(end)`, if given, runs in a task the End owns
    once the End is online; return from it to leave an idle End costing no task.
    `listener_limits` bounds the connections (see `listener`); by default there is no
    bound but the handshake deadline (`config.connect_timeout`). With `websocket`, the
    clients speak geminio inside a WebSocket (``ws://``/``wss://`` addresses)."""
    server = Server(
        hooks=hooks,
        handler=handler,
        config=config,
        limits=limits,
        timer=timer,
        listener_limits=listener_limits,
        observer=observer,
        websocket=websocket,
    )
    await server.start(host, port, ssl=ssl)
    return server
