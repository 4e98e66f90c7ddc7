"""The examples, run as the README says: each piece a subprocess, against a `frontier`
gateway subprocess (an in-process Gateway if the `frontier` command does not work).

Every wait reads the processes' output up to an expected line, with a deadline."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from frontier.gateway import Gateway
from support.gateway import gateway_config
from support.procs import Proc

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
FRONTIER = Path(sys.executable).parent / "frontier"


def frontier_cli_works() -> bool:
    if not FRONTIER.exists() and shutil.which("frontier") is None:
        return False
    try:
        done = subprocess.run(
            [str(FRONTIER), "--help"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class Ports:
    servicebound: str
    edgebound: str


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Ports]:
    if not frontier_cli_works():
        async with Gateway(gateway_config()) as gw:
            yield Ports(f"127.0.0.1:{gw.servicebound_port}", f"127.0.0.1:{gw.edgebound_port}")
        return
    config = tmp_path / "frontier.yaml"
    config.write_text(
        "servicebound: {listen: {addr: '127.0.0.1:0'}}\n"
        "edgebound: {listen: {addr: '127.0.0.1:0'}}\n"
        "observability: {enable: false}\n"
        "daemon: {drain_seconds: 1}\n"
        "log: {output: stdout}\n"
    )
    proc = await Proc.start("frontier", str(FRONTIER), "--config", str(config))
    try:
        up = await proc.expect(r"frontier up: servicebound :(\d+), edgebound :(\d+)")
        yield Ports(f"127.0.0.1:{up[1]}", f"127.0.0.1:{up[2]}")
        assert await proc.stop() == 0, "\n".join(proc.lines)
    finally:
        proc.kill()


@pytest.fixture
async def procs() -> AsyncIterator[list[Proc]]:
    """Started processes, killed at the end whatever happened."""
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()
        with contextlib.suppress(Exception):
            await proc.process.wait()


async def example(
    procs: list[Proc], name: str, script: str, *args: str, stdin: bool = False
) -> Proc:
    proc = await Proc.start(name, sys.executable, str(EXAMPLES / script), *args, stdin=stdin)
    procs.append(proc)
    return proc


async def test_chatroom(gateway: Ports, procs: list[Proc]) -> None:
    service = await example(
        procs, "chat service", "chatroom/service.py", "--addr", gateway.servicebound
    )
    await service.expect(r"chat service 'chatroom' online")
    alice = await example(
        procs,
        "alice",
        "chatroom/edge.py",
        "--addr",
        gateway.edgebound,
        "--nick",
        "alice",
        stdin=True,
    )
    await alice.expect(r"connected as alice \(edge \d+\)")
    await service.expect(r"alice joined .*1 online")
    bob = await example(
        procs, "bob", "chatroom/edge.py", "--addr", gateway.edgebound, "--nick", "bob", stdin=True
    )
    await bob.expect(r"connected as bob")
    await service.expect(r"bob joined .*2 online")

    alice.send("hello bob")
    await bob.expect(r"^alice: hello bob$")
    bob.send("hi alice")
    await alice.expect(r"^bob: hi alice$")
    assert "alice: hello bob" not in alice.lines  # nobody hears their own messages

    alice.close_stdin()
    assert await alice.exited() == 0, "\n".join(alice.lines)
    await service.expect(r"alice left .*1 online")
    bob.close_stdin()
    assert await bob.exited() == 0, "\n".join(bob.lines)
    await service.expect(r"bob left .*0 online")
    assert await service.stop() == 0, "\n".join(service.lines)


async def test_chat_edge_reports_when_nobody_serves_the_topic(
    gateway: Ports, procs: list[Proc]
) -> None:
    alice = await example(
        procs,
        "alice",
        "chatroom/edge.py",
        "--addr",
        gateway.edgebound,
        "--nick",
        "alice",
        stdin=True,
    )
    await alice.expect(r"connected as alice")
    alice.send("anyone?")
    await alice.expect(r"^! not sent: topic not online$")
    alice.close_stdin()
    assert await alice.exited() == 0


async def test_call_device(gateway: Ports, procs: list[Proc]) -> None:
    backend = await example(
        procs,
        "backend",
        "call_device/backend.py",
        "--addr",
        gateway.servicebound,
        "--device",
        "greenhouse-1",
        "--count",
        "2",
        "--interval",
        "0.05",
    )
    await backend.expect(r"backend online")
    decoy = await example(
        procs, "decoy", "call_device/device.py", "--addr", gateway.edgebound, "--name", "shed"
    )
    await decoy.expect(r"device 'shed' online as edge \d+")
    device = await example(
        procs,
        "device",
        "call_device/device.py",
        "--addr",
        gateway.edgebound,
        "--name",
        "greenhouse-1",
    )
    edge_id = (await device.expect(r"device 'greenhouse-1' online as edge (\d+)"))[1]
    for _ in range(2):
        line = await backend.expect(rf"reading from 'greenhouse-1' \(edge {edge_id}\): (.*)$")
        reading = json.loads(line[1])
        assert reading["device"] == "greenhouse-1"
        assert {"temperature_c", "humidity_pct", "time"} <= set(reading)
    assert await backend.exited() == 0, "\n".join(backend.lines)  # --count 2 reached
    assert not any("'shed' (edge" in line and "reading" in line for line in backend.lines)
    # edge_ready: the device is reachable by the time the backend learns of it, so the
    # first call succeeds (edge_online came too early and always failed once)
    assert not any("failed" in line for line in backend.lines), "\n".join(backend.lines)
    assert await device.stop() == 0, "\n".join(device.lines)
    assert await decoy.stop() == 0, "\n".join(decoy.lines)


async def test_call_device_exits_non_zero_on_a_device_error(
    gateway: Ports, procs: list[Proc]
) -> None:
    backend = await example(
        procs, "backend", "call_device/backend.py", "--addr", gateway.servicebound,
        "--sensors", "bogus", "--count", "3", "--interval", "0.05",
    )  # fmt: skip
    await backend.expect(r"backend online")
    device = await example(procs, "device", "call_device/device.py", "--addr", gateway.edgebound)
    await device.expect(r"online as edge \d+")
    await backend.expect(r"failed: no such sensor: bogus")
    assert await backend.exited() == 1, "\n".join(backend.lines)
    assert any(line.startswith("backend: ") and "no such sensor: bogus" in line
               for line in backend.lines)  # fmt: skip
    assert not any("reading from" in line for line in backend.lines)
    assert await device.stop() == 0
