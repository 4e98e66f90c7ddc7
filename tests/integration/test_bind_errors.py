"""A listener that cannot bind stops its daemon with one line naming the listener, its key
and its environment override, plus the ephemeral-range advice where it applies; every
listener sets SO_REUSEADDR."""

from __future__ import annotations

import contextlib
import errno
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.listen import Listener, ListenError, ephemeral_range, reserved_ports
from support.frontlas import frontlas_config
from support.gateway import gateway_config
from support.ports import free_port

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"


def daemon_config(daemon: str, section: str, port: int) -> dict[str, Any]:
    """Every listener on a free loopback port, except `section`'s, which gets `port`."""
    config: dict[str, Any] = (
        {
            "servicebound": {"listen": {"addr": f"{LOOPBACK}:0"}},
            "edgebound": {"listen": {"addr": f"{LOOPBACK}:0"}},
            "controlplane": {"enable": True, "listen": {"addr": f"{LOOPBACK}:0"}},
            "observability": {"addr": f"{LOOPBACK}:0"},
        }
        if daemon == "frontier"
        else {
            "control_plane": {"listen": {"addr": f"{LOOPBACK}:0"}},
            "frontier_plane": {"listen": {"addr": f"{LOOPBACK}:0"}},
            "observability": {"addr": f"{LOOPBACK}:0"},
            "redis": {"standalone": {"addr": f"{LOOPBACK}:{free_port()}"}},
        }
    )
    where = config[section] if section == "observability" else config[section]["listen"]
    where["addr"] = f"{LOOPBACK}:{port}"
    return config


CASES = [
    # daemon, config section, what the error calls it, key, env
    ("frontier", "servicebound", "servicebound", "servicebound.listen.addr",
     "FRONTIER_SERVICEBOUND_PORT"),
    ("frontier", "edgebound", "edgebound", "edgebound.listen.addr", "FRONTIER_EDGEBOUND_PORT"),
    ("frontier", "controlplane", "control API", "controlplane.listen.addr",
     "FRONTIER_CONTROLPLANE_PORT"),
    ("frontier", "observability", "observability", "observability.addr",
     "FRONTIER_OBSERVABILITY_PORT"),
    ("frontlas", "control_plane", "cluster API", "control_plane.listen.addr",
     "FRONTLAS_CONTROLPLANE_PORT"),
    ("frontlas", "frontier_plane", "frontier plane", "frontier_plane.listen.addr",
     "FRONTLAS_FRONTIERPLANE_PORT"),
    ("frontlas", "observability", "observability", "observability.addr",
     "FRONTLAS_OBSERVABILITY_PORT"),
]  # fmt: skip


@contextlib.contextmanager
def occupied(port: int) -> Iterator[int]:
    """Something else listening on `port`."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen()
        yield port


def port_outside_ephemeral_range() -> int | None:
    low_high = ephemeral_range()
    if low_high is None:
        return None
    for port in range(max(1024, low_high[0] - 6000), low_high[0]):
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    return None


def start_daemon(
    daemon: str, section: str, port: int, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{daemon}.yaml"
    path.write_text(yaml.safe_dump(daemon_config(daemon, section, port)))
    module = "frontier.gateway.cli" if daemon == "frontier" else "frontier.frontlas.cli"
    return subprocess.run(
        [sys.executable, "-m", module, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("daemon", "section", "name", "key", "env"), CASES)
def test_bind_error_names_the_listener(
    daemon: str, section: str, name: str, key: str, env: str, tmp_path: Path
) -> None:
    with occupied(free_port()) as port:  # free_port: from the ephemeral range
        done = start_daemon(daemon, section, port, tmp_path)
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith(f"{daemon}: cannot start: the {name} listener cannot bind ")
    assert f"{LOOPBACK}:{port} ({key}, env {env})" in line
    assert "in use" in line.lower()
    low_high = ephemeral_range()
    if low_high and low_high[0] <= port <= low_high[1] and port not in reserved_ports():
        assert f"net.ipv4.ip_local_reserved_ports={port}" in line
        assert "ephemeral port range" in line


def test_no_ephemeral_advice_outside_the_range(tmp_path: Path) -> None:
    port = port_outside_ephemeral_range()
    if port is None:
        pytest.skip("no ephemeral range to be outside of (not Linux?) or no free port below it")
    with occupied(port):
        done = start_daemon("frontlas", "frontier_plane", port, tmp_path)
    assert done.returncode == 1
    assert "frontier plane listener" in done.stderr
    assert "another process may listen there" in done.stderr
    assert "ephemeral" not in done.stderr


def listening_sockets(*servers: Any) -> list[socket.socket]:
    return [sock for server in servers for sock in server.sockets]


async def test_every_listener_sets_so_reuseaddr() -> None:
    """So a restarted daemon binds while its old connections sit in TIME_WAIT."""
    config = gateway_config(
        controlplane={"enable": True, "listen": {"addr": f"{LOOPBACK}:0"}},
        observability={"enable": True, "addr": f"{LOOPBACK}:0"},
    )
    async with Gateway(config) as gateway:
        sockets = listening_sockets(
            gateway._service_server,
            gateway._edge_server,
            gateway._control,
            gateway._observability,
        )
        assert len(sockets) == 4
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), sock
    async with Frontlas(frontlas_config(f"{LOOPBACK}:{free_port()}")) as frontlas:
        sockets = listening_sockets(frontlas.plane.server, frontlas._api, frontlas._observability)
        assert len(sockets) == 3
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), sock


def test_listen_error_advice(tmp_path: Path) -> None:
    listener = Listener("edgebound", "edgebound.listen.addr", "FRONTIER_EDGEBOUND_PORT")
    denied = ListenError(listener, "", 80, PermissionError(errno.EACCES, "Permission denied"))
    assert str(denied) == (
        "the edgebound listener cannot bind *:80 (edgebound.listen.addr, env "
        "FRONTIER_EDGEBOUND_PORT): Permission denied; ports below 1024 need root or "
        "CAP_NET_BIND_SERVICE"
    )
    assert denied.errno == errno.EACCES
    absent = ListenError(listener, "10.9.9.9", 1, OSError(errno.EADDRNOTAVAIL, "Cannot assign"))
    assert "10.9.9.9 is not an address of this machine" in str(absent)


def test_reserved_ports_and_range_parsing(tmp_path: Path) -> None:
    (tmp_path / "ip_local_port_range").write_text("32768\t60999\n")
    (tmp_path / "ip_local_reserved_ports").write_text("30010-30012,40011, 8080\n")
    assert ephemeral_range(tmp_path) == (32768, 60999)
    assert reserved_ports(tmp_path) == {30010, 30011, 30012, 40011, 8080}
    (tmp_path / "ip_local_reserved_ports").write_text("\n")
    assert reserved_ports(tmp_path) == set()
    assert ephemeral_range(tmp_path / "absent") is None
    assert reserved_ports(tmp_path / "absent") == set()
