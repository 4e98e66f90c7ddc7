"""The entry's core: which connectors exist and are online, and opening tunnels to them.

`ConnectorDirectory` answers the gateway's hooks. ``get_edge_id`` gives a connector the ID
`wire.connector_edge_id` derives from its name (once its meta proves it holds the token),
so the entry reaches a connector by name alone: after the entry restarts, and from every
entry of a cluster. ``edge_online`` refuses edges that are not a configured connector with
the right proof; ``edge_ready`` / ``edge_offline`` keep the online view, which an RPC to
each connector refreshes when the entry (re)connects (hooks only report changes).

`TunnelOpener` opens one stream per relayed connection (or scan), sends the request with
its proof, and waits for the connector's `Status` within ``tunnel.open_timeout``. Every
failure becomes a `TunnelOpenError` with a code from `wire.StatusCode` (plus ``offline``)
and a sentence for the user: the HTTP front answers it as a status, a TCP listener resets
the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..conventions import EdgePresence
from ..geminio.aio import EndError, OpenRejected, Stream
from ..sdk import ServiceRequest
from ..throttled_log import ThrottledLog
from .metrics import EntryMetrics
from .relay import TunnelStream
from .wire import (
    ConnectorMeta,
    OpenRequest,
    RequestError,
    ScanRequest,
    Status,
    StatusCode,
    TunnelProtocol,
    TunnelProtocolError,
    connector_edge_id,
    connector_proof,
    new_nonce,
    open_auth,
    proofs_match,
    status_proof,
)

__all__ = [
    "OFFLINE",
    "ConnectorDirectory",
    "Gateway",
    "TunnelOpenError",
    "TunnelOpener",
]

log = logging.getLogger("frontier.tunnel.entry")

OFFLINE: Final = "offline"
"""The code of a tunnel that could not reach its connector at all."""
INFO_METHOD: Final = "frontier-tunnel.info"
_PROBE_TIMEOUT: Final = 5.0
_PROBE_CONCURRENCY: Final = 32
_RECHECK_AFTER_OFFLINE: Final = 2.0


class Gateway(Protocol):
    """What the entry needs of a `Service` or a `ClusterService`."""

    async def open_stream(self, edge_id: int, *, meta: bytes = b"") -> Stream: ...
    async def call(
        self,
        edge_id: int,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> bytes: ...
    async def register(self, method: str, handler: Callable[[ServiceRequest], Any]) -> None: ...
    async def on_get_edge_id(self, fn: Callable[[bytes], int]) -> None: ...
    async def on_edge_online(self, fn: Callable[[EdgePresence], object]) -> None: ...
    async def on_edge_ready(self, fn: Callable[[EdgePresence], object]) -> None: ...
    async def on_edge_offline(self, fn: Callable[[EdgePresence], object]) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class TunnelOpenError(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Presence:
    edge_id: int
    online: bool = False
    addr: str = ""
    since: float = 0.0
    """Unix time of the last change."""


class ConnectorDirectory:
    """The configured connectors (name -> token), and which are online."""

    def __init__(self, tokens: dict[str, str], metrics: EntryMetrics) -> None:
        self.tokens = dict(tokens)
        self.metrics = metrics
        self.presence = {name: Presence(connector_edge_id(name)) for name in tokens}
        self._by_id = {p.edge_id: name for name, p in self.presence.items()}
        self._rejects = ThrottledLog(log, 10.0)
        self.on_offline: Callable[[str], object] | None = None
        for name in tokens:
            metrics.connector_online.labels(name).set(0)

    def edge_id(self, name: str) -> int:
        return self.presence[name].edge_id

    def name_of(self, edge_id: int) -> str | None:
        return self._by_id.get(edge_id)

    def _admit(self, meta: bytes, what: str) -> str:
        try:
            claimed = ConnectorMeta.decode(meta)
        except RequestError as exc:
            self.metrics.rejected_unknown.inc()
            self._rejects.info("meta", "refused an edge (%s): %s", what, exc)
            raise PermissionError(str(exc)) from None
        token = self.tokens.get(claimed.name)
        expected = connector_proof(token, claimed.name) if token is not None else ""
        if token is None or not proofs_match(claimed.proof, expected):
            self.metrics.rejected_unknown.inc()
            if token is not None:
                self.metrics.connector_events.labels(claimed.name, "rejected").inc()
            self._rejects.info(  # one kind per configured name; strangers share one
                "unknown" if token is None else f"token-{claimed.name}",
                "refused connector %r (%s): unknown, or a wrong token",
                claimed.name,
                what,
            )
            raise PermissionError(
                f"connector {claimed.name!r} is not known to the entry, or its token is wrong"
            )
        return claimed.name

    # -------------------------------------------------------------- gateway hooks

    def get_edge_id(self, meta: bytes) -> int:
        return connector_edge_id(self._admit(meta, "get_edge_id"))

    def edge_online(self, presence: EdgePresence) -> None:
        name = self._admit(presence.meta, "edge_online")
        if presence.edge_id != connector_edge_id(name):
            self.metrics.connector_events.labels(name, "rejected").inc()
            raise PermissionError(
                f"connector {name!r} must have edge ID {connector_edge_id(name)}, not "
                f"{presence.edge_id} (another service assigns edge IDs on this gateway)"
            )

    def edge_ready(self, presence: EdgePresence) -> None:
        name = self._by_id.get(presence.edge_id)
        if name is not None:
            self.mark(name, True, presence.addr)

    def edge_offline(self, presence: EdgePresence) -> None:
        name = self._by_id.get(presence.edge_id)
        if name is not None:
            self.mark(name, False, presence.addr)
            if self.on_offline is not None:
                self.on_offline(name)

    def mark(self, name: str, online: bool, addr: str = "") -> None:
        presence = self.presence.get(name)
        if presence is None:
            return
        changed = presence.online != online
        presence.online = online
        if addr:
            presence.addr = addr
        if changed:
            presence.since = time.time()
            self.metrics.connector_online.labels(name).set(1 if online else 0)
            self.metrics.connector_events.labels(name, "online" if online else "offline").inc()
            log.info("connector %r %s%s", name, "online" if online else "offline",
                     f" from {addr}" if online and addr else "")  # fmt: skip

    def describe(self, name: str) -> dict[str, Any]:
        presence = self.presence[name]
        return {
            "name": name,
            "edge_id": presence.edge_id,
            "online": presence.online,
            "addr": presence.addr,
            "since": presence.since or None,
        }


class TunnelOpener:
    def __init__(
        self,
        gateway: Gateway,
        directory: ConnectorDirectory,
        *,
        window: int,
        open_timeout: float,
        gateway_online: Callable[[], bool],
    ) -> None:
        self.gateway = gateway
        self.directory = directory
        self.window = window
        self.open_timeout = open_timeout
        self.gateway_online = gateway_online

    async def open_dial(
        self, connector: str, target: str, *, app: str, idle: float
    ) -> TunnelStream:
        return await self._open(connector, "dial", target, app=app, idle=idle)

    async def open_scan(self, connector: str, scan: ScanRequest) -> TunnelStream:
        return await self._open(connector, "scan", scan.canonical(), scan=scan)

    async def _open(
        self,
        connector: str,
        op: str,
        subject: str,
        *,
        app: str = "",
        idle: float | None = None,
        scan: ScanRequest | None = None,
    ) -> TunnelStream:
        token = self.directory.tokens.get(connector)
        if token is None:
            raise TunnelOpenError(OFFLINE, f"no connector named {connector!r}")
        if not self.gateway_online():
            raise TunnelOpenError(OFFLINE, "the entry is not connected to the gateway")
        nonce = new_nonce()
        request = OpenRequest(
            "scan" if op == "scan" else "dial",
            nonce,
            open_auth(token, nonce, op, subject),
            self.window,
            to=subject if op == "dial" else "",
            app=app,
            idle=idle,
            scan=scan,
        )
        stream: Stream | None = None
        answered = False
        try:
            async with asyncio.timeout(self.open_timeout):
                stream = await self.gateway.open_stream(
                    self.directory.edge_id(connector), meta=request.encode()
                )
                proto = TunnelProtocol(we_are="entry", receive_window=self.window)
                tunnel = TunnelStream(stream, proto)
                status = await self._status(tunnel, connector)
            answered = True
        except TimeoutError:
            raise TunnelOpenError(
                StatusCode.TIMEOUT,
                f"connector {connector!r} did not answer within {self.open_timeout:g} s",
            ) from None
        except OpenRejected as exc:
            raise TunnelOpenError(
                OFFLINE, f"connector {connector!r} is not connected ({exc})"
            ) from None
        except EndError as exc:
            raise TunnelOpenError(OFFLINE, f"the gateway connection failed: {exc}") from None
        finally:
            if stream is not None and not answered:  # timed out, failed or cancelled
                stream.dismiss()
        expected = status_proof(token, nonce, status.code)
        if not proofs_match(status.proof, expected):
            tunnel.stream.dismiss()
            raise TunnelOpenError(
                StatusCode.UNAUTHORIZED,
                f"the edge holding connector {connector!r}'s ID does not hold its token "
                f"(or the connector's token differs from the entry's)",
            )
        if not status.ok:
            tunnel.stream.dismiss()
            raise TunnelOpenError(status.code, f"connector {connector!r}: {status.error}")
        tunnel.proto.start_sending(status.window)
        self.directory.mark(connector, True)
        return tunnel

    async def _status(self, tunnel: TunnelStream, connector: str) -> Status:
        """The first frame; a stream closed before it means the connector is not there
        (the gateway closes streams to edges it does not hold, at once)."""
        while True:
            try:
                events = await tunnel.next_events()
            except TunnelProtocolError as exc:
                raise TunnelOpenError(StatusCode.ERROR, f"connector {connector!r}: {exc}") from None
            if events is None:
                if self.directory.presence[connector].online:  # its SDK refused the stream
                    raise TunnelOpenError(
                        StatusCode.BUSY, f"connector {connector!r} refused the stream (busy?)"
                    )
                raise TunnelOpenError(OFFLINE, f"connector {connector!r} is not connected")
            if events:
                first, *rest = events
                if not isinstance(first, Status):  # pragma: no cover - wire refuses it
                    raise TunnelOpenError(StatusCode.ERROR, "no status from the connector")
                tunnel.pending = rest
                return first


class PresenceProber:
    """Asks every connector whether it is there (an RPC to its edge ID), at most
    `_PROBE_CONCURRENCY` at once: after the entry (re)connects, and again shortly after
    an ``edge_offline`` (in cluster mode a connector moving between frontiers may be
    reported offline by the old one after the new one reported it ready)."""

    def __init__(self, gateway: Gateway, directory: ConnectorDirectory) -> None:
        self.gateway = gateway
        self.directory = directory
        self._tasks: set[asyncio.Task[None]] = set()
        self._semaphore = asyncio.Semaphore(_PROBE_CONCURRENCY)

    def probe_all(self) -> None:
        for name in self.directory.presence:
            self._spawn(self._probe(name, 0.0))

    def recheck(self, name: str) -> None:
        self._spawn(self._probe(name, _RECHECK_AFTER_OFFLINE))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self, name: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        async with self._semaphore:
            try:
                await self.gateway.call(
                    self.directory.edge_id(name), INFO_METHOD, timeout=_PROBE_TIMEOUT
                )
            except EndError:
                if delay == 0.0:
                    self.directory.mark(name, False)
                return
            self.directory.mark(name, True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
