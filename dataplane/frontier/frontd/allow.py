"""Which backend addresses frontd may connect to: the allowlist and its safe default.

A leaked secret lets anyone mint ciphertexts; the allowlist is what keeps them from reaching
arbitrary hosts through the gateway. With rules (``--allow CIDR[:PORTS]``, repeatable) only
the listed networks and ports are reachable. Without any (zero configuration, as the
original frontd) every address is allowed except those that reach the gateway host itself
or its cloud control plane (`frontier.netrules.DEFAULT_DENIED`: loopback, "this host",
link-local with the metadata service at 169.254.169.254, and the metadata addresses
outside it). IPv4-mapped and -compatible IPv6 forms are checked as the IPv4 address they
carry. The caller checks *resolved* addresses (never a name) and connects to exactly the
address it checked, so DNS cannot swap the target in between. Pure; the rules themselves
live in `frontier.netrules`, shared with the tunnel connector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..netrules import (
    DEFAULT_DENIED,
    IPAddress,
    IPNetwork,
    Rule,
    is_denied_by_default,
    parse_rule,
    unmapped,
)

__all__ = ["DEFAULT_DENIED", "Allowlist", "IPAddress", "IPNetwork", "Rule", "parse_rule"]


class Allowlist:
    """`allows(ip, port)`: with rules, whether one matches; without, whether the address
    is outside `DEFAULT_DENIED`."""

    __slots__ = ("rules",)

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: Sequence[Rule] = tuple(rules)

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Allowlist:
        return cls(parse_rule(text) for text in texts)

    @property
    def is_default(self) -> bool:
        return not self.rules

    def allows(self, ip: IPAddress, port: int) -> bool:
        if self.rules:
            ip = unmapped(ip)
            return any(rule.matches(ip, port) for rule in self.rules)
        return not is_denied_by_default(ip)

    def describe(self) -> str:
        if self.rules:
            return "allowed backends: " + ", ".join(str(rule) for rule in self.rules)
        return "every backend except " + ", ".join(str(net) for net in DEFAULT_DENIED)
