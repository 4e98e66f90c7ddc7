"""frontd relaying against a direct connection, socat, and a plain asyncio relay.

All on loopback, every process separate: the sending client (this process), the relay
(frontd, socat or the asyncio relay) and the receiving server (bench/_frontd_peers.py).
Every case has its baseline measured in the same run, alternating rounds, each side keeping
its best round so that noise from the rest of the machine falls on both alike.

1. Relay throughput (GB/s): one connection moves N bytes (2 GiB; 1 GiB with --quick) from
   this process (``os.sendfile`` from a memfd: the sender copies nothing) to a sink that
   counts them and answers the count, through frontd with splice, frontd with copy, socat
   (``socat -b 262144 TCP-LISTEN TCP``: frontd's buffer size; Debian's package, one
   connection, no fork), and with no relay at all (direct). Timed from the first byte sent
   to the count received.
   Also the relay process's CPU time per GiB (from /proc/<pid>/task/*/schedstat), which
   is steadier than throughput on a shared machine. Targets: frontd splice >= 0.8x of
   direct throughput, and faster than socat.
2. Connection set-up rate: 32 concurrent client loops (uvloop) each connecting, sending
   the request, reading the ``200`` and closing, for 3 s (2 s with --quick), through frontd
   (one process, and ``--workers 2``) vs the same loops connecting straight to the echo
   backend (send a line, read it back, close).
3. Memory per idle relayed connection: 5000 (2000 with --quick) relays opened through
   frontd (splice), each used once and left idle; frontd's RSS growth per relay vs the
   same through the plain uvloop relay (bench/_frontd_peers.py ``relay``).

The last line of output is one JSON object (splice throughput vs direct); --json-out
writes every row for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvloop

from frontier.frontd.cipher import encrypt_line

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SECRET = "bench-secret"
GIB = 1 << 30
PEERS = [sys.executable, str(HERE / "_frontd_peers.py")]


@dataclass
class Row:
    case: str
    unit: str
    value: float
    baseline: float
    baseline_name: str
    variant: str = "uvloop"
    better: str = "higher"
    target: str = ""

    @property
    def ratio(self) -> float:
        if self.better == "higher":
            return self.value / self.baseline if self.baseline else float("inf")
        return self.baseline / self.value if self.value else float("inf")

    def as_json(self) -> dict[str, object]:
        return {
            "bench": "frontd",
            "case": self.case,
            "variant": self.variant,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "better": self.better,
        }


# -- processes -------------------------------------------------------------------------------


class Proc:
    """A child process that prints a line naming its port (peers: ``port N``; frontd logs
    ``frontd up: :N``)."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.port = 0
        assert self.popen.stdout is not None
        deadline = time.monotonic() + 60
        for line in self.popen.stdout:
            if line.startswith("port "):
                self.port = int(line.split()[1])
                break
            if "frontd up: :" in line:
                self.port = int(line.split("frontd up: :")[1].split()[0])
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.stop()
            raise RuntimeError(f"{argv[:3]} did not start")
        # keep draining its output so that it never blocks on a full pipe
        threading.Thread(target=self.popen.stdout.read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """This process and its children (frontd's workers)."""
        pids = [self.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            pids += [int(p) for p in children]
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    def rss_kb(self) -> int:
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

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
def running(argv: list[str], env: dict[str, str] | None = None) -> Iterator[Proc]:
    proc = Proc(argv, env=env)
    try:
        yield proc
    finally:
        proc.stop()


def frontd_argv(*extra: str) -> list[str]:
    return [
        sys.executable, "-m", "frontier.frontd", "--addr", f"{HOST}:0", "--observability", "",
        "--allow", "127.0.0.0/8", "--idle-timeout", "0", *extra,
    ]  # fmt: skip


FRONTD_ENV = {"FRONTD_SECRET": SECRET}


def request_line(port: int) -> bytes:
    return encrypt_line(SECRET.encode(), f"{HOST}:{port}".encode(), "md5").encode() + b"\n"


# -- 1. throughput -----------------------------------------------------------------------------


def memfd_source(size: int) -> int:
    fd = os.memfd_create("bench-source")
    os.ftruncate(fd, size)
    os.pwrite(fd, os.urandom(1 << 20) * (size >> 20), 0)
    return fd


def transfer(port: int, total: int, source: int, source_size: int, line: bytes | None) -> float:
    """Seconds to move `total` bytes through `port` to the sink and get its count back."""
    with socket.create_connection((HOST, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if line is not None:
            sock.sendall(line)
            status = sock.recv(4)
            assert status == b"200\n", status
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


def throughput_cases(total: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Best GB/s and the relay's CPU seconds per GiB, by variant."""
    source_size = 64 << 20
    source = memfd_source(source_size)
    best: dict[str, tuple[float, float]] = {}
    socat = shutil.which("socat")
    try:
        with running([*PEERS, "sink"]) as sink:
            line = request_line(sink.port)
            for _ in range(rounds):
                variants: list[tuple[str, list[str] | None, bytes | None]] = [
                    ("direct", None, None),
                    ("frontd splice", frontd_argv("--relay", "splice"), line),
                    ("frontd copy", frontd_argv("--relay", "copy"), line),
                ]
                if socat:
                    variants.append((
                        "socat",
                        [socat, "-b", "262144", f"TCP-LISTEN:0,bind={HOST},reuseaddr",
                         f"TCP:{HOST}:{sink.port}"],
                        None,
                    ))  # fmt: skip
                for name, argv, request in variants:
                    if argv is None:
                        seconds, cpu = transfer(sink.port, total, source, source_size, None), 0.0
                    elif name == "socat":
                        seconds, cpu = socat_transfer(argv, total, source, source_size)
                    else:
                        with running(argv, FRONTD_ENV) as relay:
                            before = relay.cpu_seconds()
                            seconds = transfer(relay.port, total, source, source_size, request)
                            cpu = relay.cpu_seconds() - before
                    rate = total / seconds / 1e9
                    cpu_per_gib = cpu / (total / GIB)
                    old = best.get(name)
                    best[name] = (
                        max(rate, old[0]) if old else rate,
                        min(cpu_per_gib, old[1]) if old else cpu_per_gib,
                    )
                    print(f"  {name:14} {rate:6.2f} GB/s, relay CPU {cpu_per_gib:.3f} s/GiB",
                          flush=True)  # fmt: skip
    finally:
        os.close(source)
    return best


def socat_transfer(
    argv: list[str], total: int, source: int, source_size: int
) -> tuple[float, float]:
    """socat prints no port: it gets a free one, and is waited for through /proc."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    argv = [a.replace("TCP-LISTEN:0", f"TCP-LISTEN:{port}") for a in argv]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_listening(port)
        before = process_cpu(proc.pid)
        seconds = transfer(port, total, source, source_size, None)
        return seconds, process_cpu(proc.pid) - before
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def wait_listening(port: int) -> None:
    """Until something listens on `port` (read from /proc, without connecting)."""
    deadline = time.monotonic() + 10
    needle = f":{port:04X}"
    while time.monotonic() < deadline:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(needle) and fields[3] == "0A":
                return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {port}")


def process_cpu(pid: int) -> float:
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


# -- 2. connection set-up rate -------------------------------------------------------------


CONCURRENCY = 32


async def setup_rate(port: int, line: bytes, answer: bytes, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(line)
            got = await reader.readexactly(len(answer))
            assert got == answer, got
            writer.close()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


def setup_cases(seconds: float, rounds: int) -> dict[str, float]:
    best: dict[str, float] = {}
    with running([*PEERS, "echo"]) as echo:
        line = request_line(echo.port)
        for _ in range(rounds):
            for name, workers in (("frontd", ()), ("frontd 2 workers", ("--workers", "2"))):
                with running(frontd_argv(*workers), FRONTD_ENV) as relay:
                    rate = uvloop.run(setup_rate(relay.port, line, b"200\n", seconds))
                best[name] = max(best.get(name, 0.0), rate)
                print(f"  {name:18} {rate:8,.0f} connections/s", flush=True)
            rate = uvloop.run(setup_rate(echo.port, b"hi\n", b"hi\n", seconds))
            best["direct"] = max(best.get("direct", 0.0), rate)
            print(f"  {'direct':18} {rate:8,.0f} connections/s", flush=True)
    return best


# -- 3. memory per idle relay --------------------------------------------------------------


async def open_idle(port: int, count: int, line: bytes | None) -> list[asyncio.StreamWriter]:
    writers = []
    for i in range(count):
        reader, writer = await asyncio.open_connection(HOST, port)
        if line is not None:
            writer.write(line)
            assert await reader.readexactly(4) == b"200\n"
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"  # used once: a pipe came and went
        writers.append(writer)
        if i % 500 == 499:
            await asyncio.sleep(0)
    return writers


def idle_memory(count: int) -> dict[str, float]:
    """KB of relay RSS per idle relayed connection."""
    result = {}
    with running([*PEERS, "echo"]) as echo:
        line = request_line(echo.port)
        for name, argv, request in (
            ("frontd", frontd_argv("--relay", "splice"), line),
            ("asyncio relay", [*PEERS, "relay", str(echo.port)], None),
        ):
            with running(argv, FRONTD_ENV) as relay:

                async def measure(relay: Proc = relay, request: bytes | None = request) -> float:
                    await asyncio.sleep(0.5)
                    before = relay.rss_kb()
                    writers = await open_idle(relay.port, count, request)
                    await asyncio.sleep(1.0)
                    after = relay.rss_kb()
                    for writer in writers:
                        writer.close()
                    return (after - before) / count

                result[name] = uvloop.run(measure())
                print(f"  {name:14} {result[name]:.2f} KB RSS per idle relay", flush=True)
    return result


# -- report ----------------------------------------------------------------------------------


def raise_nofile(need: int) -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return min(need, max(100, (hard - 200) // 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller transfers, fewer rounds")
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    rounds = 2 if args.quick else 3
    total = (1 if args.quick else 2) * GIB
    idle_count = raise_nofile(2000 if args.quick else 5000)

    print(f"throughput: {total / GIB:.0f} GiB per transfer, best of {rounds}", flush=True)
    tput = throughput_cases(total, rounds)
    print(f"set-up rate: {CONCURRENCY} concurrent clients, best of {rounds}", flush=True)
    setup = setup_cases(1.5 if args.quick else 3.0, rounds)
    print(f"idle relays: {idle_count}", flush=True)
    idle = idle_memory(idle_count)

    direct, direct_name = tput["direct"][0], "direct connection, no relay"
    rows = [
        Row("relay throughput, splice", "GB/s", tput["frontd splice"][0], direct, direct_name,
            target=">= 0.80x"),
        Row("relay throughput, copy", "GB/s", tput["frontd copy"][0], direct, direct_name),
    ]  # fmt: skip
    if "socat" in tput:
        socat_name = "socat -b 262144 (Debian), same transfer"
        rows += [
            Row("relay throughput, splice", "GB/s", tput["frontd splice"][0], tput["socat"][0],
                socat_name, target="> 1x"),
            Row("relay CPU per GiB, splice", "s", tput["frontd splice"][1], tput["socat"][1],
                socat_name, better="lower"),
            Row("relay CPU per GiB, copy", "s", tput["frontd copy"][1], tput["socat"][1],
                socat_name, better="lower"),
        ]  # fmt: skip
    else:
        print("socat is not installed: the socat baseline is skipped (./dev bench installs it)")
    setup_name = "direct to the backend: connect, one line echoed, close"
    rows += [
        Row("connection set-up rate", "conn/s", setup["frontd"], setup["direct"], setup_name),
        Row("connection set-up rate", "conn/s", setup["frontd 2 workers"], setup["direct"],
            setup_name, variant="2 workers"),
        Row(f"RSS per idle relayed connection ({idle_count:,})", "KB", idle["frontd"],
            idle["asyncio relay"], "plain uvloop Protocol relay, same connections",
            better="lower"),
    ]  # fmt: skip

    print()
    print(f"{'case':44} {'frontd':>12} {'baseline':>12} {'ratio':>7}  target")
    for row in rows:
        verdict = ""
        if row.target:
            need = float(row.target.split()[-1].rstrip("x"))
            met = row.ratio >= need if row.target.startswith(">=") else row.ratio > need
            verdict = f"{row.target} {'met' if met else 'MISSED'}"
        print(
            f"{row.case + ' [' + row.variant + ']':44} {row.value:>8,.2f} {row.unit:<4}"
            f"{row.baseline:>8,.2f} {row.unit:<4}{row.ratio:>6.2f}x  {verdict}"
        )
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
                "name": "frontd splice relay throughput vs a direct connection",
                "value": round(headline.value, 3),
                "baseline": round(headline.baseline, 3),
                "ratio": round(headline.ratio, 3),
                "unit": "GB/s",
            }
        )
    )


if __name__ == "__main__":
    main()
