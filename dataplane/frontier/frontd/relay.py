"""Bytes both ways between two connected sockets: zero-copy with splice(2), or copied.

No task per relay: each direction is a pair of callbacks on the event loop (`add_reader` on
its source, `add_writer` on its destination only while the destination is full), so an idle
relay costs its two sockets and these objects, nothing more.

**Splice** (Linux): source socket -> pipe -> destination socket, the kernel moving page
references; the bytes never enter Python. A direction holds a pipe only while bytes sit in
it: pipes come from a per-worker `PipePool` and go back the moment they are empty, so idle
relays hold no pipe (no descriptors, no pipe buffers) and a busy worker reuses a few.
``SPLICE_F_MORE`` is never set: it tells TCP more is coming and delays small segments (the
original frontd's 200 ms stalls for game traffic); both sockets also get ``TCP_NODELAY``.

**Copy** (elsewhere, or ``relay.mode: copy``): `recv_into` a worker-wide scratch buffer and
`send`; only bytes the destination did not take are kept, per direction.

Flow control is TCP's: a direction whose destination is full stops reading its source until
the destination drains. Half-close passes through: EOF from one side is a ``shutdown(WR)``
on the other once everything before it is delivered, and the other direction carries on.
The relay ends when both directions have ended, when either side fails (the other side is
then reset, as the failure would have been seen end to end), on the idle timeout (no byte
either way for that long), or when the owner closes it (drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
import sys
from collections.abc import Callable
from typing import Final, Literal

from ..timer.loop import LoopTimer
from ..timer.wheel import TimerHandle
from .metrics import FrontdMetrics

__all__ = ["SPLICE_AVAILABLE", "PipePool", "Relay", "RelayMode", "tune_socket"]

log = logging.getLogger("frontier.frontd.relay")

RelayMode = Literal["splice", "copy"]

SPLICE_AVAILABLE: Final = sys.platform == "linux" and hasattr(os, "splice")
_SPLICE_FLAGS: Final = (
    os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK if SPLICE_AVAILABLE else 0
)  # never SPLICE_F_MORE
_ROUNDS: Final = 16
"""Reads per readiness callback before yielding to other connections (fairness)."""
_LINGER_RESET: Final = struct.pack("ii", 1, 0)
_GONE: Final = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT, errno.ENOTCONN})


def tune_socket(sock: socket.socket) -> None:
    """Non-blocking, and no Nagle delay: relayed messages leave when they arrive."""
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PipePool:
    """Non-blocking pipes of `size` bytes, lent to directions while they hold data.

    At most `keep` idle pipes are kept open; others are closed when returned. `size` is set
    with ``F_SETPIPE_SZ`` when the kernel allows it (it refuses sizes above
    /proc/sys/fs/pipe-max-size, or once the user's pipe-buffer quota is used); otherwise
    the pipe keeps the default 64 KiB."""

    __slots__ = ("_free", "capacity", "keep", "lent", "size")

    def __init__(self, size: int = 65536, keep: int = 64) -> None:
        self.size = size
        self.keep = keep
        self.capacity = size
        self.lent = 0
        self._free: list[tuple[int, int]] = []

    def take(self) -> tuple[int, int]:
        self.lent += 1
        if self._free:
            return self._free.pop()
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        import fcntl

        try:
            self.capacity = fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, self.size)
        except OSError:
            self.capacity = fcntl.fcntl(write_fd, fcntl.F_GETPIPE_SZ)
        return read_fd, write_fd

    def give(self, pipe: tuple[int, int]) -> None:
        """Return an *empty* pipe."""
        self.lent -= 1
        if len(self._free) < self.keep:
            self._free.append(pipe)
        else:
            _close_pipe(pipe)

    def discard(self, pipe: tuple[int, int]) -> None:
        """Close a pipe that may still hold bytes (its relay failed)."""
        self.lent -= 1
        _close_pipe(pipe)

    def close(self) -> None:
        for pipe in self._free:
            _close_pipe(pipe)
        self._free.clear()


def _close_pipe(pipe: tuple[int, int]) -> None:
    for fd in pipe:
        with contextlib.suppress(OSError):
            os.close(fd)


class _Direction:
    """One way of a relay: read `src`, write `dst`. Subclasses move the bytes."""

    __slots__ = ("count", "done", "dst", "eof", "relay", "src")

    def __init__(
        self, relay: Relay, src: socket.socket, dst: socket.socket, count: Callable[[int], None]
    ) -> None:
        self.relay = relay
        self.src = src
        self.dst = dst
        self.count = count
        self.eof = False  # the source sent FIN
        self.done = False  # FIN passed on (or the relay ended)

    def start(self) -> None:
        self.relay.loop.add_reader(self.src.fileno(), self.readable)

    def readable(self) -> None:
        raise NotImplementedError

    def writable(self) -> None:
        """The destination has room again: flush, then read again (or pass the FIN)."""
        try:
            flushed = self.flush()
        except OSError as exc:
            self.relay.fail(exc)
            return
        if not flushed:
            return
        loop = self.relay.loop
        loop.remove_writer(self.dst.fileno())
        self.relay.touch()
        if self.eof:
            self.finish()
        else:
            loop.add_reader(self.src.fileno(), self.readable)

    def flush(self) -> bool:
        """Write what is held; True when nothing is left."""
        raise NotImplementedError

    def blocked(self) -> None:
        """The destination is full: stop reading until it drains."""
        loop = self.relay.loop
        loop.remove_reader(self.src.fileno())
        loop.add_writer(self.dst.fileno(), self.writable)

    def source_ended(self) -> None:
        self.eof = True
        self.relay.loop.remove_reader(self.src.fileno())

    def finish(self) -> None:
        """Everything before the source's FIN is delivered: pass the FIN on."""
        self.done = True
        try:
            self.dst.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self.relay.fail(exc)
            return
        self.relay.direction_done()

    def release(self) -> None:
        """The relay is ending: give back what this direction holds."""


class _SpliceDirection(_Direction):
    __slots__ = ("pending", "pipe", "pool")

    def __init__(
        self,
        relay: Relay,
        src: socket.socket,
        dst: socket.socket,
        count: Callable[[int], None],
        pool: PipePool,
    ) -> None:
        super().__init__(relay, src, dst, count)
        self.pool = pool
        self.pipe: tuple[int, int] | None = None
        self.pending = 0  # bytes in the pipe

    def readable(self) -> None:
        """Source -> pipe -> destination, until the source is empty, the destination is
        full, or `_ROUNDS` pipefuls moved (then the loop serves other connections)."""
        relay = self.relay
        pool = self.pool
        src, dst = self.src.fileno(), self.dst.fileno()
        pipe = self.pipe if self.pipe is not None else pool.take()
        pipe_r, pipe_w = pipe
        moved = 0
        try:
            for _ in range(_ROUNDS):
                try:
                    n = os.splice(src, pipe_w, pool.capacity, flags=_SPLICE_FLAGS)
                except BlockingIOError:
                    break
                if n == 0:
                    self.source_ended()
                    break
                while n:
                    try:
                        sent = os.splice(pipe_r, dst, n, flags=_SPLICE_FLAGS)
                    except BlockingIOError:
                        self.pipe, self.pending = pipe, n  # held until the destination drains
                        self.count(moved)
                        self.blocked()
                        relay.touch()
                        return
                    n -= sent
                    moved += sent
        except OSError as exc:
            self.pipe = pipe  # may hold bytes: discarded by the relay's close
            relay.fail(exc)
            return
        self.pipe = None
        pool.give(pipe)  # empty: idle directions hold no pipe
        if moved:
            self.count(moved)
            relay.touch()
        if self.eof:
            self.finish()

    def flush(self) -> bool:
        pipe = self.pipe
        if pipe is None:
            return True
        dst = self.dst.fileno()
        while self.pending:
            try:
                n = os.splice(pipe[0], dst, self.pending, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                return False
            self.pending -= n
            self.count(n)
        self.pool.give(pipe)
        self.pipe = None
        return True

    def release(self) -> None:
        if self.pipe is not None:
            self.pool.discard(self.pipe)
            self.pipe = None
            self.pending = 0


class _CopyDirection(_Direction):
    __slots__ = ("held", "scratch")

    def __init__(
        self,
        relay: Relay,
        src: socket.socket,
        dst: socket.socket,
        count: Callable[[int], None],
        scratch: memoryview,
    ) -> None:
        super().__init__(relay, src, dst, count)
        self.scratch = scratch
        self.held = b""  # bytes the destination did not take yet

    def readable(self) -> None:
        relay = self.relay
        scratch = self.scratch
        try:
            for _ in range(_ROUNDS):
                try:
                    n = self.src.recv_into(scratch)
                except BlockingIOError:
                    break
                if n == 0:
                    self.source_ended()
                    break
                try:
                    sent = self.dst.send(scratch[:n])
                except BlockingIOError:
                    sent = 0
                self.count(sent)
                if sent < n:
                    self.held = bytes(scratch[sent:n])
                    self.blocked()
                    relay.touch()
                    return
        except OSError as exc:
            relay.fail(exc)
            return
        relay.touch()
        if self.eof:
            self.finish()

    def flush(self) -> bool:
        held = self.held
        while held:
            try:
                sent = self.dst.send(held)
            except BlockingIOError:
                return False
            self.count(sent)
            held = self.held = held[sent:]
        return True

    def release(self) -> None:
        self.held = b""


class Relay:
    """Relays `client` <-> `backend` (both connected) until both directions end.

    `on_close(relay, reason)` is called once, with ``done``, ``reset``, ``idle`` or
    ``drain``, after both sockets are closed."""

    __slots__ = (
        "_idle",
        "_idle_timeout",
        "_on_close",
        "backend",
        "client",
        "closed",
        "down",
        "loop",
        "up",
    )

    def __init__(
        self,
        client: socket.socket,
        backend: socket.socket,
        *,
        mode: RelayMode,
        pool: PipePool | None,
        scratch: memoryview | None,
        timers: LoopTimer,
        idle_timeout: float,
        metrics: FrontdMetrics,
        on_close: Callable[[Relay, str], None],
    ) -> None:
        self.loop: asyncio.AbstractEventLoop = timers.loop
        self.client = client
        self.backend = backend
        self.closed = False
        self._on_close = on_close
        up_count, down_count = metrics.upstream_bytes.inc, metrics.downstream_bytes.inc
        self.up: _Direction
        self.down: _Direction
        if mode == "splice":
            assert pool is not None
            self.up = _SpliceDirection(self, client, backend, up_count, pool)
            self.down = _SpliceDirection(self, backend, client, down_count, pool)
        else:
            assert scratch is not None
            self.up = _CopyDirection(self, client, backend, up_count, scratch)
            self.down = _CopyDirection(self, backend, client, down_count, scratch)
        self._idle_timeout = idle_timeout
        self._idle: TimerHandle | None = (
            timers.add(idle_timeout, self._on_idle) if idle_timeout > 0 else None
        )

    def start(self) -> None:
        self.up.start()
        self.down.start()

    def touch(self) -> None:
        """Bytes moved: push the idle deadline back (no allocation; see TimerHandle.reset)."""
        if self._idle is not None:
            self._idle.reset(self._idle_timeout)

    def direction_done(self) -> None:
        if self.up.done and self.down.done:
            self.close("done")

    def fail(self, exc: OSError) -> None:
        if exc.errno not in _GONE:
            log.debug("relay failed: %s", exc)
        self.close("reset", reset=True)

    def _on_idle(self) -> None:
        self._idle = None
        self.close("idle")

    def close(self, reason: str, *, reset: bool = False) -> None:
        """Stop relaying and close both sockets (with an RST when `reset`)."""
        if self.closed:
            return
        self.closed = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        loop = self.loop
        for sock in (self.client, self.backend):
            fd = sock.fileno()
            if fd >= 0:
                loop.remove_reader(fd)
                loop.remove_writer(fd)
        self.up.release()
        self.down.release()
        for sock in (self.client, self.backend):
            if reset:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            sock.close()
        self._on_close(self, reason)
