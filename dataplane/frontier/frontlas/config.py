"""frontlas configuration: the Go frontlas's YAML keys and environment overrides, parsed strictly.

Existing ``frontlas.yaml`` files (and what frontier-operator renders) load unchanged. Unlike
upstream: an unknown key is an error naming its path; times are seconds everywhere; the
alive TTL is configurable (upstream hard-coded 30 s); Redis TLS is supported; and Redis
being down at start-up is not fatal (frontlas starts unready and connects when it can).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..gateway.config import TLS, Listen, Log, LogFile, Pprof, Rlimit, log_from_env, log_yaml
from ..strict_yaml import ConfigError, build, convert, load_yaml, with_port

__all__ = [
    "ConfigError",
    "FrontlasConfig",
    "RedisConfig",
    "default_config_yaml",
    "load_config",
    "parse_config",
]


@dataclass(frozen=True)
class Daemon:
    rlimit: Rlimit = field(default_factory=Rlimit)
    pprof: Pprof = field(default_factory=lambda: Pprof(addr="0.0.0.0:6061"))


@dataclass(frozen=True)
class ControlPlane:
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:40011"))
    token: str = ""
    """Ours: when set, the cluster API needs ``Authorization: Bearer <token>``."""


@dataclass(frozen=True)
class Expiration:
    service_meta: int = 30
    edge_meta: int = 30
    alive: int = 30
    """Seconds an edge, service or frontier stays alive without a heartbeat (ours)."""


@dataclass(frozen=True)
class FrontierPlane:
    listen: Listen = field(default_factory=lambda: Listen(addr="0.0.0.0:40012"))
    expiration: Expiration = field(default_factory=Expiration)
    token: str = ""
    """Ours: when set, a frontier must present it (`frontlas.token` in frontier.yaml) to
    register; Go frontiers cannot, so they need mTLS (`listen.tls.mtls`) instead."""


@dataclass(frozen=True)
class RedisStandalone:
    network: Literal["", "tcp", "unix"] = "tcp"
    addr: str = "127.0.0.1:6379"
    db: int = 0


@dataclass(frozen=True)
class RedisSentinel:
    addrs: tuple[str, ...] = ()
    master_name: str = ""
    db: int = 0
    password: str = ""
    """Password of the sentinels themselves, when they require one (ours)."""
    route_by_latency: bool = False
    route_randomly: bool = False
    replica_only: bool = False
    use_disconnected_replicas: bool = False


@dataclass(frozen=True)
class RedisCluster:
    addrs: tuple[str, ...] = ()
    max_redirects: int = 0
    route_by_latency: bool = False
    route_randomly: bool = False


@dataclass(frozen=True)
class RedisConfig:
    mode: Literal["standalone", "sentinel", "cluster"] = "standalone"
    username: str = ""
    password: str = ""
    protocol: int = 0
    clientname: str = ""
    max_retries: int = 0
    min_retry_backoff: float = 0
    max_retry_backoff: float = 0
    dial_timeout: float = 0
    read_timeout: float = 0
    write_timeout: float = 0
    pool_fifo: bool = False
    pool_size: int = 0
    pool_timeout: float = 0
    min_idle_conns: int = 0
    max_idle: int = 0
    max_active_conns: int = 0
    conn_max_idle_time: float = 0
    conn_max_life_time: float = 0
    disable_identity: bool = False
    identity_suffix: str = ""
    standalone: RedisStandalone = field(default_factory=RedisStandalone)
    sentinel: RedisSentinel = field(default_factory=RedisSentinel)
    cluster: RedisCluster = field(default_factory=RedisCluster)
    tls: TLS = field(default_factory=TLS)
    """TLS to Redis (ours; upstream had none): ``enable``, ``ca_certs``, ``certs`` (a client
    certificate), ``insecure_skip_verify``."""


@dataclass(frozen=True)
class Observability:
    enable: bool = True
    addr: str = "0.0.0.0:9092"


@dataclass(frozen=True)
class FrontlasConfig:
    log: Log = field(
        default_factory=lambda: Log(file=LogFile(path="/var/log/frontier/frontlas.log"))
    )
    daemon: Daemon = field(default_factory=Daemon)
    control_plane: ControlPlane = field(default_factory=ControlPlane)
    frontier_plane: FrontierPlane = field(default_factory=FrontierPlane)
    redis: RedisConfig = field(default_factory=RedisConfig)
    observability: Observability = field(default_factory=Observability)


def parse_config(data: Any, env: Mapping[str, str] | None = None) -> FrontlasConfig:
    """Build the configuration from parsed YAML (``None`` = no file), then apply ``env``."""
    config = build(FrontlasConfig, data, "")
    config = _fill_defaults(config)
    config = _apply_env(config, env if env is not None else {})
    _validate(config)
    return config


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> FrontlasConfig:
    if path is None:
        return parse_config(None, env)
    return parse_config(load_yaml(path), env)


def _fill_defaults(config: FrontlasConfig) -> FrontlasConfig:
    """A listen block without ``addr`` keeps the standard port; 0 TTLs mean the default
    (upstream applied none, and a 0 TTL would make every key vanish at once)."""
    replace = dataclasses.replace
    defaults = FrontlasConfig()
    cp, fp = config.control_plane, config.frontier_plane
    if not cp.listen.addr:
        cp = replace(cp, listen=replace(cp.listen, addr=defaults.control_plane.listen.addr))
    if not fp.listen.addr:
        fp = replace(fp, listen=replace(fp.listen, addr=defaults.frontier_plane.listen.addr))
    exp = fp.expiration
    exp = replace(
        exp,
        service_meta=exp.service_meta or 30,
        edge_meta=exp.edge_meta or 30,
        alive=exp.alive or 30,
    )
    return replace(config, control_plane=cp, frontier_plane=replace(fp, expiration=exp))


def _apply_env(config: FrontlasConfig, env: Mapping[str, str]) -> FrontlasConfig:
    replace = dataclasses.replace
    cp, fp, redis = config.control_plane, config.frontier_plane, config.redis
    if port := env.get("FRONTLAS_CONTROLPLANE_PORT"):
        addr = with_port(cp.listen.addr, port, "FRONTLAS_CONTROLPLANE_PORT")
        cp = replace(cp, listen=replace(cp.listen, addr=addr))
    if port := env.get("FRONTLAS_FRONTIERPLANE_PORT"):
        addr = with_port(fp.listen.addr, port, "FRONTLAS_FRONTIERPLANE_PORT")
        fp = replace(fp, listen=replace(fp.listen, addr=addr))
    if token := env.get("FRONTLAS_CONTROLPLANE_TOKEN"):
        cp = replace(cp, token=token)
    if token := env.get("FRONTLAS_FRONTIERPLANE_TOKEN"):
        fp = replace(fp, token=token)

    obs = config.observability
    if port := env.get("FRONTLAS_OBSERVABILITY_PORT"):
        obs = dataclasses.replace(
            obs, addr=with_port(obs.addr, port, "FRONTLAS_OBSERVABILITY_PORT")
        )

    mode = env.get("REDIS_TYPE") or redis.mode
    redis = replace(
        redis, mode=convert(typing.get_type_hints(RedisConfig)["mode"], mode, "REDIS_TYPE")
    )
    addrs = tuple(a.strip() for a in env.get("REDIS_ADDRS", "").split(",") if a.strip())
    db_text = env.get("REDIS_DB", "")
    if db_text and not db_text.isdigit():
        raise ConfigError(f"REDIS_DB: {db_text!r} is not a database number")
    if redis.mode == "standalone":
        sa = redis.standalone
        redis = replace(
            redis,
            standalone=replace(
                sa,
                addr=addrs[0] if addrs else sa.addr,
                db=int(db_text) if db_text else sa.db,
            ),
        )
    elif redis.mode == "sentinel":
        se = redis.sentinel
        redis = replace(
            redis,
            sentinel=replace(
                se,
                addrs=addrs or se.addrs,
                master_name=env.get("MASTER_NAME") or se.master_name,
                db=int(db_text) if db_text else se.db,
            ),
        )
    elif addrs:
        redis = replace(redis, cluster=replace(redis.cluster, addrs=addrs))
    if user := env.get("REDIS_USER"):
        redis = replace(redis, username=user)
    if password := env.get("REDIS_PASSWORD"):
        redis = replace(redis, password=password)

    log = log_from_env(config.log, env)
    return replace(
        config, control_plane=cp, frontier_plane=fp, redis=redis, observability=obs, log=log
    )


def _validate(config: FrontlasConfig) -> None:
    redis = config.redis
    if redis.mode == "sentinel":
        if not redis.sentinel.addrs:
            raise ConfigError("redis.sentinel.addrs: sentinel mode needs at least one address")
        if not redis.sentinel.master_name:
            raise ConfigError("redis.sentinel.master_name: sentinel mode needs the master name")
    if redis.mode == "cluster" and not redis.cluster.addrs:
        raise ConfigError("redis.cluster.addrs: cluster mode needs at least one address")
    for name in ("service_meta", "edge_meta", "alive"):
        if getattr(config.frontier_plane.expiration, name) < 0:
            raise ConfigError(f"frontier_plane.expiration.{name}: must not be negative")


def default_config_yaml() -> str:
    """Every key at its default, commented: what ``frontlas --print-default-config`` prints."""
    return _DEFAULT_YAML


_DEFAULT_YAML = (
    """\
# frontlas configuration: every key at its default. Keys follow the Go frontlas's
# frontlas.yaml, so existing files load unchanged; unknown keys are an error.
"""
    + log_yaml("/var/log/frontier/frontlas.log")
    + """\
daemon:                    # accepted for compatibility
  rlimit:
    enable: false
    nofile: -1
  pprof:                   # Python has no pprof endpoint
    enable: false
    addr: 0.0.0.0:6061
    cpu_profile_rate: 10000
control_plane:             # the cluster API (REST/JSON, OpenAPI at /cluster/v1/openapi.json)
  listen:
    network: tcp
    addr: 0.0.0.0:40011    # env FRONTLAS_CONTROLPLANE_PORT replaces the port
  token: ""                # ours: clients need "Authorization: Bearer <token>"
                           # (env FRONTLAS_CONTROLPLANE_TOKEN)
frontier_plane:            # where frontiers register (geminio)
  listen:
    network: tcp
    addr: 0.0.0.0:40012    # env FRONTLAS_FRONTIERPLANE_PORT replaces the port
  token: ""                # ours: frontiers must present it to register (frontier.yaml's
                           # frontlas.token; env FRONTLAS_FRONTIERPLANE_TOKEN). Go frontiers
                           # cannot: use listen.tls.mtls for them
  expiration:              # seconds
    service_meta: 30       # service records outlive their last heartbeat by this much
    edge_meta: 30          # edge records likewise (upstream wrongly used service_meta)
    alive: 30              # alive keys of edges, services and frontiers (ours; upstream 30)
redis:
  mode: standalone         # standalone | sentinel | cluster             (env REDIS_TYPE)
  username: ""             # env REDIS_USER
  password: ""             # env REDIS_PASSWORD (prefer it, from a Secret, to this file)
  protocol: 0              # 2 or 3 (0: the client's default)
  clientname: ""
  max_retries: 0
  min_retry_backoff: 0
  max_retry_backoff: 0
  dial_timeout: 0          # seconds; 0: 5
  read_timeout: 0          # seconds; 0: 3
  write_timeout: 0
  pool_fifo: false
  pool_size: 0             # 0: the client's default
  pool_timeout: 0
  min_idle_conns: 0
  max_idle: 0
  max_active_conns: 0
  conn_max_idle_time: 0
  conn_max_life_time: 0
  disable_identity: false
  identity_suffix: ""
  standalone:
    network: tcp
    addr: 127.0.0.1:6379   # env REDIS_ADDRS (the first address)
    db: 0                  # env REDIS_DB
  sentinel:
    addrs: []              # env REDIS_ADDRS (comma-separated)
    master_name: ""        # env MASTER_NAME
    db: 0
    password: ""           # the sentinels' own password, if any
    route_by_latency: false
    route_randomly: false
    replica_only: false
    use_disconnected_replicas: false
  cluster:                 # keys carry the {frontlas} hash tag, so scripts stay atomic
    addrs: []              # env REDIS_ADDRS
    max_redirects: 0
    route_by_latency: false
    route_randomly: false
  tls:                     # TLS to Redis (ours)
    enable: false
    mtls: false
    ca_certs: []
    certs: []              # - {cert: client.crt, key: client.key}
    insecure_skip_verify: false
observability:             # /healthz, /readyz (Redis reachable), /metrics
  enable: true
  addr: 0.0.0.0:9092       # env FRONTLAS_OBSERVABILITY_PORT replaces the port
"""
)
