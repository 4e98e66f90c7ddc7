"""Private redis-server processes on free loopback ports, for tests that need their own Redis
(to stop and start it, to flush it, or to run sentinels) without touching the machine's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.ports import free_port

REDIS_SERVER = shutil.which("redis-server")


def require_redis_server() -> str:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (./dev test installs it with apt)")
    return REDIS_SERVER


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"redis-server on :{port} exited with {proc.returncode}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # up (maybe locked)
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"redis-server on :{port} did not answer within {timeout} s")


class RedisServer:
    """One redis-server; `stop()` / `start()` keep its port (a restart, as in an outage).
    No persistence: a restart loses every key, the harshest case for resynchronisation."""

    def __init__(
        self, port: int | None = None, extra: tuple[str, ...] = (), *, cluster: bool = False
    ) -> None:
        self.binary = require_redis_server()
        self.port = port or (free_cluster_port() if cluster else free_port())
        self.extra = extra
        self.dir = Path(tempfile.mkdtemp(prefix="frontier-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            *self.extra,
        ]  # fmt: skip
        log = self.dir / "redis.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _wait_port(self.port, self.proc, log)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def redis_server(extra: tuple[str, ...] = ()) -> Iterator[RedisServer]:
    server = RedisServer(extra=extra)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
