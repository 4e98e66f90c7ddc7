"""frontd's configuration: defaults, the YAML keys, the original's environment, flags, and
the errors a wrong value gets."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from frontier.frontd.cli import _overrides, _parser
from frontier.frontd.config import (
    ConfigError,
    FrontdConfig,
    default_config_yaml,
    from_json,
    load_config,
    parse_config,
    to_json,
)


def flags(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(list(argv))


def test_the_documented_default_is_the_default() -> None:
    config = parse_config(yaml.safe_load(default_config_yaml()), {"FRONTD_SECRET": "s"})
    assert config == parse_config(None, {"FRONTD_SECRET": "s"})
    assert config.listen.addr == "0.0.0.0:4043"
    assert (config.backend.retry, config.backend.timeout) == (1, 3.0)  # the original's
    assert config.derivations == ("md5", "sha256", "pbkdf2")
    assert config.handshake.max_header == 8192
    assert config.observability.addr.endswith(":9093")


def test_a_secret_is_required() -> None:
    with pytest.raises(ConfigError, match="no secret"):
        parse_config(None, {})


def test_frontd_secret_wins_over_the_originals_secret() -> None:
    assert parse_config(None, {"SECRET": "a"}).secret == "a"
    assert parse_config(None, {"SECRET": "a", "FRONTD_SECRET": "b"}).secret == "b"


def test_a_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-file\n")
    assert parse_config({"secret_file": str(path)}).secret == "from-file"
    with pytest.raises(ConfigError, match="secret_file"):
        parse_config({"secret_file": str(tmp_path / "missing")})


def test_the_originals_environment() -> None:
    config = parse_config(
        None,
        {
            "SECRET": "s",
            "BACKEND_TIMEOUT": "10",
            "LISTEN_PORT": "4100",
            "MAX_HTTP_HEADER_SIZE": "16384",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "json",
        },
    )
    assert config.backend.timeout == 10.0
    assert config.listen.addr == "0.0.0.0:4100"
    assert config.handshake.max_header == 16384
    assert (config.log.level, config.log.format) == ("debug", "json")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKEND_TIMEOUT": "soon"}, "BACKEND_TIMEOUT"),
        ({"BACKEND_TIMEOUT": "0"}, "BACKEND_TIMEOUT"),
        ({"LISTEN_PORT": "70000"}, "LISTEN_PORT"),
        ({"MAX_HTTP_HEADER_SIZE": "8k"}, "MAX_HTTP_HEADER_SIZE"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(None, {"SECRET": "s", **env})


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"listen": {"adr": "x"}}, "listen.adr"),
        ({"backend": {"allow": ["10.0.0.0/33"]}}, "backend.allow"),
        ({"backend": {"retry": -1}}, "backend.retry"),
        ({"backend": {"timeout": 0}}, "backend.timeout"),
        ({"derivations": ["md5", "md5"]}, "derivations"),
        ({"derivations": ["sha1"]}, "derivations"),
        ({"derivations": []}, "derivations"),
        ({"relay": {"mode": "zero"}}, "relay.mode"),
        ({"relay": {"buffer": 10}}, "relay.buffer"),
        ({"handshake": {"status_format": "text"}}, "handshake.status_format"),
        ({"handshake": {"max_line": 2048, "max_header": 1024}}, "handshake.max_header"),
        ({"listen": {"addr": "nowhere"}}, "listen.addr"),
        ({"observability": {"ready_checks": ["x"]}}, "observability.ready_checks"),
    ],
)
def test_bad_values_name_their_key(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        parse_config({"secret": "s", **data})


def test_flags_override_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "frontd.yaml"
    path.write_text(
        yaml.safe_dump({"listen": {"addr": "127.0.0.1:1"}, "backend": {"allow": ["10.0.0.0/8"]}})
    )
    config = load_config(path, {"BACKEND_TIMEOUT": "9", "SECRET": "env"})
    args = flags(
        "--secret", "flag", "--addr", "127.0.0.1:2", "--workers", "3", "--retry", "0",
        "--timeout", "1.5", "--buffer", "131072", "--pidfile", "/run/frontd.pid",
        "--allow", "192.168.0.0/16:80", "--allow", "[fd00::/8]:443", "--status-format", "byte",
        "--relay", "copy", "--idle-timeout", "60", "--md", "pbkdf2,md5",
        "--observability", "127.0.0.1:3", "--log-level", "debug", "--log-format", "json",
    )  # fmt: skip
    config = _overrides(args, config)
    assert config.secret == "flag"
    assert (config.listen.addr, config.listen.reuse, config.listen.workers) == (
        "127.0.0.1:2", True, 3,
    )  # fmt: skip
    assert config.worker_count == 3
    assert (config.backend.retry, config.backend.timeout) == (0, 1.5)
    assert config.backend.allow == ("192.168.0.0/16:80", "[fd00::/8]:443")
    assert (config.relay.buffer, config.relay.mode, config.relay.idle_timeout) == (
        131072, "copy", 60.0,
    )  # fmt: skip
    assert config.handshake.status_format == "byte"
    assert config.daemon.pidfile == "/run/frontd.pid"
    assert config.derivations == ("pbkdf2", "md5")
    assert config.observability.addr == "127.0.0.1:3"
    assert (config.log.level, config.log.format) == ("debug", "json")


def test_an_empty_observability_flag_turns_it_off() -> None:
    config = _overrides(flags("--observability", ""), parse_config(None, {"SECRET": "s"}))
    assert not config.observability.enable


def test_the_worker_count() -> None:
    assert FrontdConfig(secret="s").worker_count == 1
    config = _overrides(flags("--reuse"), parse_config(None, {"SECRET": "s"}))
    assert config.worker_count >= 1


def test_the_workers_get_the_whole_configuration_back() -> None:
    config = _overrides(
        flags("--allow", "10.0.0.0/8", "--md", "sha256"), parse_config(None, {"SECRET": "s"})
    )
    assert from_json(to_json(config)) == config
