"""A real `frontier` process for tests that attack it: its ports, RSS, CPU, metrics, log.

The adversarial tier runs the gateway as users do (the `frontier` command, its own
process) so that what it measures is the gateway's: memory growth is the process's RSS,
descriptor exhaustion is its own RLIMIT_NOFILE, and a test runner busy being the attacker
does not slow the victim down. Ports are free loopback ports picked here; the log (stderr)
is kept in a file so a test can count lines without a reader task.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from support.ports import free_port

__all__ = ["FrontierProcess", "edge_tcp", "frontier_process", "sample"]


def sample(name: str, **labels: str) -> str:
    """The key of a sample in `FrontierProcess.metrics()`: labels sorted, as
    prometheus_client writes them."""
    inside = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inside}}}"


def edge_tcp(name: str, **labels: str) -> str:
    """`sample` of a listener metric of the plain edgebound listener."""
    return sample(name, bound="edgebound", transport="tcp", **labels)


@dataclass
class FrontierProcess:
    process: asyncio.subprocess.Process
    log_path: Path
    servicebound: int
    edgebound: int
    observability: int
    websocket: int = 0
    """The WebSocket listener's port (0: not enabled)."""

    def ws_url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.websocket}{path}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def metrics(self) -> dict[str, float]:
        """`/metrics` as {"name{labels}": value} (samples only, no comments)."""
        url = f"http://127.0.0.1:{self.observability}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    async def metric(self, name: str) -> float:
        return (await self.metrics()).get(name, 0.0)

    async def healthz(self, timeout: float = 2.0) -> int:  # noqa: ASYNC109
        url = f"http://127.0.0.1:{self.observability}/healthz"
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.get(url) as response,
        ):
            return response.status

    async def wait_log(self, text: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.returncode is not None:
                raise AssertionError(f"frontier exited ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the log after {timeout} s:\n{self.log()}")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def frontier_process(
    tmp_path: Path,
    *,
    nofile: int | None = None,
    env: dict[str, str] | None = None,
    websocket: bool = False,
    **sections: Any,
) -> AsyncIterator[FrontierProcess]:
    """`frontier --config` with loopback listeners on free ports, `sections` merged in
    (YAML shape), optionally under a lower RLIMIT_NOFILE (soft and hard). With
    `websocket`, the WebSocket listener is on too (`edgebound.websocket` in `sections`
    adds to its settings)."""
    sb, eb, obs = free_port(), free_port(), free_port()
    ws = free_port() if websocket else 0
    edgebound: dict[str, Any] = {"listen": {"addr": f"127.0.0.1:{eb}"}}
    if websocket:
        edgebound["websocket"] = {"enable": True, "listen": {"addr": f"127.0.0.1:{ws}"}}
    config = _merged(
        {
            "servicebound": {"listen": {"addr": f"127.0.0.1:{sb}"}},
            "edgebound": edgebound,
            "observability": {"enable": True, "addr": f"127.0.0.1:{obs}"},
        },
        sections,
    )
    config_path = tmp_path / f"frontier-{eb}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / f"frontier-{eb}.log"
    preexec: Callable[[], None] | None = None
    if nofile is not None:
        limit = nofile

        def preexec() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "frontier.gateway.cli", "--config", str(config_path),
            "--loglevel", "info",
            stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            env={**os.environ, **(env or {})}, preexec_fn=preexec,
        )  # fmt: skip
    gateway = FrontierProcess(process, log_path, sb, eb, obs, ws)
    try:
        await gateway.wait_log("frontier up")
        yield gateway
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in at every depth (a test's ``listen: {tls: ...}`` keeps
    the loopback address)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
