"""Helpers for tests running frontlas in process against a private redis-server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from frontier.frontlas.config import FrontlasConfig, parse_config
from frontier.frontlas.protocol import FrontierInstance
from support.gateway import with_sections


def frontlas_config(redis_addr: str, **sections: Any) -> FrontlasConfig:
    """Loopback listeners on free ports and observability on a free port too."""
    data: dict[str, Any] = {
        "control_plane": {"listen": {"addr": "127.0.0.1:0"}},
        "frontier_plane": {"listen": {"addr": "127.0.0.1:0"}},
        "observability": {"addr": "127.0.0.1:0"},
        "redis": {"standalone": {"addr": redis_addr}},
    }
    return parse_config(with_sections(data, sections))


def frontier_meta(frontier_id: str, instance: str = "", sb: str = "", eb: str = "") -> bytes:
    return FrontierInstance(
        frontier_id, sb or "127.0.0.1:30011", eb or "127.0.0.1:30012", instance
    ).encode()


def payload(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


async def get_json(port: int, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def until_async(
    predicate: Callable[[], Awaitable[bool]],
    timeout: float = 10.0,  # noqa: ASYNC109 - a polling deadline
    what: str = "",
    interval: float = 0.02,
) -> float:
    """Like `until`, for conditions that need I/O (a REST query, a Redis read)."""
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(interval)
    return time.monotonic() - start
