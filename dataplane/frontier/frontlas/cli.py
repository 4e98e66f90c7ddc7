"""The `frontlas` command: load the config, run frontlas until SIGTERM/SIGINT.

Flags as frontier's (`frontier.daemon`: `--config`, `--log-level`, `--log-format`, `--version`...).
Without `--config`: the embedded defaults (Redis on 127.0.0.1:6379, env overrides apply).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ..daemon import daemon_main, daemon_parser, freeze_startup_objects, on_stop_signals
from .app import Frontlas
from .config import FrontlasConfig, default_config_yaml, load_config

__all__ = ["main"]

log = logging.getLogger("frontier.frontlas")


async def _run(config: FrontlasConfig) -> int:
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    frontlas = Frontlas(config)
    await frontlas.start()
    freeze_startup_objects()
    try:
        await stop.wait()
        log.info("signal received: stopping")
    finally:
        await frontlas.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = daemon_parser(
        "frontlas", "frontlas cluster coordinator: cluster API on :40011, frontiers on :40012."
    )
    return daemon_main(argv, parser, default_yaml=default_config_yaml, load=load_config, run=_run)


if __name__ == "__main__":
    raise SystemExit(main())
