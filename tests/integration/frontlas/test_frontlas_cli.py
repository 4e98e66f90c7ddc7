"""The `frontlas` command as operators run it: starts without Redis (alive, not ready) and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
import yaml

from support.frontlas import get_json, until_async
from support.ports import free_port

pytestmark = pytest.mark.integration


async def test_frontlas_runs_unready_without_redis_and_stops_on_sigterm(tmp_path: Path) -> None:
    obs = free_port()
    config = tmp_path / "frontlas.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "control_plane": {"listen": {"addr": f"127.0.0.1:{free_port()}"}},
                "frontier_plane": {"listen": {"addr": f"127.0.0.1:{free_port()}"}},
                "observability": {"addr": f"127.0.0.1:{obs}"},
                "redis": {"standalone": {"addr": f"127.0.0.1:{free_port()}"}},  # nobody there
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "frontier.frontlas.cli", "--config", str(config),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:

        async def alive() -> bool:
            try:
                return (await get_json(obs, "/healthz"))[0] == 200
            except OSError:
                return False

        await until_async(alive, timeout=30, what="frontlas to serve /healthz")
        assert (await get_json(obs, "/readyz"))[0] == 503
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
