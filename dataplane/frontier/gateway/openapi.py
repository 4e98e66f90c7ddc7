"""The control API's OpenAPI 3 document, served at ``GET /openapi.json``.

Written by hand (there is no schema framework under the API), so the tests hold it to the
code: every route the application registers appears here with the query parameters its
handler accepts and the order fields it allows, and tests/api runs schemathesis against a
live gateway from this document. Change both together.

The rules are stated as precisely as OpenAPI 3.0 can: 64-bit bounds as ``minimum`` /
``maximum``, ``allowEmptyValue`` where an empty value means absent, and links from every
listing to the operations that take its IDs, so a client (or a stateful fuzzer) can follow
real IDs instead of guessing them. Whether the bearer token is required depends on the
deployment, so the document is built for one: `control_openapi_document(token_required=)`.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from ..httpapi import MAX_INT64, MAX_UINT64, MIN_INT64, require_bearer

__all__ = ["control_openapi_document"]

_UINT64: Final = {"type": "integer", "format": "uint64", "minimum": 0, "maximum": MAX_UINT64}
_UNIX: Final = {"type": "integer", "format": "int64", "minimum": MIN_INT64, "maximum": MAX_INT64}
_ERROR_REF: Final = {"$ref": "#/components/schemas/Error"}
_LIMITS: Final = (
    "A request line (method, path and percent-encoded query) or header line longer than "
    "8190 bytes, or any other malformed request, is refused with a 400 "
    '`{"error": "bad request: ..."}` before authentication, and the connection is closed.'
)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter; on every list route an empty value means absent."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "description": description + " An empty value counts as absent.",
        "schema": schema,
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _order(fields: tuple[str, ...]) -> dict[str, Any]:
    values = ["", *(f"{sign}{field}" for field in fields for sign in ("", "+", " ", "-"))]
    return _query(
        "order",
        "Sort order: `-field` descending, `+field` or `field` ascending (send `+` as `%2B`; "
        "an unescaped `+`, decoded as a space, is accepted too, hence the values with a "
        "leading space). Default (absent or empty) `-create_time`. Ties are broken by the "
        "object's IDs, so paging is stable.",
        {"type": "string", "enum": values},
    )


def _common() -> list[dict[str, Any]]:
    return [
        _ref("parameters", "page"),
        _ref("parameters", "page_size"),
        _ref("parameters", "start_time"),
        _ref("parameters", "end_time"),
    ]


def _link(op_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: `op_id` called with `parameters` taken from this response."""
    return {"operationId": op_id, "description": description, "parameters": parameters}


_STATUS: Final = {
    "BadRequest": "400",
    "EdgeNotOnline": "404",
    "ServiceNotOnline": "404",
    "InternalError": "500",
}


def _errors(*names: str) -> dict[str, Any]:
    """The error responses `names` (components), keyed by their status."""
    return {_STATUS[name]: _ref("responses", name) for name in names}


def _list_op(
    summary: str,
    op_id: str,
    filters: list[str],
    order_fields: tuple[str, ...],
    schema: str,
    description: str,
    links: dict[str, Any],
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "description": description + _TIME_RULE,
            "tags": ["service" if "Service" in op_id else "edge"],
            "parameters": [_ref("parameters", f) for f in filters]
            + _common()
            + [_order(order_fields)],
            "responses": {
                "200": {
                    "description": "One page of matches, and how many match in all.",
                    "content": {"application/json": {"schema": _ref("schemas", schema)}},
                    "links": links,
                },
                **_errors("BadRequest", "InternalError"),
            },
        }
    }


_TIME_RULE: Final = (
    " The time range is `[start_time, end_time)`; either bound may be given alone, and with "
    "both `end_time >= start_time` must hold (else 400, naming `end_time`)."
)


def _item_op(kind: str, id_param: str, links: dict[str, Any]) -> dict[str, Any]:
    title = kind.capitalize()
    not_found = f"{title}NotOnline"
    return {
        "parameters": [_ref("parameters", f"{id_param}_path")],
        "get": {
            "operationId": f"Get{title}",
            "summary": f"One online {kind}.",
            "tags": [kind],
            "responses": {
                "200": {
                    "description": f"The {kind}.",
                    "content": {"application/json": {"schema": _ref("schemas", title)}},
                    "links": links,
                },
                **_errors("BadRequest", not_found, "InternalError"),
            },
        },
        "delete": {
            "operationId": f"Kick{title}",
            "summary": f"Close the {kind}'s connection (kick it).",
            "description": f"Returns once the connection is closed and the {kind} is gone "
            f"from every listing. The {kind} may reconnect, with a new connection (and, "
            "unless an ID hook derives it from the meta, a new ID).",
            "tags": [kind],
            "responses": {
                "200": {
                    "description": "Kicked.",
                    "content": {
                        "application/json": {"schema": {"type": "object", "maxProperties": 0}}
                    },
                },
                **_errors("BadRequest", not_found, "InternalError"),
            },
        },
    }


def _edge_links(pointer: str, *, kick: bool = True) -> dict[str, Any]:
    """Links from a response holding an edge ID at JSON `pointer` to what takes one."""
    at = f"$response.body#{pointer}"
    links = {
        "GetEdge": _link("GetEdge", "The edge of this item.", edge_id=at),
        "ListEdgeRPCs": _link("ListEdgeRPCs", "The RPCs of this item's edge.", edge_id=at),
    }
    if kick:
        links["KickEdge"] = _link("KickEdge", "Kick this item's edge.", edge_id=at)
    return links


def _service_links(pointer: str) -> dict[str, Any]:
    """Links from a response holding a service ID at JSON `pointer` to what takes one."""
    at = f"$response.body#{pointer}"
    return {
        "GetService": _link("GetService", "The service of this item.", service_id=at),
        "KickService": _link("KickService", "Kick this item's service.", service_id=at),
        "ListServiceRPCs": _link(
            "ListServiceRPCs", "The RPCs of this item's service.", service_id=at
        ),
        "ListServiceTopics": _link(
            "ListServiceTopics", "The topics of this item's service.", service_id=at
        ),
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


def _list_schema(key: str, item: str) -> dict[str, Any]:
    return _object(
        {
            key: {"type": "array", "items": _ref("schemas", item)},
            "count": {
                "type": "integer",
                "minimum": 0,
                "description": "How many items match the filters in all (not just this page).",
            },
        }
    )


_CREATE_TIME: Final = {
    **_UNIX,
    "description": "When the connection came online, unix seconds.",
}
_OWNER_TIME: Final = {
    **_UNIX,
    "description": "When the owning connection came online, unix seconds (RPC registrations "
    "are not timed separately).",
}


def _error(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF, "example": {"error": example}}},
    }


def _build() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "frontier control API",
            "version": "1",
            "description": (
                "The gateway's per-instance view of the edges and services connected to it "
                "now. Read-only except for kicking a connection. See docs/control-api.md. "
                + _LIMITS
            ),
        },
        "paths": {
            "/v1/edges": _list_op(
                "List the online edges.",
                "ListEdges",
                ["meta", "addr", "rpc", "edge_id"],
                ("create_time", "edge_id", "meta", "addr"),
                "EdgeList",
                "All filters combine (logical AND).",
                _edge_links("/edges/0/edge_id"),
            ),
            "/v1/edges/rpcs": _list_op(
                "List the RPCs edges registered, one item per (edge, rpc).",
                "ListEdgeRPCs",
                ["meta", "addr", "rpc", "edge_id"],
                ("create_time", "edge_id", "rpc"),
                "EdgeRPCList",
                "meta, addr, edge_id and the time range select edges; rpc selects the RPC.",
                {
                    **_edge_links("/edge_rpcs/0/edge_id"),
                    "ListEdgesByRPC": _link(
                        "ListEdges",
                        "The edges with this RPC.",
                        rpc="$response.body#/edge_rpcs/0/rpc",
                    ),
                },
            ),
            "/v1/edges/{edge_id}": _item_op("edge", "edge_id", _edge_links("/edge_id")),
            "/v1/services": _list_op(
                "List the online services.",
                "ListServices",
                ["service", "addr", "rpc", "topic", "service_id"],
                ("create_time", "service_id", "service", "addr"),
                "ServiceList",
                "All filters combine (logical AND).",
                _service_links("/services/0/service_id"),
            ),
            "/v1/services/rpcs": _list_op(
                "List the RPCs services registered, one item per (service, rpc).",
                "ListServiceRPCs",
                ["service", "addr", "rpc", "service_id"],
                ("create_time", "service_id", "service", "rpc"),
                "ServiceRPCList",
                "service, addr, service_id and the time range select services; rpc selects "
                "the RPC.",
                {
                    **_service_links("/service_rpcs/0/service_id"),
                    "ListServicesByRPC": _link(
                        "ListServices",
                        "The services with this RPC.",
                        rpc="$response.body#/service_rpcs/0/rpc",
                    ),
                },
            ),
            "/v1/services/topics": _list_op(
                "List the topics services claimed, one item per (service, topic).",
                "ListServiceTopics",
                ["service", "addr", "topic", "service_id"],
                ("create_time", "service_id", "service", "topic"),
                "ServiceTopicList",
                "service, addr, service_id and the time range select services; topic "
                "selects the topic.",
                {
                    **_service_links("/service_topics/0/service_id"),
                    "ListServicesByTopic": _link(
                        "ListServices",
                        "The services that claimed this topic.",
                        topic="$response.body#/service_topics/0/topic",
                    ),
                },
            ),
            "/v1/services/{service_id}": _item_op(
                "service", "service_id", _service_links("/service_id")
            ),
            "/openapi.json": {
                "get": {
                    "operationId": "GetOpenAPI",
                    "summary": "This document. Never needs the bearer token.",
                    "tags": ["misc"],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors("BadRequest"),
                    },
                }
            },
        },
        "components": {
            "parameters": {
                "meta": _query(
                    "meta",
                    "Edge meta prefix (case-sensitive, literal; matched against the meta as "
                    "shown, i.e. UTF-8 with invalid bytes as U+FFFD).",
                    {"type": "string"},
                ),
                "addr": _query(
                    "addr",
                    "Remote address prefix (`host:port`, case-sensitive, literal).",
                    {"type": "string"},
                ),
                "service": _query(
                    "service",
                    "Service name prefix (case-sensitive, literal).",
                    {"type": "string"},
                ),
                "rpc": _query("rpc", "Exact RPC method name.", {"type": "string"}),
                "topic": _query("topic", "Exact topic.", {"type": "string"}),
                "edge_id": _query("edge_id", "Exact edge ID.", _UINT64),
                "service_id": _query("service_id", "Exact service ID.", _UINT64),
                "page": _query(
                    "page",
                    "1-based page number; 0 or absent means 1. A page past the end is empty.",
                    {**_UINT64, "default": 1},
                ),
                "page_size": _query(
                    "page_size",
                    "Items per page; 0 or absent means 10.",
                    {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10},
                ),
                "start_time": _query(
                    "start_time",
                    "Only connections that came online at or after this unix second.",
                    _UNIX,
                ),
                "end_time": _query(
                    "end_time",
                    "Only connections that came online before this unix second. With "
                    "start_time, `end_time >= start_time` must hold (else 400).",
                    _UNIX,
                ),
                "edge_id_path": {
                    "name": "edge_id",
                    "in": "path",
                    "required": True,
                    "description": "Edge ID, unsigned 64-bit decimal (ASCII digits; leading "
                    "zeros allowed).",
                    "schema": _UINT64,
                },
                "service_id_path": {
                    "name": "service_id",
                    "in": "path",
                    "required": True,
                    "description": "Service ID, unsigned 64-bit decimal (ASCII digits; "
                    "leading zeros allowed).",
                    "schema": _UINT64,
                },
            },
            "responses": {
                "BadRequest": _error(
                    "A malformed, unknown or repeated parameter; `param` names it.",
                    "page_size: must be an integer from 1 to 1000",
                ),
                "EdgeNotOnline": _error("No edge with this ID is online.", "edge not online"),
                "ServiceNotOnline": _error(
                    "No service with this ID is online.", "service not online"
                ),
                "InternalError": _error("An unexpected failure (logged).", "internal error"),
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "param": {
                            "type": "string",
                            "description": "The offending parameter (400 only).",
                        },
                    },
                },
                "Edge": _object(
                    {
                        "edge_id": _UINT64,
                        "meta": {
                            "type": "string",
                            "description": "The edge's connect meta as UTF-8; invalid byte "
                            "sequences are replaced by U+FFFD.",
                        },
                        "addr": {"type": "string", "description": "Remote `host:port`."},
                        "create_time": _CREATE_TIME,
                    }
                ),
                "Service": _object(
                    {
                        "service_id": _UINT64,
                        "service": {"type": "string", "description": "Service name."},
                        "addr": {"type": "string", "description": "Remote `host:port`."},
                        "create_time": _CREATE_TIME,
                    }
                ),
                "EdgeRPC": _object(
                    {"edge_id": _UINT64, "rpc": {"type": "string"}, "create_time": _OWNER_TIME}
                ),
                "ServiceRPC": _object(
                    {
                        "service_id": _UINT64,
                        "service": {"type": "string"},
                        "rpc": {"type": "string"},
                        "create_time": _OWNER_TIME,
                    }
                ),
                "ServiceTopic": _object(
                    {
                        "service_id": _UINT64,
                        "service": {"type": "string"},
                        "topic": {"type": "string"},
                        "create_time": {
                            **_UNIX,
                            "description": "When the service came online, unix seconds.",
                        },
                    }
                ),
                "EdgeList": _list_schema("edges", "Edge"),
                "EdgeRPCList": _list_schema("edge_rpcs", "EdgeRPC"),
                "ServiceList": _list_schema("services", "Service"),
                "ServiceRPCList": _list_schema("service_rpcs", "ServiceRPC"),
                "ServiceTopicList": _list_schema("service_topics", "ServiceTopic"),
            },
        },
    }


_WITHOUT_TOKEN: Final = _build()
_WITH_TOKEN: Final = require_bearer(
    _WITHOUT_TOKEN, realm="frontier", setting="controlplane.token", exempt=("/openapi.json",)
)


def control_openapi_document(*, token_required: bool) -> dict[str, Any]:
    """A fresh copy of the document for a gateway with or without ``controlplane.token``
    (callers may add ``servers`` and the like)."""
    return copy.deepcopy(_WITH_TOKEN if token_required else _WITHOUT_TOKEN)
