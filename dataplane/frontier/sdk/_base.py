"""What the Service and the Edge share: addresses, the connection (kept alive or not), the
remembered RPC registrations, and waiting for "online" without spinning.

Both SDK ends are one geminio connection to a gateway. With ``reconnect=True`` (the default,
like Go's `NewService`/`NewEdge`) that connection is a `RetryingClient` that redials after
losing it; with ``reconnect=False`` it is a single `connect()` and losing it is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Self, TypeAlias, TypeVar

from ..conventions import ERR_DRAINING
from ..geminio.aio import (
    Backoff,
    ConnectionClosedError,
    ConnectRejected,
    End,
    EndError,
    Handler,
    Limits,
    Message,
    OperationTimeout,
    RemoteError,
    RetryingClient,
    Stream,
    StreamClosedError,
    connect,
)
from ..geminio.aio.client import is_websocket_url
from ..geminio.packets import HEARTBEAT_INTERVALS

__all__ = [
    "PEER_TIMEOUT_FACTOR",
    "Address",
    "Addresses",
    "ClientBase",
    "Reply",
    "apply_registrations",
    "maybe_await",
    "parse_address",
    "parse_addresses",
    "to_bytes",
]

_log = logging.getLogger("frontier.sdk")

_ACCEPTING = Limits()
_REFUSING = Limits(max_accept_backlog=0)

Address: TypeAlias = str | tuple[str, int]
"""``"host:port"`` (``"[::1]:30011"`` for IPv6), ``(host, port)``, or a ``ws://`` /
``wss://`` URL (the gateway's WebSocket listener)."""
Addresses: TypeAlias = Address | Sequence[Address]

Reply: TypeAlias = bytes | bytearray | memoryview | None
"""What an RPC handler may return (None: an empty response)."""

T = TypeVar("T")

PEER_TIMEOUT_FACTOR = 2.5
"""The default peer timeout, in heartbeat intervals: 50 s at the default 20 s heartbeat.
The gateway acks every heartbeat, so a live gateway is heard from at least once per
interval; 2.5 leaves one and a half intervals for a slow network or a busy gateway."""


def resolve_peer_timeout(peer_timeout: float | None, heartbeat: int) -> float | None:
    """The SDKs' ``peer_timeout`` argument -> the connection's: None means the default
    (`PEER_TIMEOUT_FACTOR` x `heartbeat`), 0 turns the check off (Go's behaviour)."""
    if peer_timeout is None:
        return PEER_TIMEOUT_FACTOR * heartbeat
    if peer_timeout == 0:
        return None
    if not 0 < peer_timeout < float("inf"):
        raise ValueError("peer_timeout must be positive and finite, 0 (off) or None (default)")
    return float(peer_timeout)


def parse_address(addr: Address) -> tuple[str, int]:
    """``"host:port"``, ``"[v6]:port"`` or ``(host, port)`` -> ``(host, port)``; a
    ``ws://`` or ``wss://`` URL -> ``(url, 0)`` (`connect()` dials those over WebSocket).

    A missing host means localhost, so ``":30012"`` works as it does for Go's `net.Dial`.
    """
    if is_websocket_url(addr):
        from ..geminio.aio.websocket import parse_websocket_url

        assert isinstance(addr, str)
        parse_websocket_url(addr)  # ValueError now, not at the first dial
        return addr, 0
    if isinstance(addr, tuple):
        host, port = addr
        if not isinstance(host, str) or not isinstance(port, int):
            raise ValueError(f"bad address {addr!r}: need (host: str, port: int)")
        return host or "127.0.0.1", _check_port(port, addr)
    if not isinstance(addr, str):
        raise TypeError(f"bad address {addr!r}: need 'host:port' or (host, port)")
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"bad address {addr!r}: need 'host:port'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"bad address {addr!r}: write IPv6 hosts as '[host]:port'")
    return host or "127.0.0.1", _check_port(int(port_text), addr)


def _address_text(host: str, port: int) -> str:
    """An address as the user wrote it (a WebSocket URL has no separate port)."""
    return host if port == 0 else f"{host}:{port}"


def _check_port(port: int, addr: object) -> int:
    if not 0 < port < 65536:
        raise ValueError(f"bad address {addr!r}: port out of range")
    return port


def parse_addresses(addr: Addresses) -> list[tuple[str, int]]:
    """One address or several (a list, or a tuple that is not a ``(host, port)`` pair)."""
    if isinstance(addr, str):
        return [parse_address(addr)]
    if isinstance(addr, tuple) and len(addr) == 2 and isinstance(addr[1], int):
        return [parse_address(addr)]
    addresses = [parse_address(one) for one in addr]
    if not addresses:
        raise ValueError("no address given")
    return addresses


def to_bytes(reply: Reply) -> bytes:
    if reply is None:
        return b""
    if isinstance(reply, bytes):
        return reply
    if isinstance(reply, bytearray | memoryview):
        return bytes(reply)
    raise TypeError(f"an RPC handler must return bytes or None, not {type(reply).__name__}")


async def apply_registrations(
    end: End, methods: dict[str, Handler], applied: dict[str, Handler] | None = None
) -> None:
    """Register every method on a new connection, including any added meanwhile (a
    `register()` made while the connection is being set up must not be skipped).
    `applied`: those already registered (given to `connect()`)."""
    applied = dict(applied or {})
    while pending := [(m, h) for m, h in methods.items() if applied.get(m) is not h]:
        # All at once: every handler is installed within one loop turn and the Register
        # packets leave together, instead of one round trip per method.
        await asyncio.gather(*(end.register(method, handler) for method, handler in pending))
        applied.update(pending)


async def maybe_await(value: T | Awaitable[T]) -> T:
    """Let application callbacks be plain functions or coroutine functions."""
    if inspect.isawaitable(value):
        return await value
    return value


class _Redialer(RetryingClient):
    """`RetryingClient` with what the SDKs need on top.

    - ``server_hostname`` for TLS (SNI and the certificate check) when dialing by IP;
    - every dial's outcome reported, so that `start()` can raise the first failure instead
      of redialing a wrong address or a rejecting gateway forever;
    - registrations replayed until none is missing: a `register()` made while a new
      connection is being set up is applied to it, not only to the next one.
    """

    def __init__(
        self,
        addresses: list[tuple[str, int]],
        *,
        server_hostname: str | None,
        methods: dict[str, Handler],
        on_attempt: Callable[[BaseException | None], None],
        **kwargs: Any,
    ) -> None:
        (host, port), *fallbacks = addresses
        super().__init__(host, port, fallbacks=fallbacks, **kwargs)
        self._connect_kwargs: dict[str, Any] = {
            key: kwargs.get(key) for key in ("ssl", "config", "limits", "peer_timeout")
        }
        self._connect_kwargs["proxy"] = kwargs.get("proxy", True)
        self._connect_kwargs.update(
            meta=kwargs.get("meta", b""),
            client_id=kwargs.get("client_id", 0),
            heartbeat=kwargs.get("heartbeat", 20),
            server_hostname=server_hostname,
        )
        self._methods = methods
        self._on_attempt = on_attempt

    def set_limits(self, limits: Limits) -> None:
        """Use `limits` from the next connection on."""
        self._connect_kwargs["limits"] = limits

    async def register(self, method: str, handler: Handler) -> None:
        """Serve `method` now if online, and on every later connection."""
        self._methods[method] = handler
        end = self.end
        if end is not None and end.online:
            with contextlib.suppress(ConnectionClosedError):  # remembered for the next one
                await end.register(method, handler)

    async def _dial_once(self) -> End | None:
        host, port = self._take_target()
        initial = dict(self._methods)  # served from the handshake on
        try:
            end = await connect(host, port, methods=initial, **self._connect_kwargs)
        except (OSError, EndError) as exc:
            _log.info("dialing %s failed: %s", _address_text(host, port), exc)
            self._on_attempt(exc)
            return None
        except Exception as exc:  # never let the supervisor die silently
            _log.warning("dialing %s failed unexpectedly", _address_text(host, port), exc_info=True)
            self._on_attempt(exc)
            return None
        try:
            await apply_registrations(end, self._methods, initial)
        except EndError as exc:
            _log.info("registering on %s failed: %s", _address_text(host, port), exc)
            self._on_attempt(exc)
            end.abort()
            await end.wait_closed()
            return None
        self._on_attempt(None)
        return end


class ClientBase:
    """One geminio connection to a gateway, as the Service and the Edge use it."""

    def __init__(
        self,
        addr: Addresses,
        *,
        meta: bytes,
        client_id: int,
        ssl: ssl_module.SSLContext | None,
        server_hostname: str | None,
        reconnect: bool,
        backoff: Backoff | None,
        heartbeat: int,
        peer_timeout: float | None = None,
        accept_streams: bool = False,
        start_retry: float | None = None,
        proxy: str | bool = True,
    ) -> None:
        if heartbeat not in HEARTBEAT_INTERVALS:
            raise ValueError(f"heartbeat must be one of {HEARTBEAT_INTERVALS} seconds")
        self._peer_timeout = resolve_peer_timeout(peer_timeout, heartbeat)
        self._addresses = parse_addresses(addr)
        if ssl is not None and any(host.lower().startswith("ws://") for host, _ in self._addresses):
            raise ValueError("a TLS context was given with a ws:// address: use wss://")
        self._meta = meta
        self._client_id = client_id
        self._ssl = ssl
        self._server_hostname = server_hostname
        self._reconnect = reconnect
        self._backoff = backoff
        self._heartbeat = heartbeat
        self._accepting = accept_streams
        if start_retry is not None and start_retry < 0:
            raise ValueError("start_retry must be >= 0 seconds (or None)")
        self._start_retry = start_retry
        self._proxy = proxy
        self._methods: dict[str, Handler] = {}
        self._redialer: _Redialer | None = None
        self._end: End | None = None
        self._last_id = 0
        self._was_online = False
        self._started = False
        self._closed = False
        self._changed: asyncio.Future[None] | None = None
        self._first: asyncio.Future[None] | None = None
        self._connecting: asyncio.Future[End] | None = None
        self._resend_drained = True
        """Send again what a draining gateway refused unforwarded, on the next connection
        (False: raise the refusal, for a caller with somewhere else to send it)."""
        self._refused_by: End | None = None
        """The connection whose gateway refused an operation as draining: not used for
        new operations even if its goodbye has not arrived yet."""

    # ------------------------------------------------------------------------ lifecycle

    async def start(self, *, retry: float | None = None) -> None:
        """Connect and return once online (RPCs registered so far are already served).

        By default the first connection must succeed, as in Go: if every address fails
        once (refused, unreachable, or the gateway rejected us, e.g. an `edge_online` hook
        said no), the last error is raised (`ConnectRejected` preferred, since it carries
        the gateway's reason). With `retry` (seconds; default the constructor's
        ``start_retry``) failures are retried with the reconnect backoff until that long
        has passed, and only then is the last error raised: what a device starting during
        a gateway restart or a reconnect storm wants (a transient refusal or reset is not
        fatal). ``retry=0`` fails fast whatever the constructor said. After the first
        connection, a reconnecting client redials for as long as it is open.
        """
        if self._closed:
            raise ConnectionClosedError("closed")
        if self._started:
            await self._wait_end(None)
            return
        self._started = True
        patience = self._start_retry if retry is None else retry
        if patience is not None and patience <= 0:
            patience = None
        try:
            if self._reconnect:
                await self._start_redialer(patience)
            else:
                await self._start_single_retrying(patience)
        except BaseException:
            self._closed = True
            self._signal()  # operations waiting for the first connection fail too
            raise

    async def _start_single_retrying(self, patience: float | None) -> None:
        if patience is None:
            await self._start_single()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        delays = (self._backoff or Backoff()).delays()
        while True:
            try:
                await self._start_single()
                return
            except (OSError, EndError) as exc:
                left = deadline - loop.time()
                if left <= 0 or self._closed:
                    raise
                _log.info("first connection failed (%s); retrying for %.1f s more", exc, left)
                await asyncio.sleep(min(delays.next(), left))

    async def _start_single(self) -> None:
        errors: list[BaseException] = []
        for host, port in self._addresses:
            initial = dict(self._methods)  # served from the handshake on
            connecting = asyncio.ensure_future(
                connect(
                    host,
                    port,
                    meta=self._meta,
                    client_id=self._client_id,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                    heartbeat=self._heartbeat,
                    peer_timeout=self._peer_timeout,
                    limits=self._limits(),
                    methods=initial,
                    proxy=self._proxy,
                )
            )
            self._connecting = connecting  # close() cancels it
            try:
                end = await connecting
            except (OSError, EndError) as exc:
                errors.append(exc)
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed and (task is None or not task.cancelling()):
                    raise ConnectionClosedError("closed while starting") from None
                raise
            finally:
                self._connecting = None
            try:
                await apply_registrations(end, self._methods, initial)
            except BaseException as exc:
                end.abort()
                if isinstance(exc, EndError):
                    errors.append(exc)
                    continue
                raise
            if self._closed:  # close() was called while we were connecting
                await end.close()
                raise ConnectionClosedError("closed")
            if end.closed:
                errors.append(ConnectionClosedError("the connection closed while starting"))
                continue
            end.close_callbacks.append(self._went_offline)
            self._went_online(end)
            return
        raise _pick_error(errors)

    async def _start_redialer(self, patience: float | None) -> None:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[None] = loop.create_future()
        self._first = first
        errors: list[BaseException] = []
        tries = len(self._addresses)

        def on_attempt(exc: BaseException | None) -> None:
            if first.done() or exc is None:
                return
            errors.append(exc)
            del errors[:-tries]  # one round's worth: a long retry must not grow this
            if patience is None and len(errors) >= tries:
                first.set_exception(_pick_error(errors))

        def on_online(end: End) -> None:
            self._went_online(end)
            if not first.done():
                first.set_result(None)

        redialer = _Redialer(
            self._addresses,
            server_hostname=self._server_hostname,
            methods=self._methods,
            on_attempt=on_attempt,
            meta=self._meta,
            client_id=self._client_id,
            ssl=self._ssl,
            heartbeat=self._heartbeat,
            peer_timeout=self._peer_timeout,
            limits=self._limits(),
            proxy=self._proxy,
            backoff=self._backoff,
            on_online=on_online,
            on_offline=self._went_offline,
        )
        self._redialer = redialer
        redialer.start()
        try:
            if patience is None:
                await first
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(first), patience)
                except TimeoutError:
                    if not errors:
                        raise OperationTimeout(
                            f"not connected to the gateway within {patience:g} s"
                        ) from None
                    raise _pick_error(errors) from None
        except BaseException:
            if self._redialer is redialer:
                self._redialer = None
                await redialer.close()
            raise
        finally:
            self._first = None

    async def close(self) -> None:
        """Close the connection (gracefully) and stop redialing. Pending `receive()` and
        `accept_stream()` calls raise `ConnectionClosedError`."""
        if self._closed and self._redialer is None and self._end is None:
            return
        self._closed = True
        redialer, self._redialer = self._redialer, None
        end = self._end
        self._signal()
        if self._first is not None and not self._first.done():
            self._first.set_exception(ConnectionClosedError("closed while starting"))
        if self._connecting is not None:
            self._connecting.cancel()
        if redialer is not None:
            await redialer.close()
        elif end is not None:
            await end.close()
        self._end = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def online(self) -> bool:
        """Connected to a gateway right now, and able to start operations on it (not while
        a draining gateway is saying goodbye to the connection)."""
        end = self._end
        return end is not None and end.online and not end.closing and end is not self._refused_by

    @property
    def end(self) -> End | None:
        """The current geminio End (None while offline): for what the SDK does not wrap."""
        return self._end

    @property
    def peer_timeout(self) -> float | None:
        """Seconds of silence from the gateway after which the connection is dropped (and
        redialed); None: never."""
        return self._peer_timeout

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established after the first."""
        return self._redialer.reconnects if self._redialer is not None else 0

    def streams(self) -> list[Stream]:
        """The open streams of the current connection (Go's `ListStreams`)."""
        end = self._end
        if end is None:
            return []
        return [stream for stream in end.streams() if stream is not end]

    # ----------------------------------------------------------------- for subclasses

    def _went_online(self, end: End) -> None:
        self._was_online = True
        self._end = end
        self._last_id = end.client_id
        self._signal()

    def _went_offline(self, end: End) -> None:
        if self._end is end:
            self._end = None
        self._signal()

    def _signal(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)

    async def _wait_end(
        self,
        timeout: float | None,  # noqa: ASYNC109
        *,
        for_new: bool = True,
    ) -> End:
        """The online End; waits while reconnecting (up to `timeout` seconds, then
        `OperationTimeout`). Raises `ConnectionClosedError` when closed or, without
        reconnect, once the connection is lost. `for_new`: an End that is closing (its
        gateway said goodbye: no new operation can start on it) counts as gone, and the
        wait is for the next one; reading what was already received does not need that."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._closed:
                raise ConnectionClosedError("closed")
            if not self._started:
                raise ConnectionClosedError("not started: use start() or 'async with'")
            end = self._end
            if end is not None and end.online:
                if not for_new:
                    return end
                if not end.closing and end is not self._refused_by:
                    return end
            if not self._reconnect and self._was_online and (end is None or end.closing):
                raise ConnectionClosedError("the connection is lost (reconnect=False)")
            if self._changed is None:
                self._changed = loop.create_future()
            waiter = asyncio.shield(self._changed)
            if deadline is None:
                await waiter
                continue
            remaining = deadline - loop.time()
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    await waiter
            except TimeoutError:
                raise OperationTimeout("not connected to the gateway in time") from None

    async def _operate(
        self,
        timeout: float | None,  # noqa: ASYNC109 - a deadline for the whole operation
        operation: Callable[[End, float | None], Awaitable[T]],
    ) -> T:
        """Run `operation` on the online End (waiting for one within `timeout`), and once
        more on the next connection if a draining gateway refused it unforwarded
        (`ERR_DRAINING`: it reached the gateway after its goodbye to this connection, so
        nothing was delivered and sending it again cannot duplicate it). A call aborted
        by a connection that ends is not sent again: it may have been delivered."""
        started = asyncio.get_running_loop().time()
        while True:
            end = await self._wait_end(self._remaining(timeout, started))
            try:
                return await operation(end, self._remaining(timeout, started))
            except RemoteError as exc:
                if exc.text != ERR_DRAINING:
                    raise
                self._refused_by = end
                if not self._resend_drained:
                    raise
                _log.debug("the gateway is draining: sending again on the next connection")

    def _remaining(self, timeout: float | None, started: float) -> float | None:
        if timeout is None:
            return None
        left = timeout - (asyncio.get_running_loop().time() - started)
        if left <= 0:
            raise OperationTimeout("not connected to the gateway in time")
        return left

    async def _register(self, method: str, handler: Handler) -> None:
        """Serve `method` from now on (before `start()`: from the first connection on)."""
        self._methods[method] = handler
        if self._redialer is not None:
            await self._redialer.register(method, handler)
            return
        end = self._end
        if end is not None and end.online:
            await end.register(method, handler)

    async def _receive(self) -> Message:
        """The next message on the default stream; survives reconnects."""
        while True:
            end = await self._wait_end(None, for_new=False)
            try:
                return await end.receive()
            except StreamClosedError:
                # The default stream closes only as its connection ends: a gateway that
                # drains (or a peer that disconnects) closes the stream first and the
                # connection a round trip later. That is a normal end, not an error.
                await end.wait_closed()
            except ConnectionClosedError:
                if not end.closed:
                    raise
                # the connection went away under us: wait for the next one (or raise)

    def _limits(self) -> Limits:
        """Streams the gateway opens to us are refused (the opener gets an error at once)
        until the application accepts streams: nobody would take them, and queueing them
        would only hold the opener's stream open for nothing."""
        return _ACCEPTING if self._accepting else _REFUSING

    def _accept_from_now_on(self) -> None:
        if self._accepting:
            return
        self._accepting = True
        if self._redialer is not None:
            self._redialer.set_limits(_ACCEPTING)
        end = self._end
        if end is not None:
            end.set_accept_backlog(_ACCEPTING.max_accept_backlog)

    async def _accept(self) -> Stream:
        self._accept_from_now_on()
        while True:
            end = await self._wait_end(None, for_new=False)
            try:
                return await end.accept_stream()
            except ConnectionClosedError:
                if not end.closed:
                    raise


def _pick_error(errors: list[BaseException]) -> BaseException:
    for exc in reversed(errors):
        if isinstance(exc, ConnectRejected):
            return exc
    return errors[-1]
