"""``host:port`` parsing shared by the gateway's listeners and its frontlas link."""

from __future__ import annotations

from ..strict_yaml import ConfigError

__all__ = ["split_addr"]


def split_addr(addr: str, where: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) to (host, port); an empty host means every address."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{where}: {addr!r} is not host:port")
    host = host.strip("[]")
    return host, int(port)
