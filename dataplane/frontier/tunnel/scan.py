"""``scan_application``: find the services a connector can reach, on given networks and
ports, within its allowlist.

The targets are ``networks x ports`` minus what the allowlist's address rules do not allow
(name rules do not apply: a scan probes addresses). The request is refused beyond
``scan.max_targets`` before anything is probed. A fixed pool of workers (at most
``scan.max_concurrency``, 100 by default) takes targets one by one from one iterator, so a
large scan holds neither a task nor a list entry per target. A probe connects (the
request's timeout, 2 s by default), waits briefly for a banner (servers that speak first:
SSH, SMTP, FTP, ...), else sends ``GET /`` and reads the answer (16 KiB at most, within the
timeout), and fingerprints what came back: an HTTP status line, its ``Server`` header and
the page's ``<title>``, or the banner's protocol.

Target expansion and fingerprinting are pure; `run_scan` is the asyncio part.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Final

from ..netrules import IPAddress, parse_ports
from .allow import ConnectorAllowlist
from .wire import RequestError, ScanRequest

__all__ = ["Finding", "ScanPlan", "fingerprint", "plan_scan", "run_scan"]

BANNER_WAIT: Final = 0.3
"""Seconds to wait for a server that speaks first before sending the HTTP probe."""
MAX_READ: Final = 16 * 1024
PROGRESS_INTERVAL: Final = 1.0

_TITLE: Final = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_BANNERS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"SSH-", "ssh"),
    (b"+OK", "pop3"),
    (b"* OK", "imap"),
    (b"RFB ", "vnc"),
    (b"AMQP", "amqp"),
)
_KNOWN_APPS: Final[tuple[tuple[str, str], ...]] = (
    ("grafana", "grafana"),
    ("jenkins", "jenkins"),
    ("gitlab", "gitlab"),
    ("gitea", "gitea"),
    ("home assistant", "home-assistant"),
    ("nextcloud", "nextcloud"),
    ("synology", "synology"),
    ("prometheus", "prometheus"),
    ("kibana", "kibana"),
    ("portainer", "portainer"),
    ("pi-hole", "pi-hole"),
    ("jupyter", "jupyter"),
    ("rabbitmq", "rabbitmq"),
    ("minio", "minio"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One open port and what answers there."""

    ip: str
    port: int
    protocol: str
    """``http`` or what the banner says (``ssh``, ``smtp``, ``ftp``, ...), else ``tcp``."""
    service_type: str
    """The application, as far as it can be told: a known product, the ``Server``
    header's product, or the protocol."""
    status: int = 0
    server: str = ""
    title: str = ""
    banner: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _printable(data: bytes, limit: int = 120) -> str:
    text = data.decode("utf-8", "replace").strip()
    text = "".join(c if c.isprintable() else " " for c in text)
    return text[:limit]


def fingerprint(ip: str, port: int, banner: bytes, response: bytes) -> Finding:
    """What `banner` (bytes the server sent before we spoke) or `response` (its answer
    to ``GET /``) says about the service at ``ip:port``."""
    if banner:
        first = banner.split(b"\n", 1)[0]
        for prefix, protocol in _BANNERS:
            if first.startswith(prefix):
                return Finding(ip, port, protocol, protocol, banner=_printable(first))
        if first.startswith(b"220"):
            upper = first.upper()
            protocol = "ftp" if b"FTP" in upper else "smtp" if b"SMTP" in upper else "tcp"
            return Finding(ip, port, protocol, protocol, banner=_printable(first))
        if len(banner) > 5 and banner[4] == 0x0A and b"\x00" in banner[5:40]:
            name = "mariadb" if b"mariadb" in banner.lower() else "mysql"
            version = _printable(banner[5:].split(b"\x00", 1)[0])
            return Finding(ip, port, "mysql", name, banner=version)
        return Finding(ip, port, "tcp", "tcp", banner=_printable(first))
    if response.startswith(b"HTTP/"):
        return _http_finding(ip, port, response)
    if response.startswith((b"-ERR", b"-NOAUTH", b"+PONG")):
        return Finding(ip, port, "redis", "redis", banner=_printable(response.split(b"\n")[0]))
    if response:
        return Finding(ip, port, "tcp", "tcp", banner=_printable(response.split(b"\n")[0]))
    return Finding(ip, port, "tcp", "tcp")


def _http_finding(ip: str, port: int, response: bytes) -> Finding:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    server = ""
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"server":
            server = _printable(value)
    match = _TITLE.search(body)
    title = _printable(match.group(1), 200) if match else ""
    title = html.unescape(" ".join(title.split()))
    service = "http"
    haystack = f"{title} {server}".lower()
    for needle, known in _KNOWN_APPS:
        if needle in haystack:
            service = known
            break
    else:
        product = server.split("/", 1)[0].split(" ", 1)[0].strip().lower()
        if product:
            service = product
    return Finding(ip, port, "http", service, status=status, server=server, title=title)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class ScanPlan:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    ports: tuple[tuple[int, int], ...]
    total: int
    """Addresses x ports asked for (before the allowlist)."""
    allowlist: ConnectorAllowlist

    def targets(self) -> Iterator[tuple[IPAddress, int]]:
        """The allowed ``(ip, port)`` pairs, lazily, in order."""
        for network in self.networks:
            hosts: Iterator[IPAddress] = (
                network.hosts() if network.num_addresses > 2 else iter(network)
            )
            for ip in hosts:
                for low, high in self.ports:
                    for port in range(low, high + 1):
                        if self.allowlist.allows_address(ip, port):
                            yield ip, port


def plan_scan(request: ScanRequest, allowlist: ConnectorAllowlist, max_targets: int) -> ScanPlan:
    """`RequestError` for a malformed request or one beyond `max_targets`."""
    networks = []
    for text in request.nets:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise RequestError(f"scan.nets: {exc}") from None
    ranges: list[tuple[int, int]] = []
    for text in request.ports:
        try:
            ranges.extend(parse_ports(text.strip(), text))
        except ValueError as exc:
            raise RequestError(f"scan.ports: {exc}") from None
    ports = sum(high - low + 1 for low, high in ranges)
    addresses = sum(
        n.num_addresses - 2 if n.num_addresses > 2 else n.num_addresses for n in networks
    )
    total = addresses * ports
    if total > max_targets:
        raise RequestError(
            f"scan of {total} addresses x ports (this connector scans at most {max_targets})"
        )
    return ScanPlan(tuple(networks), tuple(ranges), total, allowlist)


# ----------------------------------------------------------------------------- probes


async def probe(ip: IPAddress, port: int, timeout: float) -> Finding | None:  # noqa: ASYNC109
    """Connect to ``ip:port`` and fingerprint it; None if nothing listens (or in time)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(str(ip), port, limit=MAX_READ)
    except (OSError, TimeoutError):
        return None
    try:
        banner = b""
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(min(BANNER_WAIT, timeout)):
                banner = await reader.read(MAX_READ)
        response = b""
        if not banner:
            host = f"[{ip}]" if ip.version == 6 else str(ip)
            request = (
                f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: frontier-tunnel-scan/1"
                "\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            )
            with contextlib.suppress(OSError):
                writer.write(request.encode())
                response = await _read_answer(reader, timeout)
        return fingerprint(str(ip), port, banner, response)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()


async def _read_answer(reader: asyncio.StreamReader, timeout: float) -> bytes:  # noqa: ASYNC109
    """The answer to the HTTP probe: until the server closes, the page's title has come,
    it is plainly not HTTP, `MAX_READ` bytes, or `timeout` seconds."""
    data = b""
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(timeout):
            while len(data) < MAX_READ:
                chunk = await reader.read(MAX_READ - len(data))
                if not chunk:
                    break
                data += chunk
                if len(data) >= 5 and not data.startswith(b"HTTP/"):
                    break
                if b"</title" in data.lower():
                    break
    return data


Report = Callable[[dict[str, Any]], Awaitable[None]]
Prober = Callable[[IPAddress, int, float], Awaitable[Finding | None]]


async def run_scan(
    plan: ScanPlan,
    *,
    timeout: float,  # noqa: ASYNC109 - the connect timeout of each probe
    concurrency: int,
    max_results: int,
    report: Report,
    prober: Prober = probe,
    on_probe: Callable[[bool], object] | None = None,
) -> dict[str, Any]:
    """Probe every target of `plan` with `concurrency` workers; `report` gets a
    ``running`` document at most every `PROGRESS_INTERVAL` seconds; returns the
    ``completed`` one (findings sorted by address and port, at most `max_results`)."""
    targets = plan.targets()
    findings: list[Finding] = []
    scanned = 0
    truncated = False
    started = time.monotonic()
    last_report = started

    async def worker() -> None:
        nonlocal scanned, truncated
        while True:
            try:
                ip, port = next(targets)
            except StopIteration:
                return
            found = await prober(ip, port, timeout)
            scanned += 1
            if on_probe is not None:
                on_probe(found is not None)
            if found is not None:
                if len(findings) < max_results:
                    findings.append(found)
                else:
                    truncated = True

    async def progress() -> None:
        nonlocal last_report
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            last_report = time.monotonic()
            await report(
                {
                    "status": "running",
                    "scanned": scanned,
                    "total": plan.total,
                    "found": len(findings),
                }
            )

    reporter = asyncio.ensure_future(progress())
    try:
        await report({"status": "running", "scanned": 0, "total": plan.total, "found": 0})
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
    findings.sort(key=lambda f: (ipaddress.ip_address(f.ip), f.port))
    return {
        "status": "completed",
        "scanned": scanned,
        "total": plan.total,
        "skipped": plan.total - scanned,
        "seconds": round(time.monotonic() - started, 3),
        "truncated": truncated,
        "applications": [f.as_json() for f in findings],
    }
