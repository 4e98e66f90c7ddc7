"""Helpers for tests that run a real Gateway in process, on loopback, port 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from frontier.conventions import ServiceMeta
from frontier.gateway import FrontierConfig, parse_config
from frontier.geminio.aio import End, connect


def gateway_config(**sections: Any) -> FrontierConfig:
    """Loopback listeners on free ports, observability off, plus `sections` (YAML shape)."""
    data: dict[str, Any] = {
        "servicebound": {"listen": {"addr": "127.0.0.1:0"}},
        "edgebound": {"listen": {"addr": "127.0.0.1:0"}},
        "observability": {"enable": False},
    }
    return parse_config(with_sections(data, sections))


def with_sections(data: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """`data` with each of `sections` merged one level deep (a test's config on top of the
    loopback defaults)."""
    merged = dict(data)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


async def until(
    predicate: Callable[[], bool],
    timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancellation scope
    what: str = "",
) -> float:
    """Wait for `predicate()` to hold, checking every few ms; returns the seconds waited.

    For state the test cannot subscribe to (the gateway's registry); fails loudly on timeout
    instead of sleeping a fixed time and hoping."""
    start = time.monotonic()
    deadline = start + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def connect_service(
    port: int, name: str = "svc", topics: tuple[str, ...] = (), **kwargs: Any
) -> End:
    return await connect("127.0.0.1", port, meta=ServiceMeta(name, topics).encode(), **kwargs)


async def connect_edge(port: int, meta: bytes = b"", **kwargs: Any) -> End:
    return await connect("127.0.0.1", port, meta=meta, **kwargs)
