"""The decrypted address and the allowlist: what parses, what is allowed by rules and by
the zero-configuration default."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.frontd.address import parse_backend
from frontier.frontd.allow import Allowlist, parse_rule


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:62863", "127.0.0.1", 62863),
        ("[::1]:80", "::1", 80),
        ("[2001:db8::1]:443", "2001:db8::1", 443),
        ("db.internal:5432", "db.internal", 5432),
        ("Game-01.Example.COM.:7000", "game-01.example.com.", 7000),
        ("svc_a.ns.svc.cluster.local:1", "svc_a.ns.svc.cluster.local", 1),
    ],
)
def test_addresses_that_parse(text: str, host: str, port: int) -> None:
    backend = parse_backend(text.encode())
    assert (backend.host, backend.port) == (host, port)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"127.0.0.1",
        b"127.0.0.1:",
        b"127.0.0.1:0",
        b"127.0.0.1:65536",
        b"127.0.0.1:080000",
        b":80",
        b"::1:80",  # IPv6 without brackets
        b"[::1:80",
        b"[nothost]:80",
        b"host name:80",
        b"-bad.example:80",
        b"bad-.example:80",
        b"a..b:80",
        b"127.1:80",  # inet_aton shorthand: only dotted quads are addresses
        b"0x7f000001:80",
        b"\xff\xfe:80",
        b"host:80\n",
        b"x" * 254 + b":80",
    ],
)
def test_addresses_that_do_not(text: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        parse_backend(text)


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_parse_backend_only_ever_raises_value_error(data: bytes) -> None:
    try:
        backend = parse_backend(data)
    except ValueError:
        return
    assert parse_backend(str(backend).encode()) == backend  # what parsed prints back


@pytest.mark.parametrize(
    ("rule", "allowed", "refused"),
    [
        ("10.0.0.0/8", [("10.1.2.3", 1), ("10.255.0.1", 65535)], [("11.0.0.1", 80)]),
        ("10.1.2.3:443", [("10.1.2.3", 443)], [("10.1.2.3", 80), ("10.1.2.4", 443)]),
        (
            "192.168.0.0/16:80,8000-8999",
            [("192.168.1.1", 80), ("192.168.1.1", 8500)],
            [("192.168.1.1", 81), ("192.168.1.1", 9000)],
        ),
        ("[fd00::/8]:443", [("fd12::1", 443)], [("fd12::1", 80), ("fe80::1", 443)]),
        ("fd00::/8", [("fd12::1", 1)], [("10.0.0.1", 1)]),
        ("0.0.0.0/0", [("127.0.0.1", 22), ("169.254.169.254", 80)], [("::1", 22)]),
        ("::ffff:10.0.0.0/104", [("10.9.9.9", 1), ("::ffff:10.9.9.9", 1)], [("11.0.0.1", 1)]),
    ],
)
def test_rules(rule: str, allowed: list[tuple[str, int]], refused: list[tuple[str, int]]) -> None:
    allowlist = Allowlist.parse([rule])
    for host, port in allowed:
        assert allowlist.allows(ipaddress.ip_address(host), port), (rule, host, port)
    for host, port in refused:
        assert not allowlist.allows(ipaddress.ip_address(host), port), (rule, host, port)


@pytest.mark.parametrize(
    "rule",
    ["", "10.0.0.0/33", "10.0.0.0/8:", "10.0.0.0/8:0", "10.0.0.0/8:70000", "10.0.0.0/8:90-80",
     "10.0.0.0/8:http", "[fd00::/8", "[fd00::/8]443", "[fd00::/8]:", "host.example:80"],
)  # fmt: skip
def test_bad_rules_say_why(rule: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(rule))):
        parse_rule(rule)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.5.6.7",
        "0.0.0.0",
        "169.254.169.254",  # the metadata service
        "169.254.170.2",
        "100.100.100.200",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",  # mapped
        "::127.0.0.1",  # compatible
        "::ffff:169.254.169.254",
    ],
)
def test_the_default_refuses_this_host_and_metadata(host: str) -> None:
    assert not Allowlist().allows(ipaddress.ip_address(host), 80)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "fd12::1"])
def test_the_default_allows_other_addresses(host: str) -> None:
    assert Allowlist().allows(ipaddress.ip_address(host), 80)


@settings(max_examples=300)
@given(
    net=st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str),
    prefix=st.integers(0, 32),
    ports=st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 100)), max_size=3),
)
def test_a_rule_prints_back_to_itself(net: str, prefix: int, ports: list[tuple[int, int]]) -> None:
    text = f"{net}/{prefix}"
    if ports:
        spec = ",".join(f"{lo}-{min(lo + d, 65535)}" for lo, d in ports)
        text = f"[{text}]:{spec}" if ":" in net else f"{text}:{spec}"
    rule = parse_rule(text)
    assert parse_rule(str(rule)) == rule
