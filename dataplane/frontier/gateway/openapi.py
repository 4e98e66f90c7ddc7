"""The control API's OpenAPI 3 document, served at ``GET /openapi.json``.

Written by hand (there is no schema framework under the API), so the tests hold it to the
code: every route the application registers appears here with the query parameters its
handler accepts and the order fields it allows. Change both together.
"""

from __future__ import annotations

import copy
from typing import Any, Final

__all__ = ["control_openapi_document"]

_UINT64: Final = {"type": "integer", "format": "uint64", "minimum": 0}
_UNIX: Final = {"type": "integer", "format": "int64"}
_ERROR_REF: Final = {"$ref": "#/components/schemas/Error"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _order(fields: tuple[str, ...]) -> dict[str, Any]:
    values = [f"{sign}{field}" for field in fields for sign in ("", "+", "-")]
    return _query(
        "order",
        "Sort order: `-field` descending, `+field` or `field` ascending (send `+` as `%2B`; "
        "an unescaped `+`, decoded as a space, is accepted too). Default `-create_time`. "
        "Ties are broken by the object's IDs, so paging is stable.",
        {"type": "string", "enum": values},
    )


def _common() -> list[dict[str, Any]]:
    return [
        _ref("parameters", "page"),
        _ref("parameters", "page_size"),
        _ref("parameters", "start_time"),
        _ref("parameters", "end_time"),
    ]


def _list_op(
    summary: str,
    op_id: str,
    filters: list[str],
    order_fields: tuple[str, ...],
    schema: str,
    description: str,
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "description": description,
            "tags": ["service" if "Service" in op_id else "edge"],
            "parameters": [_ref("parameters", f) for f in filters]
            + _common()
            + [_order(order_fields)],
            "responses": {
                "200": {
                    "description": "One page of matches, and how many match in all.",
                    "content": {"application/json": {"schema": _ref("schemas", schema)}},
                },
                "400": _ref("responses", "BadRequest"),
                "401": _ref("responses", "Unauthorized"),
                "500": _ref("responses", "InternalError"),
            },
        }
    }


def _item_op(kind: str, id_param: str) -> dict[str, Any]:
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
                },
                "400": _ref("responses", "BadRequest"),
                "401": _ref("responses", "Unauthorized"),
                "404": _ref("responses", not_found),
                "500": _ref("responses", "InternalError"),
            },
        },
        "delete": {
            "operationId": f"Kick{title}",
            "summary": f"Close the {kind}'s connection (kick it).",
            "description": f"Returns once the connection is closed. The {kind} may reconnect.",
            "tags": [kind],
            "responses": {
                "200": {
                    "description": "Kicked.",
                    "content": {
                        "application/json": {"schema": {"type": "object", "maxProperties": 0}}
                    },
                },
                "400": _ref("responses", "BadRequest"),
                "401": _ref("responses", "Unauthorized"),
                "404": _ref("responses", not_found),
                "500": _ref("responses", "InternalError"),
            },
        },
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
                "now. Read-only except for kicking a connection. See docs/control-api.md."
            ),
        },
        "security": [{"bearerAuth": []}, {}],
        "paths": {
            "/v1/edges": _list_op(
                "List the online edges.",
                "ListEdges",
                ["meta", "addr", "rpc", "edge_id"],
                ("create_time", "edge_id", "meta", "addr"),
                "EdgeList",
                "All filters combine (logical AND).",
            ),
            "/v1/edges/rpcs": _list_op(
                "List the RPCs edges registered, one item per (edge, rpc).",
                "ListEdgeRPCs",
                ["meta", "addr", "rpc", "edge_id"],
                ("create_time", "edge_id", "rpc"),
                "EdgeRPCList",
                "meta, addr, edge_id and the time range select edges; rpc selects the RPC.",
            ),
            "/v1/edges/{edge_id}": _item_op("edge", "edge_id"),
            "/v1/services": _list_op(
                "List the online services.",
                "ListServices",
                ["service", "addr", "rpc", "topic", "service_id"],
                ("create_time", "service_id", "service", "addr"),
                "ServiceList",
                "All filters combine (logical AND).",
            ),
            "/v1/services/rpcs": _list_op(
                "List the RPCs services registered, one item per (service, rpc).",
                "ListServiceRPCs",
                ["service", "addr", "rpc", "service_id"],
                ("create_time", "service_id", "service", "rpc"),
                "ServiceRPCList",
                "service, addr, service_id and the time range select services; rpc selects "
                "the RPC.",
            ),
            "/v1/services/topics": _list_op(
                "List the topics services claimed, one item per (service, topic).",
                "ListServiceTopics",
                ["service", "addr", "topic", "service_id"],
                ("create_time", "service_id", "service", "topic"),
                "ServiceTopicList",
                "service, addr, service_id and the time range select services; topic "
                "selects the topic.",
            ),
            "/v1/services/{service_id}": _item_op("service", "service_id"),
            "/openapi.json": {
                "get": {
                    "operationId": "GetOpenAPI",
                    "summary": "This document. Never needs the bearer token.",
                    "security": [],
                    "tags": ["misc"],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required when the gateway's controlplane.token is set.",
                }
            },
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
                    {"type": "integer", "minimum": 0, "default": 1},
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
                    "Only connections that came online before this unix second "
                    "(must not be before start_time).",
                    _UNIX,
                ),
                "edge_id_path": {
                    "name": "edge_id",
                    "in": "path",
                    "required": True,
                    "description": "Edge ID, unsigned 64-bit decimal.",
                    "schema": _UINT64,
                },
                "service_id_path": {
                    "name": "service_id",
                    "in": "path",
                    "required": True,
                    "description": "Service ID, unsigned 64-bit decimal.",
                    "schema": _UINT64,
                },
            },
            "responses": {
                "BadRequest": _error(
                    "A malformed, unknown or repeated parameter; `param` names it.",
                    "page_size: must be an integer from 1 to 1000",
                ),
                "Unauthorized": {
                    **_error("Missing or wrong bearer token.", "missing bearer token"),
                    "headers": {
                        "WWW-Authenticate": {
                            "schema": {"type": "string"},
                            "description": 'Bearer realm="frontier"',
                        }
                    },
                },
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


_DOCUMENT: Final = _build()


def control_openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may add ``servers`` and the like)."""
    return copy.deepcopy(_DOCUMENT)
