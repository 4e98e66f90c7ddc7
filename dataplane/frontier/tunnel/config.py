"""The two configurations of ``frontier-tunnel``: the entry (``serve``) and the connector
(``connect``). Strict YAML (unknown keys and wrong types are errors naming their path),
then the environment, then flags, as for the other daemons.

Secrets: the connector's token is best given as ``token_file`` (a mounted secret) or the
environment (``FRONTIER_TUNNEL_TOKEN``); the entry's connector tokens as ``token_file``;
its gateway token as ``FRONTIER_TUNNEL_GATEWAY_TOKEN`` and its API token as
``FRONTIER_TUNNEL_API_TOKEN``. A flag would show in the process list.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..addr import split_addr
from ..gateway.config import TLS
from ..strict_yaml import ConfigError, build, convert, load_yaml, nonneg_int, positive_seconds
from ..strict_yaml import seconds as seconds_value
from .allow import ConnectorAllowlist
from .routes import normalise_host, normalise_path
from .wire import DEFAULT_WINDOW, MAX_WINDOW, MIN_WINDOW, connector_edge_id, parse_target

__all__ = [
    "App",
    "ConnectorConfig",
    "EntryConfig",
    "apply_connector_flags",
    "apply_entry_flags",
    "connector_default_yaml",
    "entry_default_yaml",
    "load_connector_config",
    "load_entry_config",
    "parse_connector_config",
    "parse_entry_config",
    "validate_app",
]

MIN_TOKEN = 16
"""Shorter tokens are accepted with a warning at start-up."""


# -------------------------------------------------------------------------- shared


@dataclass(frozen=True)
class LogFile:
    path: str = "/var/log/frontier/tunnel.log"
    max_size: int = 100
    max_backups: int = 5
    max_age: int = 30
    compress: bool = False

    _convert: ClassVar[Mapping[str, Any]] = {
        "max_size": nonneg_int,
        "max_backups": nonneg_int,
        "max_age": nonneg_int,
    }


@dataclass(frozen=True)
class Log:
    level: Literal["debug", "info", "warn", "warning", "error"] = "info"
    output: Literal["stdout", "stderr", "file", "both"] = "stdout"
    format: Literal["text", "json"] = "text"
    file: LogFile = field(default_factory=LogFile)


@dataclass(frozen=True)
class Observability:
    enable: bool = True
    addr: str = "0.0.0.0:9094"


@dataclass(frozen=True)
class Daemon:
    drain_seconds: float = 30.0

    _convert: ClassVar[Mapping[str, Any]] = {"drain_seconds": seconds_value}


def _read_secret(path: str, where: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path!r}: {exc.strerror}") from None


def _apply_log_env(log: Log, env: Mapping[str, str]) -> Log:
    hints = typing.get_type_hints(Log)
    for key, attr in (("LOG_LEVEL", "level"), ("LOG_FORMAT", "format"), ("LOG_OUTPUT", "output")):
        if value := env.get(key):
            log = dataclasses.replace(log, **{attr: convert(hints[attr], value, key)})
    if value := env.get("LOG_FILE"):
        log = dataclasses.replace(log, file=dataclasses.replace(log.file, path=value))
    return log


def _check_addr(addr: str, where: str) -> None:
    split_addr(addr, where)


def _check_window(window: int, where: str) -> None:
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ConfigError(f"{where}: {MIN_WINDOW}..{MAX_WINDOW} bytes (got {window})")


def _check_tls_files(tls: TLS, where: str, *, server: bool) -> None:
    if tls.enable and server and not tls.certs:
        raise ConfigError(f"{where}.certs: TLS is enabled but no certificate is given")


# --------------------------------------------------------------------------- entry


@dataclass(frozen=True)
class EntryGateway:
    """How the entry reaches the gateway's servicebound port."""

    addrs: tuple[str, ...] = ("127.0.0.1:30011",)
    token: str = field(default="", repr=False)
    """The gateway's ``servicebound.token`` (env FRONTIER_TUNNEL_GATEWAY_TOKEN)."""
    service_name: str = "frontier-tunnel"
    heartbeat: int = 20
    tls: TLS = field(default_factory=TLS)
    server_name: str = ""


@dataclass(frozen=True)
class Frontlas:
    """Cluster mode: set ``addr`` (frontlas's cluster API) to reach connectors on every
    frontier of a cluster (a `ClusterService` instead of a `Service`)."""

    addr: str = ""
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class ConnectorEntry:
    name: str = ""
    token: str = field(default="", repr=False)
    token_file: str = ""


@dataclass(frozen=True)
class BasicUser:
    user: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Auth:
    """Who may use an app. Bearer tokens and basic users are alternatives (any one admits);
    ``client_cert`` is a requirement of its own."""

    bearer_tokens: tuple[str, ...] = field(default=(), repr=False)
    basic: tuple[BasicUser, ...] = ()
    client_cert: bool = False
    """Require a client certificate verified against the listener's CA (HTTP apps:
    ``http.tls.ca_certs``; TCP apps: the app's own ``tls.ca_certs`` with ``mtls``)."""
    realm: str = "frontier-tunnel"

    @property
    def required(self) -> bool:
        return bool(self.bearer_tokens or self.basic or self.client_cert)


@dataclass(frozen=True)
class App:
    name: str = ""
    kind: Literal["tcp", "http"] = "tcp"
    connector: str = ""
    target: str = ""
    """``host:port`` as the connector dials it (resolved on the connector's side)."""
    listen: str = ""
    """TCP apps: the entry's listening address."""
    host: str = ""
    """HTTP apps: the Host to route by (``""``: any; ``*.example.com``: its subdomains)."""
    path: str = "/"
    """HTTP apps: the path prefix to route by."""
    strip_path: bool = False
    preserve_host: bool = True
    """HTTP apps: pass the client's Host header on (else the target's host:port)."""
    idle_timeout: float = 900.0
    """TCP apps: seconds without a byte either way before the connection is dropped."""
    response_timeout: float = 60.0
    """HTTP apps: seconds for the response headers, and between body reads (not for
    WebSockets once upgraded: those have no timeout)."""
    max_connections: int = 1024
    allow_from: tuple[str, ...] = ()
    """Client networks (CIDR) allowed; empty: any."""
    tls: TLS = field(default_factory=TLS)
    """TCP apps: terminate TLS at the entry (``mtls``: require client certificates)."""
    auth: Auth = field(default_factory=Auth)

    _convert: ClassVar[Mapping[str, Any]] = {
        "idle_timeout": seconds_value,
        "response_timeout": seconds_value,
        "max_connections": nonneg_int,
    }


@dataclass(frozen=True)
class HttpFront:
    enable: bool = True
    addr: str = "0.0.0.0:30080"
    tls: TLS = field(default_factory=TLS)
    """``ca_certs`` without ``mtls``: client certificates are asked for and verified when
    sent (apps with ``auth.client_cert`` need one); with ``mtls``: required for all."""


@dataclass(frozen=True)
class TunnelSettings:
    window: int = DEFAULT_WINDOW
    open_timeout: float = 10.0
    """Seconds to open a tunnel: the stream, and the connector's dial until its answer."""

    _convert: ClassVar[Mapping[str, Any]] = {"open_timeout": positive_seconds}


@dataclass(frozen=True)
class Api:
    enable: bool = False
    addr: str = "127.0.0.1:30081"
    token: str = field(default="", repr=False)
    """Bearer token for the API (env FRONTIER_TUNNEL_API_TOKEN); empty: none needed."""


@dataclass(frozen=True)
class EntryConfig:
    gateway: EntryGateway = field(default_factory=EntryGateway)
    frontlas: Frontlas = field(default_factory=Frontlas)
    connectors: tuple[ConnectorEntry, ...] = ()
    apps: tuple[App, ...] = ()
    http: HttpFront = field(default_factory=HttpFront)
    tunnel: TunnelSettings = field(default_factory=TunnelSettings)
    api: Api = field(default_factory=Api)
    observability: Observability = field(default_factory=Observability)
    daemon: Daemon = field(default_factory=Daemon)
    log: Log = field(default_factory=Log)

    def tokens(self) -> dict[str, str]:
        """Connector name -> token (files read by validation)."""
        return {c.name: c.token for c in self.connectors}


def parse_entry_config(data: Any, env: Mapping[str, str] | None = None) -> EntryConfig:
    config = build(EntryConfig, data, "")
    env = env or {}
    replace = dataclasses.replace
    if token := env.get("FRONTIER_TUNNEL_GATEWAY_TOKEN"):
        config = replace(config, gateway=replace(config.gateway, token=token))
    if token := env.get("FRONTIER_TUNNEL_API_TOKEN"):
        config = replace(config, api=replace(config.api, token=token))
    config = replace(config, log=_apply_log_env(config.log, env))
    return validate_entry(config)


def load_entry_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> EntryConfig:
    return parse_entry_config(None if path is None else load_yaml(path), env)


def validate_entry(config: EntryConfig) -> EntryConfig:
    """Checks beyond types; reads the connectors' ``token_file``s."""
    if not config.gateway.addrs and not config.frontlas.addr:
        raise ConfigError("gateway.addrs: give at least one servicebound address")
    for i, addr in enumerate(config.gateway.addrs):
        _check_addr(addr, f"gateway.addrs[{i}]")
    if config.frontlas.addr:
        _check_addr(config.frontlas.addr.split("://", 1)[-1], "frontlas.addr")
    if config.gateway.heartbeat not in (5, 20, 80, 320):
        raise ConfigError("gateway.heartbeat: 5, 20, 80 or 320 seconds")
    if not config.gateway.service_name:
        raise ConfigError("gateway.service_name: must not be empty")
    connectors: list[ConnectorEntry] = []
    ids: dict[int, str] = {}
    for i, entry in enumerate(config.connectors):
        where = f"connectors[{i}]"
        if not entry.name:
            raise ConfigError(f"{where}.name: must not be empty")
        if entry.name in {c.name for c in connectors}:
            raise ConfigError(f"{where}.name: {entry.name!r} is listed twice")
        token = entry.token
        if entry.token_file and not token:
            token = _read_secret(entry.token_file, f"{where}.token_file")
        if not token:
            raise ConfigError(f"{where}: give token or token_file")
        edge_id = connector_edge_id(entry.name)
        if edge_id in ids:  # pragma: no cover - 1 in 2^52 per pair
            raise ConfigError(f"{where}.name: {entry.name!r} and {ids[edge_id]!r} share an ID")
        ids[edge_id] = entry.name
        connectors.append(dataclasses.replace(entry, token=token, token_file=""))
    config = dataclasses.replace(config, connectors=tuple(connectors))
    known = {c.name for c in connectors}
    names: set[str] = set()
    listens: set[str] = set()
    routes: set[tuple[str, str]] = set()
    for i, app in enumerate(config.apps):
        validate_app(app, f"apps[{i}]", known)
        if app.name in names:
            raise ConfigError(f"apps[{i}].name: {app.name!r} is listed twice")
        names.add(app.name)
        if app.kind == "tcp":
            if app.listen in listens:
                raise ConfigError(f"apps[{i}].listen: {app.listen} is used by another app")
            if not app.listen.endswith(":0"):  # port 0: each gets a port of its own
                listens.add(app.listen)
        else:
            route = (normalise_host(app.host), normalise_path(app.path))
            if route in routes:
                raise ConfigError(
                    f"apps[{i}]: another app routes host {app.host!r} path {app.path!r}"
                )
            routes.add(route)
    _check_window(config.tunnel.window, "tunnel.window")
    if config.http.enable:
        _check_addr(config.http.addr, "http.addr")
        _check_tls_files(config.http.tls, "http.tls", server=True)
    if config.api.enable:
        _check_addr(config.api.addr, "api.addr")
    if config.observability.enable:
        _check_addr(config.observability.addr, "observability.addr")
    return config


def validate_app(app: App, where: str, connectors: set[str]) -> None:
    """One app's checks (also for apps added through the API); `ConfigError` naming it."""
    if not app.name or len(app.name) > 100 or not app.name.isprintable():
        raise ConfigError(f"{where}.name: 1 to 100 printable characters")
    if app.connector not in connectors:
        raise ConfigError(f"{where}.connector: {app.connector!r} is not in connectors")
    try:
        parse_target(app.target)
    except ValueError as exc:
        raise ConfigError(f"{where}.target: {exc}") from None
    if app.kind == "tcp":
        if not app.listen:
            raise ConfigError(f"{where}.listen: a TCP app needs host:port to listen on")
        _check_addr(app.listen, f"{where}.listen")
        if app.host or app.path != "/":
            raise ConfigError(f"{where}: host and path are for HTTP apps")
        _check_tls_files(app.tls, f"{where}.tls", server=True)
        if app.auth.bearer_tokens or app.auth.basic:
            raise ConfigError(f"{where}.auth: bearer tokens and basic auth are for HTTP apps")
        if app.auth.client_cert and not (app.tls.enable and app.tls.mtls):
            raise ConfigError(f"{where}.auth.client_cert: needs tls.enable and tls.mtls")
    else:
        if app.listen:
            raise ConfigError(f"{where}.listen: HTTP apps are served on http.addr")
        if app.tls.enable:
            raise ConfigError(f"{where}.tls: HTTP apps use http.tls")
        try:
            normalise_host(app.host)
            normalise_path(app.path)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    for j, net in enumerate(app.allow_from):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{where}.allow_from[{j}]: {exc}") from None
    for j, user in enumerate(app.auth.basic):
        if not user.user or ":" in user.user or not user.password:
            raise ConfigError(f"{where}.auth.basic[{j}]: a user (no ':') and a password")
    if any(not token for token in app.auth.bearer_tokens):
        raise ConfigError(f"{where}.auth.bearer_tokens: empty token")
    realm = app.auth.realm
    if not realm or not realm.isprintable() or '"' in realm or "\\" in realm:
        raise ConfigError(f"{where}.auth.realm: printable, without quotes or backslashes")


def app_from_doc(doc: object, where: str = "app") -> App:
    """An app from its JSON/YAML form (the API's request body)."""
    return build(App, doc, where)


def apply_entry_flags(args: argparse.Namespace, config: EntryConfig) -> EntryConfig:
    replace = dataclasses.replace
    if args.gateway:
        config = replace(config, gateway=replace(config.gateway, addrs=tuple(args.gateway)))
    if args.frontlas is not None:
        config = replace(config, frontlas=replace(config.frontlas, addr=args.frontlas))
    if args.http is not None:
        config = replace(config, http=replace(config.http, enable=bool(args.http), addr=args.http))
    if args.api is not None:
        config = replace(config, api=replace(config.api, enable=bool(args.api), addr=args.api))
    if args.observability is not None:
        obs = replace(
            config.observability, enable=bool(args.observability), addr=args.observability
        )
        config = replace(config, observability=obs)
    return validate_entry(config)


# ------------------------------------------------------------------------ connector


@dataclass(frozen=True)
class ConnectorGateway:
    """How the connector reaches the gateway's edgebound port (several: failover)."""

    addrs: tuple[str, ...] = ("127.0.0.1:30012",)
    heartbeat: int = 20
    tls: TLS = field(default_factory=TLS)
    server_name: str = ""


@dataclass(frozen=True)
class Dial:
    timeout: float = 5.0
    """Seconds to resolve and connect to a target."""
    max_relays: int = 1024
    idle_timeout: float = 900.0
    """For requests that name none (the entry names one for each app)."""
    window: int = DEFAULT_WINDOW

    _convert: ClassVar[Mapping[str, Any]] = {
        "timeout": positive_seconds,
        "idle_timeout": seconds_value,
        "max_relays": nonneg_int,
    }


@dataclass(frozen=True)
class Scan:
    enable: bool = True
    max_concurrency: int = 100
    max_timeout: float = 10.0
    """The longest per-probe connect timeout a request may ask for."""
    max_targets: int = 65536
    max_results: int = 4096
    max_running: int = 2

    _convert: ClassVar[Mapping[str, Any]] = {"max_timeout": positive_seconds}


@dataclass(frozen=True)
class ConnectorConfig:
    name: str = ""
    token: str = field(default="", repr=False)
    token_file: str = ""
    gateway: ConnectorGateway = field(default_factory=ConnectorGateway)
    allow: tuple[str, ...] = ()
    """What may be dialed: ``CIDR[:PORTS]``, ``HOST[:PORTS]``, ``*.DOMAIN[:PORTS]``;
    empty: nothing."""
    dial: Dial = field(default_factory=Dial)
    scan: Scan = field(default_factory=Scan)
    observability: Observability = field(
        default_factory=lambda: Observability(addr="127.0.0.1:9095")
    )
    daemon: Daemon = field(default_factory=Daemon)
    log: Log = field(default_factory=Log)


def parse_connector_config(
    data: Any, env: Mapping[str, str] | None = None, *, need_token: bool = True
) -> ConnectorConfig:
    config = build(ConnectorConfig, data, "")
    env = env or {}
    if token := env.get("FRONTIER_TUNNEL_TOKEN"):
        config = dataclasses.replace(config, token=token, token_file="")
    config = dataclasses.replace(config, log=_apply_log_env(config.log, env))
    return validate_connector(config, need_token=need_token)


def load_connector_config(
    path: str | Path | None, env: Mapping[str, str] | None = None
) -> ConnectorConfig:
    """For the daemon driver: name and token are checked after the flags."""
    return parse_connector_config(None if path is None else load_yaml(path), env, need_token=False)


def validate_connector(config: ConnectorConfig, *, need_token: bool = True) -> ConnectorConfig:
    if config.token_file and not config.token:
        token = _read_secret(config.token_file, "token_file")
        config = dataclasses.replace(config, token=token)
    if need_token:
        if not config.name:
            raise ConfigError("name: the connector's name, as the entry lists it")
        if not config.token:
            raise ConfigError("no token: give token_file, env FRONTIER_TUNNEL_TOKEN or token")
    if not config.gateway.addrs:
        raise ConfigError("gateway.addrs: give at least one edgebound address")
    for i, addr in enumerate(config.gateway.addrs):
        _check_addr(addr, f"gateway.addrs[{i}]")
    if config.gateway.heartbeat not in (5, 20, 80, 320):
        raise ConfigError("gateway.heartbeat: 5, 20, 80 or 320 seconds")
    try:
        ConnectorAllowlist.parse(config.allow)
    except ValueError as exc:
        raise ConfigError(f"allow: {exc}") from None
    _check_window(config.dial.window, "dial.window")
    if config.scan.max_concurrency < 1 or config.scan.max_targets < 1:
        raise ConfigError("scan: max_concurrency and max_targets must be at least 1")
    if config.observability.enable:
        _check_addr(config.observability.addr, "observability.addr")
    return config


def apply_connector_flags(args: argparse.Namespace, config: ConnectorConfig) -> ConnectorConfig:
    replace = dataclasses.replace
    if args.gateway:
        config = replace(config, gateway=replace(config.gateway, addrs=tuple(args.gateway)))
    if args.name is not None:
        config = replace(config, name=args.name)
    if args.token_file is not None:
        config = replace(config, token="", token_file=args.token_file)
    if args.allow:
        config = replace(config, allow=tuple(args.allow))
    if args.observability is not None:
        obs = replace(
            config.observability, enable=bool(args.observability), addr=args.observability
        )
        config = replace(config, observability=obs)
    return validate_connector(config, need_token=True)


# -------------------------------------------------------------------------- defaults

_TLS_CLIENT = """\
    enable: false
    ca_certs: []           # CAs to verify the gateway with (default: the system's)
    certs: []              # [{cert, key}]: a client certificate, for a gateway with mtls
    insecure_skip_verify: false"""


def entry_default_yaml() -> str:
    return f"""\
# frontier-tunnel serve (the entry): every key at its default; unknown keys are an error.
gateway:                   # the gateway's servicebound port
  addrs: [127.0.0.1:30011] # several: failover                                  (--gateway)
  token: ""                # servicebound.token (env FRONTIER_TUNNEL_GATEWAY_TOKEN)
  service_name: frontier-tunnel
  heartbeat: 20            # 5, 20, 80 or 320 seconds
  tls:
{_TLS_CLIENT}
  server_name: ""          # the name in the gateway's certificate, when dialing an IP
frontlas:                  # cluster mode: reach connectors on every frontier   (--frontlas)
  addr: ""                 # frontlas's cluster API, host:port; empty: one gateway
  token: ""                # its control_plane.token
connectors: []             # [{{name, token | token_file}}]: who may connect, and their tokens
apps: []                   # published apps, see docs/tunnel.md:
  # - name: ssh            #   tcp: a listener here, relayed to target by the connector
  #   kind: tcp
  #   connector: home
  #   target: 192.168.1.10:22
  #   listen: 0.0.0.0:2222
  #   idle_timeout: 900    #   seconds without a byte either way (0: never)
  #   max_connections: 1024
  #   allow_from: []       #   client CIDRs (empty: any)
  #   tls: {{enable: false, mtls: false, ca_certs: [], certs: []}}
  # - name: grafana        #   http: routed by host and path on http.addr
  #   kind: http
  #   connector: home
  #   target: 127.0.0.1:3000
  #   host: grafana.example.com   # "" any; "*.example.com" its subdomains
  #   path: /              #   prefix
  #   strip_path: false
  #   preserve_host: true
  #   response_timeout: 60
  #   auth: {{bearer_tokens: [], basic: [{{user, password}}], client_cert: false}}
http:                      # the HTTP front for http apps                       (--http)
  enable: true
  addr: 0.0.0.0:30080
  tls:
    enable: false
    mtls: false            # require client certificates for every app
    ca_certs: []           # without mtls: verify client certificates when sent
    certs: []              # [{{cert, key}}]
tunnel:
  window: {DEFAULT_WINDOW}   # bytes in flight per tunnel and direction (at most {MAX_WINDOW})
  open_timeout: 10         # seconds to open a tunnel (the connector's dial included)
api:                       # REST API: apps at run time, connectors, scans    (--api)
  enable: false
  addr: 127.0.0.1:30081
  token: ""                # bearer token (env FRONTIER_TUNNEL_API_TOKEN)
observability:             # /healthz /readyz /metrics                 (--observability)
  enable: true
  addr: 0.0.0.0:9094
daemon:
  drain_seconds: 30        # on SIGTERM: stop accepting, let connections finish this long
log:
  level: info              # debug | info | warn | error       (env LOG_LEVEL, --log-level)
  output: stdout           # stdout | stderr | file | both      (env LOG_OUTPUT, --log-output)
  format: text             # text | json                        (env LOG_FORMAT, --log-format)
  file:                    # for output file or both (env LOG_FILE)
    path: /var/log/frontier/tunnel.log
    max_size: 100          # MB before rotation
    max_backups: 5
    max_age: 30            # days
    compress: false
"""


def connector_default_yaml() -> str:
    return f"""\
# frontier-tunnel connect (the connector): every key at its default; unknown keys are an error.
name: ""                   # as the entry's connectors list names it                (--name)
token: ""                  # prefer token_file or env FRONTIER_TUNNEL_TOKEN
token_file: ""             #                                                  (--token-file)
gateway:                   # the gateway's edgebound port
  addrs: [127.0.0.1:30012] # several: failover, round robin                   (--gateway)
  heartbeat: 20            # 5, 20, 80 or 320 seconds
  tls:
{_TLS_CLIENT}
  server_name: ""          # the name in the gateway's certificate, when dialing an IP
allow: []                  # what the entry may reach through this connector   (--allow):
                           # CIDR[:PORTS], HOST[:PORTS], *.DOMAIN[:PORTS]; empty: nothing
dial:
  timeout: 5               # seconds to resolve and connect
  max_relays: 1024         # connections at once; more are refused (busy)
  idle_timeout: 900        # when a request names none
  window: {DEFAULT_WINDOW}           # bytes in flight per tunnel and direction
scan:                      # scan_application requests from the entry
  enable: true
  max_concurrency: 100     # probes at once
  max_timeout: 10          # longest connect timeout per probe a request may ask for
  max_targets: 65536       # addresses x ports per scan
  max_results: 4096        # services reported per scan
  max_running: 2           # scans at once
observability:             # /healthz /readyz /metrics                 (--observability)
  enable: true
  addr: 127.0.0.1:9095
daemon:
  drain_seconds: 30
log:
  level: info              # debug | info | warn | error       (env LOG_LEVEL, --log-level)
  output: stdout           # stdout | stderr | file | both      (env LOG_OUTPUT, --log-output)
  format: text             # text | json                        (env LOG_FORMAT, --log-format)
  file:
    path: /var/log/frontier/tunnel.log
    max_size: 100
    max_backups: 5
    max_age: 30
    compress: false
"""
