#!/usr/bin/env python3
"""``./dev cluster``: a whole cluster on this host, one command, Ctrl-C stops it.

A private redis-server (a free loopback port, no persistence), frontlas and two frontiers
(frontier-a, frontier-b), with the configs of ``deploy/local/``. It prints the addresses
once every part is ready (frontlas answers /readyz, both frontiers registered), then waits.
Ctrl-C (SIGINT) or SIGTERM stops the frontiers, frontlas and Redis, in that order, and
exits 0; a part that dies on its own stops the rest and exits 1 with the end of its log.

Ports are the configs' (frontlas 40011/40012/9092, frontier-a 30011/30012/9091); the usual
environment overrides move them (FRONTLAS_CONTROLPLANE_PORT, FRONTLAS_FRONTIERPLANE_PORT,
FRONTLAS_OBSERVABILITY_PORT, FRONTIER_SERVICEBOUND_PORT, FRONTIER_EDGEBOUND_PORT,
FRONTIER_OBSERVABILITY_PORT), and frontier-b listens 1000 above frontier-a on each port.
``--redis HOST:PORT`` uses a Redis that is already running instead. Every part logs to a
file in ``--logs DIR`` (default: a new temporary directory, printed).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "deploy" / "local"
B_OFFSET = 1000
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when we die, however we die; its own process
    group, so a terminal's Ctrl-C reaches only us and we stop the parts in order."""
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def port(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"cluster: {name}={value!r} is not a TCP port")
    return int(value)


@dataclass
class Part:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
                preexec_fn=_die_with_parent,
            )

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> int | None:
        """SIGTERM, then wait (SIGKILL after STOP_TIMEOUT); the exit code."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])


def http_ok(port_number: int, path: str) -> bool:
    url = f"http://127.0.0.1:{port_number}{path}"
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)
    return False


def redis_answers(addr: str) -> bool:
    host, _, port_text = addr.rpartition(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port_text)), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def on_signal(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev cluster",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Ports: see docs/running.md; configs: deploy/local/.",
    )
    parser.add_argument("--redis", metavar="HOST:PORT", help="use this Redis, start none")
    parser.add_argument("--logs", metavar="DIR", type=Path, help="log directory (default: temp)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    env = dict(os.environ)
    env.setdefault("FRONTIER_DRAIN_SECONDS", "1")
    fl_api = port(env, "FRONTLAS_CONTROLPLANE_PORT", 40011)
    fl_plane = port(env, "FRONTLAS_FRONTIERPLANE_PORT", 40012)
    fl_obs = port(env, "FRONTLAS_OBSERVABILITY_PORT", 9092)
    a_sb = port(env, "FRONTIER_SERVICEBOUND_PORT", 30011)
    a_eb = port(env, "FRONTIER_EDGEBOUND_PORT", 30012)
    a_obs = port(env, "FRONTIER_OBSERVABILITY_PORT", 9091)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="frontier-cluster-"))
    logs.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent

    parts: list[Part] = []
    redis_addr = args.redis
    if redis_addr is None:
        binary = shutil.which("redis-server")
        if binary is None:
            print("cluster: redis-server not found (apt-get install redis-server)", file=sys.stderr)
            return 1
        redis_port = free_port()
        redis_addr = f"127.0.0.1:{redis_port}"
        parts.append(
            Part(
                "redis",
                [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(logs)],
                env,
                logs / "redis.log",
            )
        )  # fmt: skip
    parts.append(
        Part(
            "frontlas",
            [str(bin_dir / "frontlas"), "--config", str(LOCAL / "frontlas.yaml")],
            {
                **env,
                "REDIS_ADDRS": redis_addr,
                "FRONTLAS_CONTROLPLANE_PORT": str(fl_api),
                "FRONTLAS_FRONTIERPLANE_PORT": str(fl_plane),
                "FRONTLAS_OBSERVABILITY_PORT": str(fl_obs),
            },
            logs / "frontlas.log",
        )
    )
    frontiers = {"frontier-a": (a_sb, a_eb, a_obs)}
    frontiers["frontier-b"] = (a_sb + B_OFFSET, a_eb + B_OFFSET, a_obs + B_OFFSET)
    for frontier_id, (sb, eb, obs) in frontiers.items():
        parts.append(
            Part(
                frontier_id,
                [str(bin_dir / "frontier"), "--config", str(LOCAL / "frontier.yaml")],
                {
                    **env,
                    "FRONTIER_ID": frontier_id,
                    "FRONTLAS_ADDR": f"127.0.0.1:{fl_plane}",
                    "FRONTIER_SERVICEBOUND_PORT": str(sb),
                    "FRONTIER_EDGEBOUND_PORT": str(eb),
                    "FRONTIER_OBSERVABILITY_PORT": str(obs),
                },
                logs / f"{frontier_id}.log",
            )
        )

    ready: dict[str, Callable[[], bool]] = {
        "redis": functools.partial(redis_answers, redis_addr),
        "frontlas": functools.partial(http_ok, fl_obs, "/readyz"),
    }
    for frontier_id, (_, _, obs) in frontiers.items():
        ready[frontier_id] = functools.partial(http_ok, obs, "/readyz")
    code = 0
    try:
        for part in parts:  # in order: each waits for the one it needs
            part.start()
            deadline = time.monotonic() + START_TIMEOUT
            while not ready[part.name]():
                if part.exited() is not None or time.monotonic() > deadline:
                    state = f"exited ({part.exited()})" if part.exited() is not None else "hung"
                    print(f"cluster: {part.name} {state}; its log:\n{part.tail()}", file=sys.stderr)
                    return 1
                time.sleep(0.05)
        print(
            "local cluster up (Ctrl-C stops it)\n"
            f"  redis       {redis_addr}" + ("" if args.redis else " (private, no persistence)")
            + f"\n  frontlas    cluster API 127.0.0.1:{fl_api}  frontier plane 127.0.0.1:{fl_plane}"
            f"  metrics 127.0.0.1:{fl_obs}"
            + "".join(
                f"\n  {frontier_id}  services 127.0.0.1:{sb}  edges 127.0.0.1:{eb}"
                f"  metrics 127.0.0.1:{obs}"
                for frontier_id, (sb, eb, obs) in frontiers.items()
            )
            + f"\n  logs        {logs}",
            flush=True,
        )  # fmt: skip
        while True:
            for part in parts:
                if part.exited() is not None:
                    print(
                        f"cluster: {part.name} exited ({part.exited()}); its log:\n{part.tail()}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
    except Stop as stop:
        print(f"cluster: {stop}: stopping", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop itself is not interrupted
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for part in reversed(parts):  # frontiers, frontlas, Redis
            if part.proc is not None and part.proc.poll() is None:
                result = part.stop()
                if result != 0:
                    print(f"cluster: {part.name} stopped with {result}", file=sys.stderr)
                    code = 1
    if code == 0:
        print("cluster: stopped", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
