"""frontlas configuration: upstream files load, env overrides apply, mistakes are named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from frontier.frontlas.config import default_config_yaml, load_config, parse_config
from frontier.strict_yaml import ConfigError

UPSTREAM_ETC = """\
daemon:
  rlimit:
    enable: false
    nofile: 1024
  pprof:
    enable: true
    addr: 0.0.0.0:6061
    cpu_profile_rate: 0
control_plane:
  listen:
    network: tcp
    addr: 0.0.0.0:40011
frontier_plane:
  listen:
    network: tcp
    addr: 0.0.0.0:40012
  expiration:
    service_meta: 30
    edge_meta: 30
redis:
  mode: standalone
  standalone:
    network: tcp
    addr: 127.0.0.1:6379
    db: 0
"""


def test_upstream_etc_file_loads() -> None:
    config = parse_config(yaml.safe_load(UPSTREAM_ETC))
    assert config.control_plane.listen.addr == "0.0.0.0:40011"
    assert config.frontier_plane.listen.addr == "0.0.0.0:40012"
    assert config.redis.standalone.addr == "127.0.0.1:6379"
    assert config.frontier_plane.expiration.alive == 30


def test_the_documented_default_is_the_default() -> None:
    assert parse_config(yaml.safe_load(default_config_yaml())) == parse_config(None)


def test_what_the_operator_renders_loads() -> None:
    operator_config = pytest.importorskip("frontier_operator.config")
    spec_mod = pytest.importorskip("frontier_operator.spec")
    spec = spec_mod.parse_spec(
        {
            "frontier": {},
            "frontlas": {"redis": {"addrs": ["redis:6379"], "redisType": "standalone"}},
        }
    )
    rendered = operator_config.render_frontlas_config(spec, "demo", "ns")
    config = parse_config(yaml.safe_load(rendered.text))
    assert config.redis.standalone.addr == "redis:6379"


def test_env_overrides_as_upstream() -> None:
    config = parse_config(
        None,
        {
            "FRONTLAS_CONTROLPLANE_PORT": "1000",
            "FRONTLAS_FRONTIERPLANE_PORT": "1001",
            "FRONTLAS_OBSERVABILITY_PORT": "1002",
            "REDIS_TYPE": "sentinel",
            "REDIS_ADDRS": "s1:26379, s2:26379",
            "REDIS_USER": "u",
            "REDIS_PASSWORD": "secret",
            "REDIS_DB": "2",
            "MASTER_NAME": "mymaster",
            "LOG_LEVEL": "debug",
            "LOG_FILE": "/tmp/frontlas.log",
        },
    )
    assert (config.log.level, config.log.file.path) == ("debug", "/tmp/frontlas.log")
    assert config.control_plane.listen.addr == "0.0.0.0:1000"
    assert config.frontier_plane.listen.addr == "0.0.0.0:1001"
    assert config.observability.addr == "0.0.0.0:1002"
    assert config.redis.mode == "sentinel"
    assert config.redis.sentinel.addrs == ("s1:26379", "s2:26379")
    assert config.redis.sentinel.master_name == "mymaster"
    assert config.redis.sentinel.db == 2
    assert (config.redis.username, config.redis.password) == ("u", "secret")
    standalone = parse_config(None, {"REDIS_ADDRS": "r:1", "REDIS_DB": "3"}).redis.standalone
    assert (standalone.addr, standalone.db) == ("r:1", 3)
    cluster = parse_config(None, {"REDIS_TYPE": "cluster", "REDIS_ADDRS": "a:1,b:2"}).redis
    assert cluster.cluster.addrs == ("a:1", "b:2")


@pytest.mark.parametrize(
    ("data", "env", "error"),
    [
        ({"redis": {"mod": "standalone"}}, {}, "unknown key 'redis.mod'"),
        ({"redis": {"mode": "ring"}}, {}, "redis.mode: 'ring' is not one of"),
        (None, {"REDIS_TYPE": "ring"}, "REDIS_TYPE"),
        (None, {"REDIS_DB": "zero"}, "REDIS_DB"),
        (None, {"FRONTLAS_CONTROLPLANE_PORT": "70000"}, "FRONTLAS_CONTROLPLANE_PORT"),
        (None, {"FRONTLAS_OBSERVABILITY_PORT": "x"}, "FRONTLAS_OBSERVABILITY_PORT"),
        ({"redis": {"mode": "sentinel"}}, {}, "redis.sentinel.addrs"),
        (
            {"redis": {"mode": "sentinel", "sentinel": {"addrs": ["a:1"]}}},
            {},
            "master_name",
        ),
        ({"redis": {"mode": "cluster"}}, {}, "redis.cluster.addrs"),
        ({"frontier_plane": {"expiration": {"alive": -1}}}, {}, "expiration.alive"),
    ],
)
def test_mistakes_are_named(data: object, env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_config(data, env)


def test_zero_ttls_mean_the_default() -> None:
    """Upstream's generated frontlas_all.yaml has 0 TTLs: every key would vanish at once."""
    config = parse_config({"frontier_plane": {"expiration": {"edge_meta": 0, "service_meta": 0}}})
    assert config.frontier_plane.expiration.edge_meta == 30
    assert config.frontier_plane.expiration.service_meta == 30


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_cli_prints_the_default_and_names_config_errors(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "frontier.frontlas.cli"]
    out = subprocess.run(
        [*command, "--print-default-config"], capture_output=True, text=True, check=True
    ).stdout
    assert parse_config(yaml.safe_load(out)) == parse_config(None)
    bad = tmp_path / "frontlas.yaml"
    bad.write_text("redis:\n  addr: x\n")
    result = subprocess.run([*command, "--config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "redis.addr" in result.stderr
