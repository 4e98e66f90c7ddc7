"""``host:port`` strings from the configuration, for clients that want them split."""

from __future__ import annotations

from ..config import ConfigError

__all__ = ["host_port"]


def host_port(addr: str, default_port: int, where: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` to (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or (":" in host and not host.startswith("[")):
        return addr.strip("[]"), default_port  # no port (or a bare IPv6 address)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: {addr!r} is not host:port")
    return host.strip("[]"), int(port)
