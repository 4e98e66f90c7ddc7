"""The ``frontier-tunnel`` command: ``serve`` (the entry) and ``connect`` (a connector).

Each subcommand is a daemon with the flags every command of the project shares
(``--config``, ``--log-level``, ``--log-format``, ``--log-output``, ``--log-file``,
``--print-default-config``, ``--version``) plus its own. Exit codes: 0 stopped by a
signal, 1 cannot start (a port in use), 2 bad configuration or usage. The first SIGTERM
drains (listeners close, open connections get ``daemon.drain_seconds``), a second exits at
once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from prometheus_client.registry import CollectorRegistry

from ..addr import split_addr
from ..cli_flags import add_version_flag
from ..daemon import daemon_main, daemon_parser, stop_event
from ..httpserve import HttpListener
from ..listen import Listener, bind
from .config import (
    MIN_TOKEN,
    ConnectorConfig,
    EntryConfig,
    Observability,
    apply_connector_flags,
    apply_entry_flags,
    connector_default_yaml,
    entry_default_yaml,
    load_connector_config,
    load_entry_config,
)

__all__ = ["main"]

log = logging.getLogger("frontier.tunnel")

_DESCRIPTION = (
    "frontier-tunnel: reach TCP, HTTP and WebSocket apps on a private network through a "
    "frontier gateway, with no inbound port there. 'serve' runs the entry (publishes the "
    "apps), 'connect' runs a connector on the private side."
)


class _Daemon(Protocol):
    def ready(self) -> bool: ...
    def ports(self) -> dict[str, int]: ...
    async def start(self) -> None: ...
    async def drain(self, seconds: float) -> None: ...
    async def close(self) -> None: ...


def _serve_parser() -> argparse.ArgumentParser:
    parser = daemon_parser("frontier-tunnel serve", "The entry: publishes apps behind connectors.")
    add = parser.add_argument
    add("--gateway", action="append", metavar="HOST:PORT", help="servicebound address(es)")
    add("--frontlas", metavar="HOST:PORT", help="cluster mode: frontlas's cluster API")
    add("--http", metavar="HOST:PORT", help="the HTTP front's address ('' turns it off)")
    add("--api", metavar="HOST:PORT", help="the REST API's address ('' turns it off)")
    add("--observability", metavar="HOST:PORT", help="/healthz /readyz /metrics ('' off)")
    return parser


def _connect_parser() -> argparse.ArgumentParser:
    parser = daemon_parser("frontier-tunnel connect", "A connector on the private side.")
    add = parser.add_argument
    add("--gateway", action="append", metavar="HOST:PORT", help="edgebound address(es)")
    add("--name", help="the connector's name, as the entry lists it")
    add("--token-file", metavar="PATH", help="a file holding the token")
    add("--allow", action="append", metavar="RULE", help="CIDR[:PORTS] or HOST[:PORTS], repeatable")
    add("--observability", metavar="HOST:PORT", help="/healthz /readyz /metrics ('' off)")
    return parser


async def _observability(
    settings: Observability, ready: Callable[[], bool], registry: CollectorRegistry
) -> HttpListener | None:
    if not settings.enable:
        return None
    from ..gateway.observability import build_observability_app  # the shared side door

    host, port = split_addr(settings.addr, "observability.addr")
    listener = HttpListener(build_observability_app(ready=ready, registry=registry), host, port)
    await bind(Listener("observability", "observability.addr"), host, port, listener.start())
    return listener


async def _live(
    name: str,
    daemon: _Daemon,
    settings: Observability,
    registry: CollectorRegistry,
    drain_seconds: float,
    extra: Callable[[], Awaitable[dict[str, HttpListener]]] | None = None,
) -> int:
    """A daemon's whole life: listeners, serve until a signal, drain, close. The "up" line
    names every listening port (tests and scripts read them when asking for port 0)."""
    stop = stop_event(_exit_now)
    listeners: dict[str, HttpListener] = {}
    try:
        observability = await _observability(settings, daemon.ready, registry)
        if observability is not None:
            listeners["observability"] = observability
        await daemon.start()
        if extra is not None:
            listeners.update(await extra())
        ports = {label: listener.port for label, listener in listeners.items()}
        ports.update(daemon.ports())
        shown = ", ".join(f"{label} :{port}" for label, port in ports.items())
        log.info("%s up%s", name, f": {shown}" if shown else "")
        await stop.wait()
        log.info("signal received: draining for up to %.1f s", drain_seconds)
        await daemon.drain(drain_seconds)
    finally:
        await daemon.close()
        for listener in listeners.values():
            await listener.close()
    log.info("%s stopped", name)
    return 0


def _exit_now() -> None:
    log.warning("second signal: exiting without finishing the drain")
    os._exit(1)


async def _run_entry(config: EntryConfig) -> int:
    from .api import build_api
    from .entry import Entry

    for entry in config.connectors:
        if len(entry.token) < MIN_TOKEN:
            log.warning(
                "connector %r: its token is shorter than %d characters", entry.name, MIN_TOKEN
            )
    if not config.connectors:
        log.warning("no connectors configured: no connector can connect (see connectors:)")
    daemon = Entry(config)

    async def api() -> dict[str, HttpListener]:
        if not config.api.enable:
            return {}
        if not config.api.token:
            log.warning("the API has no token (api.token): anyone who reaches %s may "
                        "publish apps", config.api.addr)  # fmt: skip
        host, port = split_addr(config.api.addr, "api.addr")
        listener = HttpListener(build_api(daemon, config.api.token), host, port)
        await bind(Listener("api", "api.addr"), host, port, listener.start())
        return {"api": listener}

    return await _live(
        "frontier-tunnel entry",
        daemon,
        config.observability,
        daemon.metrics.registry,
        config.daemon.drain_seconds,
        api,
    )


async def _run_connector(config: ConnectorConfig) -> int:
    from .connector import Connector

    if len(config.token) < MIN_TOKEN:
        log.warning("the token is shorter than %d characters", MIN_TOKEN)
    daemon = Connector(config)
    if daemon.allowlist.empty:
        log.warning("no allow rules: the entry can reach nothing through this connector "
                    "(give allow: or --allow)")  # fmt: skip
    return await _live(
        f"frontier-tunnel connector {config.name!r}",
        daemon,
        config.observability,
        daemon.metrics.registry,
        config.daemon.drain_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        return daemon_main(
            args[1:],
            _serve_parser(),
            default_yaml=entry_default_yaml,
            load=load_entry_config,
            run=_run_entry,
            overrides=apply_entry_flags,
        )
    if args and args[0] == "connect":
        return daemon_main(
            args[1:],
            _connect_parser(),
            default_yaml=connector_default_yaml,
            load=load_connector_config,
            run=_run_connector,
            overrides=apply_connector_flags,
        )
    parser = argparse.ArgumentParser(prog="frontier-tunnel", description=_DESCRIPTION)
    add_version_flag(parser)
    commands = parser.add_subparsers(dest="command", metavar="{serve,connect}")
    commands.add_parser("serve", help="run the entry (frontier-tunnel serve --help)")
    commands.add_parser("connect", help="run a connector (frontier-tunnel connect --help)")
    parsed = parser.parse_args(args)
    if parsed.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 2  # pragma: no cover - serve and connect are handled above


if __name__ == "__main__":
    raise SystemExit(main())
