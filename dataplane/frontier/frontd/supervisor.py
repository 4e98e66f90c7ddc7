"""``--reuse``: N worker processes accept on one port with SO_REUSEPORT, supervised.

The kernel spreads new connections over the workers' listening sockets, so workers share
no accept lock and no state. The supervisor:

- reserves the port first with a bound, never-listening SO_REUSEPORT socket (a busy port
  fails start-up here, with one clear error; port 0 becomes one real port all workers
  share; and a worker restarting later finds the port still held by this user);
- starts each worker (`frontier.frontd.worker`) with the configuration on its stdin and
  waits for its ``ready`` line; a worker that fails before ready fails the start-up;
- restarts a worker that dies, after a back-off that doubles while workers keep dying
  young (0.5 s up to 30 s), and counts restarts;
- serves ``/healthz``, ``/readyz`` (ready while at least one worker is) and ``/metrics``
  (the sum of the workers' counters, from prometheus-client's multiprocess files);
- on SIGTERM sends SIGTERM to every worker (each drains) and waits for them, up to
  ``daemon.drain_seconds`` and a margin, before killing what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Final

from prometheus_client import CollectorRegistry, multiprocess

from ..addr import split_addr
from .app import serve
from .config import FrontdConfig, to_json
from .metrics import SupervisorMetrics
from .server import bind_listener

__all__ = ["Supervisor", "run_supervised"]

log = logging.getLogger("frontier.frontd.supervisor")

_START_TIMEOUT: Final = 60.0
_BACKOFF_MIN: Final = 0.5
_BACKOFF_MAX: Final = 30.0
_YOUNG: Final = 10.0
"""A worker that dies within this many seconds of its start counts as a crash loop."""
_STOP_MARGIN: Final = 10.0


@dataclasses.dataclass(eq=False)
class _Slot:
    index: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    started: float = 0.0
    failures: int = 0
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(self, config: FrontdConfig) -> None:
        self.config = config
        self.metrics = SupervisorMetrics()
        self.slots = [_Slot(i) for i in range(config.worker_count)]
        self.port = 0
        self._reservation: socket.socket | None = None
        self._dir = tempfile.mkdtemp(prefix="frontd-metrics-")
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            self.metrics.registry, path=self._dir
        )
        self._stopping = False
        self._worker_config = ""
        self._first_ready = asyncio.Event()

    @property
    def ready_workers(self) -> int:
        return sum(1 for slot in self.slots if slot.ready)

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def ready(self) -> bool:
        return not self._stopping and self.ready_workers > 0

    def describe(self) -> str:
        return f"{len(self.slots)} workers on SO_REUSEPORT"

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process and s.process.returncode is None]

    async def start(self) -> None:
        """Reserve the port and start every worker; `OSError` if one cannot start."""
        # bound, never listening: holds the port for the workers' SO_REUSEPORT group
        self._reservation = bind_listener(self.config.listen.addr, reuse_port=True, backlog=None)
        host, _ = split_addr(self.config.listen.addr, "listen.addr")
        self.port = int(self._reservation.getsockname()[1])
        addr = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        config = dataclasses.replace(
            self.config, listen=dataclasses.replace(self.config.listen, addr=addr, reuse=True)
        )
        self._worker_config = to_json(config)
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                await asyncio.gather(*(self._spawn(slot) for slot in self.slots))
        except TimeoutError:
            raise OSError(f"workers not ready within {_START_TIMEOUT:g} s") from None
        for slot in self.slots:
            slot.task = asyncio.get_running_loop().create_task(self._watch(slot))

    async def _spawn(self, slot: _Slot) -> None:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self._dir}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "frontier.frontd.worker",
            str(slot.index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        slot.process, slot.ready, slot.started = process, False, time.monotonic()
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(self._worker_config.encode() + b"\n")
        await process.stdin.drain()  # stdin stays open: its EOF tells the worker we are gone
        line = await process.stdout.readline()
        if not line.startswith(b"ready"):
            code = await process.wait()
            raise OSError(f"worker {slot.index} exited with code {code} before it was ready")
        slot.ready = True
        self._update_gauges()

    async def _watch(self, slot: _Slot) -> None:
        """Wait for the worker to end; unless stopping, start a new one."""
        while True:
            process = slot.process
            assert process is not None
            code = await process.wait()
            slot.ready = False
            multiprocess.mark_process_dead(process.pid, self._dir)  # type: ignore[no-untyped-call]
            self._update_gauges()
            if self._stopping:
                return
            lived = time.monotonic() - slot.started
            slot.failures = slot.failures + 1 if lived < _YOUNG else 0
            delay = min(_BACKOFF_MIN * 2 ** max(slot.failures - 1, 0), _BACKOFF_MAX)
            log.error(
                "worker %d (pid %d) exited with code %s after %.1f s: restarting in %.1f s",
                slot.index, process.pid, code, lived, delay,
            )  # fmt: skip
            self.metrics.restarts.inc()
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._spawn(slot)
            except OSError as exc:
                if self._stopping:
                    return
                log.error("worker %d did not start: %s", slot.index, exc)
                slot.started = time.monotonic()  # counts as dying young

    def _update_gauges(self) -> None:
        self.metrics.workers.set(len(self.pids()))
        self.metrics.ready_workers.set(self.ready_workers)

    async def drain(self, drain_seconds: float) -> None:
        """SIGTERM every worker (each drains), wait, then kill what is left."""
        self._stopping = True
        for slot in self.slots:
            if slot.process is not None and slot.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    slot.process.send_signal(signal.SIGTERM)
        waits = [s.process.wait() for s in self.slots if s.process is not None]
        try:
            async with asyncio.timeout(drain_seconds + _STOP_MARGIN):
                await asyncio.gather(*waits)
        except TimeoutError:
            for slot in self.slots:
                if slot.process is not None and slot.process.returncode is None:
                    log.warning("worker %d did not stop: killing it", slot.index)
                    with contextlib.suppress(ProcessLookupError):
                        slot.process.kill()
                    await slot.process.wait()

    async def close(self) -> None:
        await self.drain(0)
        for slot in self.slots:
            if slot.task is not None:
                slot.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.task
            if slot.process is not None and slot.process.stdin is not None:
                slot.process.stdin.close()
        if self._reservation is not None:
            self._reservation.close()
        shutil.rmtree(self._dir, ignore_errors=True)


async def run_supervised(config: FrontdConfig) -> int:
    return await serve(config, Supervisor(config))
