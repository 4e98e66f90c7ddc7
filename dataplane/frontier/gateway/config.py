"""The frontier gateway's configuration: Go frontier's YAML keys, env overrides, strict parsing.

Existing ``frontier.yaml`` files (and what frontier-operator renders) load unchanged: the keys
and defaults are the Go frontier's (``shared/reference/frontier-go.md`` §3). Unlike Go's
non-strict yaml.v2, an unknown key is an error naming its path: a typo must not silently fall
back to a default in production. No file at all is a working standalone gateway.

Beyond upstream (documented in :func:`default_config_yaml`): ``exchange.hashby: consistent``,
``exchange.presence_hooks``, ``exchange.forward_timeout``, ``controlplane.token``,
``daemon.drain_seconds``, ``frontlas.peer_timeout``, ``frontlas.rebalance``, and the env
overrides ``FRONTIER_ID``, ``FRONTIER_SERVICEBOUND_ADVERTISED_ADDR``,
``FRONTIER_EDGEBOUND_ADVERTISED_ADDR``, ``FRONTIER_CONTROLPLANE_PORT``,
``FRONTIER_OBSERVABILITY_PORT`` and ``FRONTIER_EDGEBOUND_WEBSOCKET_PORT`` (so that several
gateways share a host with one config file), ``FRONTIER_SERVICEBOUND_TOKEN`` (so that the
token can come from a Kubernetes Secret instead of the file); ``edgebound.websocket`` (edges
over WebSocket).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..strict_yaml import (
    ConfigError,
    load_yaml,
    nonneg_int,
    nonneg_number,
    positive_number,
    positive_seconds,
    seconds,
    with_port,
)
from ..strict_yaml import build as _build
from ..strict_yaml import convert as _convert

__all__ = [
    "TLS",
    "ConfigError",
    "Daemon",
    "Dial",
    "Edgebound",
    "Exchange",
    "FrontierConfig",
    "Listen",
    "TLSCert",
    "WebSocket",
    "default_config_yaml",
    "load_config",
    "parse_config",
]


# -- schema ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSCert:
    cert: str = ""
    key: str = ""


@dataclass(frozen=True)
class TLS:
    enable: bool = False
    mtls: bool = False
    ca_certs: tuple[str, ...] = ()
    certs: tuple[TLSCert, ...] = ()
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class Listen:
    network: Literal["tcp"] = "tcp"
    addr: str = ""
    advertised_addr: str = ""
    tls: TLS = field(default_factory=TLS)


@dataclass(frozen=True)
class Dial:
    network: Literal["tcp"] = "tcp"
    addrs: tuple[str, ...] = ()
    advertised_addr: str = ""
    tls: TLS = field(default_factory=TLS)


@dataclass(frozen=True)
class LogFile:
    path: str = "/var/log/frontier/frontier.log"
    max_size: int = 100
    max_backups: int = 5
    max_age: int = 30
    compress: bool = False

    _convert: ClassVar[Mapping[str, Callable[[Any, str], Any]]] = {
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
class Rlimit:
    enable: bool = False
    nofile: int = -1


@dataclass(frozen=True)
class Pprof:
    enable: bool = False
    addr: str = "0.0.0.0:6060"
    cpu_profile_rate: int = 10000


@dataclass(frozen=True)
class Daemon:
    rlimit: Rlimit = field(default_factory=Rlimit)
    pprof: Pprof = field(default_factory=Pprof)
    frontier_id: str = ""
    drain_seconds: float = 30.0


_LIMIT_CONVERTERS: dict[str, Any] = {
    "max_connections": nonneg_int,
    "max_connections_per_ip": nonneg_int,
    "max_streams": nonneg_int,
    "max_heartbeat": nonneg_int,
    "max_meta": nonneg_int,
    "backlog": nonneg_int,
    "handshake_timeout": positive_seconds,
    "write_timeout": seconds,
    "replace_hold": seconds,
}


@dataclass(frozen=True)
class Servicebound:
    """Services: the backends (ours beyond `listen`; docs/security.md has the trust model)."""

    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30011"))
    token: str = ""
    """When set, a service must present it (meta ``token``) or mTLS is its only way in.
    Env ``FRONTIER_SERVICEBOUND_TOKEN`` replaces it (a Kubernetes Secret, never a ConfigMap)."""
    max_connections: int = 0
    """0: derived from RLIMIT_NOFILE (see `gateway.limits`)."""
    max_connections_per_ip: int = 0
    """0: no per-address bound."""
    max_streams: int = 65536
    """Open streams per service connection (each reaches one edge)."""
    max_heartbeat: int = 0
    """Longest heartbeat interval a service may ask for, seconds; 0: any."""
    max_meta: int = 1024 * 1024
    """Largest connection meta (the service's JSON), bytes."""
    handshake_timeout: float = 10.0
    write_timeout: float = 30.0
    """Seconds a service may leave more than 64 KiB of its output unread; 0: never evicted."""
    backlog: int = 0
    """The listen backlog; 0: the system's somaxconn."""

    _convert: ClassVar[dict[str, Any]] = _LIMIT_CONVERTERS


def _ws_path(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "?# "):
        raise ConfigError(f"{path}: expected a URL path starting with '/', got {value!r}")
    return value


def _ws_max_message(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 65536:
        raise ConfigError(f"{path}: expected a number of bytes >= 65536, got {value!r}")
    return value


def _origins(value: Any, path: str) -> tuple[str, ...]:
    origins: tuple[str, ...] = _convert(tuple[str, ...], value, path)
    for origin in origins:
        if "://" not in origin or origin.endswith("/"):
            raise ConfigError(f"{path}: {origin!r} is not an origin (scheme://host[:port])")
    return origins


@dataclass(frozen=True)
class WebSocket:
    """Edges over WebSocket (ours): the same edges, carried in binary WebSocket messages,
    for devices that only get out through HTTP(S) proxies or port 443."""

    enable: bool = False
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30013"))
    path: str = "/"
    """The only request path upgraded (others: 404)."""
    origins: tuple[str, ...] = ()
    """Allowed browser origins (``https://app.example.com``); empty: any. Requests with no
    ``Origin`` (non-browser clients) are always allowed."""
    subprotocol: str = "geminio"
    """The ``Sec-WebSocket-Protocol`` a client must offer; empty: none required."""
    max_message: int = 1024 * 1024
    """Largest WebSocket message an edge may send, bytes (>= 64 KiB; ours send 64 KiB)."""
    max_connections: int = 0
    """0: half of the edges' share of RLIMIT_NOFILE (the TCP listener keeps the other)."""
    max_connections_per_ip: int = 0
    handshake_timeout: float = 10.0
    """Seconds from accept to the end of the geminio handshake: TLS and upgrade included."""
    write_timeout: float = 10.0
    backlog: int = 0

    _convert: ClassVar[dict[str, Any]] = {
        **_LIMIT_CONVERTERS,
        "path": _ws_path,
        "max_message": _ws_max_message,
        "origins": _origins,
    }


@dataclass(frozen=True)
class Edgebound:
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30012"))
    edgeid_alloc_when_no_idservice_on: bool = True
    bypass_enable: bool = False
    bypass: Dial = field(default_factory=Dial)
    honour_wanted_id: bool = False
    """Trust the edge ID a client asks for when no `get_edge_id` service is online (ours;
    upstream ignores it). Off: any client could claim any device's ID."""
    replace_hold: float = 5.0
    """After an edge replaced another connection with the same ID from a different
    address, the replaced address may not take the ID back for this long (flap damping)."""
    max_connections: int = 0
    max_connections_per_ip: int = 0
    max_streams: int = 1024
    max_heartbeat: int = 80
    max_meta: int = 64 * 1024
    handshake_timeout: float = 10.0
    write_timeout: float = 10.0
    backlog: int = 0
    websocket: WebSocket = field(default_factory=WebSocket)

    _keys: ClassVar[dict[str, str]] = {"honor_wanted_id": "honour_wanted_id"}
    _convert: ClassVar[dict[str, Any]] = _LIMIT_CONVERTERS


@dataclass(frozen=True)
class ControlPlane:
    enable: bool = False
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30010"))
    token: str = ""


@dataclass(frozen=True)
class Exchange:
    hashby: Literal["", "edgeid", "srcip", "random", "consistent"] = "edgeid"
    presence_hooks: Literal["one", "all"] = "one"
    forward_timeout: float = 30.0


@dataclass(frozen=True)
class Dao:
    backend: Literal["", "buntdb", "sqlite", "sqlite3"] = "buntdb"
    debug: bool = False


@dataclass(frozen=True)
class FrontlasMetrics:
    enable: bool = False
    interval: int = 60


@dataclass(frozen=True)
class Rebalance:
    """Ours: edges that failed over stay where they landed; with this on, a frontier that
    holds far more than the cluster's mean asks some of its edges to reconnect (they go to
    their next address, or wherever the load balancer sends them; docs/frontlas.md)."""

    enable: bool = False
    interval: float = 30.0
    """Seconds between looks at the cluster's counts."""
    tolerance: float = 0.2
    """Act only above (1 + tolerance) x the mean edge count of the alive frontiers ..."""
    min_excess: int = 10
    """... and at least this many edges above the mean."""
    rate: float = 5.0
    """Edges asked to reconnect per second, at most (spread over the interval)."""

    _convert: ClassVar[dict[str, Any]] = {
        "interval": positive_seconds,
        "tolerance": nonneg_number,
        "min_excess": nonneg_int,
        "rate": positive_number,
    }


@dataclass(frozen=True)
class Frontlas:
    enable: bool = False
    dial: Dial = field(default_factory=lambda: Dial(addrs=("127.0.0.1:40012",)))
    metrics: FrontlasMetrics = field(default_factory=FrontlasMetrics)
    heartbeat: float = 10.0
    """Seconds between batched presence heartbeats (ours; frontlas's alive TTL is 30 s)."""
    token: str = ""
    """Ours: frontlas's `frontier_plane.token`, when it requires one (env FRONTLAS_TOKEN)."""
    peer_timeout: float = 50.0
    """Ours: seconds without a packet from frontlas after which the frontier drops the
    connection and redials (the next address, if several); 0: never. 2.5 x the link's 20 s
    geminio heartbeat: a frontlas that stops answering without closing (stopped, a
    partition that drops packets) is left for another replica in bounded time."""
    rebalance: Rebalance = field(default_factory=Rebalance)

    _convert: ClassVar[dict[str, Any]] = {"heartbeat": positive_seconds, "peer_timeout": seconds}


@dataclass(frozen=True)
class Observability:
    enable: bool = True
    addr: str = "0.0.0.0:9091"


@dataclass(frozen=True)
class FrontierConfig:
    log: Log = field(default_factory=Log)
    daemon: Daemon = field(default_factory=Daemon)
    servicebound: Servicebound = field(default_factory=Servicebound)
    edgebound: Edgebound = field(default_factory=Edgebound)
    controlplane: ControlPlane = field(default_factory=ControlPlane)
    exchange: Exchange = field(default_factory=Exchange)
    dao: Dao = field(default_factory=Dao)
    frontlas: Frontlas = field(default_factory=Frontlas)
    observability: Observability = field(default_factory=Observability)
    # The MQ bridges' keys (kafka, amqp, nats, nsq, redis) are validated by the bridges.
    mqm: Mapping[str, Any] = field(default_factory=dict)


# -- strict conversion from YAML: shared with frontlas (frontier.strict_yaml) ------------


def parse_config(data: Any, env: Mapping[str, str] | None = None) -> FrontierConfig:
    """Build the configuration from parsed YAML (``None`` = no file), then apply ``env``."""
    config = _fill_listen_defaults(_build(FrontierConfig, data, ""))
    return _apply_env(config, env if env is not None else {})


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> FrontierConfig:
    """Load ``path`` (or the standalone defaults when None) and apply environment overrides."""
    if path is None:
        return parse_config(None, env)
    return parse_config(load_yaml(path), env)


def _fill_listen_defaults(config: FrontierConfig) -> FrontierConfig:
    """Keep the standard port when a file gives a listen block without ``addr``."""
    defaults = FrontierConfig()
    sb, eb, cp = config.servicebound, config.edgebound, config.controlplane
    if not sb.listen.addr:
        sb = dataclasses.replace(
            sb, listen=dataclasses.replace(sb.listen, addr=defaults.servicebound.listen.addr)
        )
    if not eb.listen.addr:
        eb = dataclasses.replace(
            eb, listen=dataclasses.replace(eb.listen, addr=defaults.edgebound.listen.addr)
        )
    if not eb.websocket.listen.addr:
        ws = eb.websocket
        default_addr = defaults.edgebound.websocket.listen.addr
        ws = dataclasses.replace(ws, listen=dataclasses.replace(ws.listen, addr=default_addr))
        eb = dataclasses.replace(eb, websocket=ws)
    if not cp.listen.addr:
        cp = dataclasses.replace(
            cp, listen=dataclasses.replace(cp.listen, addr=defaults.controlplane.listen.addr)
        )
    return dataclasses.replace(config, servicebound=sb, edgebound=eb, controlplane=cp)


# -- environment overrides --------------------------------------------------------------------


def _apply_env(config: FrontierConfig, env: Mapping[str, str]) -> FrontierConfig:
    replace = dataclasses.replace
    sb, eb = config.servicebound, config.edgebound
    if port := env.get("FRONTIER_SERVICEBOUND_PORT"):
        addr = with_port(sb.listen.addr, port, "FRONTIER_SERVICEBOUND_PORT")
        sb = replace(sb, listen=replace(sb.listen, addr=addr))
    if port := env.get("FRONTIER_EDGEBOUND_PORT"):
        addr = with_port(eb.listen.addr, port, "FRONTIER_EDGEBOUND_PORT")
        eb = replace(eb, listen=replace(eb.listen, addr=addr))
    if port := env.get("FRONTIER_EDGEBOUND_WEBSOCKET_PORT"):
        ws = eb.websocket
        addr = with_port(ws.listen.addr, port, "FRONTIER_EDGEBOUND_WEBSOCKET_PORT")
        eb = replace(eb, websocket=replace(ws, listen=replace(ws.listen, addr=addr)))
    cp, obs = config.controlplane, config.observability
    if port := env.get("FRONTIER_CONTROLPLANE_PORT"):
        addr = with_port(cp.listen.addr, port, "FRONTIER_CONTROLPLANE_PORT")
        cp = replace(cp, listen=replace(cp.listen, addr=addr))
    if port := env.get("FRONTIER_OBSERVABILITY_PORT"):
        obs = replace(obs, addr=with_port(obs.addr, port, "FRONTIER_OBSERVABILITY_PORT"))
    if adv := env.get("FRONTIER_SERVICEBOUND_ADVERTISED_ADDR"):
        sb = replace(sb, listen=replace(sb.listen, advertised_addr=adv))
    if adv := env.get("FRONTIER_EDGEBOUND_ADVERTISED_ADDR"):
        eb = replace(eb, listen=replace(eb.listen, advertised_addr=adv))

    daemon = config.daemon
    if node := env.get("NODE_NAME"):
        daemon = replace(daemon, frontier_id=f"frontier-{node}")
    if frontier_id := env.get("FRONTIER_ID"):  # ours: unique per pod, wins over NODE_NAME
        daemon = replace(daemon, frontier_id=frontier_id)
    if drain := env.get("FRONTIER_DRAIN_SECONDS"):
        try:
            seconds = float(drain)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < 86400:
            raise ConfigError(f"FRONTIER_DRAIN_SECONDS: {drain!r} is not a number of seconds")
        daemon = replace(daemon, drain_seconds=seconds)

    frontlas = config.frontlas
    if frontlas_addr := env.get("FRONTLAS_ADDR"):
        frontlas = replace(
            frontlas,
            enable=True,
            dial=replace(
                frontlas.dial,
                addrs=tuple(a.strip() for a in frontlas_addr.split(",") if a.strip()),
            ),
        )

    if token := env.get("FRONTLAS_TOKEN"):
        frontlas = replace(frontlas, token=token)

    if "FRONTIER_SERVICEBOUND_TOKEN" in env:
        token = env["FRONTIER_SERVICEBOUND_TOKEN"]
        if not token:
            # Set but empty (a Secret key holding ""): running without the token the
            # deployment meant to require would let any process in as a service.
            raise ConfigError(
                "FRONTIER_SERVICEBOUND_TOKEN: set but empty; unset it to run without a "
                "servicebound token"
            )
        sb = replace(sb, token=token)

    log = log_from_env(config.log, env)
    return replace(
        config,
        servicebound=sb,
        edgebound=eb,
        controlplane=cp,
        observability=obs,
        daemon=daemon,
        frontlas=frontlas,
        log=log,
    )


def log_from_env(log: Log, env: Mapping[str, str]) -> Log:
    """``LOG_LEVEL``, ``LOG_OUTPUT``, ``LOG_FORMAT`` and ``LOG_FILE`` over the file's `log`
    (the environment both Go daemons read)."""
    replace = dataclasses.replace
    for key, attr in (("LOG_LEVEL", "level"), ("LOG_OUTPUT", "output"), ("LOG_FORMAT", "format")):
        if value := env.get(key):
            log = replace(log, **{attr: _convert(typing.get_type_hints(Log)[attr], value, key)})
    if value := env.get("LOG_FILE"):
        log = replace(log, file=replace(log.file, path=value))
    return log


# -- the documented default -------------------------------------------------------------------


def default_config_yaml() -> str:
    """Every key at its default, commented: what ``frontier --print-default-config`` prints."""
    return _DEFAULT_YAML


def log_yaml(path: str) -> str:
    """The documented ``log`` section at its defaults (frontier's and frontlas's differ only
    in the file's path)."""
    return _LOG_YAML.format(path=path)


_LOG_YAML = """\
log:                       # flag > env > this file
  level: info              # debug | info | warning | error  (env LOG_LEVEL, flag --log-level)
  output: stdout           # stdout | stderr | file | both   (env LOG_OUTPUT, --log-output)
                           # both: stdout and the file
  format: text             # text | json                     (env LOG_FORMAT, --log-format)
  file:                    # for output file or both; the directory is created
    path: {path}   # env LOG_FILE, --log-file
    max_size: 100          # MB: a line that would pass it rotates the file first (0: 100)
    max_backups: 5         # rotated files kept, the newest (0: all)
    max_age: 30            # days a rotated file is kept (0: no limit)
    compress: false        # gzip rotated files
"""


_DEFAULT_YAML = (
    """\
# frontier configuration: every key at its default. Keys follow the Go frontier's
# frontier.yaml, so existing files load unchanged; unknown keys are an error.
"""
    + log_yaml("/var/log/frontier/frontier.log")
    + """\
daemon:
  rlimit:
    enable: false          # raise RLIMIT_NOFILE to nofile at start-up
    nofile: -1
  pprof:                   # accepted for compatibility; Python has no pprof endpoint
    enable: false
    addr: 0.0.0.0:6060
    cpu_profile_rate: 10000
  frontier_id: ""          # cluster-unique ID (env FRONTIER_ID; NODE_NAME sets frontier-<name>)
  drain_seconds: 30        # SIGTERM: unready, wait, close (env FRONTIER_DRAIN_SECONDS)
servicebound:              # where services connect
  listen:
    network: tcp
    addr: 0.0.0.0:30011    # env FRONTIER_SERVICEBOUND_PORT replaces the port
    advertised_addr: ""    # reported to frontlas (env FRONTIER_SERVICEBOUND_ADVERTISED_ADDR)
    tls:
      enable: false
      mtls: false          # require client certificates signed by ca_certs
      ca_certs: []         # PEM files
      certs: []            # - {cert: server.crt, key: server.key}
      insecure_skip_verify: false
  token: ""                # ours: services must send it in their meta ({"token": ...});
                           # with mtls on, a client certificate is required as well
                           # (env FRONTIER_SERVICEBOUND_TOKEN: set, it replaces this)
  max_connections: 0       # connections at once (0: from RLIMIT_NOFILE, see docs/security.md)
  max_connections_per_ip: 0          # 0: no per-address bound
  max_streams: 65536       # open streams per service connection
  max_heartbeat: 0         # longest heartbeat a service may ask for, seconds (0: any)
  max_meta: 1048576        # largest connection meta (the service's JSON), bytes
  handshake_timeout: 10    # seconds from accept to the end of the handshake, TLS included
  write_timeout: 30        # seconds a service may leave its output unread (0: never evicted)
  backlog: 0               # listen backlog (0: net.core.somaxconn)
edgebound:                 # where edges connect
  listen:
    network: tcp
    addr: 0.0.0.0:30012    # env FRONTIER_EDGEBOUND_PORT replaces the port
    advertised_addr: ""    # env FRONTIER_EDGEBOUND_ADVERTISED_ADDR
    tls:
      enable: false
      mtls: false
      ca_certs: []
      certs: []
      insecure_skip_verify: false
  edgeid_alloc_when_no_idservice_on: true   # allocate edge IDs when no service serves get_edge_id
  honour_wanted_id: false  # ours: trust the ID an edge asks for when no get_edge_id service is
                           # online (upstream ignores it; on, any client can claim any ID)
  replace_hold: 5          # ours: seconds a replaced edge's address may not take its ID back
  max_connections: 0       # connections at once (0: from RLIMIT_NOFILE, see docs/security.md)
  max_connections_per_ip: 0          # 0: no per-address bound (NATed fleets share addresses)
  max_streams: 1024        # open streams per edge connection
  max_heartbeat: 80        # longest heartbeat an edge may ask for (5, 20, 80 or 320 s; 0: any)
  max_meta: 65536          # largest edge meta, bytes (kept for the life of the connection)
  handshake_timeout: 10    # seconds from accept to the end of the handshake, TLS included
  write_timeout: 10        # seconds an edge may leave its output unread (0: never evicted)
  backlog: 0               # listen backlog (0: net.core.somaxconn)
  websocket:               # ours: edges over WebSocket (docs/gateway.md), e.g. behind proxies
    enable: false
    listen:
      network: tcp
      addr: 0.0.0.0:30013  # env FRONTIER_EDGEBOUND_WEBSOCKET_PORT replaces the port
      advertised_addr: ""
      tls:                 # wss:// when enabled
        enable: false
        mtls: false
        ca_certs: []
        certs: []
        insecure_skip_verify: false
    path: /                # the request path upgraded (anything else: 404)
    origins: []            # allowed browser Origins, e.g. https://app.example.com ([]: any);
                           # requests without Origin (non-browser clients) always pass
    subprotocol: geminio   # Sec-WebSocket-Protocol a client must offer ("": none required)
    max_message: 1048576   # largest WebSocket message an edge may send (>= 65536)
    max_connections: 0     # 0: half of the edges' share (the TCP listener keeps the rest)
    max_connections_per_ip: 0
    handshake_timeout: 10  # TLS, upgrade and geminio handshake, from accept
    write_timeout: 10      # as edgebound.write_timeout, for WebSocket edges
    backlog: 0
  bypass_enable: false     # accepted for compatibility; the legacy-gateway bypass is not supported
  bypass:
    network: tcp
    addrs: []
    advertised_addr: ""
    tls:
      enable: false
      mtls: false
      ca_certs: []
      certs: []
      insecure_skip_verify: false
controlplane:              # REST control API
  enable: false
  listen:
    network: tcp
    addr: 0.0.0.0:30010    # env FRONTIER_CONTROLPLANE_PORT replaces the port
    advertised_addr: ""
    tls:
      enable: false
      mtls: false
      ca_certs: []
      certs: []
      insecure_skip_verify: false
  token: ""                # when set, requests need "Authorization: Bearer <token>"
exchange:
  hashby: edgeid           # edgeid | srcip | random | consistent: picks one of several targets
  presence_hooks: one      # one | all: which services get edge_online / edge_offline
  forward_timeout: 30      # seconds a forwarded message or RPC may wait for its answer
dao:                       # accepted for compatibility; state is in memory
  backend: buntdb
  debug: false
frontlas:                  # cluster mode (env FRONTLAS_ADDR enables it with that address)
  enable: false
  dial:
    network: tcp
    addrs: [127.0.0.1:40012]
    advertised_addr: ""
    tls:
      enable: false        # TLS to frontlas; insecure_skip_verify applies here
      mtls: false
      ca_certs: []
      certs: []
      insecure_skip_verify: false
  metrics:                 # accepted for compatibility: frontlas counts the edges and
    enable: false          # services each frontier reported instead
    interval: 60
  heartbeat: 10            # seconds between batched presence heartbeats (ours)
  token: ""                # ours: frontlas's frontier_plane.token, if set (env FRONTLAS_TOKEN)
  peer_timeout: 50         # ours: seconds of silence from frontlas before redialing it (0: never)
  rebalance:               # ours: shed edges when holding far more than the cluster's mean
    enable: false
    interval: 30           # seconds between looks at the cluster's edge counts
    tolerance: 0.2         # act above (1 + tolerance) x the mean ...
    min_excess: 10         # ... and at least this many edges above it
    rate: 5                # edges asked to reconnect per second, at most
observability:             # /healthz /readyz /metrics
  enable: true
  addr: 0.0.0.0:9091       # env FRONTIER_OBSERVABILITY_PORT replaces the port
mqm:                       # external MQ bridges (docs/mq.md); none is enabled by default.
                           # Every key, commented out at its default; durations in seconds.
#  fanout: false           # true: every bridge listing a topic gets its messages (plus one
#                          # service claiming it); false: hashby picks one service or bridge
#  reconnect:              # how a bridge retries its broker (ours)
#    initial: 0.1          # first delay after a failure, doubling up to max, with jitter
#    max: 10
#    connect_timeout: 5    # one connection attempt; start-up waits at most this long
#  kafka:
#    enable: false
#    addrs: []             # bootstrap servers, host:port (all are used)
#    producer:
#      topics: []          # topics this bridge takes ('*': those nobody claimed by name)
#      key: edgeid         # ours: the message key: edgeid | topic | message_id | none
#      async: false        # accepted; every publish waits for the broker's ack
#      max_message_bytes: 0      # 0: client default (1 MiB)
#      required_acks: 1    # 1: leader; -1 or all: every in-sync replica (0 means 1)
#      timeout: 0          # seconds the broker may take to ack (0: client default, 40)
#      compression: none   # none | gzip | snappy | lz4 | zstd (or sarama's 0-4)
#      compression_level: 0      # accepted, no effect
#      idempotent: false   # upstream's misspelling idepotent is accepted too
#      flush:
#        bytes: 0          # batch size in bytes (0: client default)
#        messages: 0       # accepted, no effect
#        frequency: 0      # seconds to linger for a batch
#        max_messages: 0   # accepted, no effect
#      retry:
#        max: 0            # accepted, no effect (the client retries until timeout)
#        backoff: 0        # seconds between retries (0: client default, 0.1)
#  amqp:
#    enable: false
#    addrs: []             # [user:pass@]host:port or amqp:// URLs, tried in order
#    vhost: ""
#    channel_max: 0        # accepted; the server's value is used
#    frame_size: 0         # accepted; the server's value is used
#    heartbeat: 0          # seconds (0: 60)
#    locale: ""            # accepted; the client's en_US is used
#    exchanges: []         # - {name, kind: direct|topic|fanout|headers, durable,
#                          #    auto_delete, internal, nowait}, declared at each connect
#    queues: []            # - {name, durable, auto_delete, exclusive, nowait}
#                          #   (upstream's exclustive is accepted too)
#    queue_bindings: []    # - {queue_name, exchange_name, binding_key, nowait}
#                          #   (queueBindings and queuebindings are accepted too)
#    producer:
#      routing_keys: []    # topics this bridge takes; the routing key is the topic
#      exchange: ""        # "" is the default exchange (routing key = queue name)
#      mandatory: false    # true: a message no queue takes is nacked to the edge
#      immediate: false    # must stay false (RabbitMQ does not implement it)
#      headers: {}         # added to every message (beside the frontier-* headers)
#      content_type: ""
#      content_encoding: ""
#      delivery_mode: 0    # 0 or 1 transient, 2 persistent
#      priority: 0         # 0-9
#      reply_to: ""
#      expiration: ""      # milliseconds, as AMQP
#      type: ""
#      user_id: ""
#      app_id: ""
#  nats:
#    enable: false
#    addrs: []             # host:port or nats:// URLs (all are used)
#    producer:
#      subjects: []        # core NATS subjects this bridge takes (acked after a flush)
#    jetstream:
#      enable: false
#      name: ""            # the stream, created (or its subjects extended) at connect
#      producer:
#        subjects: []      # subjects published through JetStream (acked by the stream)
#  nsq:
#    enable: false
#    addrs: []             # nsqd HTTP addresses, host:4151 (4150 is mapped to 4151)
#    envelope: false       # ours: JSON with edge_id, meta, topic, message_id, payload
#    producer:
#      topics: []
#  redis:
#    enable: false
#    addrs: []             # host:port, tried in order
#    db: 0
#    password: ""
#    mode: pubsub          # ours: pubsub (PUBLISH) | stream (XADD, sender as fields)
#    envelope: false       # ours: JSON envelope for pubsub (which has no headers)
#    stream:               # ours, for mode stream
#      maxlen: 0           # trim the stream to about this many entries (0: never)
#      approximate: true   # MAXLEN ~ (cheap trimming)
#    producer:
#      channels: []        # topics this bridge takes: the channel or stream key
"""
)
