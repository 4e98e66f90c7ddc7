"""The control API over real HTTP on loopback: routes, filters, paging, order, errors, auth.

Entries carry a stand-in `end` that fails on any use: the API must read only the registry
and kick through the callables. One test at the end uses real geminio connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontier.gateway.controlplane import (
    COMMON_PARAMETERS,
    LIST_FILTERS,
    ORDER_FIELDS,
    build_control_app,
)
from frontier.gateway.registry import EdgeEntry, Registry, ServiceEntry
from frontier.geminio.aio import End, ServerHooks, connect, serve
from frontier.httpserve import HttpListener
from support.openapi_wire import resolve

MAX = (1 << 64) - 1


class _NoEnd:
    """Any use of the connection from the control API is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"control API touched end.{name}")


NO_END = cast(End, _NoEnd())


def edge(
    edge_id: int, meta: bytes, addr: str, ct: float, rpcs: set[str] | None = None
) -> EdgeEntry:
    return EdgeEntry(
        edge_id=edge_id, end=NO_END, meta=meta, addr=addr, create_time=ct, rpcs=rpcs or set()
    )


def service(
    service_id: int,
    name: str,
    topics: tuple[str, ...],
    addr: str,
    ct: float,
    rpcs: set[str] | None = None,
) -> ServiceEntry:
    return ServiceEntry(
        service_id=service_id,
        end=NO_END,
        service=name,
        topics=topics,
        addr=addr,
        create_time=ct,
        rpcs=rpcs or set(),
    )


def sample_registry() -> Registry:
    registry = Registry()
    for entry in (
        edge(1, b"room=a;x", "10.0.0.1:5000", 1000.2, {"echo", "ping"}),
        edge(2, b"room=b", "10.0.0.2:5000", 1001.5, {"echo"}),
        edge(3, b"room=a\xff\xfe", "10.0.1.3:6000", 1002.0),
        edge(MAX, b"", "[::1]:7000", 999.0, {"zeta"}),
    ):
        registry.add_edge(entry)
    for svc in (
        service(
            10, "billing", ("invoices", "payments"), "10.1.0.1:4000", 2000.0, {"charge", "refund"}
        ),
        service(11, "billing-eu", ("invoices",), "10.1.0.2:4000", 2001.0, {"charge"}),
        service(12, "auth", ("*",), "10.2.0.1:4000", 2002.0, {"login"}),
    ):
        registry.add_service(svc)
    return registry


@dataclass
class Kicks:
    """Records kick calls; IDs in `online` succeed."""

    online: set[int]
    calls: list[int] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, ident: int) -> bool:
        self.calls.append(ident)
        if self.fail:
            raise RuntimeError("secret internal detail")
        return ident in self.online


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any
    text: str


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str = "") -> None:
        self.session = session
        self.base = base
        self.token = token

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base + path
        if isinstance(params, str):  # a raw query string, sent as is
            url, params = f"{url}?{params}", None
        async with self.session.request(method, url, params=params, headers=headers) as r:
            text = await r.text()
            body = json.loads(text) if text and "json" in r.content_type else None
            return Reply(r.status, body, r.headers, text)

    async def get(self, path: str, params: dict[str, str] | str | None = None) -> Reply:
        return await self.request("GET", path, params)

    async def ok(self, path: str, params: dict[str, str] | str | None = None) -> Any:
        reply = await self.get(path, params)
        assert reply.status == 200, reply.text
        return reply.body


@dataclass
class Served:
    api: Api
    edges: Kicks
    services: Kicks
    app: web.Application
    listener: HttpListener


async def start(
    registry: Registry, *, token: str = "", edges: Kicks | None = None
) -> tuple[HttpListener, Kicks, Kicks, web.Application]:
    edges = edges if edges is not None else Kicks(set(registry.edges))
    services = Kicks(set(registry.services))
    app = build_control_app(registry, kick_edge=edges, kick_service=services, token=token)
    listener = HttpListener(app, "127.0.0.1", 0)
    await listener.start()
    return listener, edges, services, app


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    listener, edges, services, app = await start(sample_registry())
    async with aiohttp.ClientSession() as session:
        yield Served(
            Api(session, f"http://127.0.0.1:{listener.port}"), edges, services, app, listener
        )
    await listener.close()


def ids(body: dict[str, Any], key: str, ident: str) -> list[int]:
    return [item[ident] for item in body[key]]


# ------------------------------------------------------------------------------------ edges


async def test_list_edges_defaults_to_newest_first_with_real_count(served: Served) -> None:
    body = await served.api.ok("/v1/edges")
    assert ids(body, "edges", "edge_id") == [3, 2, 1, MAX]
    assert body["count"] == 4
    assert body["edges"][1] == {
        "edge_id": 2,
        "meta": "room=b",
        "addr": "10.0.0.2:5000",
        "create_time": 1001,
    }


async def test_edge_meta_invalid_utf8_is_replaced(served: Served) -> None:
    body = await served.api.ok("/v1/edges/3")
    assert body["meta"] == "room=a\ufffd\ufffd"


async def test_get_edge_and_max_uint64(served: Served) -> None:
    assert (await served.api.ok("/v1/edges/1"))["addr"] == "10.0.0.1:5000"
    body = await served.api.ok(f"/v1/edges/{MAX}")
    assert body["edge_id"] == MAX
    assert body["create_time"] == 999
    assert (await served.api.ok("/v1/edges/0001"))["edge_id"] == 1  # leading zeros are fine


async def test_get_unknown_edge_is_404(served: Served) -> None:
    reply = await served.api.get("/v1/edges/42")
    assert reply.status == 404
    assert reply.body == {"error": "edge not online"}


@pytest.mark.parametrize(
    "bad", ["abc", "-1", "+1", "1_0", "1.0", "18446744073709551616", "\u0661", "%201"]
)
async def test_bad_edge_id_is_400_naming_the_parameter(served: Served, bad: str) -> None:
    for method in ("GET", "DELETE"):
        reply = await served.api.request(method, f"/v1/edges/{bad}")
        assert reply.status == 400, (method, bad, reply.text)
        assert reply.body["param"] == "edge_id"
        assert reply.body["error"].startswith("edge_id:")
    assert served.edges.calls == []


async def test_edge_rpcs_route_is_not_shadowed_by_edge_id(served: Served) -> None:
    body = await served.api.ok("/v1/edges/rpcs", {"order": "edge_id"})
    pairs = [(i["edge_id"], i["rpc"]) for i in body["edge_rpcs"]]
    assert pairs == [(1, "echo"), (1, "ping"), (2, "echo"), (MAX, "zeta")]
    assert body["count"] == 4
    assert body["edge_rpcs"][0] == {"edge_id": 1, "rpc": "echo", "create_time": 1000}


async def test_kick_edge(served: Served) -> None:
    reply = await served.api.request("DELETE", "/v1/edges/2")
    assert (reply.status, reply.body) == (200, {})
    reply = await served.api.request("DELETE", "/v1/edges/77")
    assert (reply.status, reply.body) == (404, {"error": "edge not online"})
    assert served.edges.calls == [2, 77]
    assert served.services.calls == []


async def test_kick_failure_is_a_bare_500_logged_with_its_traceback_once(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    served.edges.fail = True
    for _ in range(3):
        reply = await served.api.request("DELETE", "/v1/edges/2")
        assert reply.status == 500
        assert reply.body == {"error": "internal error"}
        assert "secret" not in reply.text
        assert "Traceback" not in reply.text
    (record,) = [r for r in caplog.records if r.name == "frontier.controlplane"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "control API: DELETE /v1/edges/2 failed"
    assert record.exc_info is not None  # our bug: the trace is wanted, but not 3 times


# ---------------------------------------------------------------------------------- services


async def test_list_get_and_kick_services(served: Served) -> None:
    body = await served.api.ok("/v1/services")
    assert ids(body, "services", "service_id") == [12, 11, 10]
    assert body["count"] == 3
    assert body["services"][2] == {
        "service_id": 10,
        "service": "billing",
        "addr": "10.1.0.1:4000",
        "create_time": 2000,
    }
    assert (await served.api.ok("/v1/services/11"))["service"] == "billing-eu"
    reply = await served.api.get("/v1/services/99")
    assert (reply.status, reply.body) == (404, {"error": "service not online"})
    reply = await served.api.request("DELETE", "/v1/services/99")
    assert (reply.status, reply.body) == (404, {"error": "service not online"})
    reply = await served.api.request("DELETE", "/v1/services/12")
    assert (reply.status, reply.body) == (200, {})
    assert served.services.calls == [99, 12]
    reply = await served.api.get("/v1/services/x")
    assert (reply.status, reply.body["param"]) == (400, "service_id")


async def test_service_rpcs_and_topics(served: Served) -> None:
    body = await served.api.ok("/v1/services/rpcs", {"order": "+service_id"})
    pairs = [(i["service_id"], i["service"], i["rpc"]) for i in body["service_rpcs"]]
    assert pairs == [
        (10, "billing", "charge"),
        (10, "billing", "refund"),
        (11, "billing-eu", "charge"),
        (12, "auth", "login"),
    ]
    assert body["count"] == 4
    assert body["service_rpcs"][0]["create_time"] == 2000
    body = await served.api.ok("/v1/services/topics", {"order": "service_id"})
    topics = [(i["service_id"], i["topic"]) for i in body["service_topics"]]
    assert topics == [(10, "invoices"), (10, "payments"), (11, "invoices"), (12, "*")]
    assert body["count"] == 4
    assert set(body["service_topics"][0]) == {"service_id", "service", "topic", "create_time"}


# ----------------------------------------------------------------------------------- filters

FILTER_CASES: list[tuple[str, dict[str, str], list[Any]]] = [
    # /v1/edges: meta/addr prefix, rpc exact, edge_id exact; ids newest first
    ("/v1/edges", {"meta": "room=a"}, [3, 1]),
    ("/v1/edges", {"meta": "room=a\ufffd"}, [3]),
    ("/v1/edges", {"meta": "oom"}, []),  # prefix, not substring
    ("/v1/edges", {"meta": "ROOM"}, []),  # case-sensitive
    ("/v1/edges", {"meta": "room%"}, []),  # literal, not a LIKE pattern
    ("/v1/edges", {"meta": ""}, [3, 2, 1, MAX]),  # empty means absent
    ("/v1/edges", {"addr": "10.0.0."}, [2, 1]),
    ("/v1/edges", {"addr": "[::1]"}, [MAX]),
    ("/v1/edges", {"rpc": "echo"}, [2, 1]),
    ("/v1/edges", {"rpc": "ech"}, []),
    ("/v1/edges", {"edge_id": "2"}, [2]),
    ("/v1/edges", {"edge_id": "42"}, []),
    ("/v1/edges", {"edge_id": str(MAX)}, [MAX]),
    ("/v1/edges", {"meta": "room=", "addr": "10.0.0.", "rpc": "ping"}, [1]),
    ("/v1/edges", {"meta": "room=b", "rpc": "ping"}, []),
    # /v1/edges/rpcs: items are (edge_id, rpc)
    ("/v1/edges/rpcs", {"rpc": "echo"}, [(2, "echo"), (1, "echo")]),
    ("/v1/edges/rpcs", {"edge_id": "1"}, [(1, "echo"), (1, "ping")]),  # ties: ascending
    ("/v1/edges/rpcs", {"meta": "room=a"}, [(1, "echo"), (1, "ping")]),
    ("/v1/edges/rpcs", {"addr": "[::1]"}, [(MAX, "zeta")]),
    ("/v1/edges/rpcs", {"meta": "room=", "rpc": "echo", "edge_id": "2"}, [(2, "echo")]),
    ("/v1/edges/rpcs", {"edge_id": "3"}, []),
    # /v1/services: service/addr prefix, rpc/topic exact
    ("/v1/services", {"service": "billing"}, [11, 10]),
    ("/v1/services", {"service": "billing-"}, [11]),
    ("/v1/services", {"addr": "10.1."}, [11, 10]),
    ("/v1/services", {"rpc": "charge"}, [11, 10]),
    ("/v1/services", {"rpc": "refund"}, [10]),
    ("/v1/services", {"topic": "invoices"}, [11, 10]),
    ("/v1/services", {"topic": "*"}, [12]),
    ("/v1/services", {"topic": "nope"}, []),  # no wildcard fallback in listings
    ("/v1/services", {"service_id": "12"}, [12]),
    ("/v1/services", {"service": "billing", "rpc": "refund", "topic": "invoices"}, [10]),
    ("/v1/services", {"service": "billing", "topic": "payments", "service_id": "11"}, []),
    # /v1/services/rpcs and /topics: (service_id, name)
    ("/v1/services/rpcs", {"service": "billing"}, [(11, "charge"), (10, "charge"), (10, "refund")]),
    ("/v1/services/rpcs", {"rpc": "charge"}, [(11, "charge"), (10, "charge")]),
    ("/v1/services/rpcs", {"service_id": "12"}, [(12, "login")]),
    ("/v1/services/rpcs", {"addr": "10.1.0.1", "rpc": "refund"}, [(10, "refund")]),
    ("/v1/services/topics", {"topic": "invoices"}, [(11, "invoices"), (10, "invoices")]),
    ("/v1/services/topics", {"service_id": "10"}, [(10, "invoices"), (10, "payments")]),
    ("/v1/services/topics", {"service": "auth"}, [(12, "*")]),
    ("/v1/services/topics", {"addr": "10.1.0.2"}, [(11, "invoices")]),
    ("/v1/services/topics", {"service": "billing", "topic": "payments"}, [(10, "payments")]),
]


def summarize(path: str, body: dict[str, Any]) -> list[Any]:
    key, ident, name = {
        "/v1/edges": ("edges", "edge_id", None),
        "/v1/edges/rpcs": ("edge_rpcs", "edge_id", "rpc"),
        "/v1/services": ("services", "service_id", None),
        "/v1/services/rpcs": ("service_rpcs", "service_id", "rpc"),
        "/v1/services/topics": ("service_topics", "service_id", "topic"),
    }[path]
    items = body[key]
    return [i[ident] if name is None else (i[ident], i[name]) for i in items]


@pytest.mark.parametrize(("path", "params", "expected"), FILTER_CASES)
async def test_filters(
    served: Served, path: str, params: dict[str, str], expected: list[Any]
) -> None:
    # equal sort values (one owner's RPCs/topics) are ordered by ID, then name, ascending
    body = await served.api.ok(path, params)
    assert summarize(path, body) == expected
    assert body["count"] == len(expected)


def test_every_filter_is_exercised() -> None:
    used = {(path, name) for path, params, _ in FILTER_CASES for name in params}
    assert used == {(path, name) for path, names in LIST_FILTERS.items() for name in names}


# ---------------------------------------------------------------------------- paging, order


async def test_paging(served: Served) -> None:
    seen = []
    for page in (1, 2, 3):
        body = await served.api.ok("/v1/edges", {"page": str(page), "page_size": "3"})
        assert body["count"] == 4
        seen.append(ids(body, "edges", "edge_id"))
    assert seen == [[3, 2, 1], [MAX], []]
    big = await served.api.ok("/v1/edges", {"page": str(MAX), "page_size": "1000"})
    assert big == {"edges": [], "count": 4}
    zero = await served.api.ok("/v1/edges", {"page": "0", "page_size": "0"})  # upstream defaults
    assert ids(zero, "edges", "edge_id") == [3, 2, 1, MAX]


async def test_page_size_defaults_to_ten() -> None:
    registry = Registry()
    for i in range(1, 26):
        registry.add_edge(edge(i, b"", "", 100.0 + i))
    listener, *_ = await start(registry)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, f"http://127.0.0.1:{listener.port}")
            body = await api.ok("/v1/edges")
            assert ids(body, "edges", "edge_id") == list(range(25, 15, -1))
            assert body["count"] == 25
            body = await api.ok("/v1/edges", {"page": "3"})
            assert ids(body, "edges", "edge_id") == list(range(5, 0, -1))
            body = await api.ok("/v1/edges", {"page_size": "1000"})
            assert len(body["edges"]) == 25
    finally:
        await listener.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("order=-create_time", [3, 2, 1, MAX]),
        ("order=create_time", [MAX, 1, 2, 3]),
        ("order=%2Bcreate_time", [MAX, 1, 2, 3]),
        ("order=+create_time", [MAX, 1, 2, 3]),  # unescaped + arrives as a space
        ("order=edge_id", [1, 2, 3, MAX]),
        ("order=-edge_id", [MAX, 3, 2, 1]),
        ("order=meta", [MAX, 1, 3, 2]),
        ("order=-meta", [2, 3, 1, MAX]),
        ("order=addr", [1, 2, 3, MAX]),
        ("order=-addr", [MAX, 3, 2, 1]),
    ],
)
async def test_order_edges(served: Served, query: str, expected: list[int]) -> None:
    body = await served.api.ok("/v1/edges", query)
    assert ids(body, "edges", "edge_id") == expected


@pytest.mark.parametrize(
    ("path", "order", "expected"),
    [
        ("/v1/edges/rpcs", "rpc", [(1, "echo"), (2, "echo"), (1, "ping"), (MAX, "zeta")]),
        ("/v1/edges/rpcs", "-create_time", [(2, "echo"), (1, "echo"), (1, "ping"), (MAX, "zeta")]),
        ("/v1/services", "service", [12, 10, 11]),
        ("/v1/services", "-addr", [12, 11, 10]),
        ("/v1/services", "service_id", [10, 11, 12]),
        (
            "/v1/services/rpcs",
            "-rpc",
            [(10, "refund"), (12, "login"), (10, "charge"), (11, "charge")],
        ),
        (
            "/v1/services/rpcs",
            "service",
            [(12, "login"), (10, "charge"), (10, "refund"), (11, "charge")],
        ),
        (
            "/v1/services/topics",
            "topic",
            [(12, "*"), (10, "invoices"), (11, "invoices"), (10, "payments")],
        ),
        (
            "/v1/services/topics",
            "create_time",
            [(10, "invoices"), (10, "payments"), (11, "invoices"), (12, "*")],
        ),
    ],
)
async def test_order_other_lists(
    served: Served, path: str, order: str, expected: list[Any]
) -> None:
    body = await served.api.ok(path, {"order": order})
    assert summarize(path, body) == expected


async def test_every_order_field_is_accepted(served: Served) -> None:
    for path, fields in ORDER_FIELDS.items():
        for name in fields:
            for sign in ("", "-", "%2B"):
                reply = await served.api.get(path, f"order={sign}{name}")
                assert reply.status == 200, (path, sign, name, reply.text)


# ------------------------------------------------------------------------------ time range


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start_time": "1001"}, [3, 2]),  # 1001.5 is in [1001, ...)
        ({"end_time": "1002"}, [2, 1, MAX]),  # 1002.0 is not in [..., 1002)
        ({"start_time": "1000", "end_time": "1002"}, [2, 1]),
        ({"start_time": "1000", "end_time": "1000"}, []),  # empty range
        ({"start_time": "-5", "end_time": "1000"}, [MAX]),
        ({"start_time": "5000"}, []),
    ],
)
async def test_time_range(served: Served, params: dict[str, str], expected: list[int]) -> None:
    body = await served.api.ok("/v1/edges", params)
    assert ids(body, "edges", "edge_id") == expected
    assert body["count"] == len(expected)


async def test_time_range_on_rpc_lists_uses_the_owner(served: Served) -> None:
    # upstream 500'd on /v1/edges/rpcs without start/end; here both are optional
    body = await served.api.ok("/v1/edges/rpcs", {"start_time": "1000", "end_time": "1001"})
    assert sorted(summarize("/v1/edges/rpcs", body)) == [(1, "echo"), (1, "ping")]
    body = await served.api.ok("/v1/services/topics", {"start_time": "2002"})
    assert summarize("/v1/services/topics", body) == [(12, "*")]
    body = await served.api.ok("/v1/services/rpcs", {"end_time": "2001"})
    assert body["count"] == 2


# ------------------------------------------------------------------------------ bad params


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("/v1/edges", "page=-1", "page"),
        ("/v1/edges", "page=x", "page"),
        ("/v1/edges", "page=1.5", "page"),
        ("/v1/edges", "page=18446744073709551616", "page"),  # uint64, like every count here
        ("/v1/edges", "page=\u0661", "page"),  # other scripts' digits are not digits here
        ("/v1/edges", "page_size=\uff15", "page_size"),
        ("/v1/edges", "page_size=1001", "page_size"),
        ("/v1/edges", "page_size=-3", "page_size"),
        ("/v1/edges", "page_size=ten", "page_size"),
        ("/v1/edges", "start_time=yesterday", "start_time"),
        ("/v1/edges", "end_time=1e9", "end_time"),
        ("/v1/edges", "start_time=99999999999999999999", "start_time"),
        ("/v1/edges", "start_time=10&end_time=9", "end_time"),
        ("/v1/edges", "order=nope", "order"),
        ("/v1/edges", "order=-rpc", "order"),
        ("/v1/edges", "order=--edge_id", "order"),
        ("/v1/edges/rpcs", "order=meta", "order"),
        ("/v1/services", "order=edge_id", "order"),
        ("/v1/edges", "edge_id=-1", "edge_id"),
        ("/v1/edges", "edge_id=18446744073709551616", "edge_id"),
        ("/v1/services", "service_id=abc", "service_id"),
        ("/v1/edges", "pagesize=5", "pagesize"),  # a typo is an error, not a full listing
        ("/v1/edges", "topic=x", "topic"),  # not a filter of this route
        ("/v1/services", "meta=x", "meta"),
        ("/v1/services/rpcs", "topic=x", "topic"),
        ("/v1/services/topics", "rpc=x", "rpc"),
        ("/v1/edges", "page=1&page=2", "page"),
        ("/v1/edges/1", "verbose=1", "verbose"),
    ],
)
async def test_bad_parameters_are_400(served: Served, path: str, query: str, param: str) -> None:
    reply = await served.api.get(path, query)
    assert reply.status == 400, reply.text
    assert reply.body["param"] == param
    assert param in reply.body["error"]


async def test_unknown_route_and_method_are_json(served: Served) -> None:
    reply = await served.api.get("/v1/nothing")
    assert (reply.status, reply.body) == (404, {"error": "not found"})
    reply = await served.api.request("POST", "/v1/edges")
    assert reply.status == 405
    assert reply.body == {"error": "method not allowed"}
    assert reply.headers["Allow"] == "GET,HEAD"


@pytest.mark.parametrize("path", ["/v1/edges/rpcs", "/v1/services/rpcs", "/v1/services/topics"])
@pytest.mark.parametrize("method", ["DELETE", "OPTIONS", "POST", "PUT", "PATCH"])
async def test_fixed_paths_are_never_taken_for_an_id(
    served: Served, path: str, method: str
) -> None:
    """The {id} routes take DELETE; a fixed path must not fall through to them for it (or
    advertise their methods): it answers 405 itself, allowing exactly what it serves."""
    reply = await served.api.request(method, path)
    assert reply.status == 405, reply.text
    assert reply.headers["Allow"] == "GET,HEAD"
    assert reply.body == {"error": "method not allowed"}
    assert served.edges.calls == served.services.calls == []


async def test_item_routes_allow_get_and_delete(served: Served) -> None:
    for path in ("/v1/edges/1", "/v1/services/10"):
        reply = await served.api.request("OPTIONS", path)
        assert (reply.status, reply.headers["Allow"]) == (405, "DELETE,GET,HEAD")
    reply = await served.api.request("HEAD", "/v1/edges/rpcs")
    assert reply.status == 200


async def test_responses_are_not_cacheable(served: Served) -> None:
    reply = await served.api.get("/v1/edges")
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Content-Type"].startswith("application/json")


# ------------------------------------------------------------------------------------ auth


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    listener, *_ = await start(sample_registry(), token="s3cret-token")
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{listener.port}"
    await listener.close()


async def test_auth_required_when_token_set(guarded: tuple[aiohttp.ClientSession, str]) -> None:
    session, base = guarded
    for path in ("/v1/edges", "/v1/edges/1", "/v1/services/topics", "/v1/unknown"):
        reply = await Api(session, base).get(path)
        assert reply.status == 401, path
        assert reply.body == {"error": "missing bearer token"}
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="frontier"'
    for header in ("Bearer wrong", "Bearer s3cret-token2", "Basic s3cret-token", "s3cret-token"):
        reply = await Api(session, base).request(
            "GET", "/v1/edges", headers={"Authorization": header}
        )
        assert reply.status == 401, header
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    reply = await Api(session, base).request(
        "DELETE", "/v1/edges/1", headers={"Authorization": "Bearer nope"}
    )
    assert reply.status == 401
    reply = await Api(session, base, token="s3cret-token").get("/v1/edges")
    assert (reply.status, reply.body["count"]) == (200, 4)
    reply = await Api(session, base).request(
        "GET", "/v1/edges", headers={"Authorization": "bearer   s3cret-token"}
    )
    assert reply.status == 200  # scheme is case-insensitive, extra spaces tolerated


async def test_openapi_needs_no_token(guarded: tuple[aiohttp.ClientSession, str]) -> None:
    session, base = guarded
    reply = await Api(session, base).get("/openapi.json")
    assert reply.status == 200
    assert reply.body["openapi"].startswith("3.")
    # ... and it says the token is required, for every operation but itself
    assert reply.body["security"] == [{"bearerAuth": []}]
    assert reply.body["paths"]["/openapi.json"]["get"]["security"] == []
    assert "401" in reply.body["paths"]["/v1/edges"]["get"]["responses"]


async def test_openapi_without_token_declares_no_auth(served: Served) -> None:
    document = await served.api.ok("/openapi.json")
    assert "security" not in document
    assert "securitySchemes" not in document["components"]
    text = json.dumps(document)
    assert "401" not in text
    assert "Unauthorized" not in text


async def test_no_token_means_no_auth(served: Served) -> None:
    reply = await served.api.request("GET", "/v1/edges", headers={"Authorization": "Bearer x"})
    assert reply.status == 200


# --------------------------------------------------------------------------------- openapi


async def test_openapi_describes_every_route(served: Served) -> None:
    document = await served.api.ok("/openapi.json")
    assert document["openapi"] == "3.0.3"
    registered: dict[str, set[str]] = {}
    for route in served.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("path") or info.get("formatter"))
        if route.method not in ("HEAD", "*"):  # "*": the GET-only routes' 405 answer
            registered.setdefault(path, set()).add(route.method.lower())
    documented = {
        path: {m for m in ops if m in ("get", "delete", "post", "put", "patch")}
        for path, ops in document["paths"].items()
    }
    assert documented == registered
    # every $ref resolves
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        resolve(document, {"$ref": ref})


async def test_openapi_list_parameters_match_the_code(served: Served) -> None:
    document = await served.api.ok("/openapi.json")
    for path, filters in LIST_FILTERS.items():
        op = document["paths"][path]["get"]
        params = [resolve(document, p) for p in op["parameters"]]
        assert {p["name"] for p in params} == set(filters) | set(COMMON_PARAMETERS), path
        assert all(p["in"] == "query" for p in params)
        order = next(p for p in params if p["name"] == "order")
        assert {v.lstrip("+- ") for v in order["schema"]["enum"]} == {"", *ORDER_FIELDS[path]}


async def test_openapi_schemas_match_the_responses(served: Served) -> None:
    document = await served.api.ok("/openapi.json")
    for path in LIST_FILTERS:
        op = document["paths"][path]["get"]
        schema = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"])
        body = await served.api.ok(path)
        assert set(body) == set(schema["properties"]) == set(schema["required"])
        key = next(k for k in body if k != "count")
        item_schema = resolve(document, schema["properties"][key]["items"])
        assert set(body[key][0]) == set(item_schema["properties"]), path
    for path, sample in (
        ("/v1/edges/{edge_id}", "/v1/edges/1"),
        ("/v1/services/{service_id}", "/v1/services/10"),
    ):
        op = document["paths"][path]["get"]
        schema = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert set(await served.api.ok(sample)) == set(schema["properties"])


# ------------------------------------------------------------------------ paging property


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    times=st.lists(st.sampled_from([10.0, 10.5, 11.0, 12.0]), min_size=0, max_size=30),
    page_size=st.integers(min_value=1, max_value=7),
    order=st.sampled_from(["", "-create_time", "create_time", "edge_id", "-meta", "addr"]),
)
def test_paging_covers_every_item_exactly_once(
    times: list[float], page_size: int, order: str
) -> None:
    """Many equal sort values: the tie-break by ID must keep pages disjoint and complete."""
    registry = Registry()
    for i, t in enumerate(times, start=1):
        registry.add_edge(edge(i * 7, f"m{i % 3}".encode(), f"h{i % 2}:1", t))

    async def walk() -> list[list[int]]:
        listener, *_ = await start(registry)
        pages: list[list[int]] = []
        try:
            async with aiohttp.ClientSession() as session:
                api = Api(session, f"http://127.0.0.1:{listener.port}")
                page = 1
                while True:
                    params = {"page": str(page), "page_size": str(page_size)}
                    if order:
                        params["order"] = order
                    body = await api.ok("/v1/edges", params)
                    assert body["count"] == len(times)
                    if not body["edges"]:
                        return pages
                    pages.append(ids(body, "edges", "edge_id"))
                    page += 1
        finally:
            await listener.close()

    pages = asyncio.run(walk())
    flat = [i for p in pages for i in p]
    assert sorted(flat) == [i * 7 for i in range(1, len(times) + 1)]
    assert all(len(p) == page_size for p in pages[:-1])
    if order in ("", "-create_time", "create_time"):
        created = [registry.edges[i].create_time for i in flat]
        assert created == sorted(created, reverse=order != "create_time")


# -------------------------------------------------------------------- real geminio ends


async def test_real_connections_listed_and_kicked() -> None:
    """EdgeEntry.of() on real geminio ends: addr is the client's socket, kick closes it."""
    registry = Registry()
    offline = asyncio.Event()

    def online(end: End) -> None:
        registry.add_edge(EdgeEntry.of(end))

    def gone(end: End) -> None:
        entry = registry.edges.get(end.client_id)
        if entry is not None and entry.end is end:
            registry.remove_edge(entry)
        offline.set()

    server = await serve("127.0.0.1", 0, hooks=ServerHooks(on_online=online, on_offline=gone))

    async def kick(edge_id: int) -> bool:
        entry = registry.edges.get(edge_id)
        if entry is None:
            return False
        await entry.end.close()
        return True

    async def no_services(service_id: int) -> bool:
        return False

    app = build_control_app(registry, kick_edge=kick, kick_service=no_services)
    client = await connect("127.0.0.1", server.port, meta=b"device=7")
    try:
        async with (
            HttpListener(app, "127.0.0.1", 0) as listener,
            aiohttp.ClientSession() as session,
        ):
            api = Api(session, f"http://127.0.0.1:{listener.port}")
            body = await api.ok("/v1/edges")
            assert body["count"] == 1
            (item,) = body["edges"]
            assert item["meta"] == "device=7"
            assert item["edge_id"] == client.client_id
            local = client.get_extra_info("sockname")
            assert item["addr"] == f"{local[0]}:{local[1]}"
            reply = await api.request("DELETE", f"/v1/edges/{client.client_id}")
            assert reply.status == 200
            await asyncio.wait_for(offline.wait(), 5)
            assert (await api.ok("/v1/edges"))["count"] == 0
            reply = await api.request("DELETE", f"/v1/edges/{client.client_id}")
            assert reply.status == 404
    finally:
        await client.close()
        await server.close()
