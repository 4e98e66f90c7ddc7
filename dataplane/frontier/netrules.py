"""Network rules shared by the daemons that dial on a peer's behalf (frontd, the tunnel
connector): ``CIDR[:PORTS]`` rules, the addresses that reach the local host or its cloud
control plane, and IPv4-mapped IPv6 addresses seen as the IPv4 address they carry.

At the package top level so that neither daemon imports the other's internals. Pure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_DENIED",
    "IPAddress",
    "IPNetwork",
    "Rule",
    "is_denied_by_default",
    "parse_ports",
    "parse_rule",
    "unmapped",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DENIED: Final[tuple[IPNetwork, ...]] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",  # loopback
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches the local host
        "169.254.0.0/16",  # link-local, with the metadata service at 169.254.169.254
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "::1/128",
        "::/128",
        "fe80::/10",  # link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
    )
)
"""Loopback, "this host", link-local (which holds 169.254.169.254, the instance metadata
service of AWS, GCP, Azure and others) and the metadata addresses outside it."""


@dataclass(frozen=True, slots=True)
class Rule:
    network: IPNetwork
    ports: tuple[tuple[int, int], ...] = ()
    """Inclusive port ranges; empty means every port."""

    def matches(self, ip: IPAddress, port: int) -> bool:
        if ip.version != self.network.version or ip not in self.network:
            return False
        return not self.ports or any(low <= port <= high for low, high in self.ports)

    def __str__(self) -> str:
        if not self.ports:
            return str(self.network)
        net = f"[{self.network}]" if self.network.version == 6 else str(self.network)
        return f"{net}:{format_ports(self.ports)}"


def format_ports(ports: tuple[tuple[int, int], ...]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def parse_rule(text: str) -> Rule:
    """``CIDR[:PORTS]``: ``10.0.0.0/8``, ``10.1.2.3:443``, ``192.168.0.0/16:80,8000-8999``,
    ``[fd00::/8]:443`` (IPv6 with ports in brackets), ``fd00::/8``. A bare address is a
    /32 (/128). `ValueError` with the reason for anything else."""
    text = text.strip()
    ports_text = ""
    if text.startswith("["):
        net_text, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6-CIDR]:PORTS")
        ports_text = rest[1:]
        if rest and not ports_text:
            raise ValueError(f"{text!r}: empty port list")
    elif text.count(":") == 1:  # IPv4 with ports; IPv6 without brackets has several colons
        net_text, _, ports_text = text.partition(":")
        if not ports_text:
            raise ValueError(f"{text!r}: empty port list")
    else:
        net_text = text
    try:
        network = ipaddress.ip_network(net_text, strict=False)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return Rule(_unmapped_network(network), parse_ports(ports_text, text))


def parse_ports(text: str, whole: str) -> tuple[tuple[int, int], ...]:
    """``80,443,8000-8999`` -> inclusive ranges; "" -> () (every port). `whole` is the text
    named in errors."""
    if not text:
        return ()
    ranges = []
    for part in text.split(","):
        low_text, dash, high_text = part.strip().partition("-")
        if not low_text.isdigit() or (dash and not high_text.isdigit()):
            raise ValueError(f"{whole!r}: {part!r} is not a port or a port range")
        low, high = int(low_text), int(high_text) if dash else int(low_text)
        if not 0 < low <= high < 65536:
            raise ValueError(f"{whole!r}: {part!r} is not within 1-65535 (low-high)")
        ranges.append((low, high))
    return tuple(ranges)


def unmapped(ip: IPAddress) -> IPAddress:
    """``::ffff:127.0.0.1`` and ``::127.0.0.1`` are 127.0.0.1 to the kernel's IPv4 stack."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        # IPv4-compatible (deprecated) ::a.b.c.d, but not :: and ::1 themselves
        if int(ip) >> 32 == 0 and int(ip) > 1:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _unmapped_network(network: IPNetwork) -> IPNetwork:
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


def is_denied_by_default(ip: IPAddress) -> bool:
    """Whether `ip` (unmapped first) lies in `DEFAULT_DENIED`."""
    ip = unmapped(ip)
    return any(ip.version == net.version and ip in net for net in DEFAULT_DENIED)
