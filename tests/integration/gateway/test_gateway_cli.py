"""The `frontier` command as users run it: a real process, its flags, signals and errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from frontier.conventions import append_edge_id
from frontier.gateway import parse_config
from frontier.geminio.aio import Request
from frontier.geminio.events import CloseReason
from support.gateway import connect_edge, connect_service
from support.ports import free_port

pytestmark = pytest.mark.integration

FRONTIER = [sys.executable, "-m", "frontier.gateway.cli"]


def test_print_default_config_is_a_valid_documented_config() -> None:
    out = subprocess.run(
        [*FRONTIER, "--print-default-config"], capture_output=True, text=True, check=True
    ).stdout
    assert "#" in out  # documented
    config = parse_config(yaml.safe_load(out))
    assert config.servicebound.listen.addr.endswith(":30011")
    assert config.edgebound.listen.addr.endswith(":30012")


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "frontier.yaml"
    path.write_text("edgebound:\n  listen:\n    adr: 0.0.0.0:1\n")
    result = subprocess.run([*FRONTIER, "--config", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "edgebound.listen.adr" in result.stderr


async def test_gateway_process_serves_then_drains_on_sigterm(tmp_path: Path) -> None:
    sb, eb, obs = free_port(), free_port(), free_port()
    path = tmp_path / "frontier.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "servicebound": {"listen": {"addr": f"127.0.0.1:{sb}"}},
                "edgebound": {"listen": {"addr": f"127.0.0.1:{eb}"}},
                "observability": {"enable": True, "addr": f"127.0.0.1:{obs}"},
            }
        )
    )
    # a long drain: the gateway exits once its connections have left, not at the deadline
    env = {**os.environ, "FRONTIER_DRAIN_SECONDS": "120"}
    process = await asyncio.create_subprocess_exec(
        *FRONTIER,
        "--config",
        str(path),
        "--loglevel",  # upstream's spelling of --log-level
        "info",
        "--log-format",
        "json",
        env=env,
        stdout=asyncio.subprocess.PIPE,  # log.output's default
    )
    try:
        line = await _log_line(process, b"frontier up")  # not a fixed time
        assert line.lstrip().startswith(b"{")  # --log-format json
        service = await connect_service(sb)
        edge = await connect_edge(eb)

        async def hello(request: Request) -> bytes:
            return b"hi " + request.data

        await edge.register("hello", hello)
        custom = append_edge_id(b"", edge.client_id)
        assert await service.call("hello", b"there", custom=custom) == b"hi there"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        await asyncio.wait_for(edge.wait_closed(), 5)
        await asyncio.wait_for(service.wait_closed(), 5)
        for end in (edge, service):  # said goodbye to, in order
            assert end.close_reason is not None
            assert end.close_reason.reason is CloseReason.PEER_CLOSE
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _log_line(process: asyncio.subprocess.Process, text: bytes) -> bytes:
    """The first log line (stdout) containing `text`; fails with what came before if it
    ends."""
    assert process.stdout is not None
    lines: list[bytes] = []
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line, b"".join(lines).decode()
        lines.append(line)
        if text in line:
            return line


async def test_a_second_signal_ends_the_drain_at_once(tmp_path: Path) -> None:
    sb, eb = free_port(), free_port()
    path = tmp_path / "frontier.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "servicebound": {"listen": {"addr": f"127.0.0.1:{sb}"}},
                "edgebound": {"listen": {"addr": f"127.0.0.1:{eb}"}},
            }
        )
    )
    env = {**os.environ, "FRONTIER_DRAIN_SECONDS": "120"}
    process = await asyncio.create_subprocess_exec(
        *FRONTIER, "--config", str(path), "--log-level", "info",
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await _log_line(process, b"frontier up")
        service = await connect_service(sb)
        entered = asyncio.Event()

        async def hang(request: Request) -> bytes:
            entered.set()
            await asyncio.Event().wait()  # never answers: the edge's call keeps it busy
            return b""

        await service.register("hang", hang)
        edge = await connect_edge(eb)
        call = asyncio.create_task(edge.call("hang", b""))
        await asyncio.wait_for(entered.wait(), 10)
        # the edge's call holds the drain (until the gateway's 30 s forward timeout)
        process.send_signal(signal.SIGTERM)
        await _log_line(process, b"draining for up to 120.0 s")
        process.send_signal(signal.SIGTERM)
        await _log_line(process, b"second signal")
        assert await asyncio.wait_for(process.wait(), 20) == 1
        call.cancel()
        await edge.close()
        await service.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
