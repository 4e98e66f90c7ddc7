"""The entry's and the connector's configurations: documented defaults, strictness, the
checks across keys, secrets from files and the environment, flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from frontier.strict_yaml import ConfigError
from frontier.tunnel.cli import _connect_parser, _serve_parser
from frontier.tunnel.config import (
    apply_connector_flags,
    apply_entry_flags,
    connector_default_yaml,
    entry_default_yaml,
    parse_connector_config,
    parse_entry_config,
)

HOME = {"name": "home", "token": "t" * 20}


def entry(**sections: Any) -> dict[str, Any]:
    return {"connectors": [HOME], **sections}


def test_the_documented_defaults_are_the_defaults() -> None:
    assert parse_entry_config(yaml.safe_load(entry_default_yaml())) == parse_entry_config(None)
    documented = parse_connector_config(yaml.safe_load(connector_default_yaml()), need_token=False)
    assert documented == parse_connector_config(None, need_token=False)
    assert parse_entry_config(None).http.addr == "0.0.0.0:30080"
    assert parse_connector_config(None, need_token=False).allow == ()


def test_a_full_entry() -> None:
    config = parse_entry_config(
        entry(
            apps=[
                {"name": "ssh", "kind": "tcp", "connector": "home", "target": "10.0.0.5:22",
                 "listen": "0.0.0.0:2222", "allow_from": ["10.0.0.0/8"]},
                {"name": "grafana", "kind": "http", "connector": "home",
                 "target": "grafana.lan:3000", "host": "*.example.com", "path": "/g/",
                 "auth": {"basic": [{"user": "ann", "password": "pw"}]}},
            ]
        ),
        {"FRONTIER_TUNNEL_API_TOKEN": "api-token", "LOG_LEVEL": "debug"},
    )  # fmt: skip
    assert [app.name for app in config.apps] == ["ssh", "grafana"]
    assert config.api.token == "api-token"
    assert config.log.level == "debug"
    assert "pw" not in repr(config)  # secrets stay out of logs and tracebacks
    assert "t" * 20 not in repr(config)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (entry(unknown=1), "unknown key 'unknown'"),
        (entry(apps=[{"name": "a", "connector": "nobody", "target": "h:1", "listen": ":1"}]),
         r"apps\[0\].connector: 'nobody' is not in connectors"),
        (entry(apps=[{"name": "a", "connector": "home", "target": "h", "listen": ":1"}]),
         r"apps\[0\].target"),
        (entry(apps=[{"name": "a", "connector": "home", "target": "h:1"}]),
         r"apps\[0\].listen: a TCP app needs"),
        (entry(apps=[{"name": "a", "kind": "http", "connector": "home", "target": "h:1",
                      "listen": ":1"}]), "HTTP apps are served on http.addr"),
        (entry(apps=[{"name": "a", "kind": "tcp", "connector": "home", "target": "h:1",
                      "listen": ":1", "auth": {"bearer_tokens": ["x"]}}]), "are for HTTP apps"),
        (entry(apps=[{"name": "a", "kind": "tcp", "connector": "home", "target": "h:1",
                      "listen": ":1", "auth": {"client_cert": True}}]), "needs tls.enable"),
        (entry(apps=[{"name": "a", "kind": "http", "connector": "home", "target": "h:1"},
                     {"name": "b", "kind": "http", "connector": "home", "target": "h:2"}]),
         "another app routes"),
        (entry(apps=[{"name": "a", "connector": "home", "target": "h:1", "listen": ":1"},
                     {"name": "b", "connector": "home", "target": "h:1", "listen": ":1"}]),
         "used by another app"),
        (entry(apps=[{"name": "a", "connector": "home", "target": "h:1", "listen": ":1",
                      "allow_from": ["nope"]}]), r"allow_from\[0\]"),
        ({"connectors": [{"name": "home"}]}, "give token or token_file"),
        ({"connectors": [HOME, HOME]}, "listed twice"),
        (entry(tunnel={"window": 1 << 20}), "tunnel.window"),
        (entry(gateway={"heartbeat": 7}), "gateway.heartbeat"),
    ],
)  # fmt: skip
def test_entry_errors_name_the_key(data: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_entry_config(data)


def test_tokens_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "home.token"
    secret.write_text("from-a-file-0123456789\n")
    config = parse_entry_config({"connectors": [{"name": "home", "token_file": str(secret)}]})
    assert config.tokens() == {"home": "from-a-file-0123456789"}
    connector = parse_connector_config({"name": "home", "token_file": str(secret)})
    assert connector.token == "from-a-file-0123456789"
    with pytest.raises(ConfigError, match="cannot read"):
        parse_connector_config({"name": "home", "token_file": str(tmp_path / "none")})


def test_connector_needs_a_name_and_a_token() -> None:
    with pytest.raises(ConfigError, match="name"):
        parse_connector_config({"token": "x"})
    with pytest.raises(ConfigError, match="no token"):
        parse_connector_config({"name": "home"})
    config = parse_connector_config({"name": "home"}, {"FRONTIER_TUNNEL_TOKEN": "from-env"})
    assert config.token == "from-env"
    with pytest.raises(ConfigError, match="allow"):
        parse_connector_config({"name": "h", "token": "t", "allow": ["10.0.0.0/99"]})


def test_flags_override_the_file() -> None:
    args = _connect_parser().parse_args(
        ["--gateway", "a:1", "--gateway", "b:2", "--name", "n", "--allow", "10.0.0.0/8:22",
         "--observability", ""]
    )  # fmt: skip
    config = apply_connector_flags(args, parse_connector_config({"token": "t"}, need_token=False))
    assert config.gateway.addrs == ("a:1", "b:2")
    assert config.allow == ("10.0.0.0/8:22",)
    assert not config.observability.enable
    args = _serve_parser().parse_args(["--http", "127.0.0.1:8080", "--api", "127.0.0.1:9"])
    config = apply_entry_flags(args, parse_entry_config(None))
    assert (config.http.addr, config.api.enable, config.api.addr) == (
        "127.0.0.1:8080", True, "127.0.0.1:9",
    )  # fmt: skip
