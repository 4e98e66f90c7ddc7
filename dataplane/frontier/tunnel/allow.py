"""What a connector lets the entry reach: its allowlist. Pure.

The connector is the last line of defence of the private network: whatever the entry (or
someone who stole its token) asks for, only what the connector's owner listed is dialed.
There is no permissive default: with no rules nothing is reachable.

Rules, each with an optional port list (``:22``, ``:80,443``, ``:8000-8100``; none: every
port):

- **addresses**: ``CIDR[:PORTS]`` (``192.168.1.0/24:80,443``, ``10.0.0.5:22``,
  ``[fd00::/8]:443``), as frontd's ``--allow``;
- **names**: ``HOST[:PORTS]`` (``nas.lan:5000``) or ``*.DOMAIN[:PORTS]`` (``*.lan:80``:
  every name under ``lan``, not ``lan`` itself).

A request names ``host:port``. An address is allowed when an address rule matches it. A
name is resolved by the connector, and each resolved address is allowed when an address
rule matches it, or when a name rule matches the name *and* the address is not one of
those that reach the connector's own host or its cloud's metadata service (loopback,
link-local, 169.254.169.254, ...: `frontier.netrules.DEFAULT_DENIED`); only allowed
addresses are dialed, by address, so DNS cannot swap the target between the check and the
connection. A name allowed by a rule but resolving to loopback therefore needs an address
rule too (``127.0.0.1:8000``): DNS answers are not trusted to point inside the host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ..netrules import IPAddress, Rule, format_ports, is_denied_by_default, parse_ports, parse_rule
from ..netrules import unmapped as unmapped_ip

__all__ = ["ConnectorAllowlist", "NameRule"]

_NAME: Final = re.compile(
    r"(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
)


@dataclass(frozen=True, slots=True)
class NameRule:
    name: str
    """Lower case, no trailing dot; ``*.domain`` for every name under domain."""
    ports: tuple[tuple[int, int], ...] = ()

    def matches(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        if self.name.startswith("*."):
            if not host.endswith(self.name[1:]) or host == self.name[2:]:
                return False
        elif host != self.name:
            return False
        return not self.ports or any(low <= port <= high for low, high in self.ports)

    def __str__(self) -> str:
        return f"{self.name}:{format_ports(self.ports)}" if self.ports else self.name


def _parse(text: str) -> Rule | NameRule:
    text = text.strip()
    try:
        return parse_rule(text)
    except ValueError as exc:
        address_error = exc
    name, _, ports = text.partition(":")
    name = name.lower().rstrip(".")
    if not _NAME.fullmatch(name) or name.replace(".", "").replace("*", "").isdigit():
        raise ValueError(f"{text!r} is neither CIDR[:PORTS] nor HOST[:PORTS] ({address_error})")
    if ":" in text and not ports:
        raise ValueError(f"{text!r}: empty port list")
    return NameRule(name, parse_ports(ports, text))


class ConnectorAllowlist:
    __slots__ = ("addresses", "names")

    def __init__(self, rules: Iterable[Rule | NameRule] = ()) -> None:
        rules = tuple(rules)
        self.addresses: Sequence[Rule] = tuple(r for r in rules if isinstance(r, Rule))
        self.names: Sequence[NameRule] = tuple(r for r in rules if isinstance(r, NameRule))

    @classmethod
    def parse(cls, texts: Iterable[str]) -> ConnectorAllowlist:
        """`ValueError` naming the first rule that does not parse."""
        return cls(_parse(text) for text in texts)

    @property
    def empty(self) -> bool:
        return not self.addresses and not self.names

    def allows_address(self, ip: IPAddress, port: int) -> bool:
        ip = unmapped_ip(ip)
        return any(rule.matches(ip, port) for rule in self.addresses)

    def may_allow_name(self, host: str, port: int) -> bool:
        """Whether resolving `host` could lead anywhere: a name rule matches, or an address
        rule covers `port` (names no rule could allow are refused without a DNS lookup)."""
        if any(rule.matches(host, port) for rule in self.names):
            return True
        return any(
            not r.ports or any(lo <= port <= hi for lo, hi in r.ports) for r in self.addresses
        )

    def allowed_addresses(
        self, host: str, port: int, resolved: Iterable[IPAddress]
    ) -> list[IPAddress]:
        """The addresses of `resolved` that may be dialed for ``host:port`` (`host` being
        the name they were resolved from; for an address, pass it as `resolved`)."""
        named = any(rule.matches(host, port) for rule in self.names)
        allowed: list[IPAddress] = []
        for ip in resolved:
            ip = unmapped_ip(ip)
            if self.allows_address(ip, port) or (named and not is_denied_by_default(ip)):
                allowed.append(ip)
        return allowed

    def describe(self) -> str:
        if self.empty:
            return "nothing (no allow rules: the entry can reach nothing through this connector)"
        return ", ".join(str(rule) for rule in (*self.addresses, *self.names))


def address_of(host: str) -> IPAddress | None:
    """`host` as an IP address, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
