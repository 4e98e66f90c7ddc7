"""`python -m frontier.geminio echo-server` and `probe` as real subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys

import pytest

pytestmark = pytest.mark.integration

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


async def _probe(port: int, *extra: str) -> tuple[int, str]:
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "frontier.geminio", "probe", "--connect", f"127.0.0.1:{port}",
        *extra, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    _, err = await probe.communicate()
    assert probe.returncode is not None
    return probe.returncode, err.decode()


async def test_probe_passes_against_echo_server() -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "frontier.geminio", "echo-server", "--listen", "127.0.0.1:0",
        stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = (await asyncio.wait_for(server.stderr.readline(), 10)).decode()
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert found, line
        code, output = await asyncio.wait_for(_probe(int(found.group(1))), 30)
        assert code == 0, output
        for check in ("rpc", "messages", "stream", "reject", "client-id"):
            assert f"ok   {check}:" in output
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 15) == 0


async def test_probe_fails_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, output = await asyncio.wait_for(_probe(port, "--wait", "0.3"), 30)
    assert code == 1
    assert f"FAIL reach: nothing accepts connections on 127.0.0.1:{port} (waited 0.3 s" in output
    assert "FAIL rpc" not in output  # one clear line, not five failed checks


async def test_probe_waits_for_a_server_started_after_it() -> None:
    """`echo-server &` then `probe` at once, as the README pastes them: the probe waits
    (--wait, default 5 s) instead of failing with "connection refused"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "frontier.geminio", "probe", "--connect", f"127.0.0.1:{port}",
        "--wait", "60", stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    server = None
    try:
        assert probe.stderr is not None
        line = (await asyncio.wait_for(probe.stderr.readline(), 30)).decode()
        assert f"waiting up to 60.0 s for 127.0.0.1:{port}" in line  # it tried, and waits
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "frontier.geminio", "echo-server", "--listen",
            f"127.0.0.1:{port}", stderr=asyncio.subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
        rest = await asyncio.wait_for(probe.stderr.read(), 60)
        assert await probe.wait() == 0, rest.decode()
        assert "0 of 5 checks failed" in rest.decode()
    finally:
        for process in (probe, server):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()


async def test_probe_rejects_a_bad_wait() -> None:
    code, output = await asyncio.wait_for(_probe(1, "--wait", "-1"), 30)
    assert code == 2
    assert "expected seconds >= 0" in output


async def test_probe_fails_against_a_server_that_hangs_up() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        code, output = await asyncio.wait_for(_probe(port, "--timeout", "2"), 30)
    assert code != 0
    assert "5 of 5 checks failed" in output
