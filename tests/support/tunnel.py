"""Real processes for the tunnel's tests: a frontier gateway set up for a tunnel, the
entry (``frontier-tunnel serve``) and connectors (``frontier-tunnel connect``), each with
its configuration as a YAML file, its output read by a thread (so it never blocks on a full
pipe), its ports read from its start-up line. Plus small servers to put behind them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from support.ports import free_port

TOKEN = "tunnel-test-token-0123456789"
PYTHON = sys.executable
_UP = re.compile(r" up(?:: (.*))?$")


class Daemon:
    """A daemon process, its output lines, and the ports its "up" line names."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()

    def start(self, up: str, timeout: float = 30.0) -> Daemon:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(up, timeout)
        match = _UP.search(line) if "frontier-tunnel" in line else None
        if match and match.group(1):
            for part in match.group(1).split(", "):
                label, _, port = part.rpartition(" :")
                self.ports[label] = int(port)
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<EOF>")
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 30.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if text in line:
                        return line
                if "<EOF>" in self.lines:
                    raise AssertionError(f"{self.name} ended without {text!r}:\n{self.log()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no {text!r} in {timeout} s:\n{self.log()}")
                self._changed.wait(left)

    async def await_line(self, text: str, within: float = 30.0, start: int = 0) -> str:
        return await asyncio.to_thread(self.wait_for, text, within, start)

    def log(self) -> str:
        return "\n".join(self.lines[-80:])

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def stop(self, timeout: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: a connector whose machine lost power."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    async def astop(self, within: float = 30.0) -> int | None:
        return await asyncio.to_thread(self.stop, within)


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def gateway(
    tmp: Path,
    *,
    frontlas_plane: int = 0,
    frontier_id: str = "",
    edgebound_tls: dict[str, Any] | None = None,
) -> Daemon:
    """A frontier gateway as docs/tunnel.md recommends: edges need the entry to get an ID.
    With `frontlas_plane`, in cluster mode (reporting to that frontlas, as `frontier_id`);
    `edgebound_tls`: the edgebound listener's ``tls`` block."""
    sb, eb, obs = free_port(), free_port(), free_port()
    listen: dict[str, Any] = {"addr": f"127.0.0.1:{eb}"}
    if edgebound_tls is not None:
        listen["tls"] = edgebound_tls
    config: dict[str, Any] = {
        "servicebound": {"listen": {"addr": f"127.0.0.1:{sb}"}},
        "edgebound": {"listen": listen, "edgeid_alloc_when_no_idservice_on": False},
        "observability": {"enable": True, "addr": f"127.0.0.1:{obs}"},
    }
    env = {}
    if frontlas_plane:
        config["frontlas"] = {
            "enable": True,
            "dial": {"addrs": [f"127.0.0.1:{frontlas_plane}"]},
            "heartbeat": 0.5,
        }
        env = {"FRONTIER_ID": frontier_id, "FRONTIER_DRAIN_SECONDS": "0"}
    path = _write_yaml(tmp / f"gateway-{eb}.yaml", config)
    argv = [PYTHON, "-m", "frontier.gateway.cli", "--config", str(path)]
    daemon = Daemon(f"frontier {frontier_id}".strip(), argv, env)
    daemon.start("frontier up")
    daemon.ports.update(servicebound=sb, edgebound=eb, observability=obs)
    return daemon


def frontlas(tmp: Path, redis_addr: str) -> Daemon:
    api, plane, obs = free_port(), free_port(), free_port()
    config = {
        "control_plane": {"listen": {"addr": f"127.0.0.1:{api}"}},
        "frontier_plane": {"listen": {"addr": f"127.0.0.1:{plane}"}},
        "observability": {"addr": f"127.0.0.1:{obs}"},
        "redis": {"standalone": {"addr": redis_addr}},
    }
    path = _write_yaml(tmp / f"frontlas-{api}.yaml", config)
    daemon = Daemon("frontlas", [PYTHON, "-m", "frontier.frontlas.cli", "--config", str(path)])
    daemon.start("frontlas up")
    daemon.ports.update(api=api, plane=plane, observability=obs)
    return daemon


def entry(tmp: Path, gateway: Daemon | None, **sections: Any) -> Daemon:
    """The entry, everything on loopback port 0, the API on; `sections` (YAML shape) on top
    (no `gateway`: give ``frontlas``)."""
    config: dict[str, Any] = {
        "gateway": {"addrs": [f"127.0.0.1:{gateway.ports['servicebound']}"] if gateway else []},
        "connectors": [{"name": "home", "token": TOKEN}],
        "http": {"addr": "127.0.0.1:0"},
        "api": {"enable": True, "addr": "127.0.0.1:0"},
        "observability": {"addr": "127.0.0.1:0"},
        "daemon": {"drain_seconds": 5},
    }
    config.update(sections)
    path = _write_yaml(tmp / f"entry-{free_port()}.yaml", config)
    daemon = Daemon("entry", [PYTHON, "-m", "frontier.tunnel", "serve", "--config", str(path)])
    daemon.start("frontier-tunnel entry up")
    daemon.wait_for("connected to the gateway")
    return daemon


def connector(
    tmp: Path,
    gateway: Daemon | list[Daemon],
    *,
    name: str = "home",
    token: str = TOKEN,
    allow: list[str] | None = None,
    wait_online: bool = True,
    gateway_tls: dict[str, Any] | None = None,
    **sections: Any,
) -> Daemon:
    gateways = gateway if isinstance(gateway, list) else [gateway]
    link: dict[str, Any] = {"addrs": [f"127.0.0.1:{g.ports['edgebound']}" for g in gateways]}
    if gateway_tls is not None:
        link["tls"] = gateway_tls
    config: dict[str, Any] = {
        "name": name,
        "gateway": link,
        "allow": allow if allow is not None else ["127.0.0.1"],
        "observability": {"addr": "127.0.0.1:0"},
        "daemon": {"drain_seconds": 2},
    }
    config.update(sections)
    path = _write_yaml(tmp / f"connector-{name}-{free_port()}.yaml", config)
    daemon = Daemon(
        f"connector {name}",
        [PYTHON, "-m", "frontier.tunnel", "connect", "--config", str(path)],
        env={"FRONTIER_TUNNEL_TOKEN": token},
    )
    daemon.start("frontier-tunnel connector")
    if wait_online:
        daemon.wait_for(f"connector {name!r} online")
    return daemon


class Api:
    """The entry's REST API, from a test's event loop."""

    def __init__(self, entry: Daemon) -> None:
        self.base = f"http://127.0.0.1:{entry.ports['api']}"

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body) as response,
        ):
            return response.status, await response.json()

    async def add_app(self, **app: Any) -> dict[str, Any]:
        status, doc = await self.call("POST", "/v1/apps", app)
        assert status == 201, (status, doc)
        return dict(doc)

    async def remove_app(self, name: str) -> None:
        status, doc = await self.call("DELETE", f"/v1/apps/{name}")
        assert status == 200, (status, doc)


async def metrics(port: int) -> dict[str, float]:
    """``/metrics`` as {"name{labels}": value}."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def echo_once(port: int, data: bytes = b"ping") -> bytes:
    """Send `data` to a published echo app and read it back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.readexactly(len(data)), 20)
    finally:
        writer.close()
