"""What the `frontier` and `frontlas` commands share: flags, config loading, logging, the
event loop, and exit codes (2 for a configuration error, 1 when it cannot start).

Flags: `--config`, `--log-level` (upstream's `--loglevel` too), `--log-format`,
`--log-output`, `--log-file` (as upstream), `--print-default-config` and `--version`
(`frontier.cli_flags`, spelled the same by every command); for logging,
flag > environment > file > default, as upstream. A command adds its own flags to the
parser and applies them over the loaded config with `overrides` (frontd's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from .cli_flags import add_log_flags, add_version_flag, choice
from .logs import OUTPUTS, LogFileSettings, configure_logging
from .strict_yaml import ConfigError
from .version import version_line

__all__ = [
    "GC_THRESHOLDS",
    "daemon_main",
    "daemon_parser",
    "freeze_startup_objects",
    "on_stop_signals",
    "stop_event",
    "tune_gc",
]

GC_THRESHOLDS = (20_000, 50, 100)
"""The cyclic collector's thresholds for a long-running daemon (CPython's are 700, 10,
10). Connections are freed by reference counting (they form no cycles), so the collector
has little to find, but with the defaults it traversed every live object (30 per idle
edge) whenever their number had grown by a quarter: a third of the CPU it took to admit
10,000 edges. A young collection every 20,000 allocations still bounds what cyclic
garbage there is to a few MB."""


def tune_gc() -> None:
    """Collect less often (see `GC_THRESHOLDS`)."""
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup_objects() -> None:
    """Once started: move everything alive now (modules, classes, the configuration) out
    of the collector's sight for good; full collections then walk only what came later."""
    gc.collect()
    gc.freeze()


class _LogFile(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def max_size(self) -> int: ...
    @property
    def max_backups(self) -> int: ...
    @property
    def max_age(self) -> int: ...
    @property
    def compress(self) -> bool: ...


class _LogSettings(Protocol):
    @property
    def level(self) -> str: ...
    @property
    def format(self) -> Literal["text", "json"]: ...
    @property
    def output(self) -> Literal["stdout", "stderr", "file", "both"]: ...
    @property
    def file(self) -> _LogFile: ...


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
    add_log_flags(
        parser,
        level_help="; over env LOG_LEVEL and log.level",
        format_help="; over env LOG_FORMAT and log.format",
    )
    parser.add_argument(
        "--log-output",
        type=choice(OUTPUTS),
        default=None,
        metavar="OUTPUT",
        help=f"{'|'.join(OUTPUTS)}; over env LOG_OUTPUT and log.output",
    )
    parser.add_argument(
        "--log-file",
        default=None,
        metavar="PATH",
        help="the log file for output file or both; over env LOG_FILE and log.file.path",
    )
    parser.add_argument(
        "--print-default-config",
        action="store_true",
        help="print the full default config, every key documented, and exit",
    )
    add_version_flag(parser)
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
    log = config.log
    try:
        configure_logging(
            args.log_level or log.level,
            args.log_format or log.format,
            output=args.log_output or log.output,
            file=LogFileSettings(
                path=args.log_file or log.file.path,
                max_size=log.file.max_size,
                max_backups=log.file.max_backups,
                max_age=log.file.max_age,
                compress=log.file.compress,
            ),
        )
    except OSError as exc:
        print(f"{prog}: cannot open the log file: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("frontier.daemon").info("%s", version_line(prog))
    tune_gc()
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
