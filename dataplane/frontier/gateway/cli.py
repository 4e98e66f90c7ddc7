"""The `frontier` command: load the config, run the gateway, drain on SIGTERM.

Flags: those of `frontier.daemon` (`--config`, `--log-level` or upstream's `--loglevel`,
`--log-format`, `--log-output`, `--log-file`, `--print-default-config`, `--version`).
Precedence for logging is flag > environment > file > default, as upstream. Without
`--config` the gateway runs standalone with the embedded defaults (no Redis, no frontlas).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

from ..daemon import daemon_main, daemon_parser, freeze_startup_objects, on_stop_signals
from ..memory import trim_periodically
from .app import Gateway
from .config import FrontierConfig, default_config_yaml, load_config

__all__ = ["main"]

log = logging.getLogger("frontier")


async def _run(config: FrontierConfig) -> int:
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    gateway = Gateway(config)
    await gateway.start()
    freeze_startup_objects()
    trimming = asyncio.get_running_loop().create_task(trim_periodically())
    try:
        await stop.wait()
        log.info("signal received: draining for up to %.1f s", config.daemon.drain_seconds)
        on_stop_signals(_exit_now)  # a second signal ends the drain at once
        await gateway.drain()
    finally:
        trimming.cancel()
        await gateway.close()
    log.info("frontier stopped")
    return 0


def _exit_now() -> None:
    log.warning("second signal: exiting without finishing the drain")
    os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = daemon_parser(
        "frontier", "Frontier gateway: services on :30011, edges on :30012 (geminio)."
    )
    return daemon_main(argv, parser, default_yaml=default_config_yaml, load=load_config, run=_run)


if __name__ == "__main__":
    raise SystemExit(main())
