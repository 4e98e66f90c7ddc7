"""Cluster mode: one service object that reaches every edge of a frontier cluster.

In a cluster, edges are spread over several frontiers and a `Service` connected to one of
them only reaches that frontier's edges. `ClusterService` asks frontlas (the cluster
coordinator, REST on :40011) which frontiers are alive, keeps one reconnecting `Service` per
frontier, and routes each call, publish or stream to the frontier holding the target edge.
What edges send fans in from all frontiers.

It follows Go's `NewClusterService` (reference §5.1) without its weak spots: Go's
frontlas listed dead frontiers too, so the Go end kept dialling them, while here only the
frontiers frontlas lists as alive are dialled; Go dropped a whole frontier connection on
*any* error, while here an error that says "the edge is not there" only forgets that edge's
route and retries once; and frontlas is not the only judge of who is alive:

- a frontier that drops out of the listing while its own connection stays up (frontlas or
  Redis cut off from it, Redis restarted empty) is kept for ``unlisted_grace`` seconds, so a
  partition on the frontlas side does not cut traffic to edges that are still reachable;
  a connection that is down *and* unlisted is closed at once;
- an edge frontlas has no route for (404), or any edge while frontlas cannot answer, is
  looked for on the connected frontiers (the edge probe of `frontier.conventions`) before
  the answer is "edge not online";
- every connection has a peer timeout, so a frontier that stops answering without closing
  is noticed (and its routes forgotten) within a bounded time.

docs/frontlas.md ("Partitions") says what each partition does.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import aiohttp

from ..conventions import (
    ERR_DRAINING,
    ERR_EDGE_MOVING,
    ERR_EDGE_NOT_ONLINE,
    MAX_EDGE_ID,
    RPC_EDGE_OFFLINE,
    RPC_EDGE_ONLINE,
    RPC_EDGE_READY,
    RPC_GET_EDGE_ID,
    RPC_PROBE_EDGE,
    EdgePresence,
)
from ..geminio.aio import (
    Backoff,
    ConnectionClosedError,
    ConnectRejected,
    End,
    EndError,
    OpenRejected,
    OperationTimeout,
    PublishRejected,
    RemoteError,
    RPCError,
    Stream,
)
from ..geminio.aio.deadlines import deadline_in, time_left
from ..geminio.events import CloseReason
from ..geminio.packets import HEARTBEAT_INTERVALS
from ._base import maybe_await, parse_address, resolve_peer_timeout
from .service import EdgeIdHook, PresenceHook, Service, ServiceHandler, ServiceMessage

__all__ = [
    "CONNECT_TIMEOUT",
    "MOVING_WAIT",
    "PROBE_TIMEOUT",
    "QUEUE_SIZE",
    "UNLISTED_GRACE",
    "ClusterService",
    "FrontierInfo",
    "FrontlasError",
]

_log = logging.getLogger("frontier.sdk.cluster")

QUEUE_SIZE = 128
"""Fan-in queue bound (messages, and streams): as in Go. A full queue blocks the pump of
each frontier, so an application that stops reading pushes back on the gateways."""
CONNECT_TIMEOUT = 10.0
"""Bound on the first dial of a frontier, so that one unreachable frontier cannot hold up
`start()`, a refresh or a call to an edge elsewhere."""
UNLISTED_GRACE = 300.0
"""Default seconds a frontier frontlas stopped listing is kept while its connection is up."""
PROBE_TIMEOUT = 2.0
"""Bound on one edge probe (further bounded by the operation's own timeout): a frontier
that does not answer it within this is taken not to hold the edge."""

MOVING_WAIT = 10.0
"""Longest wait (within the operation's own timeout) for an edge that a draining frontier
said is moving (``ERR_EDGE_MOVING``) to turn up on another frontier: it redials at once, so
this covers a handshake, the ID and presence hooks and frontlas catching up, with room."""
MOVING_PAUSE = 0.02
MOVING_PAUSE_MAX = 0.25
"""The pauses between lookups while an edge is moving: doubling from the first to the second."""

T = TypeVar("T")


class FrontlasError(EndError):
    """Frontlas could not answer: unreachable, timed out, no Redis behind it (HTTP 503), or
    an answer that does not follow the cluster API. ``status`` is the HTTP status (None if
    no answer came)."""

    def __init__(self, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.status = status


class _EdgeUnknown(Exception):
    """Frontlas answered 404: the edge is not online anywhere (or its frontier is dead)."""


@dataclass(frozen=True, slots=True)
class FrontierInfo:
    """One alive frontier, as frontlas's cluster API describes it."""

    frontier_id: str
    advertised_sb_addr: str
    advertised_eb_addr: str = ""
    edge_count: int = 0
    service_count: int = 0

    @classmethod
    def parse(cls, obj: object) -> FrontierInfo:
        """Validate one frontier object; `ValueError` if it cannot be dialled."""
        if not isinstance(obj, dict):
            raise ValueError(f"a frontier must be an object, not {type(obj).__name__}")
        frontier_id = obj.get("frontier_id")
        sb_addr = obj.get("advertised_sb_addr")
        if not isinstance(frontier_id, str) or not frontier_id:
            raise ValueError(f"frontier without a frontier_id: {obj!r}")
        if not isinstance(sb_addr, str):
            raise ValueError(f"frontier {frontier_id} without an advertised_sb_addr")
        parse_address(sb_addr)  # raises ValueError on a malformed address
        eb_addr = obj.get("advertised_eb_addr")
        edges = obj.get("edge_count")
        services = obj.get("service_count")
        return cls(
            frontier_id,
            sb_addr,
            eb_addr if isinstance(eb_addr, str) else "",
            edges if isinstance(edges, int) else 0,
            services if isinstance(services, int) else 0,
        )


class _EdgeRoutes:
    """The edge ID -> frontier ID cache, with the reverse index that lets a lost frontier
    forget all its edges at once (without scanning every entry)."""

    def __init__(self) -> None:
        self._frontier_of: dict[int, str] = {}
        self._edges_of: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._frontier_of)

    def get(self, edge_id: int) -> str | None:
        return self._frontier_of.get(edge_id)

    def put(self, edge_id: int, frontier_id: str) -> None:
        self.drop(edge_id)
        self._frontier_of[edge_id] = frontier_id
        self._edges_of.setdefault(frontier_id, set()).add(edge_id)

    def drop(self, edge_id: int, frontier_id: str | None = None) -> None:
        """Forget `edge_id` (only if it still points at `frontier_id`, when given: a
        concurrent lookup may already have stored a newer route)."""
        current = self._frontier_of.get(edge_id)
        if current is None or (frontier_id is not None and current != frontier_id):
            return
        del self._frontier_of[edge_id]
        edges = self._edges_of[current]
        edges.discard(edge_id)
        if not edges:
            del self._edges_of[current]

    def drop_frontier(self, frontier_id: str) -> set[int]:
        """Forget every edge routed to `frontier_id`; returns their IDs."""
        edges = self._edges_of.pop(frontier_id, set())
        for edge_id in edges:
            del self._frontier_of[edge_id]
        return edges


class _FrontierService(Service):
    """A `Service` that reports each lost connection, so that the cluster forgets the
    routes through that frontier at once instead of on the next failed call."""

    def __init__(
        self, addr: str, *, frontier_id: str, on_lost: Callable[[bool], None], **kwargs: Any
    ) -> None:
        super().__init__(addr, **kwargs)
        self.frontier_id = frontier_id
        self._on_lost = on_lost
        # The cluster reroutes what a draining frontier refused, rather than wait for
        # this connection to come back (it may not: the frontier is going away).
        self._resend_drained = False

    def _went_offline(self, end: End) -> None:
        super()._went_offline(end)
        reason = end.close_reason
        self._on_lost(reason is not None and reason.reason is CloseReason.PEER_CLOSE)


@dataclass(slots=True)
class _Frontier:
    """A connected frontier. `connected_at` (loop time) keeps a listing asked for before
    the connection was made (so possibly without this frontier) from closing it."""

    info: FrontierInfo
    service: _FrontierService
    connected_at: float
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    unlisted_since: float | None = None
    """Loop time of the first listing without this frontier (None while listed)."""


_Registration = Callable[[Service], Awaitable[None]]
"""Applies one remembered `register`/hook to a per-frontier Service. Keyed by method name,
as in `Service`: registering a method again replaces it."""


class ClusterService:
    """A frontier service for a whole cluster: reaches any edge by ID, whichever frontier it
    is connected to, and serves edges of every frontier.

    ``frontlas_addr`` is frontlas's REST address (``"host:port"`` or ``"http://host:port"``,
    ``https://`` too). Frontiers are listed at `start()` and every ``refresh_interval``
    seconds: one reconnecting `Service` per listed frontier (at its ``advertised_sb_addr``),
    closed once the frontier has left the listing and its connection is down, or has been
    unlisted for ``unlisted_grace`` seconds (None: kept while its connection stays up). A
    failed refresh changes nothing, so a frontlas outage does not cut traffic.
    ``http_timeout`` bounds each frontlas request.

    ``name``, ``topics``, ``service_id``, ``ssl``, ``server_hostname``, ``backoff``,
    ``heartbeat``, ``peer_timeout`` and ``token`` are passed to every per-frontier
    `Service` (see there): a frontier silent for ``peer_timeout`` seconds (2.5 x
    ``heartbeat`` by default) loses its routes and is redialed.
    ``frontlas_token`` is sent as a bearer token to frontlas (its ``control_plane.token``).
    Streams edges open to our name are refused until the first `accept_stream()` call,
    unless ``accept_streams=True``.

    Calls, publishes and streams to an edge go to the frontier frontlas says holds it; the
    answer is cached until the frontier says the edge is gone (``"edge not online"``), the
    frontier connection is lost or the frontier leaves the listing. Then the operation is
    retried once after a fresh lookup, so an edge that failed over to another frontier is
    reached again transparently. An edge frontlas does not know (or any edge while frontlas
    is unreachable and no route is cached) is probed for on every connected frontier (at
    most `PROBE_TIMEOUT` each, concurrently) before ``"edge not online"`` is answered.
    Every ``timeout`` covers the whole operation: lookup, probes, dial, retry and call.
    """

    def __init__(
        self,
        frontlas_addr: str,
        *,
        name: str = "",
        topics: Iterable[str] = (),
        service_id: int = 0,
        refresh_interval: float = 10.0,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        backoff: Backoff | None = None,
        heartbeat: int = 20,
        peer_timeout: float | None = None,
        http_timeout: float = 5.0,
        token: str = "",
        frontlas_token: str = "",
        accept_streams: bool = False,
        unlisted_grace: float | None = UNLISTED_GRACE,
    ) -> None:
        if isinstance(topics, str):
            raise TypeError("topics must be an iterable of strings, not a string")
        if heartbeat not in HEARTBEAT_INTERVALS:
            raise ValueError(f"heartbeat must be one of {HEARTBEAT_INTERVALS} seconds")
        if not refresh_interval > 0:
            raise ValueError("refresh_interval must be positive")
        if not http_timeout > 0:
            raise ValueError("http_timeout must be positive")
        if unlisted_grace is not None and not unlisted_grace >= 0:
            raise ValueError("unlisted_grace must be >= 0 (or None)")
        resolve_peer_timeout(peer_timeout, heartbeat)  # its errors now, not at the first dial
        self.frontlas_url = _base_url(frontlas_addr)
        self.name = name
        self.topics = tuple(dict.fromkeys(topics))
        self.refresh_interval = refresh_interval
        self.http_timeout = http_timeout
        self.unlisted_grace = unlisted_grace
        self._service_kwargs: dict[str, Any] = {
            "name": name,
            "topics": self.topics,
            "service_id": service_id,
            "ssl": ssl,
            "server_hostname": server_hostname,
            "backoff": backoff,
            "heartbeat": heartbeat,
            "peer_timeout": peer_timeout,
            "token": token,
        }
        self._frontlas_headers = (
            {"Authorization": f"Bearer {frontlas_token}"} if frontlas_token else {}
        )
        self._accepting = accept_streams
        self._registrations: dict[str, _Registration] = {}
        self._frontiers: dict[str, _Frontier] = {}
        self._starting: set[Service] = set()
        self._connecting: dict[str, asyncio.Task[_Frontier]] = {}
        self._routes = _EdgeRoutes()
        self._moving: dict[int, float] = {}
        """Edges a frontier said are moving (or whose frontier said goodbye): edge ID ->
        until when (loop time) operations on them wait for them to reappear."""
        self._messages: asyncio.Queue[ServiceMessage] = asyncio.Queue(QUEUE_SIZE)
        self._streams: asyncio.Queue[Stream] = asyncio.Queue(QUEUE_SIZE)
        self._getters: set[asyncio.Future[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._closing_frontiers: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """List the frontiers and connect to each; return once every listed frontier was
        tried, with every RPC and hook registered so far in place.

        Raises `FrontlasError` if frontlas cannot list the frontiers, and the dial error
        (e.g. `ConnectRejected`, `ConnectionRefusedError`) if frontlas lists frontiers but
        none of them can be reached. An empty listing is allowed (logged): edges are then
        looked up as they are addressed, and `receive()` waits for frontiers to appear.
        """
        if self._closed:
            raise ConnectionClosedError("closed")
        if self._started:
            return
        self._started = True
        self._session = aiohttp.ClientSession(headers=self._frontlas_headers)
        try:
            loop = asyncio.get_running_loop()
            listed_at = loop.time()
            listing = await self._list_frontiers()
            errors = await self._sync(listing, listed_at)
            if not listing:
                _log.warning("frontlas at %s lists no frontier yet", self.frontlas_url)
            elif not self._frontiers:
                raise _pick_error(errors)
        except BaseException:
            await self.close()
            raise
        self._refresher = loop.create_task(self._refresh_forever())

    async def close(self) -> None:
        """Close every frontier connection and stop refreshing. Pending `receive()` and
        `accept_stream()` calls raise `ConnectionClosedError`; so do operations under way."""
        if self._closed and self._session is None:
            return
        self._closed = True
        for getter in self._getters:
            getter.cancel()
        tasks: list[asyncio.Task[Any]] = list(self._connecting.values())
        if self._refresher is not None:
            tasks.append(self._refresher)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for frontier_id in list(self._frontiers):
            self._drop(frontier_id, "closing")
        await asyncio.gather(*self._closing_frontiers, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def frontiers(self) -> list[str]:
        """IDs of the frontiers connected right now (sorted)."""
        return sorted(fid for fid, f in self._frontiers.items() if f.service.online)

    @property
    def services(self) -> dict[str, Service]:
        """Frontier ID -> its `Service` (online or reconnecting): for what this class does
        not wrap, e.g. ``.end`` or ``.reconnects``. A copy; do not close them."""
        return {fid: frontier.service for fid, frontier in self._frontiers.items()}

    # ------------------------------------------------------------------- to an edge

    async def call(
        self,
        edge_id: int,
        method: str,
        data: bytes = b"",
        *,
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the call's deadline goes on the wire
    ) -> bytes:
        """`Service.call` on the frontier holding `edge_id`. An edge no frontier holds
        raises `RPCError` with ``"edge not online"``, as a single service gets from the
        gateway. `timeout` covers the lookup, the dial and the call."""

        async def attempt(service: Service, left: float | None) -> bytes:
            return await service.call(edge_id, method, data, custom=custom, timeout=left)

        return await self._route(edge_id, attempt, RPCError, timeout)

    async def publish(
        self,
        edge_id: int,
        data: bytes,
        *,
        topic: str = "",
        custom: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the deadline goes on the wire
    ) -> None:
        """`Service.publish` on the frontier holding `edge_id`; returns once the edge acked.
        An edge no frontier holds raises `PublishRejected` with ``"edge not online"``."""

        async def attempt(service: Service, left: float | None) -> None:
            await service.publish(edge_id, data, topic=topic, custom=custom, timeout=left)

        await self._route(edge_id, attempt, PublishRejected, timeout)

    async def open_stream(
        self,
        edge_id: int,
        *,
        meta: bytes = b"",
        timeout: float | None = None,  # noqa: ASYNC109 - the open is forgotten on expiry
    ) -> Stream:
        """`Service.open_stream` on the frontier holding `edge_id`.

        A stream to an edge that left its frontier gives no error (the gateway just closes
        it), so a stale route could not correct itself: the route is therefore looked up
        afresh for every stream (the cached one serves while frontlas is unavailable).
        An edge no frontier holds raises `OpenRejected` with ``"edge not online"``.
        `timeout` bounds the lookup, the dial and the open.
        """

        async def attempt(service: Service, left: float | None) -> Stream:
            return await service.open_stream(edge_id, meta=meta, timeout=left)

        return await self._route(edge_id, attempt, OpenRejected, timeout, fresh_first=True)

    # ----------------------------------------------------------------- from edges

    async def register(self, method: str, handler: ServiceHandler) -> None:
        """Serve `method` to the edges of every frontier, present and future."""
        await self._remember(method, lambda service: service.register(method, handler))

    async def on_get_edge_id(self, fn: EdgeIdHook) -> None:
        """`Service.on_get_edge_id` on every frontier, present and future."""
        await self._remember(RPC_GET_EDGE_ID, lambda service: service.on_get_edge_id(fn))

    async def on_edge_online(self, fn: PresenceHook) -> None:
        """`Service.on_edge_online` on every frontier, present and future."""
        await self._remember(RPC_EDGE_ONLINE, lambda service: service.on_edge_online(fn))

    async def on_edge_offline(self, fn: PresenceHook) -> None:
        """`Service.on_edge_offline` on every frontier, present and future (the edge's
        cached route through that frontier is forgotten first)."""

        def apply(service: Service) -> Awaitable[None]:
            frontier_id = getattr(service, "frontier_id", "")

            async def offline(presence: EdgePresence) -> None:
                self._routes.drop(presence.edge_id, frontier_id)  # only if still there
                await maybe_await(fn(presence))

            return service.on_edge_offline(offline)

        await self._remember(RPC_EDGE_OFFLINE, apply)

    async def on_edge_ready(self, fn: PresenceHook) -> None:
        """`Service.on_edge_ready` on every frontier, present and future. The edge's
        route is learnt from the frontier that reports it, before `fn` runs: a call from
        `fn` goes straight there, even before frontlas has heard of the edge."""

        def apply(service: Service) -> Awaitable[None]:
            frontier_id = getattr(service, "frontier_id", "")

            async def ready(presence: EdgePresence) -> None:
                if frontier_id in self._frontiers:
                    self._routes.put(presence.edge_id, frontier_id)
                await maybe_await(fn(presence))

            return service.on_edge_ready(ready)

        await self._remember(RPC_EDGE_READY, apply)

    async def receive(self) -> ServiceMessage:
        """The next message an edge of any frontier published on our topics (answer it
        with `done()` or `error()`). `ConnectionClosedError` once closed."""
        return await self._next(self._messages)

    async def accept_stream(self) -> Stream:
        """The next stream an edge of any frontier opened to our name
        (`stream_edge_id(stream)` tells which edge). `ConnectionClosedError` once closed.
        Until the first call (or with ``accept_streams=True``), streams are refused."""
        if not self._accepting:
            self._check_open()
            self._accepting = True
            for frontier in self._frontiers.values():
                self._pump_streams(frontier)
        return await self._next(self._streams)

    def __repr__(self) -> str:
        return f"<ClusterService {self.name!r} frontiers={self.frontiers}>"

    # ---------------------------------------------------------------------- routing

    async def _route(
        self,
        edge_id: int,
        attempt: Callable[[Service, float | None], Awaitable[T]],
        not_online: type[RemoteError],
        timeout: float | None,  # noqa: ASYNC109
        *,
        fresh_first: bool = False,
    ) -> T:
        """Run `attempt` on the frontier holding `edge_id`: at most twice, the second time
        after forgetting the route and asking frontlas again, if the first says the edge
        is not there (the gateway's ``"edge not online"``, or the connection is gone).

        An edge a draining frontier says is moving (`ERR_EDGE_MOVING`: it was said goodbye
        to and is reconnecting elsewhere), or an operation a draining frontier refused
        unforwarded (`ERR_DRAINING`), is waited for instead, up to `MOVING_WAIT` seconds
        within `timeout`, probing the frontiers and looking the edge up again after short
        pauses; an edge that is simply not online still fails at once."""
        if not 0 <= edge_id <= MAX_EDGE_ID:
            raise ValueError(f"edge ID {edge_id} does not fit in 64 bits")
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline = deadline_in(timeout)
        moving_until = self._moving_until(edge_id)  # known to be between frontiers
        pause = MOVING_PAUSE
        retry = False
        while True:
            failure: BaseException
            try:
                # A moving edge redials at once: the frontiers know where it landed before
                # frontlas does (presence reports are batched), so ask them first.
                found = None if moving_until is None else await self._probe(edge_id, deadline)
                frontier = found or await self._frontier_for(
                    edge_id, fresh_first or retry, deadline
                )
            except _EdgeUnknown:
                if moving_until is None:
                    raise not_online(ERR_EDGE_NOT_ONLINE) from None
                failure = not_online(ERR_EDGE_NOT_ONLINE)
            except ConnectionClosedError as exc:  # could not dial the frontier frontlas named
                if self._closed or (retry and moving_until is None):
                    raise
                failure = exc
            else:
                frontier_id = frontier.info.frontier_id
                try:
                    result = await attempt(frontier.service, time_left(deadline))
                except RemoteError as exc:
                    if exc.text in (ERR_EDGE_MOVING, ERR_DRAINING):
                        if moving_until is None:
                            moving_until = loop.time() + MOVING_WAIT
                            self._mark_moving(edge_id, moving_until)
                            _log.debug("edge %d is moving off frontier %s", edge_id, frontier_id)
                    elif exc.text != ERR_EDGE_NOT_ONLINE or (retry and moving_until is None):
                        raise  # the edge's own error (never sent twice), or not there twice
                    failure = exc
                except ConnectionClosedError as exc:
                    if self._closed or (retry and moving_until is None):
                        raise
                    _log.debug("lost frontier %s while reaching edge %d", frontier_id, edge_id)
                    failure = exc
                else:
                    if moving_until is not None:
                        self._moving.pop(edge_id, None)  # arrived
                    return result
                self._routes.drop(edge_id, frontier_id)
            retry = True
            if moving_until is not None:
                left = moving_until - loop.time()
                if deadline is not None:
                    left = min(left, deadline - loop.time())
                if left <= 0:
                    raise failure
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, MOVING_PAUSE_MAX)

    async def _frontier_for(self, edge_id: int, fresh: bool, deadline: float | None) -> _Frontier:
        """The connected frontier holding `edge_id`: from the cache unless `fresh`, else
        from frontlas (connecting to that frontier if needed, even before a refresh)."""
        cached = self._routes.get(edge_id)
        if cached is not None and not fresh and cached in self._frontiers:
            frontier = self._frontiers[cached]
            if frontier.service.online:
                return frontier
            # a route through a frontier we are not connected to is not trusted: the edge
            # may have failed over since (asking frontlas again is cheap next to waiting)
        try:
            info = await self._lookup(edge_id, deadline)
        except _EdgeUnknown:
            # frontlas may have lost the edge (its frontier cut off from frontlas, Redis
            # restarted empty): the frontiers themselves know better
            found = await self._probe(edge_id, deadline)
            if found is None:
                raise
            return found
        except FrontlasError as exc:
            unavailable = exc.status is None or exc.status >= 500
            if not unavailable:
                raise
            # frontlas is down: a route we still have is better than failing
            if cached is not None and cached in self._frontiers:
                _log.info("frontlas unavailable (%s); using the cached route", exc)
                return self._frontiers[cached]
            found = await self._probe(edge_id, deadline)
            if found is None:
                raise
            return found
        frontier = await self._ensure(info, deadline)
        if not frontier.service.online:
            # Reconnecting: frontlas may be behind (the edge failed over and its new
            # frontier's report has not reached frontlas); a frontier that has it wins.
            found = await self._probe(edge_id, deadline)
            if found is not None:
                return found
        self._routes.put(edge_id, info.frontier_id)
        return frontier

    async def _probe(self, edge_id: int, deadline: float | None) -> _Frontier | None:
        """The connected frontier that says it holds `edge_id` (the edge probe, sent to
        every online frontier at once), None if none does in time. The route found is
        cached like one from frontlas."""
        candidates = [f for f in self._frontiers.values() if f.service.online]
        if not candidates:
            return None
        left = time_left(deadline)
        seconds = PROBE_TIMEOUT if left is None else min(PROBE_TIMEOUT, left)

        async def holds(frontier: _Frontier) -> _Frontier | None:
            try:
                await frontier.service.call(edge_id, RPC_PROBE_EDGE, timeout=seconds)
            except RemoteError as exc:
                # a Go gateway forwards the probe: the edge's "no such method" means it is there
                # (a draining frontier's refusal, `ERR_DRAINING`, is no "here" either)
                gone = exc.text in (ERR_EDGE_NOT_ONLINE, ERR_EDGE_MOVING, ERR_DRAINING)
                return None if gone else frontier
            except (EndError, OSError):  # silent, closing: not known to hold it
                return None
            return frontier

        probes = [asyncio.ensure_future(holds(frontier)) for frontier in candidates]
        try:
            for next_done in asyncio.as_completed(probes):
                found = await next_done
                if (
                    found is not None
                    and found.info.frontier_id in self._frontiers
                    and found.service.online  # not said goodbye to while we asked
                ):
                    _log.debug(
                        "edge %d found on frontier %s by probing", edge_id, found.info.frontier_id
                    )
                    self._routes.put(edge_id, found.info.frontier_id)
                    return found
        finally:
            for probe in probes:
                probe.cancel()
            await asyncio.gather(*probes, return_exceptions=True)
        return None

    # ------------------------------------------------------------- frontier connections

    async def _ensure(self, info: FrontierInfo, deadline: float | None = None) -> _Frontier:
        """The connection to `info`'s frontier, dialled if needed (once, however many
        callers ask at the same time). A failed dial raises `ConnectionClosedError`."""
        frontier_id = info.frontier_id
        existing = self._frontiers.get(frontier_id)
        if existing is not None:
            if existing.info.advertised_sb_addr == info.advertised_sb_addr:
                return existing
            self._drop(frontier_id, f"moved to {info.advertised_sb_addr}")
        task = self._connecting.get(frontier_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._connect(info))
            self._connecting[frontier_id] = task
            task.add_done_callback(lambda done: self._connected(frontier_id, done))
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                return await asyncio.shield(task)  # one caller giving up must not stop it
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                raise ConnectionClosedError("closed") from None
            raise
        except (OSError, EndError) as exc:  # TimeoutError is an OSError
            if isinstance(exc, TimeoutError) and scope.expired():
                raise OperationTimeout(f"frontier {frontier_id} not connected in time") from None
            if isinstance(exc, ConnectionClosedError):
                raise
            raise ConnectionClosedError(
                f"cannot connect to frontier {frontier_id} at {info.advertised_sb_addr}: "
                f"{exc or type(exc).__name__}"
            ) from exc

    def _connected(self, frontier_id: str, task: asyncio.Task[_Frontier]) -> None:
        if self._connecting.get(frontier_id) is task:
            del self._connecting[frontier_id]
        if not task.cancelled() and task.exception() is not None:
            _log.warning(
                "cannot connect to frontier %s: %s", frontier_id, task.exception() or "timeout"
            )

    async def _connect(self, info: FrontierInfo) -> _Frontier:
        frontier_id = info.frontier_id
        service = _FrontierService(
            info.advertised_sb_addr,
            frontier_id=frontier_id,
            on_lost=lambda goodbye: self._lost(frontier_id, goodbye),
            **self._service_kwargs,
        )
        # In `_starting` before the replay: a register() made meanwhile reaches it too.
        self._starting.add(service)
        try:
            for apply in list(self._registrations.values()):
                await apply(service)  # not started: only remembered, applied on connecting
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await service.start()
        except BaseException:
            await service.close()
            raise
        finally:
            self._starting.discard(service)
        if self._closed:
            await service.close()
            raise ConnectionClosedError("closed")
        loop = asyncio.get_running_loop()
        frontier = _Frontier(info, service, loop.time())
        frontier.pumps.append(
            loop.create_task(self._pump(service.receive, self._messages, frontier_id))
        )
        if self._accepting:
            self._pump_streams(frontier)
        self._frontiers[frontier_id] = frontier
        _log.info("connected to frontier %s at %s", frontier_id, info.advertised_sb_addr)
        return frontier

    def _drop(self, frontier_id: str, why: str) -> None:
        """Forget a frontier now and close its connection in the background: a graceful
        close may wait for a silent peer, and nobody (a call with a deadline, the
        refresher) should wait with it. `close()` waits for these closes."""
        frontier = self._frontiers.pop(frontier_id, None)
        if frontier is None:
            return
        forgotten = self._routes.drop_frontier(frontier_id)
        _log.info(
            "closing frontier %s (%s; %d edge routes forgotten)", frontier_id, why, len(forgotten)
        )
        task = asyncio.get_running_loop().create_task(self._close_frontier(frontier))
        self._closing_frontiers.add(task)
        task.add_done_callback(self._closing_frontiers.discard)

    @staticmethod
    async def _close_frontier(frontier: _Frontier) -> None:
        for pump in frontier.pumps:
            pump.cancel()
        await asyncio.gather(*frontier.pumps, return_exceptions=True)
        await frontier.service.close()

    def _pump_streams(self, frontier: _Frontier) -> None:
        """Take the streams this frontier's edges open (only once the application accepts
        streams: until then each frontier refuses them at once)."""
        pump = self._pump(frontier.service.accept_stream, self._streams, frontier.info.frontier_id)
        frontier.pumps.append(asyncio.get_running_loop().create_task(pump))

    def _lost(self, frontier_id: str, goodbye: bool = False) -> None:
        """A frontier connection dropped: its edges may be anywhere by now. After an orderly
        close (a draining frontier's goodbye) they are taken to be moving: operations on
        them wait for them to turn up elsewhere (`MOVING_WAIT`) instead of failing in the
        moment between two frontiers."""
        forgotten = self._routes.drop_frontier(frontier_id)
        if forgotten:
            _log.debug("frontier %s lost: %d edge routes forgotten", frontier_id, len(forgotten))
            if goodbye:
                until = asyncio.get_running_loop().time() + MOVING_WAIT
                for edge_id in forgotten:
                    self._mark_moving(edge_id, until)

    def _mark_moving(self, edge_id: int, until: float) -> None:
        moving = self._moving
        if len(moving) >= 1024:  # forget the expired ones now and then: no unbounded growth
            now = asyncio.get_running_loop().time()
            for stale in [e for e, t in moving.items() if t <= now]:
                del moving[stale]
        moving[edge_id] = max(until, moving.get(edge_id, until))

    def _moving_until(self, edge_id: int) -> float | None:
        """Until when `edge_id` is taken to be moving between frontiers (None: it is not)."""
        until = self._moving.get(edge_id)
        if until is None:
            return None
        if until <= asyncio.get_running_loop().time():
            del self._moving[edge_id]
            return None
        return until

    async def _pump(
        self, source: Callable[[], Awaitable[T]], queue: asyncio.Queue[T], frontier_id: str
    ) -> None:
        """Move what one frontier delivers into the shared queue; blocks while it is full,
        which holds back that frontier (geminio's flow control does the rest)."""
        while True:
            try:
                item = await source()
            except ConnectionClosedError:
                return  # the frontier's Service was closed
            except Exception:
                _log.exception("receiving from frontier %s failed", frontier_id)
                await asyncio.sleep(0.1)
                continue
            await queue.put(item)

    async def _remember(self, key: str, apply: _Registration) -> None:
        self._registrations[key] = apply
        services = [f.service for f in self._frontiers.values()] + list(self._starting)
        await asyncio.gather(*(apply(service) for service in services))

    async def _next(self, queue: asyncio.Queue[T]) -> T:
        self._check_open()
        getter = asyncio.ensure_future(queue.get())
        self._getters.add(getter)
        try:
            return await getter
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._closed and (current is None or not current.cancelling()):
                raise ConnectionClosedError("closed") from None
            raise
        finally:
            self._getters.discard(getter)

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError("closed")
        if not self._started:
            raise ConnectionClosedError("not started: use start() or 'async with'")

    # ---------------------------------------------------------------------- frontlas

    async def _refresh_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.refresh_interval)
            listed_at = loop.time()
            try:
                listing = await self._list_frontiers()
            except FrontlasError as exc:
                _log.warning("refreshing the frontiers failed, keeping the current ones: %s", exc)
                continue
            try:
                await self._sync(listing, listed_at)
            except Exception:  # the refresher must outlive a bug in one round
                _log.exception("applying the frontier listing failed")

    async def _sync(self, listing: list[FrontierInfo], listed_at: float) -> list[BaseException]:
        """Make the connections match `listing`: dial new frontiers; close those it no
        longer has once their connection is down or their grace is over (a frontier
        connected after the listing was asked for is left alone: an edge lookup may have
        found a frontier newer than the listing). Returns the dial errors (also logged)."""
        listed = {info.frontier_id: info for info in listing}
        now = asyncio.get_running_loop().time()
        for frontier_id, frontier in list(self._frontiers.items()):
            if frontier_id in listed:
                if frontier.unlisted_since is not None:
                    _log.info("frontlas lists frontier %s again", frontier_id)
                frontier.unlisted_since = None
            elif frontier.connected_at < listed_at:
                self._unlisted(frontier, now)
        results = await asyncio.gather(
            *(self._ensure(info) for info in listed.values()), return_exceptions=True
        )
        errors: list[BaseException] = []
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                cause = result.__cause__ if result.__cause__ is not None else result
                errors.append(cause)
        return errors

    def _unlisted(self, frontier: _Frontier, now: float) -> None:
        """A frontier missing from a listing: closed if its connection is down (it is not
        redialed) or its grace is over, else kept and counted."""
        frontier_id = frontier.info.frontier_id
        if not frontier.service.online:
            self._drop(frontier_id, "no longer listed by frontlas, and disconnected")
            return
        if frontier.unlisted_since is None:
            frontier.unlisted_since = now
            _log.warning(
                "frontlas no longer lists frontier %s; keeping its connection while it stays "
                "up (for %s)",
                frontier_id,
                "ever" if self.unlisted_grace is None else f"{self.unlisted_grace:g} s",
            )
        grace = self.unlisted_grace
        if grace is not None and now - frontier.unlisted_since >= grace:
            self._drop(frontier_id, f"not listed by frontlas for {grace:g} s")

    async def _list_frontiers(self) -> list[FrontierInfo]:
        body = await self._get("/cluster/v1/frontiers", {}, None)
        frontiers = body.get("frontiers")
        if not isinstance(frontiers, list):
            raise FrontlasError("frontlas answered a listing without 'frontiers'", 200)
        listing: list[FrontierInfo] = []
        for obj in frontiers:
            try:
                listing.append(FrontierInfo.parse(obj))
            except ValueError as exc:
                _log.warning("ignoring a frontier frontlas listed: %s", exc)
        return listing

    async def _lookup(self, edge_id: int, deadline: float | None) -> FrontierInfo:
        body = await self._get("/cluster/v1/frontier", {"edge_id": str(edge_id)}, deadline)
        try:
            return FrontierInfo.parse(body.get("frontier"))
        except ValueError as exc:
            raise FrontlasError(f"frontlas answered a malformed frontier: {exc}", 200) from None

    async def _get(
        self, path: str, params: dict[str, str], deadline: float | None
    ) -> dict[str, Any]:
        """GET a cluster API path: the JSON object on 200, `_EdgeUnknown` on 404, else
        `FrontlasError` with frontlas's ``error`` text."""
        self._check_open()
        session = self._session
        assert session is not None
        seconds = self.http_timeout
        if deadline is not None:
            seconds = min(seconds, time_left(deadline) or 0.0)
        url = self.frontlas_url + path
        try:
            async with session.get(
                url, params=params, timeout=aiohttp.ClientTimeout(total=seconds)
            ) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError, RuntimeError) as exc:
            if self._closed:
                raise ConnectionClosedError("closed") from None
            time_left(deadline)  # the operation's own timeout ran out: OperationTimeout, not ours
            raise FrontlasError(f"frontlas at {url}: {exc or type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise FrontlasError(f"frontlas at {url} answered {status} without an object", status)
        if status == 404:
            raise _EdgeUnknown(body.get("error", ""))
        if status != 200:
            raise FrontlasError(f"frontlas at {url}: {status} {body.get('error', '')}", status)
        return body


def _base_url(addr: str) -> str:
    """``"host:port"`` -> ``"http://host:port"``; a URL is kept (without a trailing /)."""
    if "://" in addr:
        if not addr.startswith(("http://", "https://")):
            raise ValueError(f"bad frontlas address {addr!r}: need http:// or https://")
        return addr.rstrip("/")
    host, port = parse_address(addr)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def _pick_error(errors: list[BaseException]) -> BaseException:
    """The most telling dial failure: a gateway's refusal carries its reason."""
    for exc in errors:
        if isinstance(exc, ConnectRejected):
            return exc
    if errors:
        return errors[0]
    return ConnectionClosedError("no frontier could be reached")
