"""The gateway's configuration: Go keys load unchanged, typos fail loudly, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from frontier.gateway.config import (
    ConfigError,
    FrontierConfig,
    TLSCert,
    default_config_yaml,
    load_config,
    parse_config,
)


def test_no_file_is_a_standalone_gateway() -> None:
    config = load_config(None, env={})
    assert config.servicebound.listen.addr == "0.0.0.0:30011"
    assert config.edgebound.listen.addr == "0.0.0.0:30012"
    assert config.controlplane.enable is False
    assert config.controlplane.listen.addr == "0.0.0.0:30010"
    assert config.observability.addr == "0.0.0.0:9091"
    assert config.frontlas.enable is False
    assert config.edgebound.edgeid_alloc_when_no_idservice_on is True
    assert config.exchange.hashby == "edgeid"
    assert config.exchange.forward_timeout == 30.0
    assert config.daemon.drain_seconds == 30.0


def test_printed_default_config_is_the_default() -> None:
    assert parse_config(yaml.safe_load(default_config_yaml()), env={}) == load_config(None, {})


def test_printed_default_config_documents_every_key() -> None:
    """Every key of the schema appears in the printed default (so it is documented)."""
    printed = yaml.safe_load(default_config_yaml())

    def paths(node: object, prefix: str = "") -> set[str]:
        if not isinstance(node, dict) or not node:
            return {prefix}
        found = set()
        for key, value in node.items():
            found |= paths(value, f"{prefix}.{key}" if prefix else key)
        return found

    import dataclasses

    def schema(cls: type, prefix: str = "") -> set[str]:
        found = set()
        for f in dataclasses.fields(cls):
            path = f"{prefix}.{f.name}" if prefix else f.name
            default = f.default_factory() if callable(f.default_factory) else f.default
            if dataclasses.is_dataclass(default):
                found |= schema(type(default), path)
            else:
                found.add(path)
        return found

    assert schema(FrontierConfig) == paths(printed)


def test_go_frontier_yaml_loads(tmp_path: Path) -> None:
    """The shape of upstream's etc/frontier.yaml, TLS pairs and all."""
    path = tmp_path / "frontier.yaml"
    path.write_text(
        """
daemon:
  rlimit: {enable: false, nofile: 102400}
  pprof: {enable: true, addr: 0.0.0.0:6060}
  frontier_id: frontier01
servicebound:
  listen:
    network: tcp
    addr: 0.0.0.0:40011
edgebound:
  listen:
    network: tcp
    addr: 0.0.0.0:40012
    tls:
      enable: true
      mtls: true
      ca_certs: [ca1.crt, ca2.crt]
      certs:
        - cert: edge.crt
          key: edge.key
  edgeid_alloc_when_no_idservice_on: true
controlplane:
  enable: true
  listen: {network: tcp, addr: 0.0.0.0:30010}
exchange: {hashby: srcip}
dao: {backend: sqlite}
frontlas:
  enable: true
  dial: {network: tcp, addrs: [frontlas:40012]}
  metrics: {enable: true, interval: 60}
mqm:
  kafka: {enable: false, addrs: [k:9092]}
"""
    )
    config = load_config(path, env={})
    assert config.daemon.frontier_id == "frontier01"
    assert config.servicebound.listen.addr == "0.0.0.0:40011"
    tls = config.edgebound.listen.tls
    assert tls.enable
    assert tls.mtls
    assert tls.ca_certs == ("ca1.crt", "ca2.crt")
    assert tls.certs == (TLSCert(cert="edge.crt", key="edge.key"),)
    assert config.controlplane.enable
    assert config.exchange.hashby == "srcip"
    assert config.frontlas.dial.addrs == ("frontlas:40012",)
    assert config.mqm["kafka"]["addrs"] == ["k:9092"]


def test_listen_block_without_addr_keeps_the_standard_port() -> None:
    config = parse_config({"edgebound": {"listen": {"tls": {"enable": False}}}}, env={})
    assert config.edgebound.listen.addr == "0.0.0.0:30012"


def test_operator_rendered_config_loads() -> None:
    """What frontier-operator writes into the ConfigMap is what the gateway reads."""
    spec_mod = pytest.importorskip("frontier_operator.spec")
    config_mod = pytest.importorskip("frontier_operator.config")
    spec = spec_mod.parse_spec(
        {
            "frontier": {
                "edgebound": {
                    "tls": {
                        "enabled": True,
                        "mtls": True,
                        "certificateKeySecretRef": {"name": "edge-tls"},
                        "caCertificateSecretRef": {"name": "edge-ca"},
                    }
                }
            },
            "frontlas": {"redis": {"addrs": ["redis:6379"], "redisType": "standalone"}},
        },
        name="fc",
    )
    rendered = config_mod.render_frontier_config(spec, "fc", "ns")
    config = parse_config(yaml.safe_load(rendered.text), env={})
    assert config.edgebound.listen.tls.enable
    assert config.edgebound.listen.tls.certs[0].cert.endswith("tls.crt")
    assert config.frontlas.enable
    assert config.frontlas.dial.addrs == ("fc-frontlas-svc.ns.svc:40012",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"edgebound": {"listen": {"adr": "x"}}}, "unknown key 'edgebound.listen.adr'"),
        ({"servicebund": {}}, "unknown key 'servicebund'"),
        ({"exchange": {"hashby": "roundrobin"}}, "exchange.hashby: 'roundrobin' is not one of"),
        ({"edgebound": {"edgeid_alloc_when_no_idservice_on": "yes"}}, "expected true or false"),
        ({"frontlas": {"dial": {"addrs": "a:1"}}}, "frontlas.dial.addrs: expected a list"),
        ({"log": {"file": {"max_size": "big"}}}, "log.file.max_size: expected an integer"),
        (
            {"edgebound": {"listen": {"tls": {"certs": [{"cert": "a", "kye": "b"}]}}}},
            "unknown key 'edgebound.listen.tls.certs[0].kye'",
        ),
        ({"servicebound": {"listen": {"network": "udp"}}}, "servicebound.listen.network"),
        ([1, 2], "the configuration: expected a mapping"),
    ],
)
def test_bad_config_names_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert message in str(info.value)


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("servicebound: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, env={})


def test_env_overrides_as_upstream() -> None:
    config = load_config(
        None,
        env={
            "FRONTIER_SERVICEBOUND_PORT": "31011",
            "FRONTIER_EDGEBOUND_PORT": "31012",
            "NODE_NAME": "node-a",
            "FRONTLAS_ADDR": "frontlas.svc:40012",
            "FRONTIER_DRAIN_SECONDS": "7.5",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "json",
            "LOG_FILE": "/tmp/f.log",
        },
    )
    assert config.servicebound.listen.addr == "0.0.0.0:31011"
    assert config.edgebound.listen.addr == "0.0.0.0:31012"
    assert config.daemon.frontier_id == "frontier-node-a"
    assert config.frontlas.enable
    assert config.frontlas.dial.addrs == ("frontlas.svc:40012",)
    assert config.daemon.drain_seconds == 7.5
    assert (config.log.level, config.log.format, config.log.file.path) == (
        "debug",
        "json",
        "/tmp/f.log",
    )


def test_env_moves_the_control_api_and_observability_ports() -> None:
    """So two gateways share a host with one config file (deploy/local)."""
    config = parse_config(
        {"observability": {"addr": "127.0.0.1:9091"}, "controlplane": {"enable": True}},
        {"FRONTIER_OBSERVABILITY_PORT": "19091", "FRONTIER_CONTROLPLANE_PORT": "31010"},
    )
    assert config.observability.addr == "127.0.0.1:19091"  # the host is kept
    assert config.controlplane.listen.addr == "0.0.0.0:31010"
    assert config.controlplane.enable  # a port alone turns nothing on or off
    assert not load_config(None, {"FRONTIER_CONTROLPLANE_PORT": "31010"}).controlplane.enable


def test_frontlas_addr_may_list_several_frontlas_replicas() -> None:
    config = load_config(None, env={"FRONTLAS_ADDR": "fl-0:40012, fl-1:40012"})
    assert config.frontlas.dial.addrs == ("fl-0:40012", "fl-1:40012")
    assert config.frontlas.heartbeat == 10.0


def test_frontier_id_env_wins_over_node_name_and_advertised_addrs() -> None:
    config = load_config(
        None,
        env={
            "NODE_NAME": "node-a",
            "FRONTIER_ID": "fc-frontier-7d9-abcde",
            "FRONTIER_SERVICEBOUND_ADVERTISED_ADDR": "10.0.0.7:30011",
            "FRONTIER_EDGEBOUND_ADVERTISED_ADDR": "192.0.2.1:31000",
        },
    )
    assert config.daemon.frontier_id == "fc-frontier-7d9-abcde"
    assert config.servicebound.listen.advertised_addr == "10.0.0.7:30011"
    assert config.edgebound.listen.advertised_addr == "192.0.2.1:31000"


def test_servicebound_token_from_the_environment_replaces_the_files() -> None:
    """The operator and the chart pass the token from a Secret this way, never in a file."""
    data = {"servicebound": {"token": "from-the-file"}}
    assert parse_config(data, {}).servicebound.token == "from-the-file"
    env = {"FRONTIER_SERVICEBOUND_TOKEN": "from-the-secret"}
    assert parse_config(data, env).servicebound.token == "from-the-secret"
    assert load_config(None, env).servicebound.token == "from-the-secret"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # An empty Secret value must not silently turn the token off.
        ({"FRONTIER_SERVICEBOUND_TOKEN": ""}, "FRONTIER_SERVICEBOUND_TOKEN: set but empty"),
        ({"FRONTIER_EDGEBOUND_PORT": "http"}, "FRONTIER_EDGEBOUND_PORT: 'http' is not a TCP port"),
        ({"FRONTIER_SERVICEBOUND_PORT": "70000"}, "not a TCP port"),
        ({"FRONTIER_OBSERVABILITY_PORT": "0x10"}, "FRONTIER_OBSERVABILITY_PORT: '0x10' is not"),
        ({"FRONTIER_CONTROLPLANE_PORT": "-1"}, "FRONTIER_CONTROLPLANE_PORT: '-1' is not"),
        ({"FRONTIER_DRAIN_SECONDS": "soon"}, "FRONTIER_DRAIN_SECONDS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: 'loud' is not one of"),
    ],
)
def test_bad_env_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert message in str(info.value)
