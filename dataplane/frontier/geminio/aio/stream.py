"""One session as the application sees it: messages, RPC and raw bytes.

Every session is a full messenger in geminio (§C.4), so a Stream offers what the End offers
on session 1. Received data is queued here, bounded by `Limits`: a queue that reaches its
bound asks the protocol to stop reading the socket, and lets it resume once the application
has consumed enough (see the package docstring).

Raw bytes are kept as the chunks they arrived in (a deque of `bytes` plus an offset into the
first), not appended to a `bytearray`: a read that takes one whole chunk returns the received
object itself, and any other read costs one copy (of a view, or one `join`). The bytearray
cost three copies per byte (append, slice, `bytes()`), a third of the receiver's time in
bench/protocol.py's stream case.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NoReturn, cast

from ..conn_errors import ConnectionStateError, SessionStateError
from ..gojson import ZERO_TIME, GoTime
from ..packets import MessagePacket
from ..session import Hijack
from .errors import (
    ConnectionClosedError,
    EndError,
    OperationTimeout,
    RemoteError,
    StreamClosedError,
)
from .forwarded import Forwarded
from .messages import Handler, Message, SyncRequest
from .pending import PendingFuture

if TYPE_CHECKING:
    from .end import End
    from .protocol import GeminioProtocol

__all__ = ["Stream"]


_READ_BATCH = 64 * 1024
"""`read()` returns a first chunk of at least this size alone, instead of joining more."""


_NO_METHODS: frozenset[str] = frozenset()
_CATCH_ALL = Hijack()
"""The hijack a relay sets on every connection (immutable, so one for all of them)."""


def _joined(parts: list[bytes | memoryview]) -> bytes:
    """One bytes object from read pieces, with one copy at most: none for a single whole
    chunk, which is returned itself."""
    if len(parts) == 1:
        part = parts[0]
        return part if type(part) is bytes else bytes(part)
    return b"".join(parts)


async def _writable_within(
    proto: GeminioProtocol,
    timeout: float | None,  # noqa: ASYNC109 - the operation's own deadline
    what: str,
) -> float | None:
    """Wait for a paused transport, within the operation's `timeout`; what is left of it.

    A timeout is a deadline for the whole operation: a peer that stops reading (or a link
    that drops every packet) must not hold a caller past it, so the wait for the transport
    counts against it and its expiry raises the operation's own `OperationTimeout`."""
    if timeout is None:
        await proto.wait_writable()
        return None
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(timeout):
            await proto.wait_writable()
    except TimeoutError:
        raise OperationTimeout(f"{what} timed out (the transport stayed full)") from None
    left = timeout - (loop.time() - started)
    if left <= 0:
        raise OperationTimeout(f"{what} timed out (the transport stayed full)")
    return left


_MS: Final = 1_000_000
_time_ns: Final = time.time_ns


def deadline_after(timeout: float | None) -> GoTime:
    """The absolute deadline Go puts on the wire for a per-call timeout (§D.2, §D.3),
    rounded up to the millisecond: never earlier than asked, and the calls sent within
    one millisecond share a deadline, so its text is written once for all of them
    (`gojson.encode_time` keeps the last; a gateway forwards tens of calls per ms)."""
    global _last_deadline
    if timeout is None:
        return ZERO_TIME
    nanos = -(-(_time_ns() + int(timeout * 1e9)) // _MS) * _MS
    last = _last_deadline
    if last.unix_nanos == nanos:
        return last  # (the same object: the frame writer knows its text by identity)
    moment = _last_deadline = GoTime(nanos)
    return moment


_last_deadline: GoTime = ZERO_TIME
"""The deadline `deadline_after` gave last: one GoTime per millisecond, not per call."""


class Stream:
    """A geminio stream (session). Obtain one from `End.open_stream` / `End.accept_stream`."""

    # Slots, and containers created on first use: an idle stream (every End is one) holds
    # no deque, list, dict or set (see docs/architecture.md, "no task per idle connection").
    __slots__ = (
        "__weakref__",
        "_buffered",
        "_bytes_blocked",
        "_chunk_pos",
        "_chunks",
        "_closed_callbacks",
        "_closed_waiters",
        "_data_sink",
        "_eof",
        "_handlers",
        "_hijack",
        "_hijack_sync",
        "_message_sink",
        "_messages",
        "_messages_blocked",
        "_meta",
        "_owner",
        "_peer",
        "_remote_methods",
        "_sid",
        "_waiters",
    )

    def __init__(self, end: End | None, stream_id: int, meta: bytes, peer: str) -> None:
        self._owner = end
        self._sid = stream_id
        self._meta = meta
        self._peer = peer
        self._messages: deque[Message] | None = None
        self._chunks: deque[bytes] | None = None
        self._chunk_pos = 0  # bytes of _chunks[0] already read
        self._buffered = 0
        self._eof = False
        self._waiters: list[asyncio.Future[None]] | None = None
        self._closed_waiters: list[asyncio.Future[None]] | None = None
        self._handlers: dict[str, Handler] | None = None
        self._hijack: Handler | None = None
        self._hijack_sync: Callable[[SyncRequest], None] | None = None
        self._remote_methods: set[str] | None = None
        self._messages_blocked = False
        self._bytes_blocked = False
        self._message_sink: Callable[[Message], None] | None = None
        self._data_sink: Callable[[bytes | memoryview], None] | None = None
        self._closed_callbacks: list[Callable[[Stream], None]] | None = None

    # ------------------------------------------------------------------------- identity

    @property
    def _end(self) -> End:
        """The End this stream belongs to; stream 1 is the End itself. Not stored for stream
        1: an End holding itself would be a reference cycle (freed only by the cyclic
        collector, late and in bulk)."""
        owner = self._owner
        return owner if owner is not None else cast("End", self)

    @property
    def stream_id(self) -> int:
        return self._sid

    @property
    def meta(self) -> bytes:
        return self._meta

    @property
    def peer(self) -> str:
        return self._peer

    @property
    def client_id(self) -> int:
        return self._end.client_id

    @property
    def end(self) -> End:
        return self._end

    @property
    def closed(self) -> bool:
        """The session is gone (buffered data may still be read)."""
        return self._eof

    # ------------------------------------------------------------------------- messages

    async def publish(
        self,
        data: bytes,
        *,
        topic: str = "",
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the per-message timeout goes on the wire
        at_most_once: bool = False,
    ) -> None:
        """Send a message and wait for the receiver's ack; a nack raises `PublishRejected`.

        With `at_most_once` it returns once the message is handed to the transport (Go's
        `CnssAtMostOnce`); nothing tells whether it arrived.
        """
        end = self._end
        proto = end._protocol_for_ops()
        if not proto.may_send():
            timeout = await _writable_within(proto, timeout, "publish")
        message_id = self._send_publish(data, topic, custom, timeout, at_most_once=at_most_once)
        if at_most_once:
            proto.flush()
            return
        future = end._add_pending(message_id)
        proto.flush()
        try:
            await future
        except asyncio.CancelledError:
            if end._pop_pending(message_id) is not None:
                end._conn.cancel_publish(self._sid, message_id)
                proto.flush()
            raise

    async def receive(self) -> Message:
        """The next message, in arrival order; `StreamClosedError` once the stream is gone
        and the queue is empty."""
        while not self._messages:
            if self._eof:
                raise self._closed_error()
            await self._wait()
        messages = self._messages
        message = messages.popleft()
        if self._messages_blocked and len(messages) <= self._end.limits.max_messages // 2:
            self._messages_blocked = False
            self._end._unblock((self, "messages"))
        return message

    def _ack(self, message_id: int, error: str) -> bool:
        end = self._end
        sent = end._conn.ack(self._sid, message_id, error)
        if sent:
            end._flush()
        return sent

    # ------------------------------------------------------------------------------ RPC

    async def register(
        self,
        method: str,
        handler: Handler,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a sans-I/O timer, like Go's
    ) -> None:
        """Serve `method` on this stream and tell the peer; returns once it acked."""
        end = self._end
        proto = end._protocol_for_ops()
        if self._handlers is None:
            self._handlers = {}
        self._handlers[method] = handler
        try:
            register_id = end._conn.register(self._sid, method, timeout=timeout)
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)
        future = end._add_pending(register_id)
        proto.flush()
        error: str = await future
        if error:
            raise RemoteError(error)

    def hijack(
        self, handler: Handler, pattern: str | re.Pattern[str] | None = None, *, match: bool = True
    ) -> None:
        """Route calls to `handler` before the registered methods: every call when `pattern`
        is None, else those whose method the pattern finds (or does not, with match=False)."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        try:
            hijack = _CATCH_ALL if compiled is None and match else Hijack(compiled, match)
            self._end._conn.set_hijack(self._sid, hijack)
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)
        self._hijack = handler
        self._hijack_sync = None

    def hijack_sync(
        self,
        callback: Callable[[SyncRequest], None],
        pattern: str | re.Pattern[str] | None = None,
        *,
        match: bool = True,
    ) -> None:
        """Like `hijack`, without a task per call: `callback(request)` is called
        synchronously, from the protocol's data callback, for every hijacked call, and
        must not block. It answers later (or at once) with `request.respond(data)` or
        `request.fail(text)`; the first answer wins.

        A request counts against `Limits.max_handlers` from its arrival until it is
        answered, so a relay that leaves calls unanswered stops the socket being read. A
        RequestCancel from the caller (0x73) sets `request.cancelled` and calls
        `request.on_cancel`, if set; the request still counts until it is answered (answer
        it with `fail("context canceled")`, as a cancelled Go handler does). If the
        connection ends first the request is dropped: answering it returns False. An
        exception raised by `callback` fails the request with its text.

        Replaces any `hijack` handler; `unhijack()` removes either."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        try:
            hijack = _CATCH_ALL if compiled is None and match else Hijack(compiled, match)
            self._end._conn.set_hijack(self._sid, hijack)
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)
        self._hijack_sync = callback
        self._hijack = None

    @property
    def remote_methods(self) -> frozenset[str]:
        """Methods the peer registered on this stream (learnt from its Register packets)."""
        return frozenset(self._remote_methods or _NO_METHODS)

    async def wait_remote_methods(self, *methods: str) -> None:
        """Wait until the peer has registered every one of `methods` (Go's RemoteMethods
        option): a peer registers after the handshake, so an early call can race it."""
        while not (self._remote_methods or _NO_METHODS).issuperset(methods):
            if self._eof:
                raise self._closed_error()
            await self._wait()

    def _on_remote_registered(self, method: str) -> None:
        if self._remote_methods is None:
            self._remote_methods = set()
        self._remote_methods.add(method)
        self._wake()

    def unhijack(self) -> None:
        with contextlib.suppress(ConnectionStateError, SessionStateError):
            self._end._conn.set_hijack(self._sid, None)
        self._hijack = None
        self._hijack_sync = None

    async def call(
        self,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the call's deadline goes on the wire
    ) -> bytes:
        """Call the peer's `method`; its error text raises `RPCError`. Cancelling the call
        sends RequestCancel only when the connection's config enables it."""
        end = self._end
        proto = end._protocol_for_ops()
        if not proto.may_send():
            timeout = await _writable_within(proto, timeout, "request")
        request_id = self._send_request(method, data, custom, timeout)
        future = end._add_pending(request_id)
        proto.flush()
        try:
            result: bytes = await future
        except asyncio.CancelledError:
            if end._pop_pending(request_id) is not None:
                end._conn.cancel_request(self._sid, request_id)
                proto.flush()
            raise
        return result

    def call_future(
        self,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,
        data_b64: bytes | None = None,
    ) -> PendingFuture[bytes]:
        """Send a call now and return its pending result, without a coroutine: for relays
        that chain a callback (`add_done_callback`) instead of awaiting in a task.

        `data_b64`: `data` as the base64 text it arrived in (`Request.data_b64`), put on
        the wire as it is instead of encoding `data` again; `data` is then not looked at.
        (A relay uses `forward_call`: the same without the future.)

        The future resolves to the response data, or fails as `call()` does: `RPCError`
        with the peer's error text, `OperationTimeout` after `timeout`,
        `ConnectionClosedError`/`StreamClosedError` if the connection or stream ends
        first. Cancelling it forgets the call (RequestCancel is sent only when the
        connection's config enables it), as cancelling `call()` does.

        Raises `ConnectionClosedError`/`StreamClosedError` at once when nothing can be
        sent. Unlike `call()` it never waits for a paused transport: the request is
        queued even while `protocol.writing_paused`, so the caller owns write
        back-pressure (check `protocol.may_send()`, or `await drain()` between calls)."""
        end = self._end
        proto = end._protocol_for_ops()
        request_id = self._send_request(method, data, custom, timeout, data_b64)
        future: PendingFuture[bytes] = PendingFuture(self, request_id, True, proto.loop)
        end._put_pending(request_id, future)
        proto.flush()
        return future

    def forward_call(
        self,
        forwarded: Forwarded,
        method: str,
        data: bytes,
        *,
        custom: bytes,
        timeout: float | None,
        data_b64: bytes | None,
        timed: bool = True,
    ) -> None:
        """`call_future` for a relay: `forwarded.finished(error)` is called once, as soon
        as the response (or the failure `call()` would raise) is read, with no future in
        between (see `forwarded`). The response is for the relay to splice, not to read:
        when it arrives as base64 text that can be sent on as it is, the text, undecoded,
        is in `forwarded.data_b64` (`SyncRequest.respond(data_b64=...)` sends it on), else
        the data is in `forwarded.data`. `forwarded.cancel()` forgets the call, as
        cancelling `call()` does. Raises, and owns back-pressure, as `call_future`.
        `timed` False: `timeout` only sets the deadline on the wire, and the caller keeps
        the time (`forwarded.expire()` when it passes: a relay's one queue for all)."""
        end = self._end
        proto = end._protocol_for_ops()
        request_id = self._send_request(method, data, custom, timeout, data_b64, timed)
        forwarded._sent(self, request_id, True)
        end._put_pending(request_id, forwarded)
        proto.flush()

    def forward_publish(
        self,
        forwarded: Forwarded,
        data: bytes,
        *,
        topic: str,
        custom: bytes,
        timeout: float | None,
        data_b64: bytes | None,
        timed: bool = True,
    ) -> None:
        """`publish_future` for a relay: `forwarded.finished(error)` once the ack (error
        None), the nack or the failure is read; otherwise as `forward_call`."""
        end = self._end
        proto = end._protocol_for_ops()
        message_id = self._send_publish(
            data, topic, custom, timeout, at_most_once=False, data_b64=data_b64, timed=timed
        )
        forwarded._sent(self, message_id, False)
        end._put_pending(message_id, forwarded)
        proto.flush()

    def publish_future(
        self,
        data: bytes,
        *,
        topic: str = "",
        custom: bytes = b"",
        timeout: float | None = None,
        data_b64: bytes | None = None,
    ) -> asyncio.Future[None]:
        """Send a message now and return the pending ack, without a coroutine (see
        `call_future`, also for `data_b64`). The future resolves to None on the ack, or
        fails as `publish()` does: `PublishRejected` with the receiver's nack text,
        `OperationTimeout`, `ConnectionClosedError`/`StreamClosedError`. Cancelling it
        stops waiting for the ack (nothing is sent). Raises at once when nothing can be
        sent, and never waits for a paused transport: the caller owns write
        back-pressure."""
        end = self._end
        proto = end._protocol_for_ops()
        message_id = self._send_publish(
            data, topic, custom, timeout, at_most_once=False, data_b64=data_b64
        )
        future: PendingFuture[None] = PendingFuture(self, message_id, False, proto.loop)
        end._put_pending(message_id, future)
        proto.flush()
        return future

    def _forget(self, op_id: int, request: bool, pending: object, *, notify: bool = True) -> None:
        """A call (`request`) or message in flight given up by its caller (its future or
        `Forwarded` cancelled, or expired: `notify` False, no RequestCancel, as when its
        timer fires): forget it in the End and the connection, if `pending` is still what
        the End holds for `op_id`."""
        end = self._end
        if end._pop_pending(op_id) is pending:
            if request:
                end._conn.cancel_request(self._sid, op_id, notify=notify)
            else:
                end._conn.cancel_publish(self._sid, op_id)
            end._flush()

    def _send_request(
        self,
        method: str,
        data: bytes,
        custom: bytes,
        timeout: float | None,
        data_b64: bytes | None = None,
        timed: bool = True,
    ) -> int:
        """Queue a Request (deadline from `timeout`, as Go puts it on the wire; timed on
        the connection unless `timed` is False); its ID. What `call()` and `call_future()`
        share; they differ in how they wait."""
        try:
            return self._end._conn.request(
                self._sid,
                method,
                data,
                custom=custom,
                timeout=timeout if timed else None,
                deadline=deadline_after(timeout),
                data_b64=data_b64,
            )
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)

    def _send_publish(
        self,
        data: bytes,
        topic: str,
        custom: bytes,
        timeout: float | None,
        *,
        at_most_once: bool,
        data_b64: bytes | None = None,
        timed: bool = True,
    ) -> int:
        """Queue a Message; its ID. Shared by `publish()` and `publish_future()`."""
        try:
            return self._end._conn.publish(
                self._sid,
                data,
                topic=topic,
                custom=custom,
                at_most_once=at_most_once,
                timeout=timeout if timed else None,
                deadline=deadline_after(timeout),
                data_b64=data_b64,
            )
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)

    # ------------------------------------------------------------------------ raw bytes

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue raw bytes (chunked into frames under the size limit); `await drain()` after."""
        end = self._end
        try:
            end._conn.send_stream_data(self._sid, data)
        except (ConnectionStateError, SessionStateError) as exc:
            self._raise_closed(exc)
        end._flush()

    async def drain(self) -> None:
        """Wait until the transport accepts more; raises if the connection is gone."""
        await self._end._protocol_for_ops().wait_writable()

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes as soon as some are there (`n` < 0: everything until EOF);
        b"" at EOF.

        When the first buffered chunk holds at least `min(n, 64 KiB)`, only that chunk is
        returned (the received object itself when it is whole and fits): joining large
        chunks to fill `n` copied every byte once more for nothing, while small chunks are
        still joined, so that a peer's small writes do not cost one call each."""
        if n == 0:
            return b""
        if n < 0:
            parts: list[bytes | memoryview] = []
            while True:
                if self._buffered:
                    self._take_into(parts, self._buffered)
                elif self._eof:
                    return _joined(parts)
                else:
                    await self._wait()
        while not self._buffered:
            if self._eof:
                return b""
            await self._wait()
        parts = []
        assert self._chunks is not None  # something is buffered
        first = len(self._chunks[0]) - self._chunk_pos
        self._take_into(parts, first if first >= min(n, _READ_BATCH) and first < n else n)
        return _joined(parts)

    async def readexactly(self, n: int) -> bytes:
        """Exactly `n` bytes; `asyncio.IncompleteReadError` if EOF comes first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        parts: list[bytes | memoryview] = []
        missing = n
        while missing:
            if self._buffered:
                # Pieces, not copies: the join at the end is the only one.
                missing -= self._take_into(parts, missing)
            elif self._eof:
                raise asyncio.IncompleteReadError(_joined(parts), n)
            else:
                await self._wait()
        return _joined(parts)

    def at_eof(self) -> bool:
        return self._eof and not self._buffered

    @property
    def buffered(self) -> int:
        """Raw bytes received and not read yet."""
        return self._buffered

    def _take_into(self, parts: list[bytes | memoryview], n: int) -> int:
        """Move up to `n` buffered bytes into `parts` (whole chunks by reference, a view of
        part of one otherwise: `_joined` makes the one copy); returns how many. Resumes
        reading once the buffer is under half its bound."""
        chunks = self._chunks
        if chunks is None:
            return 0
        pos = self._chunk_pos
        taken = 0
        while chunks and taken < n:
            chunk = chunks[0]
            size = len(chunk) - pos
            if size <= n - taken:
                parts.append(chunk if not pos else memoryview(chunk)[pos:])
                chunks.popleft()
                pos = 0
                taken += size
            else:
                end = pos + n - taken
                parts.append(memoryview(chunk)[pos:end])
                pos = end
                taken = n
        self._chunk_pos = pos
        self._buffered -= taken
        if self._bytes_blocked and self._buffered <= self._end.limits.max_buffered_bytes // 2:
            self._bytes_blocked = False
            self._end._unblock((self, "bytes"))
        return taken

    # ------------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Dismiss the stream (both directions) and wait until the peer agreed or the
        dismiss timed out. Data already received stays readable."""
        if self.dismiss():
            await self.wait_closed()

    def dismiss(self) -> bool:
        """Start closing the stream without waiting for the peer (what `close()` does
        first): for code that must not be held by a peer that never answers the
        dismiss, such as a relay refusing a stream. False if there is nothing to wait for
        (already closed, or the connection is gone)."""
        if self._eof:
            return False
        end = self._end
        try:
            end._conn.close_session(self._sid)
        except (ConnectionStateError, SessionStateError):
            return False
        end._flush()
        return True

    async def wait_closed(self) -> None:
        if self._eof:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed_waiters is None:
            self._closed_waiters = []
        self._closed_waiters.append(waiter)
        await waiter

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------ sinks

    def set_message_sink(self, sink: Callable[[Message], None] | None) -> None:
        """Hand every received message to `sink`, synchronously, instead of queueing it for
        `receive()`. For relays (the gateway) that must not hold a task per idle stream: the
        sink owns back-pressure from then on (`End.pause_reading`). Messages already queued
        are handed over at once."""
        self._message_sink = sink
        if sink is not None:
            messages = self._messages
            while messages:
                sink(messages.popleft())
            if self._messages_blocked:
                self._messages_blocked = False
                self._end._unblock((self, "messages"))
            if self._eof:  # nothing more will come: keep no reference (see `_on_closed`)
                self._message_sink = None

    def set_data_sink(self, sink: Callable[[bytes | memoryview], None] | None) -> None:
        """Hand received raw bytes to `sink` instead of buffering them for `read()`; bytes
        already buffered are handed over at once. See `set_message_sink`. A received
        payload may come as a read-only memoryview into the bytes read from the socket
        (`write()` sends it on without a copy); keep it only as long as needed."""
        self._data_sink = sink
        if sink is not None and self._buffered:
            parts: list[bytes | memoryview] = []
            self._take_into(parts, self._buffered)
            if self._bytes_blocked:
                self._bytes_blocked = False
                self._end._unblock((self, "bytes"))
            sink(_joined(parts))
        if self._eof:  # nothing more will come: keep no reference (see `_on_closed`)
            self._data_sink = None

    def add_closed_callback(self, callback: Callable[[Stream], None]) -> None:
        """Call `callback(stream)` once the stream is gone (at once if it already is)."""
        if self._eof:
            callback(self)
        elif self._closed_callbacks is None:
            self._closed_callbacks = [callback]
        else:
            self._closed_callbacks.append(callback)

    # ------------------------------------------------------------------ fed by the End

    def _on_message(self, packet: MessagePacket) -> None:
        sink = self._message_sink
        if sink is not None:
            sink(Message(self, packet))
            return
        messages = self._messages
        if messages is None:
            messages = self._messages = deque()
        messages.append(Message(self, packet))
        if not self._messages_blocked and len(messages) >= self._end.limits.max_messages:
            self._messages_blocked = True
            self._end._block((self, "messages"))
        self._wake()

    def _on_data(self, data: bytes | memoryview) -> None:
        sink = self._data_sink
        if sink is not None:
            sink(data)
            return
        if not data:
            return
        if type(data) is not bytes:
            # Queued: a copy of its own, so as not to keep the chunk it was read in.
            data = bytes(data)
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = deque()
        chunks.append(data)
        self._buffered += len(data)
        if not self._bytes_blocked and self._buffered >= self._end.limits.max_buffered_bytes:
            self._bytes_blocked = True
            self._end._block((self, "bytes"))
        self._wake()

    def _on_closed(self) -> None:
        """No more input: readers drain what is queued, then see EOF. Queued data no longer
        holds the connection back, since nothing more can arrive for this stream."""
        if self._eof:
            return
        self._eof = True
        if self._messages_blocked:
            self._messages_blocked = False
            self._end._unblock((self, "messages"))
        if self._bytes_blocked:
            self._bytes_blocked = False
            self._end._unblock((self, "bytes"))
        self._wake()
        waiters, self._closed_waiters = self._closed_waiters, None
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        callbacks, self._closed_callbacks = self._closed_callbacks, None
        # Nothing more arrives for a closed stream: drop the callbacks that could (a relay's
        # sinks and hijacks close over both halves, each half referring to the other: kept,
        # they made every spliced stream a reference cycle).
        self._message_sink = self._data_sink = None
        self._hijack = self._hijack_sync = None
        self._handlers = None
        if callbacks:
            for callback in callbacks:
                callback(self)

    def _handler_for(self, method: str, hijacked: bool) -> Handler | None:
        if hijacked:
            return self._hijack
        handlers = self._handlers
        return handlers.get(method) if handlers is not None else None

    # ------------------------------------------------------------------------ helpers

    async def _wait(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(waiter)
        try:
            await waiter
        finally:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)

    def _wake(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _closed_error(self) -> EndError:
        if self._end._conn.closed:
            return ConnectionClosedError("the connection is closed")
        return StreamClosedError(f"stream {self._sid} is closed")

    def _raise_closed(self, exc: Exception) -> NoReturn:
        if isinstance(exc, ConnectionStateError) or self._end._conn.closed:
            raise ConnectionClosedError(str(exc)) from exc
        raise StreamClosedError(str(exc)) from exc

    def __repr__(self) -> str:
        state = "closed" if self._eof else "open"
        return f"<{type(self).__name__} {self._sid} {state} peer={self._peer!r}>"
