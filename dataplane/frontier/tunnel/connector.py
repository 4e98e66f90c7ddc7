"""The connector (``frontier-tunnel connect``): an edge on the private side that dials what
the entry asks for, within its allowlist, and relays.

It holds one reconnecting `Edge` to the gateway (failover over several addresses, TLS),
whose meta names it and proves it holds its token (`wire.ConnectorMeta`). The entry gives
it the edge ID `wire.connector_edge_id(name)`; if the gateway admitted it with another ID
(no entry was there to assign one: a gateway that allocates IDs itself when no service
does), the entry could not reach it, so it drops the connection after a growing delay and
tries again.

Each stream the entry opens is one request: the stream meta (`wire.OpenRequest`) says
what, its ``auth`` proves the opener holds the token, and the first frame back is the
`wire.Status` (with a proof of our own). ``dial``: the target is checked against the
allowlist (names resolved here, every resolved address checked, the allowed ones dialed
by address), connected within ``dial.timeout``, then relayed (`relay.Relay`). ``scan``:
`scan.run_scan`, with progress and result sent back as REPORT frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import time
from typing import Any, Final

from ..gateway.tls import client_ssl_context
from ..geminio.aio import Backoff, EndError, Stream
from ..netrules import IPAddress
from ..sdk import Edge
from ..throttled_log import ThrottledLog
from .allow import ConnectorAllowlist, address_of
from .config import ConnectorConfig
from .metrics import ConnectorMetrics
from .relay import Relay, TunnelStream, stream_write
from .scan import ScanPlan, plan_scan, run_scan
from .wire import (
    ConnectorMeta,
    OpenRequest,
    RequestError,
    Status,
    StatusCode,
    TunnelProtocol,
    connector_edge_id,
    connector_proof,
    open_auth,
    parse_target,
    proofs_match,
    status_proof,
)

__all__ = ["Connector", "DialRefusal", "Dialer"]

log = logging.getLogger("frontier.tunnel.connector")

INFO_METHOD: Final = "frontier-tunnel.info"
"""An RPC the entry calls to learn that a connector is online (after the entry restarts)."""
_START_RETRY: Final = 365 * 24 * 3600.0
"""A daemon keeps trying to reach its gateway for as long as it runs."""
_IDENTITY_CHECK: Final = 1.0


class DialRefusal(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Dialer:
    """Resolve, check against the allowlist, connect: a socket or a `DialRefusal`."""

    def __init__(self, allowlist: ConnectorAllowlist, timeout: float) -> None:
        self.allowlist = allowlist
        self.timeout = timeout

    async def dial(self, target: str) -> socket.socket:
        try:
            host, port = parse_target(target)
        except RequestError as exc:
            raise DialRefusal(StatusCode.BAD_REQUEST, str(exc)) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        ip = address_of(host)
        if ip is not None:
            candidates = [ip]
        elif not self.allowlist.may_allow_name(host, port):
            raise DialRefusal(
                StatusCode.NOT_ALLOWED, f"{target} is not in this connector's allowlist"
            )
        else:
            candidates = await self._resolve(host, port, deadline)
        allowed = self.allowlist.allowed_addresses(host, port, candidates)
        if not allowed:
            shown = "" if ip is not None else f" ({', '.join(map(str, candidates))})"
            raise DialRefusal(
                StatusCode.NOT_ALLOWED, f"{target}{shown} is not in this connector's allowlist"
            )
        return await self._connect_any(allowed, port, deadline, target)

    async def _resolve(self, host: str, port: int, deadline: float) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except TimeoutError:
            raise DialRefusal(StatusCode.TIMEOUT, f"resolving {host} timed out") from None
        except OSError as exc:
            raise DialRefusal(StatusCode.UNREACHABLE, f"cannot resolve {host}: {exc}") from None
        seen: dict[IPAddress, None] = {}
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]), None)
        return list(seen)

    async def _connect_any(
        self, addresses: list[IPAddress], port: int, deadline: float, target: str
    ) -> socket.socket:
        loop = asyncio.get_running_loop()
        error = ""
        try:
            async with asyncio.timeout_at(deadline):
                for ip in addresses:
                    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                    sock = socket.socket(family, socket.SOCK_STREAM)
                    try:
                        sock.setblocking(False)
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
            raise DialRefusal(
                StatusCode.TIMEOUT, f"connecting to {target} timed out after {self.timeout:g} s"
            ) from None
        raise DialRefusal(StatusCode.UNREACHABLE, f"cannot connect to {target}: {error}")


class Connector:
    """The connector's life: `start()`, serve until `drain()` / `close()`."""

    def __init__(self, config: ConnectorConfig, metrics: ConnectorMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or ConnectorMetrics()
        self.allowlist = ConnectorAllowlist.parse(config.allow)
        self.dialer = Dialer(self.allowlist, config.dial.timeout)
        self.expected_id = connector_edge_id(config.name)
        gateway = config.gateway
        ssl = client_ssl_context(gateway.tls, "gateway.tls")
        self.edge = Edge(
            list(gateway.addrs),
            meta=ConnectorMeta(config.name, connector_proof(config.token, config.name)).encode(),
            ssl=ssl,
            server_hostname=gateway.server_name or None,
            heartbeat=gateway.heartbeat,
            accept_streams=True,  # the entry's streams are taken from the first moment online
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._relays: set[Relay] = set()
        self._scans = 0
        self._accepting = True
        self._main: asyncio.Task[None] | None = None
        self._refusals = ThrottledLog(log, 10.0)
        self._mismatch_delays = Backoff(initial=1.0, maximum=30.0).delays()
        self.online_with_id = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Begin connecting (in the background: a connector waits for its gateway)."""
        await self.edge.register(INFO_METHOD, self._info)
        self._main = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        log.info(
            "connector %r: connecting to %s; allowed: %s",
            self.config.name,
            ", ".join(self.config.gateway.addrs),
            self.allowlist.describe(),
        )
        await self.edge.start(retry=_START_RETRY)
        watcher = asyncio.ensure_future(self._watch_identity())
        try:
            while True:
                stream = await self.edge.accept_stream()
                self._serve(stream)
        finally:
            watcher.cancel()

    def ready(self) -> bool:
        return self.online_with_id.is_set()

    def ports(self) -> dict[str, int]:
        return {}

    async def drain(self, seconds: float) -> None:
        """Stop taking new requests; let relays finish for up to `seconds`."""
        self._accepting = False
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=seconds)

    async def close(self) -> None:
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError, EndError):
                await self._main
        for relay in list(self._relays):
            relay.close("the connector is stopping")
        for task in list(self._tasks):  # dials and scans under way; relays end as closed
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        await self.edge.close()
        self.metrics.gateway_online.set(0)

    # ------------------------------------------------------------------ identity

    async def _watch_identity(self) -> None:
        """Reachable only with the entry's ID; with another one, reconnect (later). Checked
        every second, which also logs each reconnection (the SDK redials by itself)."""
        reconnects = -1
        while True:
            edge = self.edge
            online = edge.online
            if online and edge.edge_id == self.expected_id:
                if not self.online_with_id.is_set() or edge.reconnects != reconnects:
                    reconnects = edge.reconnects
                    log.info(
                        "connector %r online (edge %d)%s",
                        self.config.name,
                        edge.edge_id,
                        f" after {reconnects} reconnects" if reconnects else "",
                    )
                    self._mismatch_delays.reset()
                self.online_with_id.set()
                self.metrics.gateway_online.set(1)
            else:
                if self.online_with_id.is_set():
                    log.warning("connector %r: offline, reconnecting", self.config.name)
                self.online_with_id.clear()
                self.metrics.gateway_online.set(0)
                if online:
                    await self._reconnect_later(edge.edge_id)
                    continue
            await asyncio.sleep(_IDENTITY_CHECK)

    async def _reconnect_later(self, edge_id: int) -> None:
        delay = self._mismatch_delays.next()
        log.warning(
            "connector %r: the gateway gave edge ID %d, not %d: no entry assigned it (is "
            "the entry running? set edgebound.edgeid_alloc_when_no_idservice_on: false on "
            "the gateway); reconnecting in %.1f s",
            self.config.name,
            edge_id,
            self.expected_id,
            delay,
        )
        await asyncio.sleep(delay)
        end = self.edge.end
        if end is not None and end.client_id != self.expected_id:
            end.abort()

    def _info(self, request: object) -> bytes:
        doc = {"name": self.config.name, "relays": len(self._relays), "scans": self._scans}
        return json.dumps(doc).encode()

    # ------------------------------------------------------------------- requests

    def _serve(self, stream: Stream) -> None:
        task = asyncio.ensure_future(self._handle(stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse(self, stream: Stream, request: OpenRequest | None, code: str, text: str) -> None:
        if request is None or request.op == "dial":
            self.metrics.dials.labels(code).inc()
        proof = status_proof(self.config.token, request.nonce, code) if request else ""
        stream_write(stream, TunnelProtocol.send_status(Status(code, text, 0, proof)))
        stream.dismiss()
        what = f"{request.op} {request.to or 'scan'}" if request else "a request"
        app = f" (app {request.app})" if request and request.app else ""
        self._refusals.info(code, "refused %s%s: %s: %s", what, app, code, text)

    async def _handle(self, stream: Stream) -> None:
        try:
            request = OpenRequest.decode(stream.meta)
        except RequestError as exc:
            self._refuse(stream, None, StatusCode.BAD_REQUEST, str(exc))
            return
        expected = open_auth(self.config.token, request.nonce, request.op, request.subject)
        if not proofs_match(request.auth, expected):
            self._refuse(
                stream, request, StatusCode.UNAUTHORIZED, "the request does not carry this "
                "connector's token (the entry and the connector hold different tokens?)",
            )  # fmt: skip
            return
        if not self._accepting:
            self._refuse(stream, request, StatusCode.BUSY, "the connector is stopping")
            return
        if request.op == "scan":
            await self._scan(stream, request)
            return
        if len(self._relays) >= self.config.dial.max_relays:
            self._refuse(stream, request, StatusCode.BUSY, "too many connections at once")
            return
        started = time.monotonic()
        try:
            sock = await self.dialer.dial(request.to)
        except DialRefusal as exc:
            self._refuse(stream, request, exc.code, exc.text)
            return
        finally:
            self.metrics.dial_seconds.observe(time.monotonic() - started)
        await self._relay(stream, request, sock)

    async def _relay(self, stream: Stream, request: OpenRequest, sock: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError as exc:
            sock.close()
            self._refuse(
                stream, request, StatusCode.UNREACHABLE, f"cannot use the connection: {exc}"
            )
            return
        proto = TunnelProtocol(we_are="connector", receive_window=self.config.dial.window)
        proto.start_sending(request.window)
        ok = Status(
            StatusCode.OK,
            "",
            self.config.dial.window,
            status_proof(self.config.token, request.nonce, StatusCode.OK),
        )
        if not stream_write(stream, proto.send_status(ok)):
            writer.close()
            return
        self.metrics.dials.labels(StatusCode.OK).inc()
        relay = Relay(
            TunnelStream(stream, proto),
            reader,
            writer,
            idle_timeout=request.idle
            if request.idle is not None
            else self.config.dial.idle_timeout,
            count_to_socket=self.metrics.to_app.inc,
            count_from_socket=self.metrics.from_app.inc,
        )
        self._relays.add(relay)
        self.metrics.active.inc()
        try:
            result = await relay.run()
        finally:
            self._relays.discard(relay)
            self.metrics.active.dec()
        self.metrics.closed.labels(result.outcome).inc()
        log.debug(
            "relay to %s (app %s) ended: %s %s",
            request.to,
            request.app,
            result.outcome,
            result.reason,
        )

    # ---------------------------------------------------------------------- scans

    async def _scan(self, stream: Stream, request: OpenRequest) -> None:
        plan = self._scan_plan(stream, request)
        if plan is None:
            return
        proto = TunnelProtocol(we_are="connector", receive_window=self.config.dial.window)
        proof = status_proof(self.config.token, request.nonce, StatusCode.OK)
        ok = Status(StatusCode.OK, "", self.config.dial.window, proof)
        if not stream_write(stream, proto.send_status(ok)):
            return
        self._scans += 1
        try:
            outcome = await self._run_scan(stream, proto, request, plan)
        finally:
            self._scans -= 1
        self.metrics.scans.labels(outcome).inc()

    def _scan_plan(self, stream: Stream, request: OpenRequest) -> ScanPlan | None:
        """The scan's targets, or None after refusing it."""
        settings = self.config.scan
        assert request.scan is not None
        refusal: tuple[str, str] | None = None
        plan = None
        if not settings.enable:
            refusal = (StatusCode.NOT_ALLOWED, "scanning is disabled on this connector")
        elif self._scans >= settings.max_running:
            refusal = (StatusCode.BUSY, "too many scans at once")
        else:
            try:
                plan = plan_scan(request.scan, self.allowlist, settings.max_targets)
            except RequestError as exc:
                refusal = (StatusCode.BAD_REQUEST, str(exc))
        if refusal is not None:
            self._refuse(stream, request, *refusal)
            self.metrics.scans.labels("refused").inc()
        return plan

    async def _run_scan(
        self, stream: Stream, proto: TunnelProtocol, request: OpenRequest, plan: ScanPlan
    ) -> str:
        """Probe, reporting on the stream; ``completed`` or ``cancelled`` (the entry closed
        the stream, or went away)."""
        settings = self.config.scan
        assert request.scan is not None

        async def report(doc: dict[str, Any]) -> None:
            if not stream_write(stream, proto.send_report(doc)):
                raise EndError("the entry went away")
            await stream.drain()

        scan = asyncio.ensure_future(
            run_scan(
                plan,
                timeout=min(request.scan.timeout, settings.max_timeout),
                concurrency=min(request.scan.concurrency, settings.max_concurrency),
                max_results=settings.max_results,
                report=report,
                on_probe=lambda found: self.metrics.probes.labels(
                    "open" if found else "closed"
                ).inc(),
            )
        )
        watcher = asyncio.ensure_future(_closed(stream))
        try:
            await asyncio.wait({scan, watcher}, return_when=asyncio.FIRST_COMPLETED)
            failure = scan.exception() if scan.done() else None
            if failure is not None and not isinstance(failure, EndError):
                log.warning("a scan failed", exc_info=failure)
            if not scan.done() or failure is not None:
                stream.dismiss()
                return "cancelled"
            result = scan.result()
            await report(result)
            stream_write(stream, proto.send_eof())
        except EndError:
            return "cancelled"
        finally:
            for task in (scan, watcher):
                task.cancel()
            await asyncio.gather(scan, watcher, return_exceptions=True)
        log.info("scan of %d targets: %d found", result["scanned"], len(result["applications"]))
        with contextlib.suppress(EndError, TimeoutError):
            async with asyncio.timeout(5.0):
                await stream.close()
        return "completed"


async def _closed(stream: Stream) -> None:
    """Returns once the entry closed the stream (it sends nothing else on a scan)."""
    while await stream.read(65536):
        pass
