"""The connector's allowlist: rules, names and the addresses they resolve to."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.tunnel.allow import ConnectorAllowlist

ip = ipaddress.ip_address


def test_nothing_is_allowed_without_rules() -> None:
    allowlist = ConnectorAllowlist.parse([])
    assert allowlist.empty
    assert not allowlist.allowed_addresses("10.0.0.1", 22, [ip("10.0.0.1")])
    assert not allowlist.may_allow_name("nas.lan", 80)
    assert "nothing" in allowlist.describe()


def test_address_rules_with_ports() -> None:
    allowlist = ConnectorAllowlist.parse(["192.168.1.0/24:80,443", "10.0.0.5:22", "[fd00::/8]:443"])
    assert allowlist.allows_address(ip("192.168.1.7"), 443)
    assert not allowlist.allows_address(ip("192.168.1.7"), 22)
    assert allowlist.allows_address(ip("10.0.0.5"), 22)
    assert not allowlist.allows_address(ip("10.0.0.6"), 22)
    assert allowlist.allows_address(ip("fd00::1"), 443)
    assert allowlist.allows_address(ip("::ffff:10.0.0.5"), 22)  # mapped IPv4 is IPv4


def test_names_are_resolved_and_every_address_checked() -> None:
    allowlist = ConnectorAllowlist.parse(["nas.lan:5000", "*.lan:80", "127.0.0.1:8000"])
    assert allowlist.may_allow_name("nas.lan", 5000)
    assert allowlist.may_allow_name("printer.lan", 80)
    assert not allowlist.may_allow_name("lan", 80)  # *.lan is under lan, not lan itself
    assert not allowlist.may_allow_name("nas.lan", 22)
    # a name rule lets the name's addresses through, except those reaching this host
    resolved = [ip("192.168.1.5"), ip("127.0.0.1"), ip("169.254.169.254")]
    assert allowlist.allowed_addresses("nas.lan", 5000, resolved) == [ip("192.168.1.5")]
    # loopback needs an address rule of its own
    assert allowlist.allowed_addresses("dev.lan", 80, [ip("127.0.0.1")]) == []
    assert allowlist.allowed_addresses("app.test", 8000, [ip("127.0.0.1")]) == [ip("127.0.0.1")]


def test_a_name_no_rule_names_is_allowed_by_its_addresses_only() -> None:
    allowlist = ConnectorAllowlist.parse(["192.168.1.0/24:80"])
    assert allowlist.may_allow_name("anything.example", 80)  # worth resolving
    assert not allowlist.may_allow_name("anything.example", 22)  # no rule covers 22
    assert allowlist.allowed_addresses("x.example", 80, [ip("8.8.8.8"), ip("192.168.1.9")]) == [
        ip("192.168.1.9")
    ]


@pytest.mark.parametrize(
    "bad", ["10.0.0.0/33", "10.0.0.1:", "nas.lan:0", "nas lan", "*.", "10.0.0.1:99999", "1.2.3"]
)
def test_bad_rules_say_why(bad: str) -> None:
    with pytest.raises(ValueError, match=r"neither|port|empty|within"):
        ConnectorAllowlist.parse([bad])


@given(
    st.ip_addresses(v=4),
    st.integers(min_value=8, max_value=32),
    st.ip_addresses(v=4),
    st.integers(min_value=1, max_value=65535),
)
def test_address_rules_agree_with_network_membership(
    base: ipaddress.IPv4Address, prefix: int, probe: ipaddress.IPv4Address, port: int
) -> None:
    network = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    allowlist = ConnectorAllowlist.parse([f"{network}:{port}"])
    assert allowlist.allows_address(probe, port) == (probe in network)
    assert not allowlist.allows_address(probe, port % 65535 + 1)
