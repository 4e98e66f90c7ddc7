"""The entry's HTTP routing (Host and path prefix -> app) and access checks. Pure.

Routing picks, among the apps whose host and path match, the one with the most specific
host (an exact name, then the longest ``*.domain``, then any host) and then the longest
path prefix. A prefix matches whole segments: ``/app`` matches ``/app`` and ``/app/x``,
not ``/apple``.

Access: ``auth.client_cert`` is a requirement of its own (403 without a verified client
certificate); bearer tokens and basic-auth users are alternatives (any one admits; 401
with a challenge naming the configured schemes otherwise). Secrets are compared in
constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    from .config import Auth

__all__ = [
    "Denial",
    "RouteTable",
    "check_auth",
    "check_source",
    "normalise_host",
    "normalise_path",
    "request_host",
]

_HOST: Final = re.compile(
    r"(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
)

T = TypeVar("T")


def normalise_host(host: str) -> str:
    """A route's host: lower case, no trailing dot; ``""`` (any) or ``*.domain``."""
    host = host.strip().lower().rstrip(".")
    if host and not _HOST.fullmatch(host):
        raise ValueError(f"host {host!r}: a DNS name, *.domain, or empty for any")
    return host


def normalise_path(path: str) -> str:
    """A route's path prefix: starts with ``/``, no trailing ``/`` (but ``/`` itself)."""
    if not path.startswith("/") or any(c in path for c in "?#") or not path.isprintable():
        raise ValueError(f"path {path!r}: a prefix starting with '/', without ? or #")
    return path.rstrip("/") or "/"


def request_host(header: str | None) -> str:
    """The Host header without its port, lower case, no trailing dot."""
    if not header:
        return ""
    host = header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def path_matches(prefix: str, path: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class _Route(Generic[T]):
    host: str
    path: str
    value: T

    def score(self, host: str, path: str) -> tuple[int, int] | None:
        if not path_matches(self.path, path):
            return None
        if not self.host:
            rank = 0
        elif self.host.startswith("*."):
            if not host.endswith(self.host[1:]) or host == self.host[2:]:
                return None
            rank = len(self.host)
        elif host == self.host:
            rank = 1 << 16
        else:
            return None
        return rank, len(self.path)


class RouteTable(Generic[T]):
    """(host, path prefix) -> value, for a few hundred apps at most (a linear scan)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], _Route[T]] = {}

    def add(self, host: str, path: str, value: T) -> None:
        key = (normalise_host(host), normalise_path(path))
        if key in self._routes:
            raise ValueError(f"another app routes host {host!r} path {path!r}")
        self._routes[key] = _Route(key[0], key[1], value)

    def remove(self, host: str, path: str) -> None:
        self._routes.pop((normalise_host(host), normalise_path(path)), None)

    def match(self, host: str, path: str) -> T | None:
        best: tuple[int, int] | None = None
        found: T | None = None
        for route in self._routes.values():
            score = route.score(host, path)
            if score is not None and (best is None or score > best):
                best, found = score, route.value
        return found

    def __len__(self) -> int:
        return len(self._routes)


@dataclass(frozen=True, slots=True)
class Denial:
    status: int
    reason: str
    """For metrics and logs: ``source``, ``client_cert``, ``missing_credentials``,
    ``bad_credentials``."""
    text: str
    challenge: str = ""


def check_source(allow_from: Iterable[str], peer: str | None) -> Denial | None:
    """`peer` (an IP address) against the app's client networks (none: anyone)."""
    networks = tuple(allow_from)
    if not networks:
        return None
    try:
        ip = ipaddress.ip_address((peer or "").split("%", 1)[0])
    except ValueError:
        return Denial(403, "source", "your address is not allowed")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for text in networks:
        net = ipaddress.ip_network(text, strict=False)
        if ip.version == net.version and ip in net:
            return None
    return Denial(403, "source", "your address is not allowed")


def check_auth(auth: Auth, authorization: str | None, *, client_cert: bool) -> Denial | None:
    """None to admit; else the answer (401 with a challenge, or 403)."""
    if auth.client_cert and not client_cert:
        return Denial(403, "client_cert", "a client certificate is required")
    if not (auth.bearer_tokens or auth.basic):
        return None
    schemes = []
    if auth.bearer_tokens:
        schemes.append(f'Bearer realm="{auth.realm}"')
    if auth.basic:
        schemes.append(f'Basic realm="{auth.realm}", charset="UTF-8"')
    challenge = ", ".join(schemes)
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials:
        return Denial(401, "missing_credentials", "credentials required", challenge)
    if scheme.lower() == "bearer" and auth.bearer_tokens:
        given = credentials.encode()
        # every token is compared, so timing does not tell which one came close
        matched = [hmac.compare_digest(given, token.encode()) for token in auth.bearer_tokens]
        if any(matched):
            return None
    elif scheme.lower() == "basic" and auth.basic:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Denial(401, "bad_credentials", "malformed basic credentials", challenge)
        user, sep, password = decoded.partition(":")
        if sep:
            matched = [
                hmac.compare_digest(user.encode(), entry.user.encode())
                & hmac.compare_digest(password.encode(), entry.password.encode())
                for entry in auth.basic
            ]
            if any(matched):
                return None
    return Denial(401, "bad_credentials", "invalid credentials", challenge)
