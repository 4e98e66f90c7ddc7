"""The `frontier-tunnel` command as users meet it: versions, default configurations that
load back, and the exit codes and one-line reasons of a bad configuration (2) or a port
that cannot be bound (1)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from frontier.tunnel.config import parse_connector_config, parse_entry_config
from frontier.version import package_version

pytestmark = pytest.mark.integration


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontier.tunnel", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("prefix", [(), ("serve",), ("connect",)])
def test_version(prefix: tuple[str, ...]) -> None:
    done = run(*prefix, "--version")
    assert done.returncode == 0, done.stderr
    name = " ".join(("frontier-tunnel", *prefix))
    assert re.match(rf"{re.escape(name)} {re.escape(package_version())} \(", done.stdout)


def test_without_a_subcommand_it_says_which() -> None:
    done = run()
    assert done.returncode == 2
    assert "{serve,connect}" in done.stderr


def test_the_printed_defaults_load_back() -> None:
    entry = run("serve", "--print-default-config")
    assert parse_entry_config(yaml.safe_load(entry.stdout)) == parse_entry_config(None)
    connector = run("connect", "--print-default-config")
    parsed = parse_connector_config(yaml.safe_load(connector.stdout), need_token=False)
    assert parsed == parse_connector_config(None, need_token=False)


def test_configuration_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "entry.yaml"
    bad.write_text("apps:\n  - {name: x, connector: nobody, target: h:1, listen: ':1'}\n")
    done = run("serve", "--config", str(bad))
    assert done.returncode == 2
    assert "apps[0].connector: 'nobody' is not in connectors" in done.stderr
    done = run("connect", "--observability", "")
    assert done.returncode == 2
    assert "name: the connector's name" in done.stderr


def test_a_port_in_use_exits_1_naming_the_listener(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "entry.yaml"
        config.write_text(yaml.safe_dump({
            "connectors": [{"name": "home", "token": "t" * 20}],
            "apps": [{"name": "ssh", "connector": "home", "target": "10.0.0.5:22",
                      "listen": f"127.0.0.1:{port}"}],
            "http": {"enable": False}, "observability": {"enable": False},
            "gateway": {"addrs": ["127.0.0.1:9"]},
        }))  # fmt: skip
        done = run("serve", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert f"the app 'ssh' listener cannot bind 127.0.0.1:{port} (apps[0].listen)" in done.stderr
