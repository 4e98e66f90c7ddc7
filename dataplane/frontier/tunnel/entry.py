"""The entry (``frontier-tunnel serve``): a service on the gateway that publishes apps.

It holds a `Service` (a `ClusterService` with ``frontlas.addr``) registered as the
gateway's ID and authentication hooks (`tunnels.ConnectorDirectory`), and serves the
published apps: TCP apps on their own listeners, HTTP apps behind the HTTP front
(`http_front`). Apps come from the configuration and, at run time, from the REST API
(`api`); runtime changes are not written back to the file.

Start-up order: hooks are registered before the first connection (a connector dialing at
that moment is authenticated at once), the listeners open before the gateway is reached
(a connection then gets a clear "the entry is not connected to the gateway"), and the
gateway is dialed until it answers, for as long as the entry runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from ..addr import split_addr
from ..gateway.tls import client_ssl_context, server_ssl_context
from ..geminio.aio import Backoff, EndError
from ..httpserve import HttpListener
from ..listen import Listener, bind
from ..sdk import ClusterService, FrontlasError, Service
from ..strict_yaml import ConfigError
from ..throttled_log import ThrottledLog
from .apps import AppListener
from .config import App, EntryConfig, validate_app
from .http_front import HttpApp, HttpFront, client_cert_context
from .metrics import EntryMetrics
from .scans import ScanBook
from .tunnels import ConnectorDirectory, Gateway, PresenceProber, TunnelOpener
from .wire import MIN_WINDOW

__all__ = ["MAX_APPS", "AppExists", "Entry"]

log = logging.getLogger("frontier.tunnel.entry")

MAX_APPS: Final = 1000
_WATCH_INTERVAL: Final = 1.0


class AppExists(Exception):
    pass


class Entry:
    def __init__(self, config: EntryConfig, metrics: EntryMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or EntryMetrics()
        self.directory = ConnectorDirectory(config.tokens(), self.metrics)
        self.gateway: Gateway = self._new_gateway()
        self.opener = TunnelOpener(
            self.gateway,
            self.directory,
            window=max(config.tunnel.window, MIN_WINDOW),
            open_timeout=config.tunnel.open_timeout,
            gateway_online=self.online,
        )
        self.prober = PresenceProber(self.gateway, self.directory)
        self.directory.on_offline = self.prober.recheck
        self.http = HttpFront(self.metrics)
        self.http_listener: HttpListener | None = None
        self.tcp_apps: dict[str, AppListener] = {}
        self.sources: dict[str, str] = {}
        self.scans = ScanBook(self.opener, self.metrics)
        self._connecting: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._dial_failures = ThrottledLog(log, 30.0)

    # ------------------------------------------------------------------- gateway

    def _new_gateway(self) -> Gateway:
        link = self.config.gateway
        ssl = client_ssl_context(link.tls, "gateway.tls")
        server_hostname = link.server_name or None
        if self.config.frontlas.addr:
            return ClusterService(
                self.config.frontlas.addr,
                name=link.service_name,
                ssl=ssl,
                server_hostname=server_hostname,
                heartbeat=link.heartbeat,
                token=link.token,
                frontlas_token=self.config.frontlas.token,
            )
        return Service(
            list(link.addrs),
            name=link.service_name,
            ssl=ssl,
            server_hostname=server_hostname,
            heartbeat=link.heartbeat,
            token=link.token,
        )

    async def _hook(self, gateway: Gateway) -> None:
        directory = self.directory
        await gateway.on_get_edge_id(directory.get_edge_id)
        await gateway.on_edge_online(directory.edge_online)
        await gateway.on_edge_ready(directory.edge_ready)
        await gateway.on_edge_offline(directory.edge_offline)

    def online(self) -> bool:
        gateway = self.gateway
        if isinstance(gateway, ClusterService):
            return bool(gateway.frontiers)
        return isinstance(gateway, Service) and gateway.online

    async def _connect_forever(self) -> None:
        delays = Backoff(initial=0.5, maximum=15.0).delays()
        where = self.config.frontlas.addr or ", ".join(self.config.gateway.addrs)
        while True:
            gateway = self.gateway
            await self._hook(gateway)
            try:
                await gateway.start()
            except (OSError, EndError, FrontlasError) as exc:
                self._dial_failures.warning(
                    "dial", "cannot reach the gateway at %s: %s (retrying)", where, exc
                )
                with contextlib.suppress(Exception):
                    await gateway.close()
                await asyncio.sleep(delays.next())
                self.gateway = self._new_gateway()  # a failed start() closed the old one
                self.opener.gateway = self.prober.gateway = self.gateway
                continue
            log.info("connected to the gateway at %s", where)
            return

    async def _watch(self) -> None:
        """Probe every connector whenever the gateway connection (re)appears: presence
        hooks only tell of changes made while we were there."""
        was_online = False
        while True:
            online = self.online()
            self.metrics.gateway_online.set(
                len(self.gateway.frontiers) if isinstance(self.gateway, ClusterService)
                else int(online)
            )  # fmt: skip
            if online and not was_online:
                self.prober.probe_all()
            elif was_online and not online:
                log.warning("lost the gateway; reconnecting")
            was_online = online
            await asyncio.sleep(_WATCH_INTERVAL)

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        config = self.config
        for index, app in enumerate(config.apps):
            await self._start_app(app, f"apps[{index}]")
            self.sources[app.name] = "config"
        if config.http.enable:
            host, port = split_addr(config.http.addr, "http.addr")
            tls = config.http.tls
            context = client_cert_context(server_ssl_context(tls, "http"), tls.ca_certs, tls.mtls)
            self.http_listener = HttpListener(self.http.app, host, port, ssl=context)
            await bind(Listener("http", "http.addr"), host, port, self.http_listener.start())
        self._connecting = asyncio.ensure_future(self._connect_forever())
        self._watcher = asyncio.ensure_future(self._watch())

    def ready(self) -> bool:
        return self.online()

    def ports(self) -> dict[str, int]:
        """The HTTP front's and every TCP app's port (for the start-up line)."""
        ports = {"http": self.http_listener.port} if self.http_listener is not None else {}
        ports.update((f"app {name}", app.port) for name, app in self.tcp_apps.items())
        return ports

    async def drain(self, seconds: float) -> None:
        """Stop accepting; let open connections finish for up to `seconds`."""
        for listener in self.tcp_apps.values():
            listener.stop_listening()
        if self.http_listener is not None:
            self.http_listener.stop_accepting()
        tasks: set[asyncio.Task[Any]] = set()
        for listener in self.tcp_apps.values():
            tasks |= listener.tasks()
        for http_app in self.http.apps.values():
            tasks |= http_app.tasks()
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)

    async def close(self) -> None:
        for task in (self._connecting, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.scans.close()
        await self.prober.close()
        if self.http_listener is not None:
            await self.http_listener.close()
        for name in list(self.tcp_apps):
            await self.tcp_apps.pop(name).close("the entry is stopping")
        for name in list(self.http.apps):
            app = self.http.remove(name)
            if app is not None:
                await app.close("the entry is stopping")
        self.http.close()
        await self.gateway.close()

    # ---------------------------------------------------------------------- apps

    async def _start_app(self, app: App, where: str) -> None:
        if app.kind == "tcp":
            context = server_ssl_context(app.tls, where) if app.tls.enable else None
            listener = AppListener(app, self.opener, self.metrics, ssl=context)
            await listener.start(where)
            self.tcp_apps[app.name] = listener
            log.info(
                "app %r: %s -> connector %r -> %s", app.name, app.listen, app.connector, app.target
            )
            return
        unix = AppListener(app, self.opener, self.metrics, unix_path=self.http.socket_path())
        http_app = HttpApp(app, unix, self.opener, self.metrics)
        self.http.add(http_app)  # raises ValueError on a duplicate route, before listening
        try:
            await http_app.start()
        except BaseException:
            self.http.remove(app.name)
            raise
        log.info(
            "app %r: http %s%s -> connector %r -> %s",
            app.name,
            app.host or "*",
            app.path,
            app.connector,
            app.target,
        )

    def app_names(self) -> list[str]:
        return sorted([*self.tcp_apps, *self.http.apps])

    def app_config(self, name: str) -> App | None:
        if name in self.tcp_apps:
            return self.tcp_apps[name].app
        http_app = self.http.apps.get(name)
        return http_app.config if http_app is not None else None

    def describe_app(self, name: str) -> dict[str, Any]:
        app = self.app_config(name)
        assert app is not None
        doc: dict[str, Any] = {
            "name": app.name,
            "kind": app.kind,
            "connector": app.connector,
            "target": app.target,
            "source": self.sources.get(name, "api"),
        }
        if app.kind == "tcp":
            listener = self.tcp_apps[name]
            doc.update(listen=app.listen, port=listener.port, active=len(listener.relays))
        else:
            http_app = self.http.apps[name]
            doc.update(
                host=app.host,
                path=app.path,
                strip_path=app.strip_path,
                active=len(http_app.relays) + len(http_app.listener.relays),
            )
        doc["auth"] = {
            "bearer_tokens": len(app.auth.bearer_tokens),
            "basic_users": [user.user for user in app.auth.basic],
            "client_cert": app.auth.client_cert,
        }
        doc["allow_from"] = list(app.allow_from)
        return doc

    async def add_app(self, app: App) -> None:
        """Publish `app` now (the API's POST); `ConfigError` or `AppExists`; an `OSError`
        (a `ListenError`) when its port cannot be bound."""
        validate_app(app, "app", set(self.directory.tokens))
        if self.app_config(app.name) is not None:
            raise AppExists(f"an app named {app.name!r} exists")
        if len(self.app_names()) >= MAX_APPS:
            raise ConfigError(f"at most {MAX_APPS} apps")
        taken = {a.app.listen for a in self.tcp_apps.values()}
        if app.kind == "tcp" and not app.listen.endswith(":0") and app.listen in taken:
            raise AppExists(f"another app listens on {app.listen}")
        try:
            await self._start_app(app, "app")
        except ValueError as exc:  # a duplicate route
            raise AppExists(str(exc)) from None
        self.sources[app.name] = "api"

    async def remove_app(self, name: str) -> bool:
        """Unpublish `name`: its listener closes and its connections are reset."""
        listener = self.tcp_apps.pop(name, None)
        if listener is not None:
            await listener.close()
        else:
            http_app = self.http.remove(name)
            if http_app is None:
                return False
            await http_app.close()
        self.sources.pop(name, None)
        log.info("app %r removed", name)
        return True
