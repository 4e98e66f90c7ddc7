"""frontd's configuration: a strict YAML file, the original's environment, then flags.

Precedence is flag > environment > file > default, as for `frontier` and `frontlas`. The
environment variables are the original frontd's (``SECRET``, ``BACKEND_TIMEOUT``,
``LISTEN_PORT``, ``MAX_HTTP_HEADER_SIZE``) plus ``FRONTD_SECRET`` (preferred over
``SECRET``) and ``LOG_LEVEL`` / ``LOG_FORMAT`` / ``LOG_OUTPUT`` / ``LOG_FILE``. The secret is
best given through the environment or ``secret_file`` (a mounted Kubernetes Secret): a
``--secret`` flag is visible to every user of the host in the process list.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..addr import split_addr
from ..strict_yaml import ConfigError, build, convert, load_yaml
from .allow import Allowlist
from .cipher import DERIVATIONS, Derivation
from .handshake import StatusFormat

__all__ = [
    "ConfigError",
    "FrontdConfig",
    "apply_flags",
    "default_config_yaml",
    "from_json",
    "load_config",
    "parse_config",
    "to_json",
]

DEFAULT_PORT = 4043
"""The original frontd's port."""


@dataclass(frozen=True)
class LogFile:
    path: str = "/var/log/frontier/frontd.log"
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
    """Used with output file or both, by a single process (not with `listen.reuse`:
    worker processes write to the supervisor's stdout/stderr)."""


@dataclass(frozen=True)
class Listen:
    addr: str = f"0.0.0.0:{DEFAULT_PORT}"
    reuse: bool = False
    workers: int = 0
    backlog: int = 1024
    max_connections: int = 10_000


@dataclass(frozen=True)
class Handshake:
    timeout: float = 10.0
    max_line: int = 1024
    max_header: int = 8192
    status_format: StatusFormat = "line"


@dataclass(frozen=True)
class Backend:
    timeout: float = 3.0
    retry: int = 1
    allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relay:
    mode: Literal["auto", "splice", "copy"] = "auto"
    buffer: int = 262144
    idle_timeout: float = 900.0


@dataclass(frozen=True)
class Daemon:
    pidfile: str = ""
    drain_seconds: float = 30.0


@dataclass(frozen=True)
class Observability:
    enable: bool = True
    addr: str = "0.0.0.0:9093"
    ready_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrontdConfig:
    secret: str = field(default="", repr=False)
    secret_file: str = ""
    derivations: tuple[Derivation, ...] = DERIVATIONS
    log: Log = field(default_factory=Log)
    listen: Listen = field(default_factory=Listen)
    handshake: Handshake = field(default_factory=Handshake)
    backend: Backend = field(default_factory=Backend)
    relay: Relay = field(default_factory=Relay)
    daemon: Daemon = field(default_factory=Daemon)
    observability: Observability = field(default_factory=Observability)

    @property
    def secret_bytes(self) -> bytes:
        return self.secret.encode()

    @property
    def worker_count(self) -> int:
        """Processes serving the port: 1 without ``reuse``, else ``workers`` or the CPUs."""
        if not self.listen.reuse:
            return 1
        return self.listen.workers or os.cpu_count() or 1


def parse_config(
    data: Any, env: Mapping[str, str] | None = None, *, need_secret: bool = True
) -> FrontdConfig:
    """The configuration from parsed YAML (None: no file) with `env` applied, validated."""
    config = build(FrontdConfig, data, "")
    config = _apply_env(config, env if env is not None else {})
    return validate(config, need_secret=need_secret)


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> FrontdConfig:
    """For the daemon driver: the secret is checked after the flags (`apply_flags`)."""
    data = None if path is None else load_yaml(path)
    return parse_config(data, env, need_secret=False)


def _apply_env(config: FrontdConfig, env: Mapping[str, str]) -> FrontdConfig:
    replace = dataclasses.replace
    if secret := env.get("FRONTD_SECRET") or env.get("SECRET"):
        config = replace(config, secret=secret, secret_file="")
    if value := env.get("BACKEND_TIMEOUT"):
        timeout = _number(value, "BACKEND_TIMEOUT")
        config = replace(config, backend=replace(config.backend, timeout=timeout))
    if value := env.get("LISTEN_PORT"):
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"LISTEN_PORT: {value!r} is not a TCP port")
        host, _ = split_addr(config.listen.addr, "listen.addr")
        addr = f"[{host}]:{value}" if ":" in host else f"{host}:{value}"
        config = replace(config, listen=replace(config.listen, addr=addr))
    if value := env.get("MAX_HTTP_HEADER_SIZE"):
        if not value.isdigit():
            raise ConfigError(f"MAX_HTTP_HEADER_SIZE: {value!r} is not a byte count")
        config = replace(config, handshake=replace(config.handshake, max_header=int(value)))
    log = config.log
    for key, attr in (("LOG_LEVEL", "level"), ("LOG_FORMAT", "format"), ("LOG_OUTPUT", "output")):
        if value := env.get(key):
            log = replace(log, **{attr: convert(typing.get_type_hints(Log)[attr], value, key)})
    if value := env.get("LOG_FILE"):
        log = replace(log, file=replace(log.file, path=value))
    return replace(config, log=log)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{where}: must be a positive number of seconds")
    return value


def apply_flags(args: argparse.Namespace, config: FrontdConfig) -> FrontdConfig:
    """The `frontd` flags over `config`, then validation (the secret is required now)."""
    replace = dataclasses.replace
    if args.secret is not None:
        config = replace(config, secret=args.secret, secret_file="")
    listen = config.listen
    if args.addr is not None:
        listen = replace(listen, addr=args.addr)
    if args.reuse:
        listen = replace(listen, reuse=True)
    if args.workers is not None:
        listen = replace(listen, workers=args.workers, reuse=True)
    backend = config.backend
    if args.retry is not None:
        backend = replace(backend, retry=args.retry)
    if args.timeout is not None:
        backend = replace(backend, timeout=args.timeout)
    if args.allow:
        backend = replace(backend, allow=tuple(args.allow))
    relay = config.relay
    if args.buffer is not None:
        relay = replace(relay, buffer=args.buffer)
    if args.relay is not None:
        relay = replace(relay, mode=args.relay)
    if args.idle_timeout is not None:
        relay = replace(relay, idle_timeout=args.idle_timeout)
    handshake = config.handshake
    if args.status_format is not None:
        handshake = replace(handshake, status_format=args.status_format)
    daemon = config.daemon
    if args.pidfile is not None:
        daemon = replace(daemon, pidfile=args.pidfile)
    observability = config.observability
    if args.observability is not None:
        observability = replace(
            observability, enable=bool(args.observability), addr=args.observability or ""
        )
    if args.derivations is not None:
        derivations = tuple(d.strip() for d in args.derivations.split(",") if d.strip())
        config = replace(config, derivations=convert(_DERIVATIONS_TYPE, list(derivations), "--md"))
    config = replace(
        config,
        listen=listen,
        backend=backend,
        relay=relay,
        handshake=handshake,
        daemon=daemon,
        observability=observability,
    )
    return validate(config, need_secret=True)


_DERIVATIONS_TYPE = typing.get_type_hints(FrontdConfig)["derivations"]


def validate(config: FrontdConfig, *, need_secret: bool = True) -> FrontdConfig:
    """Checks beyond types; reads ``secret_file`` into ``secret``."""
    if config.secret_file and not config.secret:
        try:
            secret = Path(config.secret_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"secret_file: cannot read {config.secret_file!r}: {exc}") from None
        config = dataclasses.replace(config, secret=secret)
    if need_secret and not config.secret:
        raise ConfigError(
            "no secret: give FRONTD_SECRET (or SECRET), secret_file in the config, or --secret"
        )
    if not config.derivations:
        raise ConfigError("derivations: give at least one of md5, sha256, pbkdf2")
    if config.listen.reuse and config.log.output in ("file", "both"):
        raise ConfigError(
            "log.output: file and both need one process; with listen.reuse the workers "
            "log to stdout or stderr"
        )
    if len(set(config.derivations)) != len(config.derivations):
        raise ConfigError("derivations: each derivation at most once")
    split_addr(config.listen.addr, "listen.addr")
    if config.observability.enable:
        split_addr(config.observability.addr, "observability.addr")
    for i, check in enumerate(config.observability.ready_checks):
        split_addr(check, f"observability.ready_checks[{i}]")
    try:
        Allowlist.parse(config.backend.allow)
    except ValueError as exc:
        raise ConfigError(f"backend.allow: {exc}") from None
    checks: tuple[tuple[str, float, float], ...] = (
        ("listen.workers", config.listen.workers, 0),
        ("listen.backlog", config.listen.backlog, 1),
        ("listen.max_connections", config.listen.max_connections, 1),
        ("handshake.max_line", config.handshake.max_line, 64),
        ("backend.retry", config.backend.retry, 0),
        ("relay.buffer", config.relay.buffer, 4096),
        ("relay.idle_timeout", config.relay.idle_timeout, 0),
        ("daemon.drain_seconds", config.daemon.drain_seconds, 0),
    )
    for name, value, low in checks:
        if value < low:
            raise ConfigError(f"{name}: must be at least {low:g} (got {value:g})")
    if config.handshake.max_header < config.handshake.max_line:
        raise ConfigError("handshake.max_header: must be at least handshake.max_line")
    for name, value in (
        ("handshake.timeout", config.handshake.timeout),
        ("backend.timeout", config.backend.timeout),
    ):
        if not 0 < value < float("inf"):
            raise ConfigError(f"{name}: must be a positive number of seconds")
    return config


def to_json(config: FrontdConfig) -> str:
    """The resolved configuration for a worker process (secret included: send it through
    a pipe, never argv or the environment of other processes)."""
    return json.dumps(dataclasses.asdict(config))


def from_json(text: str) -> FrontdConfig:
    return validate(build(FrontdConfig, json.loads(text), ""), need_secret=True)


def default_config_yaml() -> str:
    """Every key at its default, commented: what ``frontd --print-default-config`` prints."""
    return _DEFAULT_YAML


_DEFAULT_YAML = f"""\
# frontd configuration: every key at its default; unknown keys are an error.
# Precedence: flag > environment > this file > default.
secret: ""                 # prefer env FRONTD_SECRET (or SECRET) or secret_file   (--secret)
secret_file: ""            # a file holding the secret (a mounted Kubernetes Secret)
derivations: [md5, sha256, pbkdf2]  # key derivations tried, in order               (--md)
log:
  level: info              # debug | info | warn | error       (env LOG_LEVEL, --log-level)
  output: stdout           # stdout | stderr | file | both      (env LOG_OUTPUT, --log-output)
  format: text             # text | json                        (env LOG_FORMAT, --log-format)
  file:                    # for output file or both, without listen.reuse (env LOG_FILE)
    path: /var/log/frontier/frontd.log
    max_size: 100          # MB before rotation
    max_backups: 5
    max_age: 30            # days
    compress: false
listen:
  addr: 0.0.0.0:{DEFAULT_PORT}       # env LISTEN_PORT replaces the port           (--addr)
  reuse: false             # SO_REUSEPORT worker processes, supervised         (--reuse)
  workers: 0               # with reuse: how many; 0 is the CPU count          (--workers)
  backlog: 1024
  max_connections: 10000   # per worker; beyond it new connections wait in the backlog
handshake:
  timeout: 10              # seconds for the client to send its request
  max_line: 1024           # bytes of a request line without its newline
  max_header: 8192         # bytes of an HTTP head               (env MAX_HTTP_HEADER_SIZE)
  status_format: line      # line: "200\\n"; byte: the original's single bytes (--status-format)
backend:
  timeout: 3               # seconds per connect attempt          (env BACKEND_TIMEOUT, --timeout)
  retry: 1                 # further attempts after a failed connect            (--retry)
  allow: []                # CIDR[:PORTS] reachable backends; empty: all but this host's
                           # loopback, link-local and cloud metadata addresses  (--allow)
relay:
  mode: auto               # auto (splice on Linux) | splice | copy             (--relay)
  buffer: 262144           # bytes per direction: pipe size or copy buffer      (--buffer)
  idle_timeout: 900        # seconds without a byte either way; 0: never        (--idle-timeout)
daemon:
  pidfile: ""              # written at start, removed at exit                  (--pidfile)
  drain_seconds: 30        # on SIGTERM: stop accepting, let relays finish this long
observability:             # /healthz, /readyz, /metrics             (--observability ADDR)
  enable: true
  addr: 0.0.0.0:9093
  ready_checks: []         # host:port backends that must accept a connection for /readyz
"""
