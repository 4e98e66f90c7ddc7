"""The control API: upstream's nine REST calls over the live registry (frontier-go §7).

Upstream served these from a second copy of the registry in buntdb, which answered
``count = -1`` and refused combined or rpc/topic filters. Here every call reads the one
in-memory `Registry` directly: a handler computes its answer without awaiting, so it sees one
consistent state of the event loop's registry, and every filter works with every other one.

Same paths and query parameter names as upstream, so existing scripts keep working. What we
fixed or decided differently (all listed in ``docs/control-api.md``):

- ``/v1/edges/rpcs`` and ``/v1/services/rpcs|topics`` are registered before the
  ``{edge_id}``/``{service_id}`` routes and answer every other method with a 405 of their
  own, so they are never taken for an ID (not even by ``DELETE``);
- ``count`` is the real number of matches; bad parameters are a 400 naming the parameter,
  an unknown ID a 404 (``edge not online`` / ``service not online``, never mixed up);
- the RPC and topic lists return (owner, name) pairs, not distinct bare names;
- an optional bearer token (``controlplane.token``) guards everything but ``/openapi.json``.

The API never touches a connection itself: kicking goes through the `kick_edge` /
`kick_service` callables the gateway passes in, so the closing logic (hooks, metrics,
registry clean-up) stays in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from ..conventions import ERR_EDGE_NOT_ONLINE, ERR_SERVICE_NOT_ONLINE
from ..http_auth import bearer_auth
from ..httpapi import (
    ApiError,
    bad_param,
    check_query,
    json_errors,
    json_response,
    parse_int64,
    parse_uint64,
)
from .openapi import control_openapi_document
from .registry import EdgeEntry, Registry, ServiceEntry

__all__ = [
    "COMMON_PARAMETERS",
    "DEFAULT_PAGE_SIZE",
    "LIST_FILTERS",
    "MAX_PAGE_SIZE",
    "OPENAPI_PATH",
    "ORDER_FIELDS",
    "KickFunc",
    "build_control_app",
    "edge_json",
    "service_json",
]

log = logging.getLogger("frontier.controlplane")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KickFunc = Callable[[int], Awaitable[bool]]
"""Closes the connection with this ID; False when no such connection is online."""

DEFAULT_PAGE_SIZE: Final = 10
MAX_PAGE_SIZE: Final = 1000
OPENAPI_PATH: Final = "/openapi.json"

COMMON_PARAMETERS: Final = ("page", "page_size", "start_time", "end_time", "order")
"""Accepted by every list route."""

LIST_FILTERS: Final[Mapping[str, tuple[str, ...]]] = {
    "/v1/edges": ("meta", "addr", "rpc", "edge_id"),
    "/v1/edges/rpcs": ("meta", "addr", "rpc", "edge_id"),
    "/v1/services": ("service", "addr", "rpc", "topic", "service_id"),
    "/v1/services/rpcs": ("service", "addr", "rpc", "service_id"),
    "/v1/services/topics": ("service", "addr", "topic", "service_id"),
}
"""The filters each list route accepts (besides `COMMON_PARAMETERS`); any combination."""

ORDER_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "/v1/edges": ("create_time", "edge_id", "meta", "addr"),
    "/v1/edges/rpcs": ("create_time", "edge_id", "rpc"),
    "/v1/services": ("create_time", "service_id", "service", "addr"),
    "/v1/services/rpcs": ("create_time", "service_id", "service", "rpc"),
    "/v1/services/topics": ("create_time", "service_id", "service", "topic"),
}
"""The fields each list route can be ordered by; the first is the default (descending)."""


# ------------------------------------------------------------------------------ the objects


def _seconds(create_time: float) -> int:
    """Unix seconds, as upstream's int64 ``create_time``."""
    return int(create_time)


def _meta_text(meta: bytes) -> str:
    """Edge meta is opaque bytes; JSON needs text. Valid UTF-8 shows as is, each invalid
    byte sequence as U+FFFD (upstream's protojson would fail the whole response instead)."""
    return meta.decode("utf-8", errors="replace")


def edge_json(entry: EdgeEntry) -> dict[str, Any]:
    """The Edge object: ``{edge_id, meta, addr, create_time}``."""
    return {
        "edge_id": entry.edge_id,
        "meta": _meta_text(entry.meta),
        "addr": entry.addr,
        "create_time": _seconds(entry.create_time),
    }


def service_json(entry: ServiceEntry) -> dict[str, Any]:
    """The Service object: ``{service_id, service, addr, create_time}``."""
    return {
        "service_id": entry.service_id,
        "service": entry.service,
        "addr": entry.addr,
        "create_time": _seconds(entry.create_time),
    }


# ------------------------------------------------------------------------------- the query


@dataclass(frozen=True, slots=True)
class _Query:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    start_time: int | None = None
    end_time: int | None = None
    order: str = "create_time"
    desc: bool = True
    meta: str | None = None
    addr: str | None = None
    service: str | None = None
    rpc: str | None = None
    topic: str | None = None
    edge_id: int | None = None
    service_id: int | None = None

    def in_range(self, create_time: float) -> bool:
        """[start_time, end_time) on create_time; either bound may be absent."""
        if self.start_time is not None and create_time < self.start_time:
            return False
        return self.end_time is None or create_time < self.end_time


def _parse_query(request: web.Request, route: str) -> _Query:
    """Strictly parse a list route's query string.

    Unknown or repeated parameters are a 400 (a misspelt filter must not silently list
    everything). An empty value counts as absent, as in upstream. ``page=0`` and
    ``page_size=0`` mean the default, as upstream (protobuf zero values) did.
    """
    check_query(request.query, LIST_FILTERS[route] + COMMON_PARAMETERS)
    values: dict[str, Any] = {}
    for key, value in request.query.items():
        if value == "":
            continue
        if key in ("edge_id", "service_id"):
            values[key] = parse_uint64(key, value)
        elif key in ("start_time", "end_time"):
            values[key] = parse_int64(key, value, what=" (unix seconds)")
        elif key == "page":
            values[key] = parse_uint64(key, value) or 1
        elif key == "page_size":
            values[key] = _page_size(value) or DEFAULT_PAGE_SIZE
        elif key == "order":
            values["order"], values["desc"] = _parse_order(value, ORDER_FIELDS[route])
        else:
            values[key] = value
    query = _Query(**values)
    if (
        query.start_time is not None
        and query.end_time is not None
        and query.end_time < query.start_time
    ):
        raise bad_param("end_time", "must not be before start_time")
    return query


def _page_size(text: str) -> int:
    try:
        size = parse_uint64("page_size", text)
    except ApiError:
        size = -1
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise bad_param("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}")
    return size


def _parse_order(text: str, fields: tuple[str, ...]) -> tuple[str, bool]:
    """``-field`` descending; ``+field`` or a bare ``field`` ascending (upstream's rule).

    An unescaped ``+`` in a query string decodes to a space, so a leading space counts
    as ``+`` too: ``?order=+edge_id`` works whether or not the client escaped it.
    """
    desc = text.startswith("-")
    field = text[1:] if text[:1] in ("-", "+", " ") else text
    if field not in fields:
        raise bad_param("order", f"must be [-|+]field with field one of {', '.join(fields)}")
    return field, desc


# ------------------------------------------------------------------------------- the lists


@dataclass(frozen=True, slots=True)
class _Row:
    """One list item plus what it sorts by: the exact create_time (finer than the item's
    whole seconds) and the identity fields that make the order total, so pages never
    overlap or skip an item however many items share a sort value."""

    item: dict[str, Any]
    create_time: float
    ident: tuple[Any, ...]


def _page(rows: list[_Row], query: _Query, key: str) -> dict[str, Any]:
    """Sort, cut out the requested page, and report the total.

    Ties on the requested field are broken by the identity fields, always ascending (so
    the default newest-first listing shows one edge's RPCs in alphabetical order): two
    stable sorts, the tie-break first.
    """
    field = query.order

    def primary(row: _Row) -> Any:
        return row.create_time if field == "create_time" else row.item[field]

    rows.sort(key=lambda row: row.ident)
    rows.sort(key=primary, reverse=query.desc)
    offset = (query.page - 1) * query.page_size
    page = rows[offset : offset + query.page_size]
    return {key: [row.item for row in page], "count": len(rows)}


def _edges(registry: Registry, q: _Query) -> Iterator[EdgeEntry]:
    if q.edge_id is not None:
        entry = registry.edges.get(q.edge_id)
        candidates: Iterable[EdgeEntry] = () if entry is None else (entry,)
    else:
        candidates = registry.edges.values()
    for entry in candidates:
        if not q.in_range(entry.create_time):
            continue
        if q.addr is not None and not entry.addr.startswith(q.addr):
            continue
        if q.meta is not None and not _meta_text(entry.meta).startswith(q.meta):
            continue
        if q.rpc is not None and q.rpc not in entry.rpcs:
            continue
        yield entry


def _services(registry: Registry, q: _Query) -> Iterator[ServiceEntry]:
    if q.service_id is not None:
        entry = registry.services.get(q.service_id)
        candidates: Iterable[ServiceEntry] = () if entry is None else (entry,)
    else:
        candidates = registry.services.values()
    for entry in candidates:
        if not q.in_range(entry.create_time):
            continue
        if q.addr is not None and not entry.addr.startswith(q.addr):
            continue
        if q.service is not None and not entry.service.startswith(q.service):
            continue
        if q.rpc is not None and q.rpc not in entry.rpcs:
            continue
        if q.topic is not None and q.topic not in entry.topics:
            continue
        yield entry


def _list_edges(registry: Registry, q: _Query) -> dict[str, Any]:
    rows = [_Row(edge_json(e), e.create_time, (e.edge_id,)) for e in _edges(registry, q)]
    return _page(rows, q, "edges")


def _list_edge_rpcs(registry: Registry, q: _Query) -> dict[str, Any]:
    rows = [
        _Row(
            {"edge_id": e.edge_id, "rpc": rpc, "create_time": _seconds(e.create_time)},
            e.create_time,
            (e.edge_id, rpc),
        )
        for e in _edges(registry, q)
        for rpc in ((q.rpc,) if q.rpc is not None else e.rpcs)
    ]
    return _page(rows, q, "edge_rpcs")


def _list_services(registry: Registry, q: _Query) -> dict[str, Any]:
    rows = [_Row(service_json(s), s.create_time, (s.service_id,)) for s in _services(registry, q)]
    return _page(rows, q, "services")


def _list_service_rpcs(registry: Registry, q: _Query) -> dict[str, Any]:
    rows = [
        _Row(
            {
                "service_id": s.service_id,
                "service": s.service,
                "rpc": rpc,
                "create_time": _seconds(s.create_time),
            },
            s.create_time,
            (s.service_id, rpc),
        )
        for s in _services(registry, q)
        for rpc in ((q.rpc,) if q.rpc is not None else s.rpcs)
    ]
    return _page(rows, q, "service_rpcs")


def _list_service_topics(registry: Registry, q: _Query) -> dict[str, Any]:
    rows = [
        _Row(
            {
                "service_id": s.service_id,
                "service": s.service,
                "topic": topic,
                "create_time": _seconds(s.create_time),
            },
            s.create_time,
            (s.service_id, topic),
        )
        for s in _services(registry, q)
        for topic in ((q.topic,) if q.topic is not None else dict.fromkeys(s.topics))
    ]
    return _page(rows, q, "service_topics")


# ---------------------------------------------------------------------------------- the app


def build_control_app(
    registry: Registry,
    *,
    kick_edge: KickFunc,
    kick_service: KickFunc,
    token: str = "",
) -> web.Application:
    """The control API as an aiohttp application; serve it with `frontier.httpserve`.

    `kick_edge` / `kick_service` close the connection with the given ID and return False
    when none is online (then the API answers 404). With a non-empty `token` every route
    except ``GET /openapi.json`` requires ``Authorization: Bearer <token>``.
    """
    middlewares: list[Any] = [json_errors(log, "control API")]
    if token:
        middlewares.append(bearer_auth(token, realm="frontier", exempt=(OPENAPI_PATH,)))
    app = web.Application(middlewares=middlewares)

    def lister(
        route: str, produce: Callable[[Registry, _Query], dict[str, Any]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return json_response(produce(registry, _parse_query(request, route)))

        return handle

    def no_query(request: web.Request) -> None:
        check_query(request.query, ())

    async def get_edge(request: web.Request) -> web.Response:
        no_query(request)
        edge_id = parse_uint64("edge_id", request.match_info["edge_id"])
        entry = registry.edges.get(edge_id)
        if entry is None:
            raise ApiError(404, ERR_EDGE_NOT_ONLINE)
        return json_response(edge_json(entry))

    async def delete_edge(request: web.Request) -> web.Response:
        no_query(request)
        edge_id = parse_uint64("edge_id", request.match_info["edge_id"])
        if not await kick_edge(edge_id):
            raise ApiError(404, ERR_EDGE_NOT_ONLINE)
        return json_response({})

    async def get_service(request: web.Request) -> web.Response:
        no_query(request)
        service_id = parse_uint64("service_id", request.match_info["service_id"])
        entry = registry.services.get(service_id)
        if entry is None:
            raise ApiError(404, ERR_SERVICE_NOT_ONLINE)
        return json_response(service_json(entry))

    async def delete_service(request: web.Request) -> web.Response:
        no_query(request)
        service_id = parse_uint64("service_id", request.match_info["service_id"])
        if not await kick_service(service_id):
            raise ApiError(404, ERR_SERVICE_NOT_ONLINE)
        return json_response({})

    document = control_openapi_document(token_required=bool(token))

    async def openapi(request: web.Request) -> web.Response:
        no_query(request)
        return web.json_response(document)

    router = app.router
    # Fixed paths first: aiohttp matches in registration order, and upstream's late
    # registration let /v1/edges/{edge_id} swallow /v1/edges/rpcs. Each fixed path also
    # takes every other method itself (a 405), or aiohttp would go on to the ID route,
    # which has DELETE, and read "rpcs" as an edge ID.
    _add_get_only(router, "/v1/edges", lister("/v1/edges", _list_edges))
    _add_get_only(router, "/v1/edges/rpcs", lister("/v1/edges/rpcs", _list_edge_rpcs))
    router.add_get("/v1/edges/{edge_id}", get_edge)
    router.add_delete("/v1/edges/{edge_id}", delete_edge)
    _add_get_only(router, "/v1/services", lister("/v1/services", _list_services))
    _add_get_only(router, "/v1/services/rpcs", lister("/v1/services/rpcs", _list_service_rpcs))
    _add_get_only(
        router, "/v1/services/topics", lister("/v1/services/topics", _list_service_topics)
    )
    router.add_get("/v1/services/{service_id}", get_service)
    router.add_delete("/v1/services/{service_id}", delete_service)
    _add_get_only(router, OPENAPI_PATH, openapi)
    return app


_GET_ONLY: Final = frozenset({"GET", "HEAD"})


def _add_get_only(router: web.UrlDispatcher, path: str, handler: _Handler) -> None:
    """GET (and HEAD) `path`; any other method, OPTIONS included, is a 405 with
    ``Allow: GET,HEAD`` from this route, never a match of a later route."""

    async def not_allowed(request: web.Request) -> web.Response:
        raise web.HTTPMethodNotAllowed(request.method, _GET_ONLY)

    resource = router.add_resource(path)
    resource.add_route("HEAD", handler)
    resource.add_route("GET", handler)
    resource.add_route("*", not_allowed)
