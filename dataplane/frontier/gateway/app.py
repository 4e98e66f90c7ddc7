"""The frontier gateway: two geminio listeners, the exchange between them, and its HTTP sides.

`Gateway` owns every part and their order: listeners come up before readiness turns on;
a drain turns readiness off first, stops accepting, says goodbye to each connection as soon
as it is quiet (`drain.py`), and closes what is still busy at its deadline. Tests run it in
process on port 0; the `frontier` command runs it with signals wired to `drain()`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from ..geminio.aio import Server, ServerHooks
from ..listen import Listener, bind
from .addr import split_addr
from .config import FrontierConfig, load_config
from .drain import Drainer
from .edgebound import Edgebound
from .exchange import Exchange
from .frontlas_link import FrontlasLink, advertised_addr
from .hooks import ControlHooks, IdAllocator, cluster_id_node
from .limits import bound_settings, connection_budget, raise_nofile_limit, websocket_settings
from .metrics import GatewayMetrics
from .mq import build_bridges
from .rebalance import Rebalancer
from .registry import Registry
from .servicebound import Servicebound
from .tls import check_certificates, not_after_gauge, server_ssl_context

__all__ = ["Gateway", "split_addr"]

log = logging.getLogger("frontier.gateway")

SERVICEBOUND = Listener("servicebound", "servicebound.listen.addr", "FRONTIER_SERVICEBOUND_PORT")
EDGEBOUND = Listener("edgebound", "edgebound.listen.addr", "FRONTIER_EDGEBOUND_PORT")
WEBSOCKET = Listener(
    "edgebound WebSocket",
    "edgebound.websocket.listen.addr",
    "FRONTIER_EDGEBOUND_WEBSOCKET_PORT",
)
CONTROL_API = Listener("control API", "controlplane.listen.addr", "FRONTIER_CONTROLPLANE_PORT")
OBSERVABILITY = Listener("observability", "observability.addr", "FRONTIER_OBSERVABILITY_PORT")


class Gateway:
    def __init__(self, config: FrontierConfig | None = None) -> None:
        self.config = config if config is not None else load_config(None)
        config = self.config
        self.registry = Registry()
        self.frontier_id = config.daemon.frontier_id or f"frontier-{socket.gethostname()}"
        """This frontier's cluster-wide ID (``daemon.frontier_id``, env FRONTIER_ID)."""
        self.metrics = GatewayMetrics()
        # read when scraped, not kept up to date on every connection
        self.metrics.edges_online.set_function(lambda: len(self.registry.edges))
        self.metrics.services_online.set_function(lambda: len(self.registry.services))
        exchange_config = config.exchange
        self.mq = build_bridges(
            config.mqm,
            self.metrics.registry,
            hashby=exchange_config.hashby,
            timeout=exchange_config.forward_timeout,
        )
        self.exchange = Exchange(
            self.registry,
            self.metrics,
            hashby=exchange_config.hashby,
            forward_timeout=exchange_config.forward_timeout,
            router=self.mq.router if self.mq is not None else None,
        )
        self.hooks = ControlHooks(
            self.registry,
            self.metrics,
            self.exchange.pick,
            timeout=exchange_config.forward_timeout,
            presence_all=exchange_config.presence_hooks == "all",
            alloc_when_no_idservice=config.edgebound.edgeid_alloc_when_no_idservice_on,
            honour_wanted_id=config.edgebound.honour_wanted_id,
        )
        if config.frontlas.enable:  # IDs must not collide with other frontiers'
            node = cluster_id_node(self.frontier_id)
            self.hooks.allocate = IdAllocator(lambda i: i in self.registry.edges, node)
        self.edgebound = Edgebound(
            self.registry,
            self.exchange,
            self.hooks,
            self.metrics,
            cleanup_timeout=exchange_config.forward_timeout + 5.0,
            replace_hold=config.edgebound.replace_hold,
        )
        self.servicebound = Servicebound(
            self.registry, self.exchange, self.metrics, token=config.servicebound.token
        )
        self.budget = connection_budget(
            raise_nofile_limit(config.daemon), config.edgebound, config.servicebound
        )
        """Each listener's max_connections (configured, or shared out of RLIMIT_NOFILE)."""
        self._service_server = self._server(
            "servicebound", self.servicebound.server_hooks(), self.budget.services
        )
        self._edge_server = self._server(
            "edgebound", self.edgebound.server_hooks(), self.budget.edges
        )
        self._websocket_server: Server | None = None
        """Edges over WebSocket (``edgebound.websocket``): the same Edgebound, its own
        listener, limits and metrics label."""
        if config.edgebound.websocket.enable:
            self._websocket_server = self._websocket(self.budget.websocket_edges)
        self._http: list[Any] = []
        self._control: Any = None
        self.frontlas: FrontlasLink | None = None
        self.rebalancer: Rebalancer | None = None
        self._observability: Any = None
        self._service_port: int | None = None
        self._edge_port: int | None = None
        self._websocket_port: int | None = None
        self._started = False
        self._draining = False
        self._closed = False

    def _server(self, bound: str, hooks: ServerHooks, max_connections: int) -> Server:
        settings = self.config.edgebound if bound == "edgebound" else self.config.servicebound
        listener_limits, connection_config = bound_settings(settings, max_connections)
        server = Server(
            hooks=hooks,
            config=connection_config,
            listener_limits=listener_limits,
            observer=self.metrics.listener_observer(bound),
            name=bound,
        )
        listener = server.listener
        gauge = self.metrics.connections_open.labels(bound, "tcp")
        gauge.set_function(lambda: listener.connections)
        return server

    def _websocket(self, max_connections: int) -> Server:
        from ..geminio.aio.websocket import WebSocketOptions

        ws = self.config.edgebound.websocket
        listener_limits, connection_config = websocket_settings(
            self.config.edgebound, max_connections
        )
        server = Server(
            hooks=self.edgebound.server_hooks("websocket"),
            config=connection_config,
            listener_limits=listener_limits,
            observer=self.metrics.listener_observer("edgebound", "websocket"),
            name="edgebound WebSocket",
            websocket=WebSocketOptions(
                path=ws.path,
                origins=ws.origins,
                subprotocol=ws.subprotocol,
                max_message=ws.max_message,
            ),
        )
        listener = server.listener
        gauge = self.metrics.connections_open.labels("edgebound", "websocket")
        gauge.set_function(lambda: listener.connections)
        return server

    # ------------------------------------------------------------------------------ state

    @property
    def ready(self) -> bool:
        """Listeners up, registered with frontlas in cluster mode (once: a later frontlas
        outage does not stop local forwarding, so it does not make us unready), and not
        draining (what `/readyz` reports)."""
        if self.frontlas is not None and not self.frontlas.registered.is_set():
            return False
        return self._started and not self._draining and not self._closed

    @property
    def servicebound_port(self) -> int:
        """The bound port (stays known after the listener closed, for logs and tests)."""
        if self._service_port is None:
            raise RuntimeError("the gateway has not started")
        return self._service_port

    @property
    def edgebound_port(self) -> int:
        if self._edge_port is None:
            raise RuntimeError("the gateway has not started")
        return self._edge_port

    @property
    def websocket_port(self) -> int | None:
        """The WebSocket listener's port (None when ``edgebound.websocket`` is off)."""
        return self._websocket_port

    @property
    def controlplane_port(self) -> int | None:
        return self._control.port if self._control is not None else None

    @property
    def observability_port(self) -> int | None:
        return self._observability.port if self._observability is not None else None

    # -------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        config = self.config
        sb_ssl = server_ssl_context(config.servicebound.listen.tls, "servicebound.listen")
        eb_ssl = server_ssl_context(config.edgebound.listen.tls, "edgebound.listen")
        ws = config.edgebound.websocket
        ws_ssl = (
            server_ssl_context(ws.listen.tls, "edgebound.websocket.listen")
            if self._websocket_server is not None
            else None
        )
        for where, tls in (
            ("servicebound.listen", config.servicebound.listen.tls),
            ("edgebound.listen", config.edgebound.listen.tls),
            ("edgebound.websocket.listen", ws.listen.tls if ws.enable else None),
            ("controlplane.listen", config.controlplane.listen.tls),
        ):
            if tls is None:
                continue
            check_certificates(tls, where, not_after_gauge(self.metrics.tls_not_after, where))
        sb_host, sb_port = split_addr(config.servicebound.listen.addr, "servicebound.listen.addr")
        eb_host, eb_port = split_addr(config.edgebound.listen.addr, "edgebound.listen.addr")
        try:
            if self.mq is not None:  # a broker down does not stop us: its bridge retries
                await self.mq.start()
            if config.observability.enable:
                await self._start_observability()
            await bind(
                SERVICEBOUND,
                sb_host,
                sb_port,
                self._service_server.start(sb_host or None, sb_port, ssl=sb_ssl),
            )
            self._service_port = self._service_server.port
            await bind(
                EDGEBOUND,
                eb_host,
                eb_port,
                self._edge_server.start(eb_host or None, eb_port, ssl=eb_ssl),
            )
            self._edge_port = self._edge_server.port
            if self._websocket_server is not None:
                ws_host, ws_port = split_addr(ws.listen.addr, "edgebound.websocket.listen.addr")
                await bind(
                    WEBSOCKET,
                    ws_host,
                    ws_port,
                    self._websocket_server.start(ws_host or None, ws_port, ssl=ws_ssl),
                )
                self._websocket_port = self._websocket_server.port
            if config.controlplane.enable:
                await self._start_control()
            if config.frontlas.enable:
                self._start_frontlas_link()
        except BaseException:
            await self.close()
            raise
        self._started = True
        websocket = ""
        if self._websocket_server is not None:
            scheme = "wss" if ws_ssl is not None else "ws"
            websocket = f", edges over WebSocket :{self._websocket_port} ({scheme}, {ws.path})"
        log.info(
            "frontier up: servicebound :%d, edgebound :%d%s%s%s (max connections: %d edges%s, "
            "%d services; RLIMIT_NOFILE %d)",
            self.servicebound_port,
            self.edgebound_port,
            websocket,
            f", control :{self.controlplane_port}" if self._control is not None else "",
            f", observability :{self.observability_port}" if self._observability else "",
            self.budget.edges,
            f" + {self.budget.websocket_edges} over WebSocket" if websocket else "",
            self.budget.services,
            self.budget.nofile,
        )

    async def _start_observability(self) -> None:
        from ..httpserve import HttpListener
        from .observability import build_observability_app

        host, port = split_addr(self.config.observability.addr, "observability.addr")
        app = build_observability_app(ready=lambda: self.ready, registry=self.metrics.registry)
        listener = HttpListener(app, host, port)
        await bind(OBSERVABILITY, host, port, listener.start())
        self._observability = listener
        self._http.append(listener)

    def _start_frontlas_link(self) -> None:
        config = self.config
        towards = config.frontlas.dial.addrs[0] if config.frontlas.dial.addrs else ""
        self.frontlas = FrontlasLink(
            config,
            self.registry,
            frontier_id=self.frontier_id,
            servicebound_addr=advertised_addr(
                config.servicebound.listen.advertised_addr,
                config.servicebound.listen.addr,
                self.servicebound_port,
                towards,
            ),
            edgebound_addr=advertised_addr(
                config.edgebound.listen.advertised_addr,
                config.edgebound.listen.addr,
                self.edgebound_port,
                towards,
            ),
            metrics=self.metrics,
        )
        self.frontlas.start()
        if config.frontlas.rebalance.enable:
            self.rebalancer = Rebalancer(
                config.frontlas.rebalance,
                self.registry,
                frontier_id=self.frontier_id,
                counts=self.frontlas.cluster_counts,
                kick=self.edgebound.kick_id,
                metrics=self.metrics,
            )
            self.rebalancer.start()

    async def _start_control(self) -> None:
        from ..httpserve import HttpListener
        from .controlplane import build_control_app

        listen = self.config.controlplane.listen
        host, port = split_addr(listen.addr, "controlplane.listen.addr")
        app = build_control_app(
            self.registry,
            kick_edge=self.edgebound.kick_id,
            kick_service=self.servicebound.kick_id,
            token=self.config.controlplane.token,
        )
        listener = HttpListener(
            app, host, port, ssl=server_ssl_context(listen.tls, "controlplane.listen")
        )
        await bind(CONTROL_API, host, port, listener.start())
        self._control = listener
        self._http.append(listener)

    async def drain(self, seconds: float | None = None) -> None:
        """Readiness off, stop accepting, then say goodbye to each connection as soon as
        nothing of its own is in flight (edges first, services once the edges are gone:
        the edges' calls and offline hooks need them), for up to `seconds` (default: the
        configured `daemon.drain_seconds`); what is still busy then is closed anyway.
        Returns (after `close()`) as soon as every connection has left (docs/gateway.md
        "Drain")."""
        if seconds is None:
            seconds = self.config.daemon.drain_seconds
        self._draining = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + seconds
        log.info(
            "draining: not ready, not accepting; closing each of %d edges and %d services "
            "once quiet, within %.1f s",
            len(self.registry.edges),
            len(self.registry.services),
            seconds,
        )
        self._service_server.stop_listening()
        self._edge_server.stop_listening()
        if self._websocket_server is not None:
            self._websocket_server.stop_listening()
        if self.rebalancer is not None:  # its kicks would cut calls the drain waits for
            await self.rebalancer.close()
        drainer = Drainer(self.exchange, self.metrics)
        for bound, entries in (
            ("edgebound", lambda: list(self.registry.edges.values())),
            ("servicebound", lambda: list(self.registry.services.values())),
        ):
            left = await drainer.run(bound, entries, deadline)
            log.info(
                "drain: %s connections closed after %.2f s: %d idle, %d once their last "
                "call was answered, %d once new work refused let them finish, %d still "
                "busy at the deadline",
                bound,
                loop.time() - started,
                drainer.counts.get("idle", 0),
                drainer.counts.get("settled", 0),
                drainer.counts.get("stopped", 0),
                left,
            )
            if left:
                break
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.rebalancer is not None:
            await self.rebalancer.close()
        if self.frontlas is not None:
            await self.frontlas.close()
        # edges first: their offline hooks still reach the services
        await self._edge_server.close()
        if self._websocket_server is not None:
            await self._websocket_server.close()
        await self._service_server.close()
        for listener in reversed(self._http):
            await listener.close()
        self._http.clear()
        if self.mq is not None:  # after the listeners: no message can reach a bridge now
            await self.mq.close()
        self.exchange.relay.timeouts.close()  # (every connection is closed: nothing waits)

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
