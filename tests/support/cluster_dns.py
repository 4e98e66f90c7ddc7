"""A small cluster DNS for the e2e tier's one-node cluster (support.local_cluster).

Production clusters bring their own (CoreDNS, kube-dns); neither is packaged in Debian nor
can be fetched here, and pods need one: frontier dials ``<cluster>-frontlas-svc.<ns>.svc``.
This answers, from the API server, what those pods ask:

* ``A <service>.<ns>.svc.<domain>``: the Service's ClusterIP; for a headless Service the
  ready addresses of its Endpoints;
* ``A <hostname>.<service>.<ns>.svc.<domain>``: the endpoint address with that hostname
  (pods with ``hostname`` + ``subdomain`` behind a headless Service);
* ``A <a-b-c-d>.<ns>.pod.<domain>``: ``a.b.c.d`` (kube-dns's "pods insecure" records);
* ``AAAA`` (or any other type) of a name that exists: no answer, NOERROR (the cluster is
  IPv4 only; glibc asks for both and must not wait on a timeout);
* a name in the domain that does not exist: NXDOMAIN; a name outside it: REFUSED (this
  server never forwards: the test cluster has no business resolving anything else).

The parsing and answering (:func:`answer`) is sans-I/O apart from the lookup it is given;
:class:`ApiLookup` asks the API server (GET of the Service, then of its Endpoints for a
headless one) and caches each answer for ``cache_seconds``. UDP and TCP are served
(:func:`serve`). Run it as ``python tests/support/cluster_dns.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import re
import ssl
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, cast

import aiohttp
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger("cluster_dns")

TTL: Final = 5
#: A DNS label of a Service or namespace (RFC 1123).
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: The biggest query accepted over TCP (a question is far smaller).
MAX_TCP_MESSAGE: Final = 4096


@dataclass(frozen=True)
class Question:
    """What a cluster name refers to: a Service (``kind="svc"``, with an optional endpoint
    ``hostname``) or a pod address (``kind="pod"``)."""

    kind: str
    namespace: str
    name: str
    hostname: str | None = None


def parse_name(qname: str, domain: str) -> Question | bool | None:
    """Classify ``qname``: a :class:`Question`, ``None`` for a name in ``domain`` that cannot
    exist (NXDOMAIN), ``False`` for a name outside ``domain`` (REFUSED)."""
    labels = [label.lower() for label in qname.rstrip(".").split(".")]
    suffix = [label.lower() for label in domain.strip(".").split(".")]
    if len(labels) <= len(suffix) or labels[-len(suffix) :] != suffix:
        return False
    inner = labels[: -len(suffix)]
    if not all(_LABEL.match(label) for label in inner):
        return None
    if len(inner) == 3 and inner[2] == "pod":
        dashed, namespace = inner[0], inner[1]
        try:
            ip = ipaddress.IPv4Address(dashed.replace("-", "."))
        except ValueError:
            return None
        return Question("pod", namespace, str(ip))
    if len(inner) == 3 and inner[2] == "svc":
        return Question("svc", inner[1], inner[0])
    if len(inner) == 4 and inner[3] == "svc":
        return Question("svc", inner[2], inner[1], hostname=inner[0])
    return None


#: Answers a :class:`Question` with IPv4 addresses; ``None`` when the name does not exist.
Lookup = Callable[[Question], Awaitable[Sequence[str] | None]]


async def answer(wire: bytes, lookup: Lookup, domain: str) -> bytes | None:
    """The response to one DNS message, or ``None`` for garbage (dropped, as servers do)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    if query.flags & dns.flags.QR:
        return None  # a response sent to us: never answer it
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
        response.set_rcode(
            dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR
        )
        return response.to_wire()
    (rrset,) = query.question
    parsed = parse_name(rrset.name.to_text(), domain)
    if parsed is False:
        response.flags &= ~dns.flags.AA
        response.set_rcode(dns.rcode.REFUSED)
        return response.to_wire()
    addresses: Sequence[str] | None = None
    if isinstance(parsed, Question):
        try:
            addresses = await lookup(parsed)
        except Exception as exc:  # the API server is unreachable: say so, do not lie
            log.warning("lookup of %s failed: %s", rrset.name, exc)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
    if addresses is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif rrset.rdtype == dns.rdatatype.A and rrset.rdclass == dns.rdataclass.IN and addresses:
        response.answer.append(
            dns.rrset.from_text_list(rrset.name, TTL, "IN", "A", sorted(set(addresses)))
        )
    return response.to_wire()


class ApiLookup:
    """Looks names up in the API server, with a bearer token; caches answers briefly."""

    def __init__(
        self, server: str, token: str, ca_file: str | None, cache_seconds: float = 1.0
    ) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._cache_seconds = cache_seconds
        self._cache: dict[Question, tuple[float, Sequence[str] | None]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get(self, path: str) -> dict[str, object] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=3)
            )
        async with self._session.get(self._server + path, ssl=self._ssl) as resp:
            if resp.status == 404:
                return None
            resp.raise_for_status()
            body: dict[str, object] = await resp.json()
            return body

    async def __call__(self, question: Question) -> Sequence[str] | None:
        now = time.monotonic()
        cached = self._cache.get(question)
        if cached is not None and cached[0] > now:
            return cached[1]
        result = await self._lookup(question)
        self._cache[question] = (now + self._cache_seconds, result)
        return result

    async def _lookup(self, q: Question) -> Sequence[str] | None:
        if q.kind == "pod":
            return [q.name]
        service = await self._get(f"/api/v1/namespaces/{q.namespace}/services/{q.name}")
        if service is None:
            return None
        spec = service.get("spec")
        cluster_ip = spec.get("clusterIP") if isinstance(spec, dict) else None
        if q.hostname is None and cluster_ip and cluster_ip != "None":
            return [str(cluster_ip)]
        endpoints = await self._get(f"/api/v1/namespaces/{q.namespace}/endpoints/{q.name}")
        found: list[str] = []
        subsets = (endpoints or {}).get("subsets")
        for subset in subsets if isinstance(subsets, list) else ():
            found.extend(
                str(address["ip"])
                for address in subset.get("addresses") or ()
                if q.hostname is None or address.get("hostname") == q.hostname
            )
        if q.hostname is not None and not found:
            return None
        return found


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, handle: Callable[[bytes], Awaitable[bytes | None]]) -> None:
        self._handle = handle
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's UDP transport is not a subclass of asyncio's)
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str | object, int]) -> None:
        out = await self._handle(data)
        if out is not None and self._transport is not None:
            if len(out) > 512:  # classic UDP limit: the client retries over TCP
                message = dns.message.from_wire(out)
                message.answer.clear()
                message.flags |= dns.flags.TC
                out = message.to_wire()
            self._transport.sendto(out, addr)


async def _tcp(
    handle: Callable[[bytes], Awaitable[bytes | None]],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    try:
        while True:
            (size,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
            if size > MAX_TCP_MESSAGE:
                break
            out = await handle(await asyncio.wait_for(reader.readexactly(size), 10))
            if out is None:
                break
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


@dataclass
class Server:
    """A running server; ``close()`` stops both listeners."""

    udp: asyncio.DatagramTransport
    tcp: asyncio.Server
    port: int

    async def close(self) -> None:
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()


async def serve(host: str, port: int, lookup: Lookup, domain: str = "cluster.local") -> Server:
    """Serve UDP and TCP on ``host:port`` (``port`` 0: the UDP socket's free port, reused
    for TCP)."""

    async def handle(wire: bytes) -> bytes | None:
        return await answer(wire, lookup, domain)

    loop = asyncio.get_running_loop()
    for attempt in range(20):
        udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(handle), local_addr=(host, port))
        bound = udp.get_extra_info("sockname")[1]
        try:
            tcp = await asyncio.start_server(lambda r, w: _tcp(handle, r, w), host, bound)
        except OSError:
            udp.close()
            if port or attempt == 19:  # a given port is taken; a free UDP one may not be for TCP
                raise
            continue
        return Server(udp, tcp, bound)
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A small cluster DNS (see the module docstring)")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--server", required=True, help="API server URL")
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--ca-file")
    parser.add_argument("--domain", default="cluster.local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    with open(args.token_file) as f:
        token = f.read().strip()

    async def run() -> None:
        lookup = ApiLookup(args.server, token, args.ca_file)
        server = await serve(host, int(port), lookup, args.domain)
        log.info("serving %s on %s:%d (udp, tcp)", args.domain, host, server.port)
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()
            await lookup.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
