"""A private redis-server per module; each test starts from an empty database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis import asyncio as aioredis

from support.redis_server import RedisServer
from support.redis_server import redis_server as private_redis


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Any]:
    if redis_server.proc is None:  # a previous test stopped it
        redis_server.start()
    client = aioredis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()
