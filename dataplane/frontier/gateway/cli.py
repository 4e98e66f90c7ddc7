"""The `frontier` command: load the config, run the gateway, drain on SIGTERM.

Flags as upstream (`--config`, `--loglevel`, `--log-format`), plus `--print-default-config`.
Precedence for logging is flag > environment > file > default, as upstream. Without
`--config` the gateway runs standalone with the embedded defaults (no Redis, no frontlas).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..logs import configure_logging
from .app import Gateway
from .config import ConfigError, FrontierConfig, default_config_yaml, load_config

__all__ = ["main"]

log = logging.getLogger("frontier")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontier",
        description="Frontier gateway: services on :30011, edges on :30012 (geminio).",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML config (default: built-in)")
    parser.add_argument(
        "--loglevel", choices=("debug", "info", "warn", "warning", "error"), default=None
    )
    parser.add_argument("--log-format", choices=("text", "json"), default=None)
    parser.add_argument(
        "--print-default-config",
        action="store_true",
        help="print the full default config, every key documented, and exit",
    )
    return parser


async def _run(config: FrontierConfig) -> int:
    gateway = Gateway(config)
    await gateway.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            signals.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Linux
            pass
    try:
        await stop.wait()
        log.info("signal received: draining for up to %.1f s", config.daemon.drain_seconds)
        for sig in signals:  # a second signal ends the drain at once
            loop.add_signal_handler(sig, _exit_now)
        await gateway.drain()
    finally:
        await gateway.close()
    log.info("frontier stopped")
    return 0


def _exit_now() -> None:
    log.warning("second signal: exiting without finishing the drain")
    os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.print_default_config:
        sys.stdout.write(default_config_yaml())
        return 0
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as exc:
        print(f"frontier: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.loglevel or config.log.level, args.log_format or config.log.format)
    run: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    try:
        return run(_run(config))
    except ConfigError as exc:
        print(f"frontier: config error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"frontier: cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
