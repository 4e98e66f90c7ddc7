"""Reaching the backend a request names: resolve once, check, connect with retries.

A host name is resolved once; every resolved address is checked against the allowlist and
only addresses that pass are connected to, by address (never by name again), so a DNS
answer cannot change between the check and the connection. Under the default allowlist an
address that routes to this host (one of its own interface addresses, found with a UDP
route lookup that sends nothing) is refused as well, like loopback.

``timeout`` bounds each attempt (name resolution counts against the first); ``retry`` is how
many further attempts follow a failed one. The outcome is a connected socket or a
`Refusal` carrying the status to answer: 401 refused by the allowlist, 502 cannot
connect (refused, unreachable, name not found), 504 timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time

from .address import Backend
from .allow import Allowlist, IPAddress
from .handshake import Refusal, Status
from .metrics import FrontdMetrics
from .relay import tune_socket

__all__ = ["Connector", "routes_to_self"]


class Connector:
    def __init__(
        self, allowlist: Allowlist, *, timeout: float, retry: int, metrics: FrontdMetrics
    ) -> None:
        self.allowlist = allowlist
        self.timeout = timeout
        self.retry = retry
        self.metrics = metrics

    async def connect(self, backend: Backend) -> socket.socket:
        started = time.monotonic()
        try:
            addresses = await self._allowed_addresses(backend)
            return await self._connect_any(addresses, backend.port)
        finally:
            self.metrics.connect_seconds.observe(time.monotonic() - started)

    async def _allowed_addresses(self, backend: Backend) -> list[IPAddress]:
        ip = backend.ip
        if ip is not None:
            candidates = [ip]
        else:
            candidates = await self._resolve(backend)
        allowed = [a for a in candidates if self._allows(a, backend.port)]
        if not allowed:
            self.metrics.denied.inc()
            raise Refusal(Status.DECRYPT_FAILED, f"{backend} is not an allowed backend")
        return allowed

    def _allows(self, ip: IPAddress, port: int) -> bool:
        if not self.allowlist.allows(ip, port):
            return False
        return not (self.allowlist.is_default and routes_to_self(ip))

    async def _resolve(self, backend: Backend) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(
                    backend.host, backend.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except TimeoutError:
            raise Refusal(Status.GATEWAY_TIMEOUT, f"resolving {backend.host} timed out") from None
        except OSError as exc:
            raise Refusal(Status.BAD_GATEWAY, f"cannot resolve {backend.host}: {exc}") from None
        seen: dict[IPAddress, None] = {}
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]), None)
        return list(seen)

    async def _connect_any(self, addresses: list[IPAddress], port: int) -> socket.socket:
        loop = asyncio.get_running_loop()
        timed_out = False
        error = ""
        for _ in range(1 + self.retry):
            timed_out = False
            try:
                async with asyncio.timeout(self.timeout):
                    for ip in addresses:
                        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                        sock = socket.socket(family, socket.SOCK_STREAM)
                        try:
                            tune_socket(sock)
                            await loop.sock_connect(sock, (str(ip), port))
                        except OSError as exc:
                            sock.close()
                            error = f"{ip}:{port}: {exc.strerror or exc}"
                            continue
                        except BaseException:
                            sock.close()
                            raise
                        return sock
            except TimeoutError:
                timed_out = True
                error = f"connecting to port {port} timed out after {self.timeout:g} s"
        if timed_out:
            raise Refusal(Status.GATEWAY_TIMEOUT, error)
        raise Refusal(Status.BAD_GATEWAY, error)


def routes_to_self(ip: IPAddress) -> bool:
    """Whether the kernel would deliver to `ip` locally (one of this host's addresses).

    A connected UDP socket sends nothing; the route lookup picks the source address, which
    is the destination itself exactly when the destination is local."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((str(ip), 9))
        except OSError:
            return False  # no route: not local either
        with contextlib.suppress(OSError):
            return bool(ipaddress.ip_address(probe.getsockname()[0]) == ip)
    return False
