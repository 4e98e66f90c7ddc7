"""``host:port`` parsing shared by the daemons' listeners and dialers.

At the package top level so that a command can use it without importing the gateway
package (whose ``__init__`` loads the whole gateway): frontd's worker processes start in a
fraction of the time without it.
"""

from __future__ import annotations

from .strict_yaml import ConfigError

__all__ = ["split_addr"]


def split_addr(addr: str, where: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) to (host, port); an empty host means every address."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{where}: {addr!r} is not host:port")
    host = host.strip("[]")
    return host, int(port)
