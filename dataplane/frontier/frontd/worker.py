"""A supervised worker process: ``python -m frontier.frontd.worker INDEX``.

The supervisor writes the resolved configuration (secret included) as one JSON line to the
worker's stdin, and keeps stdin open: end of file there means the supervisor is gone
(killed, crashed), and the worker drains and exits rather than serve unsupervised. The
worker binds the shared port with SO_REUSEPORT, then prints ``ready PORT`` on stdout.
Its metrics go to prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set
by the supervisor), which the supervisor's ``/metrics`` sums.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..daemon import stop_event
from ..logs import configure_logging
from .config import FrontdConfig, from_json
from .metrics import FrontdMetrics
from .server import Worker

__all__ = ["main"]


async def serve(config: FrontdConfig, index: int) -> int:
    log = logging.getLogger(f"frontier.frontd.worker.{index}")
    stop = stop_event(lambda: os._exit(1))  # a second signal: no drain
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)

    def supervisor_gone() -> None:
        with contextlib.suppress(BlockingIOError):
            if os.read(stdin, 4096):
                return
        loop.remove_reader(stdin)
        if not stop.is_set():
            log.warning("the supervisor is gone: draining and exiting")
            stop.set()

    loop.add_reader(stdin, supervisor_gone)
    worker = Worker(config, FrontdMetrics())
    try:
        await worker.start()
        print(f"ready {worker.port}", flush=True)
        await stop.wait()
        await worker.drain(config.daemon.drain_seconds)
    finally:
        loop.remove_reader(stdin)
        await worker.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    index = int(args[0]) if args else 0
    try:
        config = from_json(sys.stdin.readline())
    except ValueError as exc:
        print(
            f"frontd worker {index}: bad configuration from the supervisor: {exc}", file=sys.stderr
        )
        return 2
    # never a file here (validated): the supervisor's stdout or stderr
    configure_logging(
        config.log.level,
        config.log.format,
        output="stderr" if config.log.output == "stderr" else "stdout",
    )
    runner: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run
    with contextlib.suppress(ImportError):  # uvloop is a dependency on Linux
        import uvloop

        runner = uvloop.run
    try:
        return runner(serve(config, index))
    except OSError as exc:
        print(f"frontd worker {index}: cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
