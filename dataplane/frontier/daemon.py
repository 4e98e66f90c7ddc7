"""What the `frontier` and `frontlas` commands share: flags, config loading, logging, the
event loop, and exit codes (2 for a configuration error, 1 when it cannot start).

Flags as upstream (`--config`, `--loglevel`, `--log-format`) plus `--print-default-config`;
for logging, flag > environment > file > default, as upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from .logs import configure_logging
from .strict_yaml import ConfigError

__all__ = ["daemon_main", "daemon_parser", "on_stop_signals"]


class _LogSettings(Protocol):
    @property
    def level(self) -> str: ...
    @property
    def format(self) -> Literal["text", "json"]: ...


class _Config(Protocol):
    @property
    def log(self) -> _LogSettings: ...


C = TypeVar("C", bound=_Config)


def on_stop_signals(callback: Callable[[], None]) -> None:
    """Call `callback` on SIGTERM or SIGINT instead of dying (replacing an earlier one).

    Installed before start-up, not after: Kubernetes may send SIGTERM at any moment (a
    rollout, a scale-down), and one that lands while the listeners are being opened must
    still be a clean stop (exit 0, listeners closed), not the default action."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # NotImplementedError/RuntimeError: no signal handlers here (not on Linux)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, callback)


def daemon_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
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


def daemon_main(
    argv: Sequence[str] | None,
    parser: argparse.ArgumentParser,
    *,
    default_yaml: Callable[[], str],
    load: Callable[[str | Path | None, Mapping[str, str]], C],
    run: Callable[[C], Coroutine[Any, Any, int]],
) -> int:
    args = parser.parse_args(argv)
    prog = parser.prog
    if args.print_default_config:
        sys.stdout.write(default_yaml())
        return 0
    try:
        config = load(args.config, os.environ)
    except ConfigError as exc:
        print(f"{prog}: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.loglevel or config.log.level, args.log_format or config.log.format)
    runner: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    try:
        return runner(run(config))
    except ConfigError as exc:
        print(f"{prog}: config error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: cannot start: {exc}", file=sys.stderr)
        return 1
