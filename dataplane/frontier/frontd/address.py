"""The decrypted backend address: ``host:port`` (``[v6]:port`` too), checked strictly.

A plaintext that is not a well-formed address counts as a failed decryption (status 401):
this is also what tells a wrong key derivation apart from the right one (see
`frontier.frontd.cipher.decrypt`). Pure.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Final

__all__ = ["Backend", "parse_backend"]

# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, each at
# most 63 characters, 253 in all; a trailing dot (absolute name) is allowed. Underscores
# are accepted too, as resolvers do (SRV-style and some internal names use them).
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME: Final = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


@dataclass(frozen=True, slots=True)
class Backend:
    host: str
    """An IP literal (no brackets) or a host name to resolve."""
    port: int

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an address when it is an IP literal, else None (a name)."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_backend(plaintext: bytes) -> Backend:
    """`Backend` from ``host:port`` bytes; `ValueError` for anything else (non-ASCII,
    whitespace, a missing or out-of-range port, a malformed name or address)."""
    try:
        text = plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("the address is not ASCII") from None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or len(port) > 5 or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        try:
            return Backend(str(ipaddress.IPv6Address(host[1:-1])), int(port))
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    try:
        return Backend(str(ipaddress.IPv4Address(host)), int(port))
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.fullmatch(host) or _numeric(host):
        raise ValueError(f"{host!r} is not a host name or IPv4 address")
    return Backend(host.lower(), int(port))


def _numeric(host: str) -> bool:
    """Forms the resolver reads as an IPv4 address (``127.1``, ``0x7f000001``, ``2130706433``):
    not names, and only dotted quads are addresses here."""
    try:
        socket.inet_aton(host)
    except OSError:
        return host.replace(".", "").isdigit()
    return True
