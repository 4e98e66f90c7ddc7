"""Helpers for the MQ bridge tests: reachability checks that skip with the reason, unique
names so concurrent runs share a broker safely, and private broker processes on free
loopback ports that a test may stop and start (an outage)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from support.ports import free_port
from support.redis_server import RedisServer, redis_server

RABBITMQ = ("127.0.0.1", 5672)
NATS = ("127.0.0.1", 4222)
REDIS = ("127.0.0.1", 6379)


if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient


async def nats_consumer(addr: str, **options: Any) -> NatsClient:
    """A NATS client for checking what a bridge published. It writes through
    (``pending_size=1``): nats-py otherwise writes a flush's PING ahead of a SUB still in
    its pending buffer, so ``subscribe(); flush()`` would not mean the server has the
    subscription, and a message published right after could find no subscriber."""
    import nats

    return await nats.connect(f"nats://{addr}", pending_size=1, **options)


def unique(prefix: str) -> str:
    """A topic/queue/stream name no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, addr: tuple[str, int]) -> str:
    """``host:port`` of the broker, or skip the test saying that it is not there."""
    host, port = addr
    if not reachable(host, port):
        pytest.skip(f"{name} is not reachable on {host}:{port}")
    return f"{host}:{port}"


def require_env(variable: str, name: str) -> str:
    """The broker address a variable names (``host:port``), or skip saying how to run it."""
    value = os.environ.get(variable, "")
    if not value:
        pytest.skip(f"{name} test: set {variable}=host:port to run it against a {name}")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not reachable(host or "127.0.0.1", int(port)):
        pytest.skip(f"{variable}={value}: {name} is not reachable there")
    return value


class PrivateServer:
    """A broker process of our own on a fixed free port; `stop()` and `start()` keep the
    port, as a broker restart does."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv = argv
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port, timeout=0.2):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} did not listen within {timeout} s")
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def private_server(kind: str) -> Iterator[PrivateServer | RedisServer]:
    """A private ``redis`` or ``nats`` server, or skip when its binary is not installed.
    Redis is `support.redis_server.RedisServer` (no persistence: a restart is empty)."""
    if kind == "redis":
        with redis_server() as server:
            yield server
        return
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip(f"no {kind} server binary installed for the restart test")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"frontier-{kind}-") as workdir:
        argv = [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", workdir]
        server = PrivateServer(argv, port)
        server.start()
        try:
            yield server
        finally:
            server.stop()
