"""A real `frontd` process for tests, backends for it to reach, and a client's side of the
protocol."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from frontier.frontd.cipher import Derivation, encrypt_line

SECRET = "frontd-test-secret"
FRONTD = [sys.executable, "-m", "frontier.frontd"]
_UP = re.compile(r"frontd up: :(\d+).*?(?:observability :(\d+))?$")


def line_for(addr: str, derivation: Derivation = "md5", secret: str = SECRET) -> bytes:
    """The request line naming `addr` (md5: cheap to derive, the original's)."""
    return encrypt_line(secret.encode(), addr.encode(), derivation).encode() + b"\n"


class FrontdProcess:
    """`frontd` with `args` (and `config` as a YAML file) on loopback, port 0 unless given.

    stdout and stderr are read by a thread into `lines`, so the process never blocks on a
    full pipe."""

    def __init__(
        self,
        *args: str,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        tmp_path: Path | None = None,
        observability: bool = True,
    ) -> None:
        argv = [*FRONTD, *args]
        if "--addr" not in args:
            argv += ["--addr", "127.0.0.1:0"]
        if "--observability" not in args:
            argv += ["--observability", "127.0.0.1:0" if observability else ""]
        if config is not None:
            assert tmp_path is not None, "a config file needs tmp_path"
            path = tmp_path / "frontd.yaml"
            path.write_text(yaml.safe_dump(config))
            argv += ["--config", str(path)]
        self.argv = argv
        self.env = {**os.environ, "FRONTD_SECRET": SECRET, **(env or {})}
        self.lines: list[str] = []
        self.port = 0
        self.observability_port = 0
        self.process: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()

    def start(self, timeout: float = 30.0) -> FrontdProcess:
        self.process = subprocess.Popen(  # logs go to stdout; errors before logging to stderr
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for("frontd up", timeout)
        match = _UP.search(line)
        assert match, line
        self.port = int(match.group(1))
        self.observability_port = int(match.group(2) or 0)
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
        """The first log line from index `start` on containing `text`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if text in line:
                        return line
                if "<EOF>" in self.lines:
                    raise AssertionError(f"frontd ended without {text!r}:\n" + self.log())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {text!r} within {timeout} s:\n" + self.log())
                self._changed.wait(left)

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; kill the whole session if it does not end (workers too)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> FrontdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # In async tests: start and stop in a thread, so that the test's event loop keeps
    # running (closing the test's sockets) while frontd drains.
    async def __aenter__(self) -> FrontdProcess:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0)  # let transports closed just before actually close
        await asyncio.to_thread(self.stop)


@contextlib.contextmanager
def frontd(*args: str, **kwargs: Any) -> Iterator[FrontdProcess]:
    """For sync tests and module fixtures; async tests use ``async with FrontdProcess``."""
    process = FrontdProcess(*args, **kwargs)
    try:
        yield process.start()
    finally:
        process.stop()


class Backend:
    """An asyncio TCP server on loopback: echoes, or runs `handler`; records what it saw."""

    def __init__(
        self,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any] | None = None,
    ) -> None:
        self.handler = handler or _echo
        self.server: asyncio.Server | None = None
        self.accepted = 0
        self.connected = asyncio.Event()
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.connected.set()
        self.writers.add(writer)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def __aenter__(self) -> Backend:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.write_eof()  # pass the half-close back
    await writer.drain()


async def open_client(
    port: int, send: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if send:
        writer.write(send)
        await writer.drain()
    return reader, writer


async def status_of(port: int, send: bytes, *, length: int = 4) -> bytes:
    """Send `send`, read the answer to its end (the gateway closes after an error)."""
    reader, writer = await open_client(port, send)
    try:
        async with asyncio.timeout(20):
            return await reader.read(length) if length else await reader.read()
    finally:
        writer.close()


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """A loopback address where connecting hangs: a listener whose accept queue is full, so
    the kernel drops further SYNs (Linux drops them; it does not refuse). Nothing leaves
    the host."""
    listener = socket.socket()
    held: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        addr = listener.getsockname()
        for _ in range(16):
            probe = socket.socket()
            held.append(probe)
            probe.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                probe.connect(addr)
            _, writable, _ = select.select([], [probe], [], 0.5)
            if not writable:
                break  # this one hangs: the queue is full
        else:
            raise AssertionError("the accept queue never filled")
        yield f"127.0.0.1:{addr[1]}"
    finally:
        for sock in held:
            sock.close()
        listener.close()
