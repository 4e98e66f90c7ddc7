"""Binding a daemon's listeners with errors that say which one failed and what to do.

"[Errno 98] address already in use" alone does not say which of four listeners failed, nor
why a port nobody listens on is taken. The usual reason for the latter: upstream's default
ports 40011/40012 (and any port from 32768 up) lie inside Linux's ephemeral range, from
which the kernel picks the local port of *outgoing* connections; one that happens to hold
the port (frontlas's own connection to Redis, say) makes the listener's bind fail, and
SO_REUSEADDR cannot help because that socket does not set it. `ListenError` names the
listener, its config key and environment override, and for such ports suggests reserving
them (``net.ipv4.ip_local_reserved_ports``), which removes them from the ephemeral range.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ListenError", "Listener", "bind", "ephemeral_range", "reserved_ports"]

_PROC = Path("/proc/sys/net/ipv4")


@dataclass(frozen=True)
class Listener:
    """What a listener is called in errors: ``edgebound`` / ``edgebound.listen.addr`` /
    ``FRONTIER_EDGEBOUND_PORT``."""

    name: str
    key: str
    env: str = ""


class ListenError(OSError):
    """A listener could not bind; the message says which, where, why, and what to try.
    An `OSError` (same errno) so callers that handle start-up failures still do."""

    def __init__(self, listener: Listener, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.listener = listener
        self.host = host
        self.port = port
        self.message = _explain(listener, host, port, cause)

    def __str__(self) -> str:
        return self.message


async def bind(listener: Listener, host: str | None, port: int, start: Awaitable[None]) -> None:
    """Await `start` (the listener's bind); an `OSError` becomes a `ListenError`."""
    try:
        await start
    except OSError as exc:
        raise ListenError(listener, host or "", port, exc) from exc


def _explain(listener: Listener, host: str, port: int, cause: OSError) -> str:
    where = f"{host}:{port}" if host else f"*:{port}"
    configured = f"{listener.key}" + (f", env {listener.env}" if listener.env else "")
    # asyncio's strerror repeats the address ("error while attempting to bind on ...")
    reason = os.strerror(cause.errno) if cause.errno else str(cause)
    text = f"the {listener.name} listener cannot bind {where} ({configured}): {reason}"
    if cause.errno == errno.EADDRINUSE:
        text += "; another process may listen there (ss -ltnp shows which)"
        low_high = ephemeral_range()
        if low_high and low_high[0] <= port <= low_high[1] and port not in reserved_ports():
            text += (
                f", or, since port {port} is inside this machine's ephemeral port range "
                f"{low_high[0]}-{low_high[1]}, an outgoing connection holds it (ss -tnp "
                f"'sport = :{port}'): reserve the port (sysctl -w "
                f"net.ipv4.ip_local_reserved_ports={port}, adding to any ports already "
                "listed there) or choose one outside the range"
            )
    elif cause.errno == errno.EACCES and 0 < port < 1024:
        text += "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
    elif cause.errno == errno.EADDRNOTAVAIL:
        text += f"; {host or 'that address'} is not an address of this machine"
    return text


def ephemeral_range(proc: Path = _PROC) -> tuple[int, int] | None:
    """``net.ipv4.ip_local_port_range`` (None where it cannot be read: not Linux)."""
    try:
        low, high = (int(x) for x in (proc / "ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return None
    return low, high


def reserved_ports(proc: Path = _PROC) -> set[int]:
    """``net.ipv4.ip_local_reserved_ports``: ``"30010-30012,40011"`` -> a set of ports."""
    try:
        text = (proc / "ip_local_reserved_ports").read_text().strip()
    except OSError:
        return set()
    ports: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        try:
            ports.update(range(int(low), int(high or low) + 1))
        except ValueError:
            continue
    return ports
