"""The cluster API (:40011): REST with JSON bodies, read-only, plus its OpenAPI document.

Upstream served the same paths over gRPC-gateway but its REST encoder never wrote a body,
so every answer looked empty (frontier-go §8.4); its by-ID listings panicked. Here every
answer is JSON, errors are ``{"error": text}`` with a fitting status (400 bad parameter,
404 not found, 503 Redis unavailable), listings by IDs work, and only alive frontiers,
edges and services are listed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from redis import RedisError

from ..http_auth import bearer_auth
from .openapi import openapi_document
from .repo import Repository

__all__ = ["OPENAPI_PATH", "build_cluster_app"]

OPENAPI_PATH = "/cluster/v1/openapi.json"

Ready = Callable[[], Awaitable[bool]]
_MAX_ID = (1 << 64) - 1


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
    )


def _error(text: str, status: int) -> web.Response:
    return _json({"error": text}, status)


def _uint(request: web.Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise ValueError(f"query parameter {name} is required")
        return None
    if not raw.isdigit() or int(raw) > _MAX_ID:
        raise ValueError(f"{name}: {raw!r} is not an unsigned integer")
    return int(raw)


def _uint_list(request: web.Request, name: str) -> list[int]:
    """``?edge_ids=1&edge_ids=2`` or ``?edge_ids=1,2`` (both are common client styles)."""
    values: list[int] = []
    for raw in request.query.getall(name, []):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) > _MAX_ID:
                raise ValueError(f"{name}: {part!r} is not an unsigned integer")
            values.append(int(part))
    return values


def _str_list(request: web.Request, name: str) -> list[str]:
    return [
        part.strip()
        for raw in request.query.getall(name, [])
        for part in raw.split(",")
        if part.strip()
    ]


def _page_args(request: web.Request) -> tuple[int | None, int]:
    cursor = _uint(request, "cursor")
    count = _uint(request, "count") or 100
    return cursor, min(count, 10_000)


def build_cluster_app(repo: Repository, ready: Ready, *, token: str = "") -> web.Application:
    """The cluster API; with `token`, every route but the OpenAPI document needs
    ``Authorization: Bearer <token>`` (`control_plane.token`)."""
    Handler = Callable[[web.Request], Awaitable[web.Response]]

    def guarded(fn: Handler) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                return await fn(request)
            except ValueError as exc:  # a bad parameter
                return _error(str(exc), 400)
            except (RedisError, OSError) as exc:
                return _error(f"redis unavailable: {exc}", 503)

        return handler

    def paged(key: str, items: list[dict[str, Any]], cursor: int, paging: bool) -> web.Response:
        body: dict[str, Any] = {key: items}
        if paging:
            body["cursor"] = cursor
        return _json(body)

    async def get_frontier_by_edge(request: web.Request) -> web.Response:
        edge_id = _uint(request, "edge_id", required=True)
        assert edge_id is not None
        frontier = await repo.frontier_by_edge(edge_id)
        if frontier is None:
            return _error(f"edge {edge_id} is not online", 404)
        # "fontier" is upstream's (misspelt) field name, kept for its clients
        return _json({"frontier": frontier, "fontier": frontier})

    async def list_frontiers(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _str_list(request, "frontier_ids")
        edge_ids = _uint_list(request, "edge_ids")
        if edge_ids:
            edges = await repo.list_edges(edge_ids)
            ids += [e["frontier_id"] for e in edges.items if e["frontier_id"]]
            if not ids:
                return _json({"frontiers": []})
        page = await repo.list_frontiers(ids, None if ids else cursor, count)
        return paged("frontiers", page.items, page.cursor, cursor is not None and not ids)

    async def list_edges(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _uint_list(request, "edge_ids")
        page = await repo.list_edges(ids, None if ids else cursor, count)
        return paged("edges", page.items, page.cursor, cursor is not None and not ids)

    async def get_edge(request: web.Request) -> web.Response:
        edge_id = _uint(request, "edge_id", required=True)
        assert edge_id is not None
        edge = await repo.get_edge(edge_id)
        if edge is None:
            return _error(f"edge {edge_id} is not online", 404)
        return _json({"edge": edge})

    async def edges_count(request: web.Request) -> web.Response:
        return _json({"count": await repo.count_edges()})

    async def list_services(request: web.Request) -> web.Response:
        cursor, count = _page_args(request)
        ids = _uint_list(request, "service_ids")
        page = await repo.list_services(ids, None if ids else cursor, count)
        return paged("services", page.items, page.cursor, cursor is not None and not ids)

    async def get_service(request: web.Request) -> web.Response:
        service_id = _uint(request, "service_id", required=True)
        assert service_id is not None
        records = await repo.get_services(service_id)
        if not records:
            return _error(f"service {service_id} is not online", 404)
        newest = max(records, key=lambda r: int(r["update_time"]))
        return _json({"service": newest, "services": records})

    async def services_count(request: web.Request) -> web.Response:
        return _json({"count": await repo.count_services()})

    async def health(request: web.Request) -> web.Response:
        if await ready():
            return _json({"status": "SERVING"})
        return _json({"status": "NOT_SERVING"}, 417)  # upstream's status code

    async def openapi(request: web.Request) -> web.Response:
        return _json(openapi_document())

    middlewares = []
    if token:
        middlewares.append(bearer_auth(token, realm="frontlas", exempt=(OPENAPI_PATH,)))
    app = web.Application(middlewares=middlewares)
    routes = [
        ("/cluster/v1/frontier", get_frontier_by_edge),
        ("/cluster/v1/frontiers", list_frontiers),
        ("/cluster/v1/edges", list_edges),
        ("/cluster/v1/edge", get_edge),
        ("/cluster/v1/edges/count", edges_count),
        ("/cluster/v1/services", list_services),
        ("/cluster/v1/service", get_service),
        ("/cluster/v1/services/count", services_count),
    ]
    for path, fn in routes:
        app.router.add_get(path, guarded(fn))
    app.router.add_get("/cluster/v1/health", health)
    app.router.add_get(OPENAPI_PATH, openapi)
    return app
