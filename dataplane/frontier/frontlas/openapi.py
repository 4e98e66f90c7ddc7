"""The cluster API's OpenAPI 3.0 document (served at ``/cluster/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


_U64 = {"type": "integer", "format": "uint64", "minimum": 0}
_STR = {"type": "string"}
_REF = "#/components/schemas/"


def _q(name: str, desc: str, *, required: bool = False, array: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = _U64 if not array else {"type": "array", "items": _U64}
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": desc,
        "schema": schema,
        **({"style": "form", "explode": True} if array else {}),
    }


def _ok(schema: dict[str, Any], desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _ok({"$ref": _REF + "Error"}, "bad parameter"),
    "503": _ok({"$ref": _REF + "Error"}, "Redis unavailable"),
}
_NOT_FOUND = {"404": _ok({"$ref": _REF + "Error"}, "not online")}
_PAGING = [
    _q("cursor", "SCAN cursor; give it (0 to start) to page, omit for the full listing"),
    _q("count", "page size hint (default 100)"),
]


def _get(
    summary: str, op: str, params: list[Any], body: dict[str, Any], extra: Any = None
) -> dict[str, Any]:
    responses = {"200": _ok(body), **_ERRORS, **(extra or {})}
    return {
        "get": {"summary": summary, "operationId": op, "parameters": params, "responses": responses}
    }


def openapi_document() -> dict[str, Any]:
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

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "frontlas cluster API",
            "version": "v1",
            "description": "Read-only view of a frontier cluster: alive frontiers, edges and "
            "services, as registered by the frontiers.",
        },
        "paths": {
            "/cluster/v1/frontier": _get(
                "The frontier an edge is connected to",
                "GetFrontierByEdge",
                [_q("edge_id", "edge ID", required=True)],
                _obj({"frontier": {"$ref": _REF + "Frontier"}}),
                _NOT_FOUND,
            ),
            "/cluster/v1/frontiers": _get(
                "Alive frontiers (all, a page, or those of the given IDs / edges)",
                "ListFrontiers",
                [
                    *_PAGING,
                    _q("edge_ids", "frontiers holding these edges", array=True),
                    {
                        "name": "frontier_ids",
                        "in": "query",
                        "schema": {"type": "array", "items": _STR},
                        "style": "form",
                        "explode": True,
                    },
                ],
                _obj({"frontiers": arr("Frontier"), "cursor": _U64}),
            ),
            "/cluster/v1/edges": _get(
                "Alive edges (all, a page, or by IDs)",
                "ListEdges",
                [*_PAGING, _q("edge_ids", "edge IDs", array=True)],
                _obj({"edges": arr("Edge"), "cursor": _U64}),
            ),
            "/cluster/v1/edge": _get(
                "One edge",
                "GetEdgeByID",
                [_q("edge_id", "edge ID", required=True)],
                _obj({"edge": {"$ref": _REF + "Edge"}}),
                _NOT_FOUND,
            ),
            "/cluster/v1/edges/count": _get(
                "Edges online in the cluster", "GetEdgesCount", [], _obj({"count": _U64})
            ),
            "/cluster/v1/services": _get(
                "Alive services, one record per frontier holding the ID",
                "ListServices",
                [*_PAGING, _q("service_ids", "service IDs", array=True)],
                _obj({"services": arr("Service"), "cursor": _U64}),
            ),
            "/cluster/v1/service": _get(
                "A service ID: the newest record and one per frontier",
                "GetServiceByID",
                [_q("service_id", "service ID", required=True)],
                _obj({"service": {"$ref": _REF + "Service"}, "services": arr("Service")}),
                _NOT_FOUND,
            ),
            "/cluster/v1/services/count": _get(
                "Services online in the cluster", "GetServicesCount", [], _obj({"count": _U64})
            ),
            "/cluster/v1/health": {
                "get": {
                    "summary": "SERVING when Redis answers",
                    "operationId": "HealthCheck",
                    "responses": {
                        "200": _ok(_obj({"status": {"type": "string", "enum": ["SERVING"]}})),
                        "417": _ok(
                            _obj({"status": {"type": "string", "enum": ["NOT_SERVING"]}}),
                            "not serving",
                        ),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Frontier": frontier,
                "Edge": edge,
                "Service": service,
                "Error": _obj({"error": _STR}, ["error"]),
            }
        },
    }
