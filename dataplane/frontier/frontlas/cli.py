"""The `frontlas` command: load the config, run frontlas until SIGTERM/SIGINT.

Flags as frontier (`--config`, `--loglevel`, `--log-format`, `--print-default-config`).
Without `--config`: the embedded defaults (Redis on 127.0.0.1:6379, env overrides apply).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from ..logs import configure_logging
from ..strict_yaml import ConfigError
from .app import Frontlas
from .config import FrontlasConfig, default_config_yaml, load_config

__all__ = ["main"]

log = logging.getLogger("frontier.frontlas")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontlas",
        description="frontlas cluster coordinator: cluster API on :40011, frontiers on :40012.",
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


async def _run(config: FrontlasConfig) -> int:
    frontlas = Frontlas(config)
    await frontlas.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("signal received: stopping")
    finally:
        await frontlas.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.print_default_config:
        sys.stdout.write(default_config_yaml())
        return 0
    try:
        config = load_config(args.config, os.environ)
    except ConfigError as exc:
        print(f"frontlas: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.loglevel or config.log.level, args.log_format or config.log.format)
    try:
        import uvloop

        return uvloop.run(_run(config))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(_run(config))
    except ConfigError as exc:
        print(f"frontlas: config error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"frontlas: cannot start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
