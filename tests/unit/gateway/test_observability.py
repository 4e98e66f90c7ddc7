"""/healthz, /readyz and /metrics over real HTTP, and the shared `HttpListener`."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from frontier.gateway.metrics import GatewayMetrics
from frontier.gateway.observability import build_observability_app, runtime_registry
from frontier.httpserve import HttpListener
from support.pki import client_context, make_pki, server_context


class Flag:
    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as r:
        return r.status, await r.text(), r.headers.get("Content-Type", "")


async def test_healthz_and_readyz_flip(session: aiohttp.ClientSession) -> None:
    ready = Flag()
    app = build_observability_app(ready=ready, registry=CollectorRegistry())
    async with HttpListener(app, "127.0.0.1", 0) as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert await fetch(session, base + "/healthz") == (200, "ok", "text/plain; charset=utf-8")
        assert (await fetch(session, base + "/readyz"))[:2] == (503, "not ready")
        ready.value = True
        assert (await fetch(session, base + "/readyz"))[:2] == (200, "ok")
        ready.value = False
        assert (await fetch(session, base + "/readyz"))[:2] == (503, "not ready")
        assert (await fetch(session, base + "/healthz"))[:2] == (200, "ok")


async def test_readyz_failing_or_slow_check_is_not_ready(session: aiohttp.ClientSession) -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    async def slow() -> bool:
        await asyncio.sleep(10)
        return True

    async def fine() -> bool:
        return True

    for check, status in ((broken, 503), (slow, 503), (fine, 200)):
        app = build_observability_app(ready=check, registry=CollectorRegistry(), ready_timeout=0.1)
        async with HttpListener(app, "127.0.0.1", 0) as listener:
            got, text, _ = await fetch(session, f"http://127.0.0.1:{listener.port}/readyz")
            assert got == status, check
            assert "boom" not in text


async def test_metrics_exposes_gateway_and_runtime_metrics(
    session: aiohttp.ClientSession,
) -> None:
    metrics = GatewayMetrics()
    metrics.edges_online.set(3)
    metrics.accepted("edge")
    app = build_observability_app(ready=lambda: True, registry=metrics.registry)
    async with HttpListener(app, "127.0.0.1", 0) as listener:
        status, text, content_type = await fetch(
            session, f"http://127.0.0.1:{listener.port}/metrics"
        )
    assert status == 200
    assert content_type == CONTENT_TYPE_LATEST
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["frontier_edges_online"].samples[0].value == 3
    assert "frontier_connections" in families
    assert "python_info" in families  # platform collector
    assert "python_gc_objects_collected" in families  # GC collector
    assert any(name.startswith("process_") for name in families)  # Linux: /proc
    # each family appears once
    assert text.count("# TYPE frontier_edges_online ") == 1
    assert text.count("# TYPE python_info ") == 1


async def test_several_apps_in_one_process_do_not_collide(
    session: aiohttp.ClientSession,
) -> None:
    """Two gateways' metrics stay apart, and nothing lands on the global registry."""
    before = set(REGISTRY._names_to_collectors)
    first, second = GatewayMetrics(), GatewayMetrics()
    first.edges_online.set(1)
    second.edges_online.set(2)
    apps = [
        build_observability_app(ready=lambda: True, registry=m.registry) for m in (first, second)
    ]
    assert set(REGISTRY._names_to_collectors) == before
    for app, expected in zip(apps, (1, 2), strict=True):
        async with HttpListener(app, "127.0.0.1", 0) as listener:
            _, text, _ = await fetch(session, f"http://127.0.0.1:{listener.port}/metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["frontier_edges_online"].samples[0].value == expected


async def test_metrics_without_runtime_collectors(session: aiohttp.ClientSession) -> None:
    registry = CollectorRegistry()
    Counter("frontier_test_things", "Things.", registry=registry).inc(5)
    app = build_observability_app(ready=lambda: True, registry=registry, include_runtime=False)
    async with HttpListener(app, "127.0.0.1", 0) as listener:
        _, text, _ = await fetch(session, f"http://127.0.0.1:{listener.port}/metrics")
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == {"frontier_test_things", "frontier_test_things_created"}


def test_runtime_registry_is_fresh_each_time() -> None:
    first, second = runtime_registry(), runtime_registry()
    assert first is not second
    assert first.get_sample_value("python_info", {**_platform_labels(first)}) == 1.0


def _platform_labels(registry: CollectorRegistry) -> dict[str, str]:
    for family in registry.collect():
        if family.name == "python_info":
            return dict(family.samples[0].labels)
    raise AssertionError("no python_info")


# ------------------------------------------------------------------------------ HttpListener


async def test_listener_port_close_and_idempotence(session: aiohttp.ClientSession) -> None:
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app.router.add_get("/", hello)
    listener = HttpListener(app, "127.0.0.1", 0)
    with pytest.raises(RuntimeError):
        _ = listener.port
    await listener.close()  # before start: no-op
    await listener.start()
    assert listener.started
    assert listener.port > 0
    assert listener.scheme == "http"
    assert (await fetch(session, f"http://127.0.0.1:{listener.port}/"))[:2] == (200, "hi")
    with pytest.raises(RuntimeError):
        await listener.start()
    port = listener.port
    await listener.close()
    await listener.close()
    assert not listener.started
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, f"http://127.0.0.1:{port}/")


async def test_listener_port_in_use_raises_and_leaves_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = HttpListener(web.Application(), "127.0.0.1", port)
        with pytest.raises(OSError, match=r"(?i)in use"):
            await listener.start()
        assert not listener.started
        await listener.close()


def test_listener_rejects_bad_port() -> None:
    with pytest.raises(ValueError, match="out of range"):
        HttpListener(web.Application(), "127.0.0.1", 70000)


async def test_listener_serves_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    app = build_observability_app(ready=lambda: True, registry=CollectorRegistry())
    server_ctx = server_context(pki, require_client_cert=False)
    async with HttpListener(app, "127.0.0.1", 0, ssl=server_ctx) as listener:
        assert listener.scheme == "https"
        client_ctx = client_context(pki, with_cert=False)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{listener.port}/healthz", ssl=client_ctx) as r,
        ):
            assert (r.status, await r.text()) == (200, "ok")


async def test_listener_answers_a_failing_handler_with_json_and_one_logged_trace(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception that escapes the application (no error middleware) is aiohttp's to
    answer; the listener makes that a bare JSON 500 and logs the traceback once per
    interval, not once per request."""
    caplog.set_level(logging.INFO)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app = web.Application()
    app.router.add_get("/broken", broken)
    async with HttpListener(app, "127.0.0.1", 0) as listener:
        for _ in range(3):
            status, text, content_type = await fetch(
                session, f"http://127.0.0.1:{listener.port}/broken"
            )
            assert (status, json.loads(text)) == (500, {"error": "internal error"})
            assert content_type.startswith("application/json")
    ours = [r for r in caplog.records if r.name == "frontier.http"]
    assert len(ours) == 1
    assert ours[0].levelno == logging.ERROR
    assert ours[0].exc_info is not None
    assert "GET /broken" in ours[0].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")]


async def test_listener_close_lets_a_request_in_flight_finish(
    session: aiohttp.ClientSession,
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/slow", slow)
    listener = HttpListener(app, "127.0.0.1", 0, shutdown_timeout=10)
    await listener.start()
    request = asyncio.create_task(fetch(session, f"http://127.0.0.1:{listener.port}/slow"))
    await entered.wait()
    closing = asyncio.create_task(listener.close())
    # close() waits for the request (up to shutdown_timeout) instead of cutting it off
    done, _ = await asyncio.wait({closing, request}, timeout=0.3)
    assert not done
    release.set()
    assert (await request)[:2] == (200, "done")
    await closing
