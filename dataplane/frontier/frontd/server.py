"""One frontd worker: accept, read the request, decrypt, check, connect, answer, relay.

The protocol decisions are made by the sans-I/O parts (`handshake`, `cipher`, `address`,
`allow`); this module only moves bytes between them and sockets. The listening socket is
driven by `add_reader` (no asyncio Server: the relay needs the raw sockets for splice).
Each connection has a task only while its handshake runs (bounded by
``handshake.timeout``); a relaying connection has none (see `relay`).

Bounds against hostile clients: ``listen.max_connections`` connections per worker
(handshaking or relaying; beyond it the worker stops accepting and new connections wait in
the kernel's backlog), the handshake deadline (a client that never sends its newline is
answered 400 and closed), the request size limits, at most one key derivation per
derivation per new salt (see `cipher.KeyCache`), a bounded lingering close after an error
answer (so the answer is not lost to a reset, without waiting on a client that never
reads), and the relay's idle timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import resource
import socket
from typing import Final

from prometheus_client import CollectorRegistry

from ..addr import split_addr
from ..timer.loop import LoopTimer
from .address import Backend, parse_backend
from .allow import Allowlist
from .backend import Connector
from .cipher import CipherError, KeyCache, decode_line, decrypt
from .config import FrontdConfig
from .handshake import HandshakeParser, Mode, Refusal, Rejected, Request, Status, render
from .metrics import FrontdMetrics
from .relay import SPLICE_AVAILABLE, PipePool, Relay, RelayMode, tune_socket

__all__ = ["Worker", "bind_listener"]

log = logging.getLogger("frontier.frontd")

_ACCEPTS_PER_WAKEUP: Final = 64
_RECV_CHUNK: Final = 4096
_LINGER_SECONDS: Final = 1.0
_LINGER_BYTES: Final = 65536
_ACCEPT_PAUSE: Final = 0.1
"""After EMFILE/ENFILE/ENOBUFS: retry accepting after this long, not in a busy loop."""


def bind_listener(addr: str, *, reuse_port: bool, backlog: int | None) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (SO_REUSEPORT on request);
    bound but not listening with `backlog` None (a port reservation)."""
    host, port = split_addr(addr, "listen.addr")
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        if backlog is not None:
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def client_ip(host: str) -> str:
    """The client's address as X-Forwarded-For should name it: an IPv4 client of a
    dual-stack listener is ``1.2.3.4``, not ``::ffff:1.2.3.4``."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return host


def raise_fd_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: each relay holds two sockets (and, while
    bytes sit in them, two pipe ends per direction), so the usual soft 1024 would cap a
    worker near 500 relays. The original frontd did the same."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Worker:
    """Serves the frontd protocol on one listening socket until drained or closed."""

    def __init__(self, config: FrontdConfig, metrics: FrontdMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else FrontdMetrics()
        self.allowlist = Allowlist.parse(config.backend.allow)
        self.connector = Connector(
            self.allowlist,
            timeout=config.backend.timeout,
            retry=config.backend.retry,
            metrics=self.metrics,
        )
        self.keys = KeyCache(config.secret_bytes)
        self.mode: RelayMode = _relay_mode(config.relay.mode)
        self._listener: socket.socket | None = None
        self._accepting = False
        self._handshakes: set[asyncio.Task[None]] = set()
        self._relays: set[Relay] = set()
        self._pool: PipePool | None = None
        self._scratch: memoryview | None = None
        self._timers: LoopTimer | None = None
        self._resume: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

    @property
    def port(self) -> int:
        assert self._listener is not None, "the worker has not started"
        return int(self._listener.getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._handshakes) + len(self._relays)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def ready(self) -> bool:
        return self._listener is not None and not self.draining

    def describe(self) -> str:
        return f"{self.mode} relay"

    async def start(self, listener: socket.socket | None = None) -> None:
        """Listen (on `listener` if given) and start accepting."""
        config = self.config
        loop = asyncio.get_running_loop()
        raise_fd_limit()
        self._timers = LoopTimer(tick=0.05, loop=loop)
        if self.mode == "splice":
            self._pool = PipePool(config.relay.buffer)
        else:
            self._scratch = memoryview(bytearray(config.relay.buffer))
        if listener is None:
            listener = bind_listener(
                config.listen.addr, reuse_port=config.listen.reuse, backlog=config.listen.backlog
            )
        self._listener = listener
        self._accept_on()

    def _accept_on(self) -> None:
        if not self._accepting and self._listener is not None and not self.draining:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._on_accept)
            self._accepting = True

    def _accept_off(self) -> None:
        if self._accepting and self._listener is not None:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._accepting = False

    def _on_accept(self) -> None:
        listener = self._listener
        assert listener is not None
        limit = self.config.listen.max_connections
        for _ in range(_ACCEPTS_PER_WAKEUP):
            if self.connections >= limit:
                self._accept_off()  # resumed when a connection ends
                return
            try:
                client, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning(
                        "accept failed (%s): pausing accepts for %.1f s", exc, _ACCEPT_PAUSE
                    )
                    self._accept_off()
                    self._resume = asyncio.get_running_loop().call_later(
                        _ACCEPT_PAUSE, self._resume_accepting
                    )
                    return
                log.debug("accept failed: %s", exc)  # ECONNABORTED and the like: next one
                continue
            self._admit(client, client_ip(peer[0]))

    def _resume_accepting(self) -> None:
        self._resume = None
        self._accept_on()

    def _admit(self, client: socket.socket, peer_ip: str) -> None:
        tune_socket(client)
        self.metrics.connections.inc()
        self.metrics.handshaking.inc()
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._handshake(client, peer_ip))
        self._handshakes.add(task)
        task.add_done_callback(self._handshake_done)

    def _handshake_done(self, task: asyncio.Task[None]) -> None:
        self._handshakes.discard(task)
        self.metrics.handshaking.dec()
        if not task.cancelled() and task.exception() is not None:
            log.error("handshake failed unexpectedly", exc_info=task.exception())
        self._connection_ended()

    def _connection_ended(self) -> None:
        if self.connections < self.config.listen.max_connections and self._resume is None:
            self._accept_on()
        if not self.connections:
            self._idle.set()

    async def _handshake(self, client: socket.socket, peer_ip: str) -> None:
        """Read the request, answer it, and hand a successful one to a `Relay`."""
        backend_sock: socket.socket | None = None
        handed_off = False
        try:
            result = await self._read_request(client, peer_ip)
            if isinstance(result, Rejected):
                await self._refuse(client, result.status, result.mode, result.reason)
                return
            try:
                backend_sock = await self.connector.connect(self._decrypt(result))
            except Refusal as refusal:
                await self._refuse(client, refusal.status, result.mode, refusal.reason)
                return
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self.config.backend.timeout):
                answer = render(Status.OK, result.mode, self.config.handshake.status_format)
                if answer:
                    await loop.sock_sendall(client, answer)
                if result.head or result.rest:
                    early = result.head + result.rest
                    await loop.sock_sendall(backend_sock, early)
                    self.metrics.upstream_bytes.inc(len(early))
            self.metrics.request(Status.OK, result.mode)
            self._relay(client, backend_sock)
            handed_off = True  # the relay owns both sockets now
        except (OSError, TimeoutError) as exc:
            log.debug("connection from %s ended during the handshake: %s", peer_ip, exc)
        finally:
            if not handed_off:
                client.close()
                if backend_sock is not None:
                    backend_sock.close()

    async def _read_request(self, client: socket.socket, peer_ip: str) -> Request | Rejected:
        config = self.config.handshake
        parser = HandshakeParser(peer_ip, max_line=config.max_line, max_header=config.max_header)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(config.timeout):
                while True:
                    data = await loop.sock_recv(client, _RECV_CHUNK)
                    if not data:
                        return parser.incomplete("the connection ended before a complete request")
                    result = parser.feed(data)
                    if result is not None:
                        return result
        except TimeoutError:
            return parser.incomplete(f"no complete request within {config.timeout:g} s")

    def _decrypt(self, request: Request) -> Backend:
        blob = request.ciphertext
        if request.mode != "binary":
            try:
                blob = decode_line(blob)
            except CipherError as exc:
                raise Refusal(Status.BAD_REQUEST, str(exc)) from None
        try:
            backend, _ = decrypt(blob, self.config.derivations, parse_backend, self.keys)
        except CipherError as exc:
            raise Refusal(Status.DECRYPT_FAILED, str(exc)) from None
        return backend

    async def _refuse(self, client: socket.socket, status: Status, mode: Mode, reason: str) -> None:
        """Answer `status`, then close without losing the answer to a reset: stop sending,
        and read (and drop) what the client still sends, briefly and up to a bound."""
        self.metrics.request(status, mode)
        log.debug("answered %d (%s): %s", status.value, mode, reason)
        loop = asyncio.get_running_loop()
        answer = render(status, mode, self.config.handshake.status_format)
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(_LINGER_SECONDS):
                if answer:
                    await loop.sock_sendall(client, answer)
                client.shutdown(socket.SHUT_WR)
                drained = 0
                while drained < _LINGER_BYTES:
                    data = await loop.sock_recv(client, _RECV_CHUNK)
                    if not data:
                        break
                    drained += len(data)

    def _relay(self, client: socket.socket, backend: socket.socket) -> None:
        assert self._timers is not None
        relay = Relay(
            client,
            backend,
            mode=self.mode,
            pool=self._pool,
            scratch=self._scratch,
            timers=self._timers,
            idle_timeout=self.config.relay.idle_timeout,
            metrics=self.metrics,
            on_close=self._relay_closed,
        )
        self._relays.add(relay)
        self.metrics.relaying.inc()
        relay.start()

    def _relay_closed(self, relay: Relay, reason: str) -> None:
        self._relays.discard(relay)
        self.metrics.relaying.dec()
        self.metrics.closed.labels(reason).inc()
        self._connection_ended()

    async def drain(self, seconds: float) -> None:
        """Stop accepting (the port is released at once: other workers, or the next
        process, take new connections), then give open connections up to `seconds`."""
        self.draining = True
        self._take_queued()
        self._stop_listening()
        if self.connections:
            log.info("draining %d connections for up to %.1f s", self.connections, seconds)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._idle.wait()

    def _take_queued(self) -> None:
        """Accept what already waits in the accept queue: closing a listening socket resets
        the connections queued on it (unless net.ipv4.tcp_migrate_req moves them to another
        SO_REUSEPORT listener), so a drain serves them instead."""
        listener = self._listener
        if listener is None or listener.fileno() < 0:
            return
        for _ in range(self.config.listen.backlog):
            try:
                client, peer = listener.accept()
            except OSError:
                return  # empty (BlockingIOError), or out of descriptors: nothing more to do
            self._admit(client, client_ip(peer[0]))

    def _stop_listening(self) -> None:
        self._accept_off()
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._listener is not None:
            self._listener.close()

    async def close(self) -> None:
        """Close everything now: handshakes are cancelled, relays closed (reason drain)."""
        self.draining = True
        self._stop_listening()
        for task in list(self._handshakes):
            task.cancel()
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)
        for relay in list(self._relays):
            relay.close("drain")
        if self._pool is not None:
            self._pool.close()
        if self._timers is not None:
            self._timers.close()


def _relay_mode(mode: str) -> RelayMode:
    if mode == "copy" or (mode == "auto" and not SPLICE_AVAILABLE):
        return "copy"
    if not SPLICE_AVAILABLE:
        raise OSError(errno.ENOSYS, "relay.mode splice needs Linux (os.splice)")
    return "splice"
