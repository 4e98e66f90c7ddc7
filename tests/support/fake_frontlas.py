"""A stand-in for frontlas's REST cluster API, for testing `frontier.sdk.ClusterService`.

It serves exactly the contract the SDK relies on, from in-memory state the test edits:

- ``GET /cluster/v1/frontiers`` -> ``{"frontiers": [frontier, ...]}`` (the alive ones);
- ``GET /cluster/v1/frontier?edge_id=N`` -> ``{"frontier": frontier}``, 404 when the edge
  is unknown or its frontier is not listed, 400 on a bad parameter;
- errors as ``{"error": text}``; ``down = True`` answers 503 to everything (frontlas
  without Redis), `stop()` makes the port refuse connections altogether.

Each request is counted in `hits` (path -> count) so tests can tell a cache hit from a
lookup.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from frontier.httpserve import HttpListener

__all__ = ["FakeFrontlas", "frontier_object"]


def frontier_object(frontier_id: str, sb_port: int, eb_port: int = 0) -> dict[str, Any]:
    """A frontier as frontlas lists it (loopback addresses)."""
    return {
        "frontier_id": frontier_id,
        "advertised_sb_addr": f"127.0.0.1:{sb_port}",
        "advertised_eb_addr": f"127.0.0.1:{eb_port}",
        "edge_count": 0,
        "service_count": 0,
    }


class FakeFrontlas:
    """In-memory frontlas: `frontiers` (ID -> object, in listing order) and `edges`
    (edge ID -> frontier ID) are plain dicts the test mutates directly."""

    def __init__(self) -> None:
        self.frontiers: dict[str, dict[str, Any]] = {}
        self.edges: dict[int, str] = {}
        self.down = False
        self.hits: Counter[str] = Counter()
        self._listener: HttpListener | None = None
        self._port = 0

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self._port}"

    def add(self, frontier_id: str, sb_port: int, eb_port: int = 0) -> None:
        self.frontiers[frontier_id] = frontier_object(frontier_id, sb_port, eb_port)

    async def start(self) -> None:
        """Serve on a free loopback port (the same one again after a `stop()`)."""
        app = web.Application()
        app.router.add_get("/cluster/v1/frontiers", self._list)
        app.router.add_get("/cluster/v1/frontier", self._by_edge)
        listener = HttpListener(app, "127.0.0.1", self._port, shutdown_timeout=0.5)
        await listener.start()
        self._listener = listener
        self._port = listener.port

    async def stop(self) -> None:
        """Stop listening (connections are refused until `start()` again)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def __aenter__(self) -> FakeFrontlas:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _list(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if self.down:
            return web.json_response({"error": "redis unavailable"}, status=503)
        return web.json_response({"frontiers": list(self.frontiers.values())})

    async def _by_edge(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if self.down:
            return web.json_response({"error": "redis unavailable"}, status=503)
        text = request.query.get("edge_id", "")
        if not text.isdigit():
            return web.json_response({"error": f"bad edge_id {text!r}"}, status=400)
        frontier_id = self.edges.get(int(text))
        if frontier_id is None or frontier_id not in self.frontiers:
            return web.json_response({"error": f"edge {text} is not online"}, status=404)
        return web.json_response({"frontier": self.frontiers[frontier_id]})
