"""Processes: SO_REUSEPORT workers sharing a port, a dead worker restarted, SIGTERM drains
(supervised and single), the pid file, and the observability port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from support.frontd import Backend, FrontdProcess, frontd, line_for, open_client
from support.frontlas import until_async
from support.gateway import until

pytestmark = pytest.mark.integration

ALLOW = ["--allow", "127.0.0.0/8"]


def worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children]


def _has_fds(pid: int) -> bool:
    try:
        return any(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False  # gone (or a zombie: no descriptors left)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_sockets(port: int, state: str) -> dict[str, str]:
    """inode -> local address of IPv4 TCP sockets on `port` in `state` (0A listen, 01 est.)."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, st, inode = fields[1], fields[3], fields[9]
        if st == state and int(local.split(":")[1], 16) == port:
            found[inode] = local
    return found


async def metric(port: int, name: str) -> float:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    total = 0.0
    for line in text.splitlines():
        if re.match(rf"{re.escape(name)}(\{{.*\}})? ", line):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def http_status(port: int, path: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status


async def relay_once(port: int, backend: Backend, payload: bytes = b"hi") -> None:
    reader, writer = await open_client(port, line_for(backend.addr) + payload)
    try:
        assert await asyncio.wait_for(reader.readexactly(4 + len(payload)), 20) == (
            b"200\n" + payload
        )
    finally:
        writer.close()


async def test_workers_share_the_port_and_both_take_connections(tmp_path: Path) -> None:
    async with FrontdProcess("--workers", "2", *ALLOW) as process:
        workers = worker_pids(process.pid)
        assert len(workers) == 2
        listening = tcp_sockets(process.port, "0A")
        owners = {pid for pid in workers if socket_inodes(pid) & listening.keys()}
        assert owners == set(workers)  # one listening socket each, on the same port
        async with Backend() as backend:
            held = []
            for _ in range(40):
                reader, writer = await open_client(process.port, line_for(backend.addr))
                assert await asyncio.wait_for(reader.readexactly(4), 20) == b"200\n"
                held.append(writer)
            established = tcp_sockets(process.port, "01")
            per_worker = [len(socket_inodes(pid) & established.keys()) for pid in workers]
            assert sum(per_worker) == 40
            assert min(per_worker) > 0, per_worker  # the kernel spread them
            # /metrics sums the workers
            assert await metric(process.observability_port, "frontd_requests_total") == 40
            assert await metric(process.observability_port, "frontd_connections_active") == 40
            for writer in held:
                writer.close()


async def test_a_dead_worker_is_restarted_and_the_port_keeps_serving() -> None:
    async with FrontdProcess("--workers", "2", *ALLOW) as process:
        obs = process.observability_port
        victim = worker_pids(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        # Until it has exited, the kernel may still hand new connections to the victim's
        # listening socket, and they are reset when it closes (SO_REUSEPORT's known edge;
        # net.ipv4.tcp_migrate_req moves them): what is tested is the port after that.
        await until(lambda: not _has_fds(victim), 20, "the killed worker to exit")
        async with Backend() as backend:
            for _ in range(10):  # the survivor serves while the victim is replaced
                await relay_once(process.port, backend)

            async def replaced() -> bool:
                pids = worker_pids(process.pid)
                return (
                    len(pids) == 2
                    and victim not in pids
                    and (await metric(obs, "frontd_workers_ready") == 2)
                )

            await until_async(replaced, 30, "a replacement worker")
            assert await metric(obs, "frontd_worker_restarts_total") == 1
            process.wait_for("worker 0 (pid")
            for _ in range(10):
                await relay_once(process.port, backend)


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["single", "supervised"])
async def test_sigterm_drains_open_relays_then_exits_cleanly(
    tmp_path: Path, workers: list[str]
) -> None:
    pidfile = tmp_path / "frontd.pid"
    process = FrontdProcess(*workers, *ALLOW, "--pidfile", str(pidfile))
    async with process:
        assert int(pidfile.read_text()) == process.pid
        async with Backend() as backend:
            reader, writer = await open_client(process.port, line_for(backend.addr))
            assert await reader.readexactly(4) == b"200\n"
            process.signal(signal.SIGTERM)
            process.wait_for("signal received")

            async def refused() -> bool:
                try:
                    _, probe = await open_client(process.port)
                except ConnectionRefusedError:
                    return True
                except ConnectionResetError:
                    # A connect that landed in a closing listener's backlog is reset by the
                    # kernel (with SO_REUSEPORT workers, each worker's socket closes on its
                    # own); the port is on its way to refusing: look again.
                    return False
                probe.close()
                return False

            await until_async(refused, 20, "the port to stop accepting")
            assert await http_status(process.observability_port, "/readyz") == 503
            writer.write(b"still relayed")  # the open relay carries on during the drain
            assert await reader.readexactly(13) == b"still relayed"
            assert process.process is not None
            assert process.process.poll() is None
            writer.write_eof()  # it ends: the drain is over
            assert await asyncio.wait_for(reader.read(), 20) == b""
            writer.close()
            assert await asyncio.to_thread(process.wait, 30) == 0
        assert not pidfile.exists()
        process.wait_for("frontd stopped")


async def test_the_drain_is_bounded(tmp_path: Path) -> None:
    async with (
        FrontdProcess(
            *ALLOW, config={"daemon": {"drain_seconds": 1}}, tmp_path=tmp_path
        ) as process,
        Backend() as backend,
    ):
        reader, writer = await open_client(process.port, line_for(backend.addr))
        assert await reader.readexactly(4) == b"200\n"
        process.signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 20) == 0  # after ~1 s, not forever
        assert await asyncio.wait_for(reader.read(), 20) == b""  # the relay was closed
        writer.close()


def test_a_pidfile_naming_a_live_process_refuses_to_start(tmp_path: Path) -> None:
    pidfile = tmp_path / "frontd.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # this test process is alive
    process = FrontdProcess("--pidfile", str(pidfile), *ALLOW)
    with pytest.raises(AssertionError, match="ended without"):
        process.start(timeout=20)
    assert process.wait() == 1
    assert any("running" in line for line in process.lines)
    assert pidfile.read_text() == f"{os.getpid()}\n"  # left alone


def test_a_stale_pidfile_is_replaced(tmp_path: Path) -> None:
    pidfile = tmp_path / "frontd.pid"
    pidfile.write_text("999999999\n")
    with frontd("--pidfile", str(pidfile), *ALLOW) as process:
        assert int(pidfile.read_text()) == process.pid


def test_a_busy_port_fails_start_up_with_exit_code_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for workers in ([], ["--workers", "2"]):
            process = FrontdProcess("--addr", f"127.0.0.1:{port}", *workers, *ALLOW)
            with pytest.raises(AssertionError, match="ended without"):
                process.start(timeout=30)
            assert process.wait() == 1
            assert any("cannot start" in line for line in process.lines), process.log()


async def test_observability_health_readiness_and_backend_checks(tmp_path: Path) -> None:
    async with Backend() as backend:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{closed.getsockname()[1]}"
        for checks, ready in (([backend.addr], 200), ([backend.addr, dead], 503)):
            config = {"observability": {"ready_checks": checks}}
            async with FrontdProcess(*ALLOW, config=config, tmp_path=tmp_path) as process:
                obs = process.observability_port
                assert await http_status(obs, "/healthz") == 200
                assert await http_status(obs, "/readyz") == ready
                await relay_once(process.port, backend)
                assert await metric(obs, 'frontd_requests_total{mode="line",status="200"}') == 1
                assert await metric(obs, "frontd_relay_bytes_total") >= 4
                assert await metric(obs, "frontd_backend_connect_seconds_count") == 1
