"""What the `frontier` and `frontlas` commands share: flags, config loading, logging, the
event loop, and exit codes (2 for a configuration error, 1 when it cannot start).

Flags as upstream (`--config`, `--loglevel`, `--log-format`) plus `--print-default-config`,
`--log-level` (the spelling of `--log-format`'s family, same as `--loglevel`) and `--version`;
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

from . import __version__
from .logs import configure_logging
from .strict_yaml import ConfigError

__all__ = ["daemon_main", "daemon_parser", "on_stop_signals", "stop_event"]


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="FILE", help="YAML config (default: built-in)")
    parser.add_argument(
        "--log-level",
        "--loglevel",
        dest="loglevel",
        choices=("debug", "info", "warn", "warning", "error"),
        default=None,
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
    overrides: Callable[[argparse.Namespace, C], C] | None = None,
) -> int:
    """Parse `argv`, load the config (then `overrides`: a command's own flags over it), set
    up logging and run `run(config)` on uvloop; the exit code."""
    args = parser.parse_args(argv)
    prog = parser.prog
    if args.print_default_config:
        sys.stdout.write(default_yaml())
        return 0
    try:
        config = load(args.config, os.environ)
        if overrides is not None:
            config = overrides(args, config)
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


def stop_event(on_second: Callable[[], None]) -> asyncio.Event:
    """An event the first SIGTERM/SIGINT sets; a second signal calls `on_second` (a daemon
    that drains uses it to give up the drain and exit at once)."""
    stop = asyncio.Event()

    def first() -> None:
        stop.set()
        on_stop_signals(on_second)

    on_stop_signals(first)
    return stop
