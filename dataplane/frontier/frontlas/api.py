"""The cluster API (:40011): REST with JSON bodies, read-only, plus its OpenAPI document.

Upstream served the same paths over gRPC-gateway but its REST encoder never wrote a body,
so every answer looked empty (frontier-go §8.4); its by-ID listings panicked. Here every
answer is JSON, errors are ``{"error": text}`` with a fitting status (400 bad parameter,
404 not found, 503 Redis unavailable), listings by IDs work, and only alive frontiers,
edges and services are listed.

Parameters follow the gateway's control API (`frontier.httpapi`): ASCII digits only, an
unknown parameter or a repeated single-valued one is a 400 naming it, an empty value of a
single-valued parameter counts as absent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Final

from aiohttp import web
from redis import RedisError

from ..http_auth import bearer_auth
from ..httpapi import (
    ApiError,
    bad_param,
    check_query,
    json_errors,
    json_response,
    parse_uint64,
)
from .openapi import openapi_document
from .repo import Repository

__all__ = ["COUNT_DEFAULT", "COUNT_LIMIT", "OPENAPI_PATH", "build_cluster_app"]

log = logging.getLogger("frontier.frontlas.api")

OPENAPI_PATH: Final = "/cluster/v1/openapi.json"

Ready = Callable[[], Awaitable[bool]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

COUNT_DEFAULT: Final = 100
COUNT_LIMIT: Final = 10_000
"""``count`` (a SCAN page size hint): absent, empty or 0 means the default; larger values
are capped at the limit, so one request never asks Redis for an unbounded page."""

_PAGING: Final = ("cursor", "count")


def _uint(request: web.Request, name: str, *, required: bool = False) -> int | None:
    """A single unsigned 64-bit value; an empty value counts as absent."""
    raw = request.query.get(name, "")
    if raw == "":
        if required:
            raise ApiError(400, f"query parameter {name} is required", param=name)
        return None
    return parse_uint64(name, raw)


def _parts(request: web.Request, name: str) -> list[str]:
    """A list parameter, repeated (``?ids=1&ids=2``) and/or comma-separated (``?ids=1,2``):
    both are common client styles. An empty item (``?ids=``, ``?ids=1,,2``) is a 400, not
    "no filter": an empty list must never turn into a listing of everything."""
    parts = [part for raw in request.query.getall(name, []) for part in raw.split(",")]
    if "" in parts:
        raise bad_param(name, "empty item (give values, repeated or comma-separated)")
    return parts


def _uint_list(request: web.Request, name: str) -> list[int]:
    return [parse_uint64(name, part) for part in _parts(request, name)]


def _page_args(request: web.Request) -> tuple[int | None, int]:
    cursor = _uint(request, "cursor")
    count = _uint(request, "count") or COUNT_DEFAULT
    return cursor, min(count, COUNT_LIMIT)


def _required_uint(request: web.Request, name: str) -> int:
    value = _uint(request, name, required=True)
    assert value is not None
    return value


def _not_online(what: str, ident: int) -> ApiError:
    return ApiError(404, f"{what} {ident} is not online")


def build_cluster_app(repo: Repository, ready: Ready, *, token: str = "") -> web.Application:
    """The cluster API as an aiohttp application; serve it with `frontier.httpserve`. With
    `token`, every route but the OpenAPI document needs ``Authorization: Bearer <token>``
    (`control_plane.token`)."""

    def guarded(fn: Handler, allowed: Collection[str], lists: Collection[str] = ()) -> Handler:
        """`fn` behind the strict query check (only `allowed` names; only `lists` may
        repeat), with Redis failures answered as 503."""

        async def handler(request: web.Request) -> web.Response:
            check_query(request.query, allowed, repeatable=lists)
            try:
                return await fn(request)
            except (RedisError, OSError) as exc:
                raise ApiError(503, f"redis unavailable: {exc}") from exc

        return handler

    def paged(key: str, items: list[dict[str, Any]], cursor: int, paging: bool) -> web.Response:
        body: dict[str, Any] = {key: items}
        if paging:
            body["cursor"] = cursor
        return json_response(body)

    async def get_frontier_by_edge(request: web.Request) -> web.Response:
        edge_id = _required_uint(request, "edge_id")
        frontier = await repo.frontier_by_edge(edge_id)
        if frontier is None:
            raise _not_online("edge", edge_id)
        # "fontier" is upstream's (misspelt) field name, kept for its clients
        return json_response({"frontier": frontier, "fontier": frontier})

    async def list_frontiers(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _parts(request, "frontier_ids")
        edge_ids = _uint_list(request, "edge_ids")
        if edge_ids:
            edges = await repo.list_edges(edge_ids)
            ids += [e["frontier_id"] for e in edges.items if e["frontier_id"]]
            if not ids:
                return json_response({"frontiers": []})
        page = await repo.list_frontiers(ids, None if ids else cursor, count)
        return paged("frontiers", page.items, page.cursor, cursor is not None and not ids)

    async def list_edges(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _uint_list(request, "edge_ids")
        page = await repo.list_edges(ids, None if ids else cursor, count)
        return paged("edges", page.items, page.cursor, cursor is not None and not ids)

    async def get_edge(request: web.Request) -> web.Response:
        edge_id = _required_uint(request, "edge_id")
        edge = await repo.get_edge(edge_id)
        if edge is None:
            raise _not_online("edge", edge_id)
        return json_response({"edge": edge})

    async def edges_count(request: web.Request) -> web.Response:
        return json_response({"count": await repo.count_edges()})

    async def list_services(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _uint_list(request, "service_ids")
        page = await repo.list_services(ids, None if ids else cursor, count)
        return paged("services", page.items, page.cursor, cursor is not None and not ids)

    async def get_service(request: web.Request) -> web.Response:
        service_id = _required_uint(request, "service_id")
        records = await repo.get_services(service_id)
        if not records:
            raise _not_online("service", service_id)
        newest = max(records, key=lambda r: int(r["update_time"]))
        return json_response({"service": newest, "services": records})

    async def services_count(request: web.Request) -> web.Response:
        return json_response({"count": await repo.count_services()})

    async def health(request: web.Request) -> web.Response:
        if await ready():
            return json_response({"status": "SERVING"})
        return json_response({"status": "NOT_SERVING"}, status=417)  # upstream's status code

    document = openapi_document(token_required=bool(token))

    async def openapi(request: web.Request) -> web.Response:
        return json_response(document)

    middlewares: list[Any] = [json_errors(log, "cluster API")]
    if token:
        middlewares.append(bearer_auth(token, realm="frontlas", exempt=(OPENAPI_PATH,)))
    app = web.Application(middlewares=middlewares)
    routes: list[tuple[str, Handler, tuple[str, ...], tuple[str, ...]]] = [
        ("/cluster/v1/frontier", get_frontier_by_edge, ("edge_id",), ()),
        (
            "/cluster/v1/frontiers",
            list_frontiers,
            (*_PAGING, "edge_ids", "frontier_ids"),
            ("edge_ids", "frontier_ids"),
        ),
        ("/cluster/v1/edges", list_edges, (*_PAGING, "edge_ids"), ("edge_ids",)),
        ("/cluster/v1/edge", get_edge, ("edge_id",), ()),
        ("/cluster/v1/edges/count", edges_count, (), ()),
        ("/cluster/v1/services", list_services, (*_PAGING, "service_ids"), ("service_ids",)),
        ("/cluster/v1/service", get_service, ("service_id",), ()),
        ("/cluster/v1/services/count", services_count, (), ()),
        ("/cluster/v1/health", health, (), ()),
        (OPENAPI_PATH, openapi, (), ()),
    ]
    for path, fn, allowed, lists in routes:
        app.router.add_get(path, guarded(fn, allowed, lists))
    return app
