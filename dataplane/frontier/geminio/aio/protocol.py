"""The asyncio.Protocol that moves bytes between a transport and a sans-I/O connection.

It follows the connection's adapter contract (see `..connection`): after every call into the
connection it drains bytes (one `writelines`), timer requests (onto the loop's timing wheel)
and events (handed to the End). Nothing here runs as a task: an idle connection is a
transport, this object, the End and a few timer handles.

Back-pressure is a set of *blockers*: whoever holds a queue that went over its bound adds a
token, and reading from the socket is paused while any token is held. `wait_writable()` lets
writers wait out `pause_writing()`.

Writes are coalesced: frames go to the transport in one `writelines` from a callback
scheduled with `call_soon` at the end of the loop iteration, or as soon as HOLD_FRAMES
frames or HOLD_BYTES bytes are held, not one `send()` per flush. The syscall per frame was
the largest single cost in bench/protocol.py's concurrent cases. The early push matters as
much as the coalescing: the peer is another process (another core), and holding a whole
iteration's 64 calls until its end made the two sides work in turn, each idle while the
other ran (both at ~50 % CPU, a third less throughput than a `send()` per call); pushing
every 8 frames keeps both busy and still saves most syscalls (bench/protocol.py: 64-way
concurrent RPC 35k -> 43k calls/s; 4 and 16 measured alike, 32 fell back to taking turns).
The early push also bounds what a caller that never yields can pile up here, so `publish()`
and `call()` only check `may_send()` (not paused). Anything that must see the transport's
real state first sends what is held: `wait_writable()` (so `drain()` and the pause it
reports stay exact) and closing or aborting the transport (what was flushed before is still
attempted first, as when every flush wrote at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import ClassVar, Final, Protocol, cast

from mypy_extensions import mypyc_attr

from ...timer import get_loop_timer
from ..connection import Connection
from ..events import ConnectionClosed, Event
from ..timer_requests import TimerKey, TimerKind
from .errors import ConnectionClosedError
from .timers import TimerService, TimerTable

__all__ = ["EventSink", "GeminioProtocol"]

HOLD_FRAMES: Final = 8
"""Held frames that are pushed at once instead of at the end of the iteration."""
HOLD_BYTES: Final = 64 * 1024
"""Held bytes beyond which they are pushed at once (asyncio's default write high-water)."""


class EventSink(Protocol):
    """The End: receives the connection's events and learns its protocol."""

    def attach(self, protocol: GeminioProtocol) -> None: ...

    def detach(self, protocol: GeminioProtocol) -> None: ...

    def handle_events(self, events: list[Event]) -> None: ...


_WRITE_TOKEN = "write"


@mypyc_attr(allow_interpreted_subclasses=True)  # server._ServerProtocol, compiled or not
class GeminioProtocol(asyncio.Protocol):
    # Slots, and no container until one is needed: this object is part of what an idle
    # connection costs.
    __slots__ = (
        "_abort",
        "_blockers",
        "_closing_transport",
        "_flushing",
        "_held",
        "_held_size",
        "_loop",
        "_lost",
        "_reading_paused",
        "_receiving",
        "_send_scheduled",
        "_sink",
        "_timer_service",
        "_timers",
        "_write_mark",
        "_write_paused",
        "_write_waiters",
        "conn",
        "transport",
    )

    READ_WHILE_WRITE_PAUSED: ClassVar[bool] = True
    """Keep reading while the transport's output is above its high-water mark. A server
    facing untrusted peers turns this off (see `server._ServerProtocol`): what it reads it
    answers (heartbeat acks, error responses, nacks) whatever its callers do, so a peer that
    sends without reading would otherwise grow the output without bound. A client keeps
    reading: if both ends of a connection stopped reading while their output is full, each
    would wait for the other for ever."""

    def __init__(
        self, conn: Connection, sink: EventSink, timer: TimerService | None = None
    ) -> None:
        self.conn = conn
        self._sink = sink
        self._timer_service = timer
        self._timers: TimerTable | None = None
        self.transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: list[bytes | memoryview] | None = None
        self._held_size = 0
        self._send_scheduled = False
        self._receiving = False
        self._flushing = False
        self._closing_transport = False
        self._abort = False
        self._lost = False
        self._blockers: set[Hashable] | None = None
        self._reading_paused = False
        self._write_paused = False
        self._write_mark = 0
        """While writing is paused: the unsent output at the last check, plus what was
        written since (so the difference to the current size is what the peer read)."""
        self._write_waiters: list[asyncio.Future[None]] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop this connection runs on. Kept: on CPython 3.11 every
        `asyncio.get_running_loop()` is a getpid() system call (5 % of a forwarded call's
        CPU in the gateway, profiled), and a call, a publish and a held frame each need it."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # --------------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        service = self._timer_service if self._timer_service is not None else get_loop_timer()
        self._timers = TimerTable(service, self)
        self._sink.attach(self)
        self._start_connection()
        self.flush()

    def _start_connection(self) -> None:
        """Start the sans-I/O connection (a server passes its remaining handshake time)."""
        self.conn.start()

    def data_received(self, data: bytes | bytearray | memoryview) -> None:
        # (Not only bytes: the WebSocket bridge passes a frame's bytearray, and a compiled
        # build checks the declared type.)
        # The answers to one read (heartbeat acks, responses, acks) are complete once the
        # read is handled: written at once, in one call, rather than at the end of the
        # iteration (a scheduled callback per connection that only sends a heartbeat ack
        # cost a tenth of a heartbeat). Frames other connections' events produce for this
        # one are still held and coalesced as before.
        self._receiving = True
        try:
            self.conn.receive_data(data)
            self.flush()
        finally:
            self._receiving = False
        if self._held:
            self._send_held()

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._held = None
        self.conn.receive_eof()
        self.flush()
        if self._timers is not None:
            self._timers.cancel_all()
        self._wake_writers()
        self._release()

    def _release(self) -> None:
        """Break the reference cycles a connection is made of (transport <-> protocol <->
        End, protocol <-> timer table), so that a closed connection is freed by reference
        counting at once. Left to the cyclic garbage collector, every closed connection
        (with TLS: its OpenSSL state and the event loop's 256 KiB read buffer) stayed in
        memory until a full collection happened to run, and a gateway under churn grew
        by tens of KB per connection."""
        self._timers = None
        self.transport = None
        self._sink.detach(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.transport is not None:
            self._write_mark = self.transport.get_write_buffer_size()
        self.conn.write_blocked(True)  # the slow-consumer deadline, if configured
        if not self.READ_WHILE_WRITE_PAUSED:
            self.block(_WRITE_TOKEN)
        self.flush()

    def resume_writing(self) -> None:
        self._write_paused = False
        self.conn.write_blocked(False)
        if not self.READ_WHILE_WRITE_PAUSED:
            self.unblock(_WRITE_TOKEN)
        self.flush()
        self._wake_writers()

    # ------------------------------------------------------------------------- the contract

    def flush(self) -> None:
        """Drain the connection; re-entrant calls (from event handlers) fold into this one."""
        if self._flushing:
            return
        self._flushing = True
        try:
            conn = self.conn
            while True:
                frames = conn.data_to_send()
                if frames and not self._closing_transport and self.transport is not None:
                    self._hold(frames)
                if self._timers is not None:
                    conn.drain_timers(self._timers)
                events = conn.events_received()
                if not events:
                    # Only handling events calls back into the connection: holding frames
                    # and applying timer requests cannot produce more output, so no second
                    # pass to find nothing (a flush per packet made it measurable).
                    break
                for event in events:
                    if isinstance(event, ConnectionClosed):
                        self._abort = event.abort
                self._sink.handle_events(events)
            if conn.closed and not self._closing_transport:
                self._close_transport()
        finally:
            self._flushing = False

    def _hold(self, frames: list[bytes | memoryview]) -> None:
        held = self._held
        if held is None:
            held = self._held = frames  # the connection handed them over: ours now
        else:
            held.extend(frames)
        size = self._held_size
        for frame in frames:
            size += len(frame)
        if len(held) >= HOLD_FRAMES or size > HOLD_BYTES:
            self._send_held()
            return
        self._held_size = size
        if not self._send_scheduled and not self._receiving:
            self._send_scheduled = True
            self.loop.call_soon(self._end_of_iteration)

    def _end_of_iteration(self) -> None:
        self._send_scheduled = False
        self._send_held()

    def _send_held(self) -> None:
        """Hand every held frame to the transport in one call (see the module docstring)."""
        held = self._held
        if not held:
            return
        self._held = None
        if self._write_paused:
            self._write_mark += sum(len(frame) for frame in held)
        self._held_size = 0
        transport = self.transport
        if transport is not None and not self._lost and not transport.is_closing():
            transport.writelines(held)

    def _timer_expired(self, key: TimerKey) -> None:
        if key.kind is TimerKind.WRITE and self._still_draining():
            self.conn.write_blocked(True)  # slow but reading: another period
        else:
            self.conn.timer_expired(key)
        self.flush()

    def _still_draining(self) -> bool:
        """The write deadline passed with the output still above the high-water mark: did
        the peer read at least that mark's worth meanwhile? A consumer that reads slowly
        but steadily is not evicted; one that reads less than 64 KiB (the default mark)
        per `write_timeout` is, which bounds how long it can hold what waits for it."""
        transport = self.transport
        if transport is None or self._lost:
            return False
        size = transport.get_write_buffer_size()
        drained = self._write_mark - size
        self._write_mark = size
        return drained >= transport.get_write_buffer_limits()[1]

    def _close_transport(self) -> None:
        self._send_held()  # as before coalescing: what was flushed is attempted, then closed
        self._closing_transport = True
        self._blockers = None
        self._wake_writers()
        transport = self.transport
        if transport is None or self._lost:
            return
        if self._abort:
            transport.abort()
        else:
            transport.close()

    def abort(self) -> None:
        """Drop the transport at once (a dead or hostile peer)."""
        if self.transport is not None and not self._lost:
            self._send_held()
            self.transport.abort()

    # ---------------------------------------------------------------------- back-pressure

    def block(self, token: Hashable) -> None:
        """A queue went over its bound: stop reading the socket until every token is gone."""
        if self._closing_transport:
            return
        if self._blockers is None:
            self._blockers = {token}
        else:
            self._blockers.add(token)
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
            self.conn.reading_paused(True)
            self.flush()

    def unblock(self, token: Hashable) -> None:
        blockers = self._blockers
        if blockers:
            blockers.discard(token)
            if not blockers:
                self._blockers = None
        if not blockers and self._reading_paused:
            self._reading_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
            self.conn.reading_paused(False)
            self.flush()

    @property
    def reading_paused(self) -> bool:
        return self._reading_paused

    @property
    def writing_paused(self) -> bool:
        return self._write_paused

    def may_send(self) -> bool:
        """True when a publish or call may go now without `await wait_writable()`: the
        transport is up and not paused. Held frames need not be pushed first, since
        `_hold()` already bounds them (see the module docstring)."""
        return not (self._write_paused or self._lost or self._closing_transport)

    async def wait_writable(self) -> None:
        """Return once the transport accepts more (at once, usually); raise if it is gone."""
        if self._lost or self._closing_transport:
            raise ConnectionClosedError("the connection is closed")
        if self._held:
            self._send_held()
        if not self._write_paused:
            return
        waiter: asyncio.Future[None] = self.loop.create_future()
        # Through a local: narrowing `self._write_waiters` to a list here would outlive the
        # await below, and compiled code checks narrowed types (`_wake_writers` sets None).
        pending = self._write_waiters
        if pending is None:
            pending = []
            self._write_waiters = pending
        pending.append(waiter)
        try:
            await waiter
        finally:
            waiters = self._write_waiters
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
        if self._lost or self._closing_transport:
            raise ConnectionClosedError("the connection is closed")

    def _wake_writers(self) -> None:
        waiters, self._write_waiters = self._write_waiters, None
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def __repr__(self) -> str:
        return f"<GeminioProtocol {self.conn!r}>"
