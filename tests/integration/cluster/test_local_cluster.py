"""`./dev cluster` as a newcomer runs it: redis + frontlas + two frontiers from deploy/local,
the addresses printed once everything is ready, a ClusterService reaching edges on both
frontiers, and Ctrl-C stopping every part (exit 0, every port free again). A part that
cannot start stops the others and says why (exit 1)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from frontier.sdk import ClusterService, Edge, Request
from support.ports import free_shift
from support.procs import Proc

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_PORTS = {
    "FRONTLAS_CONTROLPLANE_PORT": 40011,
    "FRONTLAS_FRONTIERPLANE_PORT": 40012,
    "FRONTLAS_OBSERVABILITY_PORT": 9092,
    "FRONTIER_SERVICEBOUND_PORT": 30011,
    "FRONTIER_EDGEBOUND_PORT": 30012,
    "FRONTIER_OBSERVABILITY_PORT": 9091,
}
B_PORTS = (31011, 31012, 10091)  # frontier-b: 1000 above frontier-a


def cluster_command() -> list[str]:
    """`./dev cluster` when ./dev manages this interpreter's virtualenv (what the README
    says to run), else the script it runs, with this interpreter."""
    if (Path(sys.prefix) / ".frontier-installed").exists():
        return [str(ROOT / "dev"), "cluster"]
    return [sys.executable, str(ROOT / "scripts" / "local_cluster.py")]


@dataclass
class Cluster:
    proc: Proc
    ports: dict[str, int]

    @property
    def process(self) -> asyncio.subprocess.Process:
        return self.proc.process


def cluster_ports() -> dict[str, int]:
    """The default ports, all moved by one free offset (frontier-b's stay 1000 above)."""
    shift = free_shift([*DEFAULT_PORTS.values(), *B_PORTS])
    return {name: port + shift for name, port in DEFAULT_PORTS.items()}


@asynccontextmanager
async def dev_cluster(ports: dict[str, int]) -> AsyncIterator[Cluster]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (./dev installs it with apt)")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FRONTIER_", "FRONTLAS_"))},
        **{name: str(port) for name, port in ports.items()},
        "FRONTIER_VENV": sys.prefix,
    }
    proc = await Proc.start(
        "./dev cluster",
        *cluster_command(),
        env=env,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:
        yield Cluster(proc, ports)
    finally:
        if proc.process.returncode is None:
            os.killpg(proc.process.pid, signal.SIGKILL)
            await proc.process.wait()


def port_free(port: int) -> bool:
    """Nobody listens there any more (SO_REUSEADDR, as the daemons: connections that end
    in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_dev_cluster_serves_both_frontiers_and_stops_on_ctrl_c() -> None:
    async with dev_cluster(cluster_ports()) as cluster:
        up = cluster.proc.expect
        await up(r"local cluster up \(Ctrl-C stops it\)", within=90)
        api = await up(r"frontlas +cluster API 127\.0\.0\.1:(\d+) ")
        a = await up(r"frontier-a +services 127\.0\.0\.1:(\d+) +edges 127\.0\.0\.1:(\d+)")
        b = await up(r"frontier-b +services 127\.0\.0\.1:(\d+) +edges 127\.0\.0\.1:(\d+)")
        await up(r"logs +/")
        assert int(api[1]) == cluster.ports["FRONTLAS_CONTROLPLANE_PORT"]
        assert int(a[1]) == cluster.ports["FRONTIER_SERVICEBOUND_PORT"]
        assert int(b[2]) == int(a[2]) + 1000

        async def whoami(request: Request) -> bytes:
            return request.data

        edges = [Edge(f"127.0.0.1:{a[2]}", meta=b"on-a"), Edge(f"127.0.0.1:{b[2]}", meta=b"on-b")]
        for edge, answer in zip(edges, (b"a", b"b"), strict=True):
            await edge.register("whoami", lambda request, answer=answer: answer)
            await edge.start()
        try:
            async with ClusterService(f"127.0.0.1:{api[1]}", name="backend") as service:
                for edge, answer in zip(edges, (b"a", b"b"), strict=True):
                    assert await service.call(edge.edge_id, "whoami", timeout=15) == answer
        finally:
            for edge in edges:
                await edge.close()

        os.killpg(cluster.process.pid, signal.SIGINT)  # Ctrl-C in its terminal
        code = await cluster.proc.exited(within=60)
        output = "\n".join(cluster.proc.lines)
        assert code == 0, output
        assert "cluster: SIGINT: stopping" in output
        assert output.rstrip().endswith("cluster: stopped")
        for port in [*cluster.ports.values(), int(b[1]), int(b[2])]:
            assert port_free(port), f"port {port} still taken after the stop:\n{output}"


@contextmanager
def listening(port: int) -> Iterator[None]:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


async def test_a_part_that_cannot_start_stops_the_rest() -> None:
    ports = cluster_ports()
    taken = ports["FRONTIER_EDGEBOUND_PORT"] + 1000  # frontier-b's edgebound
    with listening(taken):
        async with dev_cluster(ports) as cluster:
            code = await cluster.proc.exited(within=90)
            output = "\n".join(cluster.proc.lines)
        assert code == 1, output
        assert "cluster: frontier-b exited (1)" in output
        assert f"edgebound listener cannot bind 127.0.0.1:{taken}" in output
        for name in ("FRONTLAS_CONTROLPLANE_PORT", "FRONTIER_SERVICEBOUND_PORT"):
            assert port_free(cluster.ports[name]), output
