"""Requests aiohttp cannot parse, sent over raw sockets to the real listeners.

They fail before any of our code runs (no middleware, so no token check either). Every
HTTP listener of the gateway and of frontlas must answer them like any other error of our
APIs, a JSON ``{"error": ...}`` with 400, close the connection, and log single lines
without a traceback: the first of each kind at once, then at most one per interval however
many arrive (an unauthenticated client must not be able to flood the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.httpserve import REJECT_LOG_INTERVAL
from support.frontlas import frontlas_config
from support.gateway import gateway_config
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.integration

MALFORMED = {
    "request line over 8190 bytes": b"GET /v1/edges?meta=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
    "header line over 8190 bytes": b"GET /v1/edges HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    "NUL in a header": b"GET /v1/edges HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad request line": b"NOT-HTTP\r\n\r\n",
    "TLS on a plain port": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32,
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


async def send_raw(port: int, data: bytes) -> Reply:
    """Send `data`, read until the server closes the connection, parse the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)  # EOF: the server closed
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return Reply(int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def listeners(redis: RedisServer) -> AsyncIterator[dict[str, int]]:
    """Every client-facing HTTP port: the gateway's control API (with a token) and
    observability, frontlas's cluster API and observability."""
    gateway = Gateway(
        gateway_config(
            observability={"enable": True, "addr": "127.0.0.1:0"},
            controlplane={"enable": True, "listen": {"addr": "127.0.0.1:0"}, "token": "t0k3n"},
        )
    )
    frontlas = Frontlas(frontlas_config(redis.addr))
    async with gateway, frontlas:
        ports = {
            "control API": gateway.controlplane_port,
            "gateway observability": gateway.observability_port,
            "cluster API": frontlas.cluster_api_port,
            "frontlas observability": frontlas.observability_port,
        }
        yield {name: port for name, port in ports.items() if port is not None}


def _http_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "frontier.http" and r.levelno >= logging.INFO]


async def test_every_listener_answers_json_and_logs_one_line_each(
    listeners: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    assert len(listeners) == 4
    caplog.set_level(logging.DEBUG)
    for name, port in listeners.items():
        caplog.clear()
        for what, data in MALFORMED.items():
            before = len(_http_records(caplog))
            reply = await send_raw(port, data)
            # one line at most (none when this kind was logged moments ago); the first
            # malformed request a listener sees is always logged
            logged = len(_http_records(caplog)) - before
            assert logged == 1 if before == 0 else logged <= 1, (name, what)
            assert reply.status == 400, (name, what)
            assert reply.headers["content-type"].startswith("application/json"), (name, what)
            assert reply.headers.get("connection") != "keep-alive", (name, what)
            body = json.loads(reply.body)
            assert set(body) == {"error"}, (name, what)
            assert body["error"].startswith("bad request: "), (name, what)
            assert "aaaa" not in body["error"]  # the client's bytes are not echoed
            assert "bbbb" not in body["error"]
        for record in _http_records(caplog):
            assert record.levelno == logging.INFO
            assert record.exc_info is None
            assert "\n" not in record.getMessage()
            assert "refused a request from 127.0.0.1 with 400" in record.getMessage()
        # nothing else logged a traceback (aiohttp's own handler logs at ERROR)
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_malformed_requests_are_answered_before_the_token_check(
    listeners: dict[str, int],
) -> None:
    port = listeners["control API"]
    unauthenticated = await send_raw(
        port, b"GET /v1/edges HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert unauthenticated.status == 401  # the token is enforced ...
    malformed = await send_raw(port, MALFORMED["NUL in a header"])
    assert malformed.status == 400  # ... yet a malformed request gets its 400, not a 401
    assert json.loads(malformed.body)["error"] == "bad request: Invalid header value char"


async def test_a_flood_of_malformed_requests_logs_a_bounded_number_of_lines(
    listeners: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = listeners["cluster API"]
    started = time.monotonic()
    flood = 60
    for _ in range(flood):
        assert (await send_raw(port, MALFORMED["bad request line"])).status == 400
    intervals = (time.monotonic() - started) // REJECT_LOG_INTERVAL + 1
    lines = _http_records(caplog)
    assert 1 <= len(lines) <= intervals < flood
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in lines)
