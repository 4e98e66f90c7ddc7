"""The accepting side of a server: a bounded accept loop, paused instead of spinning.

`loop.create_server` accepts without bound and gives no way to stop accepting for a while:
a peer holding thousands of idle connections exhausts the process's descriptors, and then
nothing can be accepted, not even a health probe. asyncio logs and retries every second;
uvloop accepts and drops. So the listener runs its own accept loop on sockets it binds:

- **Capacity.** At `max_connections` (counted from accept to close, handshakes included)
  it stops watching the listening sockets; new clients wait in the kernel's backlog (sized
  by the system's `somaxconn` by default, not asyncio's 100, so a reconnect storm queues
  instead of overflowing) and are accepted as soon as a connection ends.
- **Per source address.** With `max_connections_per_ip`, a connection beyond it is closed
  at once, before any handshake work.
- **Descriptors.** EMFILE/ENFILE (and ENOBUFS/ENOMEM) pause accepting briefly instead of
  spinning on a readable listening socket, and are counted and logged (throttled).
- **Handshake deadline.** One deadline from accept to the end of the geminio handshake,
  covering TLS: the TLS handshake gets it whole, and the geminio handshake what is left
  (`ServerConnection.start(connect_timeout)`). Failed TLS handshakes are counted and logged
  (throttled): they are what scanners and misconfigured clients produce.

A connection costs no task, not even while it is admitted: the transport is created by
the loop's `connect_accepted_socket` coroutine, which `_Admission` steps from the callback
of the one future it awaits (what a Task would do, without the Task's registration, context
and callbacks: a sixth of the CPU it took to admit an edge).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from mypy_extensions import mypyc_attr

from ...throttled_log import ThrottledLog
from .accepted import AcceptedSocket

__all__ = [
    "Admitted",
    "Listener",
    "ListenerLimits",
    "ListenerObserver",
    "bind_sockets",
    "system_backlog",
]

log = logging.getLogger("frontier.geminio.listener")

_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_TRANSIENT_ERRNOS = frozenset(
    {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ECONNRESET, errno.EINTR}
)
RESOURCE_PAUSE = 0.25
"""Seconds accepting stays paused after running out of descriptors or memory."""


def system_backlog() -> int:
    """The kernel's cap on a listen backlog (`net.core.somaxconn`): the useful default."""
    try:
        value = int(Path("/proc/sys/net/core/somaxconn").read_text().strip())
    except (OSError, ValueError):
        return socket.SOMAXCONN
    return max(1, min(value, 65535))


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerLimits:
    max_connections: int | None = None
    """Connections at once, from accept to close; None: no bound (a test's choice)."""
    max_connections_per_ip: int | None = None
    """Connections at once from one source address; None: no bound."""
    backlog: int | None = None
    """The listen backlog; None: the system's `somaxconn`."""
    handshake_timeout: float = 10.0
    """Seconds from accept to the end of the handshake, TLS included."""
    max_handshakes: int | None = 128
    """Connections between accept and the end of their TLS handshake (plaintext: the
    transport's creation), at once; beyond it accepting pauses until one is done. A burst
    of TLS clients otherwise held one handshake's buffers each at once (tens of MB that
    the allocator kept), for no gain: handshakes are CPU-bound. None: no bound."""

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_connections_per_ip", "backlog", "max_handshakes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (or None)")
        if not self.handshake_timeout > 0:
            raise ValueError("handshake_timeout must be positive")


@mypyc_attr(allow_interpreted_subclasses=True)  # the gateway's metrics, tests' recorders
class ListenerObserver:
    """What a listener reports (the gateway turns it into metrics); every method a no-op."""

    def paused(self, paused: bool) -> None:
        """Accepting stopped (True) at `max_connections`, or resumed (False)."""

    def refused(self, reason: str) -> None:
        """A connection was refused before any hook ran; `reason`: ``per_ip`` (closed at
        accept) or ``heartbeat`` (asked for more than `max_heartbeat`)."""

    def accept_failed(self, error: str) -> None:
        """accept() failed for lack of resources; `error`: the errno name (EMFILE, ...)."""

    def tls_failed(self, reason: str) -> None:
        """A TLS handshake failed; `reason`: timeout, certificate, protocol, reset, other."""

    def protocol_error(self, reason: str) -> None:
        """An admitted connection was closed for breaking its transport's rules (a
        WebSocket peer's text or oversized message: ``websocket_text``, ...)."""


class Admitted(Protocol):
    """What the listener's protocol factory returns: an asyncio protocol that gives its
    admission back exactly once, when its connection is lost (`release_admission`).
    (Structural, not a base class: the compiled build's protocol classes can have only
    one base.)"""

    def connection_made(self, transport: asyncio.BaseTransport) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def release_admission(self) -> None: ...


ProtocolFactory = Callable[["Listener", str, float], Admitted]
"""(listener, source ip or "" when not tracked, handshake deadline in loop time)."""


def bind_sockets(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for `host` (None or "": every interface, IPv4 and IPv6) as
    `loop.create_server` binds them: SO_REUSEADDR, IPV6_V6ONLY, non-blocking."""
    infos = socket.getaddrinfo(
        host or None, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM,
        flags=socket.AI_PASSIVE,
    )  # fmt: skip
    sockets: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, type_, proto, _, sockaddr in infos:
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sock = socket.socket(family, type_, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"cannot bind {_format(sockaddr)}: {exc.strerror or exc}"
                ) from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(errno.EADDRNOTAVAIL, f"no address to bind for {host!r}")
    return sockets


def _format(sockaddr: Any) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl_module.SSLCertVerificationError):
        return "certificate"
    if isinstance(exc, ssl_module.SSLError):
        return "protocol"
    if isinstance(exc, ConnectionError):
        return "reset"
    return "other"


class Listener:
    """Binds, accepts within `limits`, and hands each connection to `make_protocol`."""

    def __init__(
        self,
        make_protocol: ProtocolFactory,
        limits: ListenerLimits,
        *,
        name: str = "listener",
        observer: ListenerObserver | None = None,
    ) -> None:
        self._make_protocol = make_protocol
        self.limits = limits
        self.name = name
        self.observer = observer if observer is not None else ListenerObserver()
        self._ssl: ssl_module.SSLContext | None = None
        self._sockets: list[socket.socket] = []
        self._loop: Any = None
        """The running loop, from `start` on. Typed Any on purpose: this module is compiled,
        compiled code checks what a call returns against its declared type, and uvloop's
        loop answers differently from asyncio's stubs (`remove_reader` returns None, its
        `call_later` handles are not asyncio.TimerHandle)."""
        self._watching = False
        self._full = False
        self._busy = False
        self.handshaking = 0
        """Connections accepted whose transport (and TLS handshake) is not done yet."""
        self._retry: Any = None
        """The pending retry after a resource error (a loop's timer handle), or None."""
        self._admitting: set[_Admission] = set()
        self._per_ip: dict[str, int] = {}
        self._log = ThrottledLog(log)
        self.connections = 0
        """Connections accepted and not yet closed (handshakes included)."""

    # --------------------------------------------------------------------------- set-up

    async def start(
        self, host: str | None, port: int, *, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._ssl = ssl
        backlog = self.limits.backlog if self.limits.backlog is not None else system_backlog()
        self._sockets = bind_sockets(host, port, backlog)
        self._watch()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        if not self._sockets:
            raise RuntimeError(f"{self.name} is not listening")
        port: int = self._sockets[0].getsockname()[1]
        return port

    @property
    def accepting(self) -> bool:
        return self._watching

    def stop_listening(self) -> None:
        """Close the listening sockets (connections stay): the first step of a drain."""
        self._unwatch()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    async def close(self) -> None:
        """Stop listening and abandon admissions in progress."""
        self.stop_listening()
        for admission in list(self._admitting):
            admission.abandon()

    # ---------------------------------------------------------------------- accept loop

    def _watch(self) -> None:
        if self._watching or not self._sockets or self._loop is None:
            return
        for sock in self._sockets:
            kind = (int(sock.family), int(sock.type), sock.proto)
            self._loop.add_reader(sock.fileno(), self._on_acceptable, sock, kind)
        self._watching = True

    def _unwatch(self) -> None:
        if not self._watching or self._loop is None:
            return
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
        self._watching = False

    def _on_acceptable(self, sock: socket.socket, kind: tuple[int, int, int]) -> None:
        limit = self.limits.max_connections
        handshakes = self.limits.max_handshakes
        family, type_, proto = kind
        for _ in range(64):  # a batch per wake-up, then let other callbacks run
            if limit is not None and self.connections >= limit:
                self._pause_full()
                return
            if handshakes is not None and self.handshaking >= handshakes:
                self._busy = True
                self._unwatch()
                return
            try:
                # `sock.accept()` without its wrapper, which turns the family and type
                # into enums for every connection (a tenth of the accept path's cost)
                fd, addr = sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _TRANSIENT_ERRNOS:
                    continue
                self._accept_error(exc)
                return
            self._admit(AcceptedSocket(family, type_, proto, fileno=fd), addr)

    def _accept_error(self, exc: OSError) -> None:
        name = errno.errorcode.get(exc.errno or 0, "error")
        self.observer.accept_failed(name)
        self._log.warning(
            f"accept:{name}",
            "%s: accept() failed (%s: %s), %d connections open; pausing for %.2f s",
            self.name, name, exc.strerror or exc, self.connections, RESOURCE_PAUSE,
        )  # fmt: skip
        self._unwatch()
        if self._loop is not None and self._retry is None:
            self._retry = self._loop.call_later(RESOURCE_PAUSE, self._retry_accepting)

    def _retry_accepting(self) -> None:
        self._retry = None
        self._resume()

    def _resume(self) -> None:
        """Watch the listening sockets again unless something still says pause."""
        if not (self._full or self._busy or self._retry is not None):
            self._watch()

    def _pause_full(self) -> None:
        if self._full:
            return
        self._full = True
        self._unwatch()
        self.observer.paused(True)
        self._log.warning(
            "full",
            "%s: %d connections (max_connections): not accepting until one closes",
            self.name, self.connections,
        )  # fmt: skip

    def _admit(self, conn: socket.socket, addr: Any) -> None:
        per_ip = self.limits.max_connections_per_ip
        ip = ""
        if per_ip is not None:
            ip = str(addr[0]) if isinstance(addr, tuple) else ""
            if self._per_ip.get(ip, 0) >= per_ip:
                conn.close()
                self.observer.refused("per_ip")
                self._log.info(
                    f"per_ip:{ip}",
                    "%s: refused a connection from %s: %d open from there "
                    "(max_connections_per_ip)",
                    self.name, ip, per_ip,
                )  # fmt: skip
                return
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        self.connections += 1
        self.handshaking += 1
        # (Not made non-blocking here: both loops' transports do it, a system call each.)
        loop = self._loop
        assert loop is not None
        admission = _Admission(self, conn, ip, loop.time() + self.limits.handshake_timeout)
        self._admitting.add(admission)
        admission.start(loop, self._ssl)

    def _admitted(self, admission: _Admission) -> None:
        self._admitting.discard(admission)
        self._handshake_done()

    def _not_admitted(self, admission: _Admission, exc: BaseException) -> None:
        """The transport could not be made, or the TLS handshake failed or was abandoned."""
        self._admitting.discard(admission)
        self._handshake_done()
        admission.sock.close()
        if admission.protocol is not None:
            admission.protocol.release_admission()  # once only, whoever calls it first
        else:
            self.release(admission.ip)
        if isinstance(exc, asyncio.CancelledError):
            return
        if self._ssl is not None:
            # asyncio reports its handshake timeout as ConnectionAbortedError: a failure
            # at the deadline is the deadline's.
            late = self._loop is not None and self._loop.time() >= admission.deadline - 0.01
            reason = "timeout" if late else _tls_reason(exc)
            self.observer.tls_failed(reason)
            self._log.info(
                f"tls:{reason}",
                "%s: TLS handshake from %s failed (%s): %s",
                self.name, admission.ip or "a client", reason, exc or type(exc).__name__,
            )  # fmt: skip
        elif not isinstance(exc, (OSError, EOFError)):
            log.warning("%s: admitting a connection failed", self.name, exc_info=exc)

    def _handshake_done(self) -> None:
        self.handshaking -= 1
        if self._busy:
            handshakes = self.limits.max_handshakes
            if handshakes is None or self.handshaking < handshakes:
                self._busy = False
                self._resume()

    def release(self, ip: str) -> None:
        """A connection admitted with source `ip` ended (called once per admission)."""
        self.connections -= 1
        if ip:
            left = self._per_ip.get(ip, 1) - 1
            if left > 0:
                self._per_ip[ip] = left
            else:
                self._per_ip.pop(ip, None)
        limit = self.limits.max_connections
        if self._full and (limit is None or self.connections < limit):
            self._full = False
            self.observer.paused(False)
            if self._sockets:
                self._resume()


class _Admission:
    """One accepted socket on its way to a transport: steps the loop's
    `connect_accepted_socket` coroutine as a Task would, without a Task per connection."""

    __slots__ = ("_coro", "_waiting", "deadline", "ip", "listener", "protocol", "sock")

    def __init__(self, listener: Listener, sock: socket.socket, ip: str, deadline: float) -> None:
        self.listener = listener
        self.sock = sock
        self.ip = ip
        self.deadline = deadline
        self.protocol: Admitted | None = None
        # Any: compiled code would check these against the declared types, and uvloop's
        # coroutine and futures are its own (Cython) types.
        self._coro: Any = None
        self._waiting: Any = None

    def _make_protocol(self) -> Admitted:
        listener = self.listener
        self.protocol = protocol = listener._make_protocol(listener, self.ip, self.deadline)
        return protocol

    def start(self, loop: Any, ssl: ssl_module.SSLContext | None) -> None:
        self._coro = loop.connect_accepted_socket(
            cast(Callable[[], asyncio.Protocol], self._make_protocol),
            self.sock,
            ssl=ssl,
            ssl_handshake_timeout=max(self.deadline - loop.time(), 0.001)
            if ssl is not None
            else None,
        )
        self._step()

    def _step(self, _done: object = None) -> None:
        self._waiting = None
        coro = self._coro
        if coro is None:
            return
        try:
            awaited = coro.send(None)
        except StopIteration:
            self._coro = None
            self.listener._admitted(self)
        except BaseException as exc:  # every failure is the listener's to report
            self._coro = None
            self.listener._not_admitted(self, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise  # as a Task would: these stop the loop
        else:
            self._wait(awaited)

    def _wait(self, awaited: Any) -> None:
        if awaited is None:  # a bare yield: resume on the next iteration
            asyncio.get_running_loop().call_soon(self._step)
            return
        awaited._asyncio_future_blocking = False
        self._waiting = awaited
        awaited.add_done_callback(self._step)

    def abandon(self) -> None:
        """Cancel the admission now (the listener is closing): the coroutine closes the
        transport it made, and the listener gives the admission back."""
        coro, self._coro = self._coro, None
        if coro is None:
            return
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.remove_done_callback(self._step)
        try:
            coro.throw(asyncio.CancelledError())
        except BaseException as exc:  # the cancellation, back out of the coroutine
            self.listener._not_admitted(self, exc)
        else:
            coro.close()
            self.listener._not_admitted(self, asyncio.CancelledError())
