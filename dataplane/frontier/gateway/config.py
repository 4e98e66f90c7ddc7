"""The frontier gateway's configuration: Go frontier's YAML keys, env overrides, strict parsing.

Existing ``frontier.yaml`` files (and what frontier-operator renders) load unchanged: the keys
and defaults are the Go frontier's (``shared/reference/frontier-go.md`` §3). Unlike Go's
non-strict yaml.v2, an unknown key is an error naming its path: a typo must not silently fall
back to a default in production. No file at all is a working standalone gateway.

Beyond upstream (documented in :func:`default_config_yaml`): ``exchange.hashby: consistent``,
``exchange.presence_hooks``, ``exchange.forward_timeout``, ``controlplane.token``,
``daemon.drain_seconds``, and the env overrides ``FRONTIER_ID``,
``FRONTIER_SERVICEBOUND_ADVERTISED_ADDR`` and ``FRONTIER_EDGEBOUND_ADVERTISED_ADDR``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

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
    "default_config_yaml",
    "load_config",
    "parse_config",
]


class ConfigError(ValueError):
    """A configuration problem; the message names the key path (``edgebound.listen.addr``)."""


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


@dataclass(frozen=True)
class Servicebound:
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30011"))


@dataclass(frozen=True)
class Edgebound:
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:30012"))
    edgeid_alloc_when_no_idservice_on: bool = True
    bypass_enable: bool = False
    bypass: Dial = field(default_factory=Dial)


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
class Frontlas:
    enable: bool = False
    dial: Dial = field(default_factory=lambda: Dial(addrs=("127.0.0.1:40012",)))
    metrics: FrontlasMetrics = field(default_factory=FrontlasMetrics)


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


# -- strict conversion from YAML ------------------------------------------------------------

T = TypeVar("T")


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, path)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices if c != "")
            raise ConfigError(f"{path}: {value!r} is not one of {shown}")
        return value
    if origin is tuple:
        (item_type, _) = get_args(tp)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(_convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin in (Mapping, dict) or tp is Mapping:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug in this module


def _build(cls: type[T], data: Any, path: str) -> T:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        where = path or "the configuration"
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in known:
            raise ConfigError(f"unknown key {key_path!r}")
        values[str(key)] = _convert(hints[str(key)], value, key_path)
    return cls(**values)


def parse_config(data: Any, env: Mapping[str, str] | None = None) -> FrontierConfig:
    """Build the configuration from parsed YAML (``None`` = no file), then apply ``env``."""
    config = _fill_listen_defaults(_build(FrontierConfig, data, ""))
    return _apply_env(config, env if env is not None else {})


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> FrontierConfig:
    """Load ``path`` (or the standalone defaults when None) and apply environment overrides."""
    if path is None:
        return parse_config(None, env)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(data, env)


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
    if not cp.listen.addr:
        cp = dataclasses.replace(
            cp, listen=dataclasses.replace(cp.listen, addr=defaults.controlplane.listen.addr)
        )
    return dataclasses.replace(config, servicebound=sb, edgebound=eb, controlplane=cp)


# -- environment overrides --------------------------------------------------------------------


def _with_port(addr: str, port: str, name: str) -> str:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: {port!r} is not a TCP port")
    host = addr.rsplit(":", 1)[0] if ":" in addr else addr
    return f"{host}:{int(port)}"


def _apply_env(config: FrontierConfig, env: Mapping[str, str]) -> FrontierConfig:
    replace = dataclasses.replace
    sb, eb = config.servicebound, config.edgebound
    if port := env.get("FRONTIER_SERVICEBOUND_PORT"):
        addr = _with_port(sb.listen.addr, port, "FRONTIER_SERVICEBOUND_PORT")
        sb = replace(sb, listen=replace(sb.listen, addr=addr))
    if port := env.get("FRONTIER_EDGEBOUND_PORT"):
        addr = _with_port(eb.listen.addr, port, "FRONTIER_EDGEBOUND_PORT")
        eb = replace(eb, listen=replace(eb.listen, addr=addr))
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
            frontlas, enable=True, dial=replace(frontlas.dial, addrs=(frontlas_addr,))
        )

    log = config.log
    for key, attr in (("LOG_LEVEL", "level"), ("LOG_OUTPUT", "output"), ("LOG_FORMAT", "format")):
        if value := env.get(key):
            log = replace(log, **{attr: _convert(typing.get_type_hints(Log)[attr], value, key)})
    if value := env.get("LOG_FILE"):
        log = replace(log, file=replace(log.file, path=value))

    return replace(config, servicebound=sb, edgebound=eb, daemon=daemon, frontlas=frontlas, log=log)


# -- the documented default -------------------------------------------------------------------


def default_config_yaml() -> str:
    """Every key at its default, commented: what ``frontier --print-default-config`` prints."""
    return _DEFAULT_YAML


_DEFAULT_YAML = """\
# frontier configuration: every key at its default. Keys follow the Go frontier's
# frontier.yaml, so existing files load unchanged; unknown keys are an error.
log:
  level: info              # debug | info | warn | error          (env LOG_LEVEL, flag --loglevel)
  output: stdout           # stdout | stderr | file | both        (env LOG_OUTPUT)
  format: text             # text | json                          (env LOG_FORMAT, --log-format)
  file:                    # used when output is file or both     (env LOG_FILE for path)
    path: /var/log/frontier/frontier.log
    max_size: 100          # MB before rotation
    max_backups: 5
    max_age: 30            # days
    compress: false
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
    addr: 0.0.0.0:30010
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
  metrics:
    enable: false
    interval: 60           # seconds between frontier_stats reports
observability:             # /healthz /readyz /metrics
  enable: true
  addr: 0.0.0.0:9091
mqm: {}                    # external MQ bridges: kafka, amqp, nats, nsq, redis
"""
