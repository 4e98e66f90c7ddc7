"""The cluster API's OpenAPI 3.0 document (served at ``/cluster/v1/openapi.json``).

Held to the code by tests/api, which runs schemathesis against a live frontlas from it: the
bounds are the parser's (`frontier.httpapi`), ``allowEmptyValue`` marks the parameters
where an empty value means absent, and links lead from every listing to the calls that
take its IDs, so a client (or a stateful fuzzer) follows real IDs instead of guessing.
"""

from __future__ import annotations

from typing import Any, Final

from ..httpapi import MAX_UINT64, require_bearer

__all__ = ["openapi_document"]


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


_U64: Final = {"type": "integer", "format": "uint64", "minimum": 0, "maximum": MAX_UINT64}
_STR: Final = {"type": "string"}
_REF: Final = "#/components/schemas/"
_EMPTY_IS_ABSENT: Final = " An empty value counts as absent."


def _q(name: str, desc: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "schema": schema}
    if required:
        param["description"] = desc
    else:
        param["description"] = desc + _EMPTY_IS_ABSENT
        param["allowEmptyValue"] = True
    return param


def _id(name: str, what: str) -> dict[str, Any]:
    return _q(name, f"{what} ID (unsigned 64-bit, ASCII digits).", _U64, required=True)


def _list(name: str, what: str, items: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{what}: repeat the parameter (`{name}=1&{name}=2`), or give a "
        f"comma-separated list (`{name}=1,2`), or both. An empty item is a 400.",
        "schema": {"type": "array", "items": items},
        "style": "form",
        "explode": True,
    }


_FRONTIER_IDS: Final = {
    "type": "string",
    "pattern": "^[^,]+(,[^,]+)*$",
    "description": "A frontier ID, or several separated by commas (so an ID containing a "
    "comma cannot be asked for).",
}


def _ok(schema: dict[str, Any], desc: str = "OK", links: Any = None) -> dict[str, Any]:
    response = {"description": desc, "content": {"application/json": {"schema": schema}}}
    if links:
        response["links"] = links
    return response


def _error(desc: str) -> dict[str, Any]:
    return _ok({"$ref": _REF + "Error"}, desc)


_BAD_REQUEST: Final = {
    "400": _error("A malformed, unknown or repeated parameter (the error names it).")
}
_NO_REDIS: Final = {"503": _error("Redis unavailable.")}
_NOT_FOUND: Final = {"404": _error("Not online.")}
_PAGING: Final = [
    _q(
        "cursor",
        "SCAN cursor: give it (0 to start) to get one page and the cursor that continues it "
        "(0 when done); omit it for the complete listing.",
        _U64,
    ),
    _q(
        "count",
        "SCAN page size hint: absent or 0 means 100, values above 10000 are taken as 10000.",
        _U64,
    ),
]


def _link(op: str, desc: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": op, "description": desc, "parameters": parameters}


def _edge_links(pointer: str) -> dict[str, Any]:
    at = f"$response.body#{pointer}"
    return {
        "GetEdgeByID": _link("GetEdgeByID", "This edge.", edge_id=at),
        "GetFrontierByEdge": _link("GetFrontierByEdge", "The frontier of this edge.", edge_id=at),
    }


def _get(
    summary: str,
    op: str,
    params: list[Any],
    body: dict[str, Any],
    *,
    extra: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses = {"200": _ok(body, links=links), **_BAD_REQUEST, **_NO_REDIS, **(extra or {})}
    return {
        "get": {"summary": summary, "operationId": op, "parameters": params, "responses": responses}
    }


def openapi_document(*, token_required: bool = False) -> dict[str, Any]:
    """The document for a frontlas with or without ``control_plane.token``."""
    document = _build()
    if token_required:
        document = require_bearer(
            document,
            realm="frontlas",
            setting="control_plane.token",
            exempt=("/cluster/v1/openapi.json",),
        )
    return document


def _build() -> dict[str, Any]:
    frontier = _obj(
        {
            "frontier_id": _STR,
            "advertised_sb_addr": _STR,
            "advertised_eb_addr": _STR,
            "edge_count": _U64,
            "service_count": _U64,
        },
        ["frontier_id", "advertised_sb_addr", "advertised_eb_addr"],
    )
    edge = _obj(
        {"edge_id": _U64, "addr": _STR, "update_time": _U64, "frontier_id": _STR},
        ["edge_id", "frontier_id"],
    )
    service = _obj(
        {
            "service_id": _U64,
            "service": _STR,
            "addr": _STR,
            "update_time": _U64,
            "frontier_id": _STR,
        },
        ["service_id", "frontier_id"],
    )

    def arr(name: str) -> dict[str, Any]:
        return {"type": "array", "items": {"$ref": _REF + name}}

    def next_page(op: str) -> dict[str, Any]:
        return {"NextPage": _link(op, "The next page (0: done).", cursor="$response.body#/cursor")}

    service_at = "$response.body#/services/0/service_id"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "frontlas cluster API",
            "version": "v1",
            "description": "Read-only view of a frontier cluster: alive frontiers, edges and "
            "services, as registered by the frontiers. See docs/frontlas.md. A request line "
            "(method, path and percent-encoded query) or header line longer than 8190 bytes, "
            'or any other malformed request, is refused with a 400 `{"error": "bad request: '
            '..."}` and the connection is closed.',
        },
        "paths": {
            "/cluster/v1/frontier": _get(
                "The frontier an edge is connected to",
                "GetFrontierByEdge",
                [_id("edge_id", "Edge")],
                _obj(
                    {
                        "frontier": {"$ref": _REF + "Frontier"},
                        "fontier": {"$ref": _REF + "Frontier"},  # upstream's spelling
                    },
                    ["frontier", "fontier"],
                ),
                extra=_NOT_FOUND,
            ),
            "/cluster/v1/frontiers": _get(
                "Alive frontiers (all, a page, or those of the given IDs / edges)",
                "ListFrontiers",
                [
                    *_PAGING,
                    _list("edge_ids", "Frontiers holding these edges", _U64),
                    _list("frontier_ids", "These frontiers", _FRONTIER_IDS),
                ],
                _obj({"frontiers": arr("Frontier"), "cursor": _U64}, ["frontiers"]),
                links=next_page("ListFrontiers"),
            ),
            "/cluster/v1/edges": _get(
                "Alive edges (all, a page, or by IDs)",
                "ListEdges",
                [*_PAGING, _list("edge_ids", "These edges", _U64)],
                _obj({"edges": arr("Edge"), "cursor": _U64}, ["edges"]),
                links={**_edge_links("/edges/0/edge_id"), **next_page("ListEdges")},
            ),
            "/cluster/v1/edge": _get(
                "One edge",
                "GetEdgeByID",
                [_id("edge_id", "Edge")],
                _obj({"edge": {"$ref": _REF + "Edge"}}, ["edge"]),
                extra=_NOT_FOUND,
                links={"GetFrontierByEdge": _edge_links("/edge/edge_id")["GetFrontierByEdge"]},
            ),
            "/cluster/v1/edges/count": _get(
                "Edges online in the cluster",
                "GetEdgesCount",
                [],
                _obj({"count": _U64}, ["count"]),
            ),
            "/cluster/v1/services": _get(
                "Alive services, one record per frontier holding the ID",
                "ListServices",
                [*_PAGING, _list("service_ids", "These services", _U64)],
                _obj({"services": arr("Service"), "cursor": _U64}, ["services"]),
                links={
                    "GetServiceByID": _link(
                        "GetServiceByID", "This service.", service_id=service_at
                    ),
                    **next_page("ListServices"),
                },
            ),
            "/cluster/v1/service": _get(
                "A service ID: the newest record and one per frontier",
                "GetServiceByID",
                [_id("service_id", "Service")],
                _obj(
                    {"service": {"$ref": _REF + "Service"}, "services": arr("Service")},
                    ["service", "services"],
                ),
                extra=_NOT_FOUND,
            ),
            "/cluster/v1/services/count": _get(
                "Services online in the cluster",
                "GetServicesCount",
                [],
                _obj({"count": _U64}, ["count"]),
            ),
            "/cluster/v1/health": {
                "get": {
                    "summary": "SERVING when Redis answers",
                    "operationId": "HealthCheck",
                    "responses": {
                        "200": _ok(
                            _obj({"status": {"type": "string", "enum": ["SERVING"]}}, ["status"])
                        ),
                        **_BAD_REQUEST,
                        "417": _ok(
                            _obj(
                                {"status": {"type": "string", "enum": ["NOT_SERVING"]}},
                                ["status"],
                            ),
                            "not serving",
                        ),
                    },
                }
            },
            "/cluster/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "GetOpenAPI",
                    "responses": {"200": _ok({"type": "object"}), **_BAD_REQUEST},
                }
            },
        },
        "components": {
            "schemas": {
                "Frontier": frontier,
                "Edge": edge,
                "Service": service,
                "Error": _obj(
                    {
                        "error": _STR,
                        "param": {**_STR, "description": "The offending parameter (400 only)."},
                    },
                    ["error"],
                ),
            }
        },
    }
