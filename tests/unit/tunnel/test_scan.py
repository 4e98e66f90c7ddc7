"""Scanning: fingerprints from banners and HTTP answers, the targets a plan yields (and
refuses), and the worker pool's bound, progress and result (with a fake prober)."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.netrules import IPAddress
from frontier.tunnel.allow import ConnectorAllowlist
from frontier.tunnel.scan import Finding, fingerprint, plan_scan, run_scan
from frontier.tunnel.wire import RequestError, ScanRequest

HTTP = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\nContent-Type: text/html\r\n\r\n"
    b"<html><head><TITLE>\n  Welcome &amp; hello </TITLE></head>"
)


@pytest.mark.parametrize(
    ("banner", "response", "protocol", "service", "detail"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", b"", "ssh", "ssh", "SSH-2.0-OpenSSH_9.2p1 Debian"),
        (b"220 mail.example ESMTP Postfix\r\n", b"", "smtp", "smtp", "220 mail.example ESMTP"),
        (b"220 (vsFTPd 3.0.3)\r\n", b"", "ftp", "ftp", "220 (vsFTPd"),
        (b"220 ProFTPD Server ready\r\n", b"", "ftp", "ftp", "ProFTPD"),
        (b"\x4a\x00\x00\x00\x0a8.0.36\x00\x08\x00\x00\x00", b"", "mysql", "mysql", "8.0.36"),
        (b"", b"-ERR unknown command 'GET'\r\n", "redis", "redis", "-ERR unknown"),
        (b"", b"\x15\x03\x01\x00\x02\x02\x46", "tcp", "tcp", ""),
        (b"", b"", "tcp", "tcp", ""),
    ],
)
def test_banners(banner: bytes, response: bytes, protocol: str, service: str, detail: str) -> None:
    found = fingerprint("10.0.0.1", 25, banner, response)
    assert (found.protocol, found.service_type) == (protocol, service)
    assert detail in found.banner


def test_http_answers_give_status_server_and_title() -> None:
    found = fingerprint("10.0.0.1", 80, b"", HTTP)
    assert found == Finding(
        "10.0.0.1", 80, "http", "nginx", status=200, server="nginx/1.25.3",
        title="Welcome & hello",
    )  # fmt: skip
    grafana = HTTP.replace(b"Welcome &amp; hello", b"Grafana")
    assert fingerprint("10.0.0.1", 3000, b"", grafana).service_type == "grafana"
    bare = b"HTTP/1.0 404 Not Found\r\n\r\n"
    assert fingerprint("10.0.0.1", 8080, b"", bare).service_type == "http"
    assert fingerprint("10.0.0.1", 8080, b"", bare).status == 404


def test_plans_refuse_too_many_targets_and_nonsense() -> None:
    allowlist = ConnectorAllowlist.parse(["10.0.0.0/8"])
    plan = plan_scan(ScanRequest(("10.0.0.0/24",), ("22", "80-81")), allowlist, 1000)
    assert plan.total == 254 * 3
    with pytest.raises(RequestError, match=r"at most 100"):
        plan_scan(ScanRequest(("10.0.0.0/24",), ("22",)), allowlist, 100)
    with pytest.raises(RequestError, match=r"scan\.nets"):
        plan_scan(ScanRequest(("10.0.0.0/33",), ("22",)), allowlist, 100)
    with pytest.raises(RequestError, match=r"scan\.ports"):
        plan_scan(ScanRequest(("10.0.0.1/32",), ("0",)), allowlist, 100)


@given(
    st.sampled_from(["192.168.1.0/28", "192.168.1.8/30", "192.168.1.5/32", "10.1.0.0/29"]),
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=4),
)
def test_targets_are_exactly_what_the_allowlist_allows(net: str, ports: list[int]) -> None:
    allowlist = ConnectorAllowlist.parse(["192.168.1.0/29:1-10", "192.168.1.12/32"])
    plan = plan_scan(ScanRequest((net,), tuple(str(p) for p in ports)), allowlist, 10_000)
    network = ipaddress.ip_network(net)
    hosts = list(network.hosts()) if network.num_addresses > 2 else list(network)
    expected = {
        (host, port) for host in hosts for port in ports if allowlist.allows_address(host, port)
    }
    assert set(plan.targets()) == expected


async def test_the_pool_never_runs_more_probes_than_asked() -> None:
    allowlist = ConnectorAllowlist.parse(["10.0.0.0/8"])
    plan = plan_scan(ScanRequest(("10.0.0.0/26",), ("1-10",)), allowlist, 10_000)
    running = peak = 0
    reports: list[dict[str, Any]] = []

    async def prober(ip: IPAddress, port: int, within: float) -> Finding | None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return Finding(str(ip), port, "tcp", "tcp") if port == 7 else None

    async def report(doc: dict[str, Any]) -> None:
        reports.append(doc)

    result = await run_scan(
        plan, timeout=1.0, concurrency=16, max_results=50, report=report, prober=prober
    )
    assert peak == 16
    assert result["status"] == "completed"
    assert result["scanned"] == result["total"] == 62 * 10
    assert len(result["applications"]) == 50  # capped
    assert result["truncated"] is True
    assert result["applications"][0]["ip"] == "10.0.0.1"
    assert reports[0] == {"status": "running", "scanned": 0, "total": 620, "found": 0}
