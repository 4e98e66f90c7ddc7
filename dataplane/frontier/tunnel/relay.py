"""A TCP connection relayed over a tunnel stream: the asyncio side of `wire`.

The same relay runs at both ends: at the entry between a user's socket and the stream, at
the connector between the stream and the app's socket. Three coroutines per relay:

- *from the stream*: reads the stream as soon as bytes arrive and turns them into events.
  It never waits for the socket: the DATA it can receive is bounded by the window it
  granted, so reading eagerly keeps geminio's per-stream buffer short (the shared
  connection is never paused on this tunnel's account) without growing anything;
- *to the socket*: writes received DATA to the socket, waits for the socket to drain, then
  grants the credit back (WINDOW): a socket that does not read stops its peer after one
  window;
- *from the socket*: reads the socket only while it has credit and writes DATA frames,
  waiting for the stream's transport to drain (the gateway connection's back-pressure).

Half-close passes through (EOF frame <-> ``shutdown(SHUT_WR)``). A relay ends **done** once
both directions ended with EOF, or **aborted**: the socket was reset, the peer sent ABORT,
the stream closed without EOF (the far end or the gateway went away), the idle timeout
passed, the frame protocol was broken, or the owner closed it (drain). An aborted relay
resets its socket (``SO_LINGER`` 0: the user sees a connection reset, never an orderly end
that could pass for a complete transfer) and tells the peer why (ABORT) when the cause was
on this side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..geminio.aio import EndError, Stream
from .wire import (
    Abort,
    Credit,
    Data,
    Eof,
    Event,
    Report,
    Status,
    TunnelProtocol,
    TunnelProtocolError,
)

__all__ = [
    "CHUNK",
    "Relay",
    "RelayResult",
    "SocketWriter",
    "TunnelStream",
    "reset",
    "stream_write",
]

log = logging.getLogger("frontier.tunnel.relay")

CHUNK: Final = 64 * 1024
"""Largest read from a socket (and so the largest DATA frame a relay sends)."""
_STREAM_READ: Final = 256 * 1024
_LINGER_RESET: Final = struct.pack("ii", 1, 0)
_CLOSE_TIMEOUT: Final = 5.0

Count = Callable[[int], object]


class SocketWriter(Protocol):
    """What a relay needs of the socket side's writer: an `asyncio.StreamWriter`, or the
    HTTP front's writer of an upgraded connection."""

    @property
    def transport(self) -> asyncio.BaseTransport: ...
    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def _ignore(_: int) -> None:
    return None


def reset(writer: SocketWriter) -> None:
    """Close `writer`'s connection with a reset (RST), not a FIN: an interrupted transfer
    must not look complete to the other end."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport = writer.transport
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:  # pragma: no cover - every socket transport can write
        transport.close()


def stream_write(stream: Stream, frame: bytes) -> bool:
    """Write a frame; False if the stream (or its connection) is gone."""
    try:
        stream.write(frame)
    except EndError:
        return False
    return True


class TunnelStream:
    """A stream with its frame protocol, and events already read (those that came in
    with the STATUS frame while the opener waited for it)."""

    __slots__ = ("pending", "proto", "stream")

    def __init__(self, stream: Stream, proto: TunnelProtocol) -> None:
        self.stream = stream
        self.proto = proto
        self.pending: list[Event] = []

    async def next_events(self) -> list[Event] | None:
        """The next events (None once the stream closed); `TunnelProtocolError` if the
        peer broke the protocol."""
        if self.pending:
            events, self.pending = self.pending, []
            return events
        data = await self.stream.read(_STREAM_READ)
        if not data:
            return None
        return self.proto.receive_data(data)

    def abort(self, reason: str) -> None:
        """Tell the peer why, and close the stream without waiting for it."""
        stream_write(self.stream, self.proto.send_abort(reason))
        self.stream.dismiss()


@dataclass(frozen=True, slots=True)
class RelayResult:
    outcome: str
    """``done`` or why it was aborted: ``reset`` (the socket), ``peer`` (the peer's ABORT,
    see `reason`), ``lost`` (the stream closed without EOF), ``idle``, ``protocol``,
    ``closed`` (the owner closed the relay)."""
    reason: str = ""


class Relay:
    """One relayed connection; `run()` until it ends, `close(reason)` to end it early."""

    def __init__(
        self,
        tunnel: TunnelStream,
        reader: asyncio.StreamReader,
        writer: SocketWriter,
        *,
        idle_timeout: float = 0.0,
        count_to_socket: Count = _ignore,
        count_from_socket: Count = _ignore,
        eof_first_aborts: bool = False,
    ) -> None:
        self.tunnel = tunnel
        self.eof_first_aborts = eof_first_aborts
        """The socket's EOF before the peer's is an abort (a WebSocket client that went
        away: a half-close means nothing there, and the app must not wait on it)."""
        self.reader = reader
        self.writer = writer
        self.idle_timeout = idle_timeout
        self._count_to_socket = count_to_socket
        self._count_from_socket = count_from_socket
        self._loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[RelayResult] = self._loop.create_future()
        self._inbox: deque[bytes | None] = deque()  # None: the peer's EOF
        self._inbox_ready = asyncio.Event()
        self._credit_ready = asyncio.Event()
        self._sent_eof = False
        self._delivered_eof = False
        self._last_activity = self._loop.time()
        self._idle_handle: asyncio.TimerHandle | None = None

    # ---------------------------------------------------------------------- running

    async def run(self) -> RelayResult:
        tasks = [
            asyncio.ensure_future(self._from_stream()),
            asyncio.ensure_future(self._to_socket()),
            asyncio.ensure_future(self._from_socket()),
        ]
        if self.idle_timeout > 0:
            self._idle_handle = self._loop.call_later(self.idle_timeout, self._check_idle)
        cancelled = False
        try:
            await asyncio.wait([self._ended])  # a wait: cancelling it leaves the future be
        except asyncio.CancelledError:
            cancelled = True
            self._end("closed", "the relay was cancelled")
        finally:
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        result = self._ended.result()
        if cancelled:
            reset(self.writer)
            self.tunnel.abort(result.reason)
            raise asyncio.CancelledError
        await self._finish(result)
        return result

    def close(self, reason: str = "closed") -> None:
        """End the relay now (a drain that ran out of time, an app removed): the socket is
        reset and the peer told `reason`."""
        self._end("closed", reason)

    def _end(self, outcome: str, reason: str = "") -> None:
        if not self._ended.done():
            self._ended.set_result(RelayResult(outcome, reason))

    async def _finish(self, result: RelayResult) -> None:
        stream = self.tunnel.stream
        if result.outcome == "done":
            self.writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await self.writer.wait_closed()
            if stream.dismiss():
                with contextlib.suppress(EndError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await stream.wait_closed()
            return
        reset(self.writer)
        if result.outcome in ("reset", "idle", "protocol", "closed"):
            self.tunnel.abort(result.reason or result.outcome)  # the cause was here: say so
        else:
            stream.dismiss()

    def _touch(self) -> None:
        self._last_activity = self._loop.time()

    def _check_idle(self) -> None:
        due = self._last_activity + self.idle_timeout
        now = self._loop.time()
        if now >= due:
            self._end("idle", f"idle for {self.idle_timeout:g} s")
        else:
            self._idle_handle = self._loop.call_later(due - now, self._check_idle)

    def _maybe_done(self) -> None:
        if self._sent_eof and self._delivered_eof:
            self._end("done")

    # ------------------------------------------------------------------- directions

    async def _from_stream(self) -> None:
        tunnel = self.tunnel
        while True:
            try:
                events = await tunnel.next_events()
            except TunnelProtocolError as exc:
                self._end("protocol", f"protocol error: {exc}")
                return
            except EndError:
                events = None
            if events is None:
                if not tunnel.proto.peer_eof:
                    self._end("lost", "the tunnel closed before the end of the connection")
                return  # after the peer's EOF a closed stream is the normal end
            for event in events:
                if isinstance(event, Data):
                    self._inbox.append(event.data)
                    self._inbox_ready.set()
                elif isinstance(event, Credit):
                    self._credit_ready.set()
                elif isinstance(event, Eof):
                    self._inbox.append(None)
                    self._inbox_ready.set()
                elif isinstance(event, Abort):
                    self._end("peer", event.reason)
                    return
                elif isinstance(event, Status | Report):  # pragma: no cover - refused by wire
                    self._end("protocol", "protocol error: unexpected frame")
                    return
            if events:
                self._touch()

    async def _to_socket(self) -> None:
        writer = self.writer
        tunnel = self.tunnel
        inbox = self._inbox
        while True:
            while not inbox:
                self._inbox_ready.clear()
                await self._inbox_ready.wait()
            chunk = inbox.popleft()
            try:
                if chunk is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    else:  # TLS cannot half-close: end the connection
                        writer.close()
                    self._delivered_eof = True
                    self._maybe_done()
                    return
                writer.write(chunk)
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                self._end("reset", f"the connection failed: {exc}")
                return
            self._count_to_socket(len(chunk))
            self._touch()
            grant = tunnel.proto.consumed(len(chunk))
            if grant and not stream_write(tunnel.stream, grant):
                self._end("lost", "the tunnel closed")
                return

    async def _from_socket(self) -> None:
        reader = self.reader
        tunnel = self.tunnel
        proto = tunnel.proto
        stream = tunnel.stream
        while True:
            while proto.send_credit <= 0:
                self._credit_ready.clear()
                await self._credit_ready.wait()
            try:
                data = await reader.read(min(proto.send_credit, CHUNK))
            except (ConnectionError, OSError) as exc:
                self._end("reset", f"the connection failed: {exc}")
                return
            if not data:
                if self.eof_first_aborts and not proto.peer_eof:
                    self._end("reset", "the client went away")
                    return
                if not stream_write(stream, proto.send_eof()):
                    self._end("lost", "the tunnel closed")
                    return
                self._sent_eof = True
                self._maybe_done()
                return
            if not stream_write(stream, proto.send_data(data)):
                self._end("lost", "the tunnel closed")
                return
            self._count_from_socket(len(data))
            self._touch()
            try:
                await stream.drain()
            except EndError:
                self._end("lost", "the tunnel closed")
                return
