"""frontier-tunnel against a direct connection: throughput and connection set-up time.

All on loopback, every process separate: a frontier gateway, the entry
(``frontier-tunnel serve``), a connector (``frontier-tunnel connect``), the servers behind
it (bench/_frontd_peers.py: a sink and an echo server) and the client (this process). Every
case has its baseline measured in the same run, in alternating rounds, each side keeping
its best round so that noise from the rest of the machine falls on both alike.

1. Throughput (MB/s): one connection moves N bytes (512 MiB; 128 MiB with --quick) to the
   sink, which counts them and answers the count, through a TCP app of the entry (entry ->
   gateway -> connector -> sink: three Python processes, two geminio hops) vs straight to
   the sink. Timed from the first byte sent to the count received. Also the CPU time the
   three tunnel processes spend per GiB (from /proc/<pid>/task/*/schedstat), steadier than
   throughput on a shared machine, against the CPU time of a plain uvloop relay process
   moving the same bytes (the least one Python hop costs).
2. Connection set-up time (ms): connect, send 16 bytes, read them back from the echo
   server, close; one after another (300; 100 with --quick), through the tunnel (a new
   tunnel each: a stream opened through the gateway, the connector's dial, its proof
   checked) vs straight to the echo server.

The last line of output is one JSON object (tunnel throughput vs direct); --json-out writes
every row for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvloop
import yaml

from _procstat import free_port

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
MIB = 1 << 20
GIB = 1 << 30
PEERS = [sys.executable, str(HERE / "_frontd_peers.py")]
TOKEN = "bench-token-0123456789abcdef"


@dataclass
class Row:
    case: str
    unit: str
    value: float
    baseline: float
    baseline_name: str
    variant: str = "uvloop"
    better: str = "higher"

    @property
    def ratio(self) -> float:
        if self.better == "higher":
            return self.value / self.baseline if self.baseline else float("inf")
        return self.baseline / self.value if self.value else float("inf")

    def as_json(self) -> dict[str, object]:
        return {
            "bench": "tunnel",
            "case": self.case,
            "variant": self.variant,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "better": self.better,
        }


# -- processes ---------------------------------------------------------------------------------


class Proc:
    """A child process, started once the line `ready` (or ``port N``) appears."""

    def __init__(self, argv: list[str], ready: str = "port ", env: dict[str, str] | None = None):
        self.popen = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        assert self.popen.stdout is not None
        self.port = 0
        deadline = time.monotonic() + 60
        seen: list[str] = []
        for line in self.popen.stdout:
            seen.append(line)
            if line.startswith("port "):
                self.port = int(line.split()[1])
                break
            if ready in line:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{argv[:4]} did not start:\n{''.join(seen)}")
        else:
            raise RuntimeError(f"{argv[:4]} ended:\n{''.join(seen)}")
        threading.Thread(target=self.popen.stdout.read, daemon=True).start()

    def cpu_seconds(self) -> float:
        total = 0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.popen.pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, 15)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, 9)
            self.popen.wait()


@contextlib.contextmanager
def running(
    argv: list[str], ready: str = "port ", env: dict[str, str] | None = None
) -> Iterator[Proc]:
    proc = Proc(argv, ready, env)
    try:
        yield proc
    finally:
        proc.stop()


@dataclass
class Tunnel:
    gateway: Proc
    entry: Proc
    connector: Proc
    sink_port: int
    echo_port: int

    def cpu_seconds(self) -> float:
        return sum(p.cpu_seconds() for p in (self.gateway, self.entry, self.connector))


@contextlib.contextmanager
def tunnel(sink: int, echo: int, tmp: Path) -> Iterator[Tunnel]:
    sb, eb = free_port(), free_port()
    sink_app, echo_app = free_port(), free_port()
    gateway_yaml = tmp / "gateway.yaml"
    gateway_yaml.write_text(yaml.safe_dump({
        "servicebound": {"listen": {"addr": f"{HOST}:{sb}"}},
        "edgebound": {"listen": {"addr": f"{HOST}:{eb}"},
                      "edgeid_alloc_when_no_idservice_on": False},
        "observability": {"enable": False},
    }))  # fmt: skip
    apps = [
        {"name": "sink", "kind": "tcp", "connector": "bench", "target": f"{HOST}:{sink}",
         "listen": f"{HOST}:{sink_app}", "idle_timeout": 0},
        {"name": "echo", "kind": "tcp", "connector": "bench", "target": f"{HOST}:{echo}",
         "listen": f"{HOST}:{echo_app}", "idle_timeout": 0},
    ]  # fmt: skip
    entry_yaml = tmp / "entry.yaml"
    entry_yaml.write_text(yaml.safe_dump({
        "gateway": {"addrs": [f"{HOST}:{sb}"]},
        "connectors": [{"name": "bench", "token": TOKEN}],
        "apps": apps,
        "http": {"enable": False},
        "observability": {"enable": False},
        "log": {"level": "warning"},
    }))  # fmt: skip
    connector_yaml = tmp / "connector.yaml"
    connector_yaml.write_text(yaml.safe_dump({
        "name": "bench", "token": TOKEN, "gateway": {"addrs": [f"{HOST}:{eb}"]},
        "allow": [HOST], "observability": {"enable": False},
    }))  # fmt: skip
    tunnel_cmd = [sys.executable, "-m", "frontier.tunnel"]
    with (
        running([sys.executable, "-m", "frontier.gateway.cli", "--config", str(gateway_yaml)],
                "frontier up") as gateway,
        running([*tunnel_cmd, "serve", "--config", str(entry_yaml), "--log-level", "info"],
                "connected to the gateway") as entry,
        running([*tunnel_cmd, "connect", "--config", str(connector_yaml)],
                "online (edge") as connector,
    ):  # fmt: skip
        # the entry learns of the connector a moment after the connector is online
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                echo_round_trip(echo_app)
                break
            except (OSError, AssertionError):
                time.sleep(0.1)
        yield Tunnel(gateway, entry, connector, sink_app, echo_app)


# -- 1. throughput ---------------------------------------------------------------------------


def memfd_source(size: int) -> int:
    fd = os.memfd_create("bench-source")
    os.ftruncate(fd, size)
    os.pwrite(fd, os.urandom(MIB) * (size // MIB), 0)
    return fd


def transfer(port: int, total: int, source: int, source_size: int) -> float:
    """Seconds to move `total` bytes through `port` to the sink and get its count back."""
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sent = 0
        while sent < total:
            sent += os.sendfile(sock.fileno(), source, sent % source_size,
                                min(total - sent, source_size - sent % source_size))  # fmt: skip
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while len(answer) < 8:
            chunk = sock.recv(8 - len(answer))
            assert chunk, "the sink closed without its count"
            answer += chunk
        elapsed = time.perf_counter() - started
    (count,) = struct.unpack(">Q", answer)
    assert count == total, (count, total)
    return elapsed


# -- 2. set-up time --------------------------------------------------------------------------


def echo_round_trip(port: int) -> None:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"0123456789abcdef")
        got = b""
        while len(got) < 16:
            chunk = sock.recv(16 - len(got))
            assert chunk, "closed early"
            got += chunk


async def setup_time(port: int, count: int) -> float:
    """Mean seconds per connection: connect, 16 bytes echoed, close, one after another."""
    started = time.perf_counter()
    for _ in range(count):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"0123456789abcdef")
        await reader.readexactly(16)
        writer.close()
        await writer.wait_closed()
    return (time.perf_counter() - started) / count


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers, fewer rounds")
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    rounds = 2 if args.quick else 3
    total = (128 if args.quick else 512) * MIB
    connections = 100 if args.quick else 300
    source_size = 64 * MIB
    source = memfd_source(source_size)
    best = {"direct": 0.0, "tunnel": 0.0, "relay": 0.0}
    cpu = {"tunnel": float("inf"), "relay": float("inf")}
    setup = {"direct": float("inf"), "tunnel": float("inf")}
    print(f"throughput: {total // MIB} MiB per transfer; set-up: {connections} connections; "
          f"best of {rounds}", flush=True)  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        running([*PEERS, "sink"]) as sink,
        running([*PEERS, "echo"]) as echo,
        tunnel(sink.port, echo.port, Path(tmp)) as tun,
        running([*PEERS, "relay", str(sink.port)]) as relay,
    ):
        for _ in range(rounds):
            best["direct"] = max(
                best["direct"], total / transfer(sink.port, total, source, source_size) / 1e6
            )
            before = relay.cpu_seconds()
            best["relay"] = max(
                best["relay"], total / transfer(relay.port, total, source, source_size) / 1e6
            )
            cpu["relay"] = min(cpu["relay"], (relay.cpu_seconds() - before) * GIB / total)
            before = tun.cpu_seconds()
            best["tunnel"] = max(
                best["tunnel"], total / transfer(tun.sink_port, total, source, source_size) / 1e6
            )
            cpu["tunnel"] = min(cpu["tunnel"], (tun.cpu_seconds() - before) * GIB / total)
            setup["direct"] = min(setup["direct"], uvloop.run(setup_time(echo.port, connections)))
            setup["tunnel"] = min(
                setup["tunnel"], uvloop.run(setup_time(tun.echo_port, connections))
            )
    os.close(source)

    rows = [
        Row("throughput, one connection", "MB/s", best["tunnel"], best["direct"],
            "direct connection to the same sink"),
        Row("CPU per GiB, entry + gateway + connector", "s", cpu["tunnel"], cpu["relay"],
            "a plain uvloop relay process, same transfer", better="lower"),
        Row("connection set-up time", "ms", setup["tunnel"] * 1e3, setup["direct"] * 1e3,
            "direct connection to the echo server: connect, 16 bytes echoed, close",
            better="lower"),
    ]  # fmt: skip
    print()
    print(f"{'case':44} {'tunnel':>12} {'baseline':>12} {'ratio':>7}")
    for row in rows:
        print(
            f"{row.case:44} {row.value:>8,.2f} {row.unit:<5}"
            f"{row.baseline:>8,.2f} {row.unit:<5}{row.ratio:>6.2f}x"
        )
    print(f"(a plain uvloop relay moved the same transfer at {best['relay']:,.0f} MB/s)")
    print("baselines:")
    for name in dict.fromkeys(row.baseline_name for row in rows):
        print(f"  - {name}")
    print(f"({time.perf_counter() - started:.1f} s)")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([row.as_json() for row in rows], out, indent=1)
    headline = rows[0]
    print(
        json.dumps(
            {
                "name": "frontier-tunnel throughput vs a direct connection",
                "value": round(headline.value, 1),
                "baseline": round(headline.baseline, 1),
                "ratio": round(headline.ratio, 3),
                "unit": "MB/s",
            }
        )
    )


if __name__ == "__main__":
    main()
