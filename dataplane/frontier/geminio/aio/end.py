"""The End: one geminio connection as the application sees it.

An End is stream 1 (the default session) plus the multiplexer: it opens and accepts
streams and owns every task created on the connection's behalf. It runs no task of its
own: events arrive through the protocol's callbacks, and an RPC handler runs in a task only
while it handles a request. That keeps an idle connection at a transport, a protocol, this
object and a few timer handles, which is what lets a gateway hold 10^5 of them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Final, Protocol

from ..application import no_such_rpc
from ..conn_errors import ConnectionStateError, SessionStateError
from ..connection import Connection
from ..events import (
    AbortReason,
    Connected,
    ConnectFailed,
    ConnectionClosed,
    ConnectRequested,
    Event,
    HeartbeatReceived,
    MessageReceived,
    OperationAborted,
    OpKind,
    PublishAcked,
    RegisterAcked,
    RemoteRegistered,
    RequestCancelled,
    RequestReceived,
    ResponseReceived,
    SessionAccepted,
    SessionClosed,
    SessionOpened,
    SessionRefused,
    StreamDataReceived,
)
from .errors import (
    ConnectionClosedError,
    ConnectRejected,
    EndError,
    OpenRejected,
    OperationTimeout,
    PublishRejected,
    RemoteError,
    RPCError,
    StreamClosedError,
    operation_timed_out,
)
from .forwarded import Forwarded, Pending
from .limits import Limits
from .messages import Handler, Request, SyncRequest
from .protocol import GeminioProtocol
from .stream import Stream

__all__ = ["End", "EndRole"]

_DEFAULT_LIMITS = Limits()
_HANDLERS_TOKEN: Final = "handlers"


class EndRole(Protocol):
    """The server's part in an End's life (Go's delegate): hooks around the handshake."""

    def connect_requested(self, end: End, event: ConnectRequested) -> None: ...

    def online(self, end: End) -> None: ...

    def heartbeat(self, end: End) -> None: ...

    def offline(self, end: End) -> None: ...

    def ended(self, end: End) -> None:
        """The connection ended (accepted or not); called before `offline`."""
        ...


class End(Stream):
    """A connected geminio peer: `connect()` returns one, `serve()` hands them to hooks."""

    # Stream's slots plus these. Containers are created on first use: an idle End holds
    # none (its memory is what a gateway pays per idle edge).
    __slots__ = (
        "_accept_waiters",
        "_assigned_id",
        "_backlog",
        "_close_callbacks",
        "_close_waiters",
        "_closed_event",
        "_conn",
        "_connected",
        "_online",
        "_opens",
        "_pending",
        "_proto",
        "_registering",
        "_role",
        "_running",
        "_stream_sink",
        "_streams",
        "_sync_running",
        "_tasks",
        "limits",
        "on_remote_registered",
        "on_stream_refused",
    )

    def __init__(
        self, conn: Connection, *, limits: Limits | None = None, role: EndRole | None = None
    ) -> None:
        super().__init__(None, 1, b"", "")
        self._conn = conn
        self.limits = limits if limits is not None else _DEFAULT_LIMITS
        self._role = role
        self._proto: GeminioProtocol | None = None
        self._pending: dict[int, Pending] | None = None
        """Calls, messages and registrations in flight, by ID: futures, or a relay's
        `Forwarded` (see forwarded.py)."""
        self._opens: dict[int, asyncio.Future[Stream]] | None = None
        self._streams: dict[int, Stream] | None = None
        """Streams other than this End (stream 1), which is live while `not self._eof`."""
        self._backlog: deque[Stream] | None = None
        conn.accept_limit = self.limits.max_accept_backlog
        self._accept_waiters: list[asyncio.Future[None]] | None = None
        self._tasks: set[asyncio.Task[Any]] | None = None
        self._running: dict[tuple[int, int], asyncio.Task[None]] | None = None
        self._sync_running: dict[tuple[int, int], SyncRequest] | None = None
        self._connected: asyncio.Future[None] | None = None
        self._registering: list[asyncio.Future[Any]] | None = None
        self._closed_event: ConnectionClosed | None = None
        self._close_waiters: list[asyncio.Future[None]] | None = None
        self._online = False
        self._assigned_id: int | None = None
        self._close_callbacks: list[Callable[[End], None]] | None = None
        self._stream_sink: Callable[[Stream], None] | None = None
        self.on_remote_registered: Callable[[Stream, str], None] | None = None
        """Called, synchronously, whenever the peer registers an RPC method on a stream
        (Go's RemoteRegistration delegate): the gateway indexes methods with it."""
        self.on_stream_refused: Callable[[End, str], None] | None = None
        """Called with a reason (see `SessionRefused`) when a stream the peer opened was
        refused (the peer got the error already): for metrics."""

    @property
    def close_callbacks(self) -> list[Callable[[End], None]]:
        """Called once, synchronously, when the connection has ended (append to it)."""
        callbacks = self._close_callbacks
        if callbacks is None:
            callbacks = self._close_callbacks = []
        return callbacks

    @close_callbacks.setter
    def close_callbacks(self, callbacks: list[Callable[[End], None]]) -> None:
        self._close_callbacks = callbacks

    # ------------------------------------------------------------------------- identity

    @property
    def client_id(self) -> int:
        """Server: the ID chosen for the client (already during `on_online`). Client: the
        ID the server confirmed (the one asked for until then)."""
        if self._assigned_id is not None:
            return self._assigned_id
        return self._conn.client_id

    @property
    def meta(self) -> bytes:
        return self._conn.meta

    @property
    def heartbeat(self) -> int:
        """The client's advertised heartbeat interval in seconds."""
        return self._conn.heartbeat

    @property
    def online(self) -> bool:
        """The handshake succeeded and the connection has not ended."""
        return self._online

    @property
    def closed(self) -> bool:
        return self._closed_event is not None

    @property
    def close_reason(self) -> ConnectionClosed | None:
        return self._closed_event

    @property
    def connection(self) -> Connection:
        """The sans-I/O connection (read only: calls must go through the End)."""
        return self._conn

    @property
    def protocol(self) -> GeminioProtocol | None:
        return self._proto

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra info (`peername`, `sockname`, `ssl_object`, ...)."""
        if self._proto is None or self._proto.transport is None:
            return default
        return self._proto.transport.get_extra_info(name, default)

    # -------------------------------------------------------------------------- streams

    async def open_stream(
        self,
        meta: bytes = b"",
        peer: str = "",
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the open is forgotten on expiry
    ) -> Stream:
        """Open a stream; `peer` is free text that frontier uses for routing (§E.1).

        `timeout` bounds the whole open (`OperationTimeout`, and the open is forgotten:
        a late SessionAck is dismissed); without it the connection's ``open_timeout``
        (30 s) applies."""
        if timeout is None:
            return await self._open_stream(meta, peer)
        try:
            async with asyncio.timeout(timeout):
                return await self._open_stream(meta, peer)
        except TimeoutError:
            raise OperationTimeout(f"opening a stream timed out after {timeout:g} s") from None

    async def _open_stream(self, meta: bytes, peer: str) -> Stream:
        proto = self._protocol_for_ops()
        try:
            open_id = self._conn.open_session(meta, peer)
        except ConnectionStateError as exc:
            raise ConnectionClosedError(str(exc)) from exc
        except SessionStateError as exc:
            raise EndError(str(exc)) from exc
        future: asyncio.Future[Stream] = asyncio.get_running_loop().create_future()
        # Through a local: a narrowed `self._opens` would outlive the await below (compiled
        # code checks narrowed types, and the attribute may be None again by then).
        opens = self._opens
        if opens is None:
            opens = {}
            self._opens = opens
        opens[open_id] = future
        proto.flush()
        try:
            return await future
        except asyncio.CancelledError:
            if self._opens is not None and self._opens.pop(open_id, None) is not None:
                self._conn.cancel_open(open_id)
                proto.flush()
            raise

    async def accept_stream(self) -> Stream:
        """The next stream the peer opened; `ConnectionClosedError` once the End is closed."""
        while not self._backlog:
            if self._closed_event is not None:
                raise ConnectionClosedError("the connection is closed")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            pending = self._accept_waiters  # a local, as in _open_stream
            if pending is None:
                pending = []
                self._accept_waiters = pending
            pending.append(waiter)
            try:
                await waiter
            finally:
                waiters = self._accept_waiters
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
        stream = self._backlog.popleft()
        self._conn.stream_claimed()
        return stream

    def set_accept_backlog(self, limit: int) -> None:
        """How many streams the peer opened may wait for `accept_stream()`; 0 refuses
        every stream (the opener's `open_stream` fails at once). Opens beyond the bound
        are refused, never queued: a full backlog must not stop the rest of the
        connection, as pausing the socket would. Streams already waiting stay."""
        if limit < 0:
            raise ValueError("the accept backlog must be >= 0")
        self._conn.accept_limit = limit

    @property
    def accept_backlog(self) -> int:
        limit = self._conn.accept_limit
        return 0 if limit is None else limit

    def set_stream_sink(self, sink: Callable[[Stream], None] | None) -> None:
        """Hand every stream the peer opens to `sink`, synchronously, instead of queueing
        it for `accept_stream()` (streams already queued are handed over at once)."""
        self._stream_sink = sink
        # A sink takes every stream as it is announced: no backlog to bound (and opens
        # announced in the same read must not be counted against one).
        self._conn.accept_limit = None if sink is not None else self.limits.max_accept_backlog
        if sink is not None:
            backlog = self._backlog
            while backlog:
                self._conn.stream_claimed()
                sink(backlog.popleft())

    def pause_reading(self, token: Hashable) -> None:
        """Stop reading the socket until `resume_reading(token)`: for sinks that forward
        what they receive and must push back when the far side is slow."""
        self._block(token)

    def resume_reading(self, token: Hashable) -> None:
        self._unblock(token)

    def streams(self) -> list[Stream]:
        """Live streams, this End (stream 1) included, as Go's `ListStreams`."""
        streams: list[Stream] = [] if self._eof else [self]
        if self._streams:
            streams.extend(self._streams.values())
        return streams

    # ------------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close gracefully (dismiss every stream, then the 4-way disconnect), wait for the
        end of the connection and for every task the End owns."""
        if self._closed_event is None:
            self._conn.close()
            self._flush()
        await self.wait_closed()
        current = asyncio.current_task()
        tasks = [task for task in self._owned_tasks() if task is not current]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def close_soon(self, refuse: str = "") -> None:
        """Start the graceful close (as `close()`: every stream dismissed, then the 4-way
        disconnect) without waiting for it: for a server saying goodbye to many
        connections, one at a time as each falls quiet. `refuse`: the error text that
        answers calls and messages the peer sent before it saw the goodbye (they are not
        delivered; `Connection.close`). Idempotent."""
        if self._closed_event is None:
            self._conn.close(refuse=refuse)
            self._flush()

    @property
    def closing(self) -> bool:
        """No new operation can start on stream 1: the connection ended, or either side
        began closing it (a peer's goodbye dismisses stream 1 a round trip before the
        connection ends; operations started in that window fail at once)."""
        if self._closed_event is not None or self._eof:
            return True
        session = self._conn.session(1)
        return session is None or not session.is_open or not self._conn.is_open

    @property
    def busy(self) -> bool:
        """Anything in flight on this connection, either way: our calls, messages, opens
        and registrations the peer has not answered, the peer's calls we have not
        answered, tasks we run on its behalf, and open streams besides stream 1. A server
        draining the connection closes it once this is False (nothing can be lost)."""
        return bool(
            self._pending
            or self._opens
            or self._streams
            or self._running
            or self._sync_running
            or self._tasks
        )

    def abort(self) -> None:
        """Drop the transport now, without the disconnect handshake."""
        if self._proto is not None:
            self._proto.abort()

    async def wait_closed(self) -> None:
        if self._closed_event is not None:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._close_waiters is None:
            self._close_waiters = []
        self._close_waiters.append(waiter)
        await waiter

    async def __aenter__(self) -> End:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in a task the End owns: it is cancelled when the connection ends."""
        task = asyncio.get_running_loop().create_task(coro)
        if self._closed_event is not None:
            task.cancel()
        self._track(task)
        return task

    def _owned_tasks(self) -> list[asyncio.Task[Any]]:
        """Spawned tasks and RPC handler tasks (these are tracked in `_running` only)."""
        tasks: list[asyncio.Task[Any]] = list(self._tasks) if self._tasks else []
        if self._running:
            tasks.extend(self._running.values())
        return tasks

    def _track(self, task: asyncio.Task[Any]) -> None:
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()
        tasks.add(task)
        task.add_done_callback(self._untrack)

    def _untrack(self, task: asyncio.Task[Any]) -> None:
        tasks = self._tasks
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                self._tasks = None  # the handshake's task must not leave an empty set behind

    async def wait_connected(self) -> None:
        """Client: return once the handshake succeeded; `ConnectRejected` with the server's
        text, or `ConnectionClosedError`, otherwise."""
        if self._online:
            return
        if self._closed_event is not None:
            raise ConnectionClosedError(self._closed_event.detail or "the connection is closed")
        if self._connected is None:
            self._connected = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._connected)

    async def wait_registered(self) -> None:
        """Client: return once the peer acknowledged the methods given to `connect()`
        (served since the handshake); `RemoteError` with the peer's text if it refused
        one, `ConnectionClosedError` if the connection ended first."""
        registering, self._registering = self._registering, None
        for future in registering or ():
            error: str = await future
            if error:
                raise RemoteError(error)

    # -------------------------------------------------------------- used by the Streams

    def _protocol_for_ops(self) -> GeminioProtocol:
        proto = self._proto
        if proto is None or self._closed_event is not None:
            raise ConnectionClosedError("the connection is closed")
        return proto

    def _flush(self) -> None:
        if self._proto is not None:
            self._proto.flush()

    def _add_pending(self, op_id: int) -> asyncio.Future[Any]:
        proto = self._proto
        loop = proto.loop if proto is not None else asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        pending[op_id] = future
        return future

    def _put_pending(self, op_id: int, future: Pending) -> None:
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        pending[op_id] = future

    def _pop_pending(self, op_id: int) -> Pending | None:
        pending = self._pending
        return pending.pop(op_id, None) if pending else None

    def _stream(self, session_id: int) -> Stream | None:
        """The live stream with this ID (this End for 1), or None."""
        if session_id == 1:
            return None if self._eof else self
        streams = self._streams
        return streams.get(session_id) if streams else None

    def _add_stream(self, stream: Stream) -> None:
        streams = self._streams
        if streams is None:
            streams = self._streams = {}
        streams[stream._sid] = stream

    def _block(self, token: Hashable) -> None:
        if self._proto is not None:
            self._proto.block(token)

    def _unblock(self, token: Hashable) -> None:
        if self._proto is not None:
            self._proto.unblock(token)

    # ------------------------------------------------------------ fed by the protocol

    def attach(self, protocol: GeminioProtocol) -> None:
        self._proto = protocol

    def detach(self, protocol: GeminioProtocol) -> None:
        """The transport is gone (after the connection's end was handled)."""
        if self._proto is protocol:
            self._proto = None

    def handle_events(self, events: list[Event]) -> None:
        # The per-packet events (compiled classes) by direct calls; the rest through the
        # table, a generic call each.
        dispatch = _DISPATCH
        for event in events:
            if isinstance(event, RequestReceived):
                self._ev_request(event)
            elif isinstance(event, ResponseReceived):
                self._ev_response(event)
            elif isinstance(event, MessageReceived):
                self._ev_message(event)
            elif isinstance(event, PublishAcked):
                self._ev_publish_acked(event)
            elif isinstance(event, StreamDataReceived):
                self._ev_stream_data(event)
            else:
                dispatch[type(event)](self, event)

    def _ev_connect_requested(self, event: ConnectRequested) -> None:
        if self._role is not None:
            self._role.connect_requested(self, event)

    def _ev_connected(self, event: Connected) -> None:
        self._online = True
        self._meta = event.meta
        if event.registers:  # methods served from the handshake on (client, see connect)
            self._registering = [self._add_pending(rid) for rid in event.registers]
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)
        if self._role is not None:
            self._role.online(self)

    def _ev_connect_failed(self, event: ConnectFailed) -> None:
        if self._connected is None:
            self._connected = asyncio.get_running_loop().create_future()
        if not self._connected.done():
            self._connected.set_exception(ConnectRejected(event.error))
            self._connected.exception()  # awaiting still raises; unawaited, no warning

    def _ev_heartbeat(self, event: HeartbeatReceived) -> None:
        if self._role is not None:
            self._role.heartbeat(self)

    def _ev_connection_closed(self, event: ConnectionClosed) -> None:
        was_online = self._online
        self._online = False
        self._closed_event = event
        self._on_closed()  # stream 1 first, as it was the first in the stream table
        streams, self._streams = self._streams, None
        if streams:
            for stream in list(streams.values()):
                stream._on_closed()
        # Streams nobody accepted: `accept_stream()` raises from now on, and each refers
        # back to this End (a cycle while kept).
        self._backlog = None
        error = ConnectionClosedError(f"{event.reason.value}: {event.detail}".rstrip(": "))
        pending, self._pending = self._pending, None
        opens, self._opens = self._opens, None
        for table in (pending, opens):
            if table:
                for future in table.values():
                    if not future.done():
                        future.set_exception(error)
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(error)
            self._connected.exception()  # a cancelled connect() may never await it
        for waiters in (self._accept_waiters, self._close_waiters):
            if waiters:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        self._accept_waiters = None
        self._close_waiters = None
        sync_running, self._sync_running = self._sync_running, None
        if sync_running:
            for request in sync_running.values():
                request._answered = True  # dropped: nothing can be sent any more
        if self._tasks or self._running:
            current = asyncio.current_task()
            for task in self._owned_tasks():
                if task is not current:
                    task.cancel()
        callbacks, self._close_callbacks = self._close_callbacks, None
        if self._role is not None:
            self._role.ended(self)
            if was_online:
                self._role.offline(self)
        if callbacks:
            for callback in callbacks:
                callback(self)

    def _ev_session_opened(self, event: SessionOpened) -> None:
        stream = Stream(self, event.session_id, event.meta, event.peer)
        self._add_stream(stream)
        opens = self._opens
        future = opens.pop(event.open_id, None) if opens else None
        if future is None or future.done():
            self._conn.close_session(event.session_id)
            return
        future.set_result(stream)

    def _ev_session_accepted(self, event: SessionAccepted) -> None:
        stream = Stream(self, event.session_id, event.meta, event.peer)
        self._add_stream(stream)
        if self._stream_sink is not None:
            self._conn.stream_claimed()
            self._stream_sink(stream)
            return
        # The connection refuses opens beyond `limits.max_accept_backlog`: no bound here.
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        backlog.append(stream)
        if self._accept_waiters:
            waiters, self._accept_waiters = self._accept_waiters, None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _ev_session_refused(self, event: SessionRefused) -> None:
        if self.on_stream_refused is not None:
            self.on_stream_refused(self, event.reason)

    def _ev_session_closed(self, event: SessionClosed) -> None:
        session_id = event.session_id
        if session_id == 1:
            self._on_closed()
            return
        streams = self._streams
        stream = streams.pop(session_id, None) if streams else None
        if stream is not None:
            stream._on_closed()

    def _ev_message(self, event: MessageReceived) -> None:
        stream = self._stream(event.packet.session_id)
        if stream is not None:
            stream._on_message(event.packet)

    def _ev_stream_data(self, event: StreamDataReceived) -> None:
        stream = self._stream(event.session_id)
        if stream is not None:
            stream._on_data(event.data)

    def _ev_publish_acked(self, event: PublishAcked) -> None:
        future = self._pop_pending(event.message_id)
        if future is None or future.done():
            return
        if event.error:
            future.set_exception(PublishRejected(event.error))
        else:
            future.set_result(None)

    def _ev_response(self, event: ResponseReceived) -> None:
        future = self._pop_pending(event.request_id)
        if future is None or future.done():
            return
        if event.error:
            future.set_exception(RPCError(event.error))
        else:
            text = event.data_b64
            if text is not None and isinstance(future, Forwarded):
                future.data_b64 = text  # for a relay to splice: see Stream.forward_call
                future.set_result(None)
            else:
                future.set_result(event.data)

    def _ev_register_acked(self, event: RegisterAcked) -> None:
        future = self._pop_pending(event.register_id)
        if future is not None and not future.done():
            future.set_result(event.error)

    def _ev_remote_registered(self, event: RemoteRegistered) -> None:
        stream = self._stream(event.session_id)
        if stream is not None:
            stream._on_remote_registered(event.method)
            if self.on_remote_registered is not None:
                self.on_remote_registered(stream, event.method)

    def _ev_aborted(self, event: OperationAborted) -> None:
        if event.kind is OpKind.OPEN:
            opens = self._opens
            opening = opens.pop(event.op_id, None) if opens else None
            if opening is not None and not opening.done():
                opening.set_exception(_abort_error(event))
            return
        future = self._pop_pending(event.op_id)
        if future is not None and not future.done():
            future.set_exception(_abort_error(event))

    def _ev_request(self, event: RequestReceived) -> None:
        packet = event.packet
        session_id = packet.session_id
        stream = self._stream(session_id)
        if stream is not None and event.hijacked and stream._hijack_sync is not None:
            self._run_sync(stream, stream._hijack_sync, event)
            return
        handler = stream._handler_for(event.method, event.hijacked) if stream else None
        if stream is None or handler is None:
            self._conn.respond(
                session_id, event.request_id, packet.key, b"", no_such_rpc(event.method)
            )
            return
        key = (session_id, event.request_id)
        task = asyncio.get_running_loop().create_task(
            self._run_handler(
                stream, handler, Request(stream, packet, event.method, event.hijacked)
            )
        )
        running = self._running
        if running is None:
            running = self._running = {}
        running[key] = task
        task.add_done_callback(lambda done: self._handler_done(key, done))
        count = len(running)
        if self._sync_running:
            count += len(self._sync_running)
        if count >= self.limits.max_handlers:
            self._block(_HANDLERS_TOKEN)

    def _handlers_running(self) -> int:
        """RPC handlers counted against `Limits.max_handlers`: handler tasks, plus requests
        handed to a `hijack_sync` callback and not answered yet."""
        count = len(self._running) if self._running else 0
        if self._sync_running:
            count += len(self._sync_running)
        return count

    def _handler_done(self, key: tuple[int, int], task: asyncio.Task[None]) -> None:
        running = self._running
        if running is not None and running.get(key) is task:
            del running[key]
        count = len(running) if running else 0
        if self._sync_running:
            count += len(self._sync_running)
        if count < self.limits.max_handlers:
            self._unblock(_HANDLERS_TOKEN)

    def _run_sync(
        self, stream: Stream, callback: Callable[[SyncRequest], None], event: RequestReceived
    ) -> None:
        request = SyncRequest(stream, event.packet, event.method, True)
        sync_running = self._sync_running
        if sync_running is None:
            sync_running = self._sync_running = {}
        sync_running[(stream._sid, event.request_id)] = request
        if self._handlers_running() >= self.limits.max_handlers:
            self._block(_HANDLERS_TOKEN)
        try:
            callback(request)
        except Exception as exc:
            request.fail(str(exc) or type(exc).__name__)

    def _answer_sync(
        self, request: SyncRequest, data: bytes, error: str, data_b64: bytes | None = None
    ) -> bool:
        """`SyncRequest.respond`/`fail`: the first answer goes out, later ones are dropped."""
        if request._answered:
            return False
        request._answered = True
        stream = request.stream
        packet = request._packet  # (its fields, not Request's properties: interpreted code)
        request_id = packet.packet_id
        key = (stream._sid, request_id)
        sync_running = self._sync_running
        if sync_running is not None and sync_running.get(key) is request:
            del sync_running[key]
            if self._handlers_running() < self.limits.max_handlers:
                self._unblock(_HANDLERS_TOKEN)
        if self._conn.respond(stream._sid, request_id, packet.key, data, error, data_b64):
            self._flush()
            return True
        return False

    async def _run_handler(self, stream: Stream, handler: Handler, request: Request) -> None:
        data: bytes = b""
        error = ""
        try:
            result = await handler(request)
            if result is not None:
                data = result if type(result) is bytes else bytes(result)
        except asyncio.CancelledError:
            if self._closed_event is not None:
                raise
            error = "context canceled"  # the caller cancelled (0x73), Go's ctx error text
        except Exception as exc:
            error = str(exc) or type(exc).__name__
        if self._conn.respond(
            stream.stream_id, request.request_id, request.raw_method, data, error
        ):
            self._flush()

    def _ev_request_cancelled(self, event: RequestCancelled) -> None:
        key = (event.session_id, event.request_id)
        running = self._running
        task = running.get(key) if running else None
        if task is not None:
            task.cancel()
            return
        sync_running = self._sync_running
        request = sync_running.get(key) if sync_running else None
        if request is not None:
            request._cancel()

    def __repr__(self) -> str:
        return f"<End client_id={self.client_id} {self._conn!r}>"


def _abort_error(event: OperationAborted) -> EndError:
    reason = event.reason
    what = event.kind.value
    if reason is AbortReason.TIMEOUT:
        return operation_timed_out(what)
    if reason is AbortReason.REJECTED:
        return OpenRejected(event.detail)
    if reason is AbortReason.SESSION_CLOSED and event.session_id != 1:
        # session 1 is only dismissed as part of closing the whole End
        return StreamClosedError(f"{what} aborted: stream {event.session_id} closed")
    return ConnectionClosedError(f"{what} aborted: the connection closed")


_DISPATCH: Final[dict[type[Any], Callable[[End, Any], None]]] = {
    ConnectRequested: End._ev_connect_requested,
    Connected: End._ev_connected,
    ConnectFailed: End._ev_connect_failed,
    HeartbeatReceived: End._ev_heartbeat,
    ConnectionClosed: End._ev_connection_closed,
    SessionOpened: End._ev_session_opened,
    SessionAccepted: End._ev_session_accepted,
    SessionClosed: End._ev_session_closed,
    SessionRefused: End._ev_session_refused,
    MessageReceived: End._ev_message,
    StreamDataReceived: End._ev_stream_data,
    PublishAcked: End._ev_publish_acked,
    ResponseReceived: End._ev_response,
    RegisterAcked: End._ev_register_acked,
    RemoteRegistered: End._ev_remote_registered,
    OperationAborted: End._ev_aborted,
    RequestReceived: End._ev_request,
    RequestCancelled: End._ev_request_cancelled,
}
