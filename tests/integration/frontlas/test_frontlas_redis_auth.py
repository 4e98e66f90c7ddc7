"""frontlas against a Redis that requires a password: REDIS_PASSWORD (from a Secret in
Kubernetes) is what makes it ready; a wrong one leaves it up and unready, never crashed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from frontier.frontlas.app import Frontlas
from frontier.frontlas.config import FrontlasConfig, parse_config
from support.frontlas import frontlas_config, get_json
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.integration


@pytest.fixture
def protected_redis() -> Iterator[RedisServer]:
    with redis_server(extra=("--requirepass", "s3cret")) as server:
        yield server


def _config(server: RedisServer, password: str) -> FrontlasConfig:
    base = frontlas_config(server.addr)
    env = {"REDIS_ADDRS": server.addr}
    if password:
        env["REDIS_PASSWORD"] = password
    data = {
        "control_plane": {"listen": {"addr": base.control_plane.listen.addr}},
        "frontier_plane": {"listen": {"addr": base.frontier_plane.listen.addr}},
        "observability": {"addr": base.observability.addr},
    }
    return parse_config(data, env)


@pytest.mark.parametrize(("password", "ready"), [("s3cret", True), ("wrong", False), ("", False)])
async def test_the_redis_password_comes_from_the_environment(
    protected_redis: RedisServer, password: str, ready: bool
) -> None:
    config = _config(protected_redis, password)
    async with Frontlas(config) as frontlas:
        assert await frontlas.ready() is ready
        status, _ = await get_json(frontlas.cluster_api_port, "/cluster/v1/frontiers")
        assert status == (200 if ready else 503)
