"""Connection lifecycle at scale: idle memory, admission and heartbeat CPU, TLS churn,
reconnect storms, each beside a bare uvloop server doing the same in the same run.

Why. A gateway's cost is mostly per connection: what an idle edge holds, what admitting
one and answering its heartbeats costs, whether closed connections are freed at once, and
how fast a fleet is back after a restart. The baseline is the least any Python server can
do for the same traffic: a uvloop `asyncio.Protocol` that answers each read with as many
bytes as the gateway would (bench/_scale_peers.py ``server bare``).

Arrangement. Every server and every client fleet is a process of its own
(bench/_scale_peers.py), so each process's CPU and RSS are read from /proc apart. The
gateway is `frontier.gateway.Gateway` in process with defaults (edgebound only, TLS when
asked, with a throwaway certificate), set up as the `frontier` command sets itself up
(collector thresholds, start-up objects frozen, memory trimmed every 10 s); clients are raw
geminio clients (a ConnPacket, then a Heartbeat every HEARTBEAT seconds from a random
phase).

1. idle (plaintext and TLS): RSS before and after N clients connect, the server's CPU to
   admit them, then its CPU per heartbeat over a window. The gateway and the bare server
   take turns, 2 rounds each (--quick; 3 otherwise), and each side keeps its best figures.
2. churn (TLS): M idle clients, then RATE connections per second connect, say hello and
   close for T seconds; the server's RSS before, after, and once the idle ones left.
3. storm (plaintext and TLS): N clients that redial with the SDK's default backoff; the
   server is killed (SIGKILL) and started again on the same port; seconds until 99 % and
   100 % are back.

Sizes: --quick: N 2 000 (TLS storm 1 000), M 1 000, 3 000 churned in 10 s; otherwise N
15 000 (TLS storm 5 000), M 10 000, 30 000 churned in 60 s (or fewer, to fit the
descriptor limit). The last line is one JSON object (the gateway's admission CPU per edge
beside the bare server's); --json-out writes every row for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from _procstat import cpu_seconds, free_port, rss_kb

HERE = Path(__file__).resolve().parent
PEERS = str(HERE / "_scale_peers.py")
HOST = "127.0.0.1"
HEARTBEAT = 1.0
"""Seconds between a client's heartbeats while CPU per heartbeat is measured (enough
beats in the window for the clock ticks /proc counts in; the gateway allows 2 x 20 s)."""
BARE = "uvloop Protocol server answering each read (the same connections)"


@dataclass
class Problems:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


PROBLEMS = Problems()


def certificate(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for localhost (the clients trust it as their CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class Child:
    """A peer process: one line when ready, then one JSON line per command."""

    def __init__(self, *args: object) -> None:
        self.role = str(args[0])
        self.proc = subprocess.Popen(
            [sys.executable, PEERS, *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.role} ended without answering")
        return line.strip()

    def ask(self, command: str = "stats") -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.readline())
        return answer

    def stop(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@contextlib.contextmanager
def server(kind: str, port: int, tls: tuple[str, str] | None) -> Iterator[tuple[Child, int]]:
    cert, key = tls if tls else ("-", "-")
    child = Child("server", kind, port, cert, key)
    try:
        yield child, int(child.readline())
    finally:
        child.stop()


def until(predicate: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


# -- 1. idle ----------------------------------------------------------------------------


@dataclass
class Idle:
    connected: int
    rss_kb_per_conn: float
    admission_us: float
    heartbeat_us: float


def idle(kind: str, n: int, window: float, tls: tuple[str, str] | None) -> Idle:
    ca = tls[0] if tls else "-"
    with server(kind, 0, tls) as (srv, port):
        time.sleep(0.5)
        rss0, cpu0 = rss_kb(srv.pid), cpu_seconds(srv.pid)
        clients = Child("clients", port, n, HEARTBEAT, ca, 0)
        try:
            summary = json.loads(clients.readline())
            connected = int(summary["connected"])
            if connected != n:
                PROBLEMS.add(f"idle {kind}: {connected} of {n} connected: {summary['error']}")
            until(lambda: srv.ask()["connections"] >= connected, 30, f"{kind} to see them")
            time.sleep(0.5)
            rss1, cpu1 = rss_kb(srv.pid), cpu_seconds(srv.pid)
            beats0 = clients.ask()["beats"]
            time.sleep(window)
            cpu2, beats1 = cpu_seconds(srv.pid), clients.ask()["beats"]
        finally:
            clients.stop()
    return Idle(
        connected=connected,
        rss_kb_per_conn=(rss1 - rss0) / max(connected, 1),
        admission_us=(cpu1 - cpu0) / max(connected, 1) * 1e6,
        heartbeat_us=(cpu2 - cpu1) / max(beats1 - beats0, 1) * 1e6,
    )


def best_idle(rounds: int, n: int, window: float, tls: tuple[str, str] | None) -> tuple[Idle, Idle]:
    """Gateway and bare server alternately, `rounds` times each, every figure the best
    (lowest) of its side's rounds: a figure of one round moved by half when another
    process took a core meanwhile, and noise that falls on both sides alike cancels."""
    runs: dict[str, list[Idle]] = {"gateway": [], "bare": []}
    for _ in range(rounds):
        for kind, seen in runs.items():
            seen.append(idle(kind, n, window, tls))
    gw, bare = (
        Idle(
            connected=min(r.connected for r in seen),
            rss_kb_per_conn=min(r.rss_kb_per_conn for r in seen),
            admission_us=min(r.admission_us for r in seen),
            heartbeat_us=min(r.heartbeat_us for r in seen),
        )
        for seen in (runs["gateway"], runs["bare"])
    )
    return gw, bare


# -- 2. churn ---------------------------------------------------------------------------


@dataclass
class Churn:
    churned: int
    rss_start_mb: float
    rss_end_mb: float
    rss_left_mb: float


def churn(kind: str, m: int, rate: float, seconds: float, tls: tuple[str, str]) -> Churn:
    with server(kind, 0, tls) as (srv, port):
        clients = Child("clients", port, m, 60, tls[0], 0)
        try:
            json.loads(clients.readline())
            time.sleep(1.0)
            start = rss_kb(srv.pid)
            churner = Child("churn", port, rate, seconds, tls[0])
            result = json.loads(churner.readline())
            churner.stop()
            if result["failed"]:
                PROBLEMS.add(f"churn {kind}: {result['failed']} of the churned connections failed")
            time.sleep(1.0)
            end = rss_kb(srv.pid)
        finally:
            clients.stop()
        until(lambda: srv.ask()["connections"] == 0, 60, "the idle ones to leave")
        time.sleep(1.0)
        left = rss_kb(srv.pid)
    return Churn(int(result["done"]), start / 1024, end / 1024, left / 1024)


# -- 3. storm ---------------------------------------------------------------------------


@dataclass
class Storm:
    n: int
    p99_seconds: float
    all_seconds: float


def storm(kind: str, n: int, tls: tuple[str, str] | None) -> Storm:
    port = free_port()
    ca = tls[0] if tls else "-"
    cert, key = tls if tls else ("-", "-")
    first = Child("server", kind, port, cert, key)
    first.readline()
    clients = Child("clients", port, n, 20, ca, 1)
    try:
        summary = json.loads(clients.readline())
        connected = int(summary["connected"])
        first.kill()
        until(lambda: clients.ask()["online"] == 0, 60, "every client to notice")
        second = Child("server", kind, port, cert, key)
        try:
            second.readline()
            started = time.monotonic()
            p99 = until(lambda: clients.ask()["online"] >= 0.99 * connected, 300, "99 %")
            everyone = until(lambda: clients.ask()["online"] >= connected, 300, "everyone")
            del started
        finally:
            second.stop()
    finally:
        clients.stop()
    return Storm(connected, p99, p99 + everyone)


# -- report -----------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    unit: str
    value: float
    baseline: float
    variant: str

    @property
    def ratio(self) -> float:
        """Baseline / ours: everything here is lower-is-better (> 1: the gateway wins)."""
        if not self.value:
            return 1.0
        return self.baseline / self.value

    def as_json(self) -> dict[str, object]:
        return {
            "bench": "scale",
            "case": self.case,
            "variant": self.variant,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_name": BARE,
            "ratio": self.ratio,
            "better": "lower",
        }


def run(quick: bool, workdir: Path) -> list[Row]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fit = max(100, hard - 500)
    n = min(2_000 if quick else 15_000, fit)
    n_tls_storm = min(1_000 if quick else 5_000, fit)
    m = min(1_000 if quick else 10_000, fit)
    rate, seconds = (300.0, 10.0) if quick else (500.0, 60.0)
    window = 5.0 if quick else 10.0
    tls = certificate(workdir)
    rows: list[Row] = []
    rounds = 2 if quick else 3
    for label, context in (("plaintext", None), ("TLS", tls)):
        gw, bare = best_idle(rounds, n, window, context)
        print(f"idle {label}: gateway {gw}; bare {bare}", flush=True)
        variant = f"{label}, {gw.connected:,} edges"
        rows += [
            Row("RSS per idle edge", "KB", gw.rss_kb_per_conn, bare.rss_kb_per_conn, variant),
            Row("CPU to admit one edge", "us", gw.admission_us, bare.admission_us, variant),
            Row("CPU per heartbeat", "us", gw.heartbeat_us, bare.heartbeat_us, variant),
        ]
    gw_churn, bare_churn = (churn(kind, m, rate, seconds, tls) for kind in ("gateway", "bare"))
    print(f"churn: gateway {gw_churn}; bare {bare_churn}", flush=True)
    variant = f"TLS, {m:,} idle + {gw_churn.churned:,} churned"
    rows += [
        Row(
            "RSS growth under churn",
            "MB",
            gw_churn.rss_end_mb - gw_churn.rss_start_mb,
            bare_churn.rss_end_mb - bare_churn.rss_start_mb,
            variant,
        ),
    ]
    if gw_churn.rss_end_mb - gw_churn.rss_start_mb > 20:
        PROBLEMS.add("the gateway's RSS grew by more than 20 MB under TLS churn")
    for label, context, size in (("plaintext", None, n), ("TLS", tls, n_tls_storm)):
        gw_storm, bare_storm = storm("gateway", size, context), storm("bare", size, context)
        print(f"storm {label}: gateway {gw_storm}; bare {bare_storm}", flush=True)
        variant = f"{label}, {gw_storm.n:,} edges, SDK backoff"
        rows += [
            Row("reconnect storm: 99 % back", "s", gw_storm.p99_seconds,
                bare_storm.p99_seconds, variant),
            Row("reconnect storm: all back", "s", gw_storm.all_seconds,
                bare_storm.all_seconds, variant),
        ]  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 000 edges, short phases")
    parser.add_argument("--json-out", help="also write every row to this file, as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="frontier-bench-scale-") as tmp:
        rows = run(args.quick, Path(tmp))
    for row in rows:
        print(
            f"{row.case} ({row.variant}): {row.value:.3g} {row.unit} vs {row.baseline:.3g} "
            f"{row.unit} bare ({row.ratio:.2f}x)"
        )
    for line in PROBLEMS.lines:
        print(f"problem: {line}")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump([row.as_json() for row in rows], out, indent=1)
    head = next(r for r in rows if r.case == "CPU to admit one edge")
    print(
        json.dumps(
            {
                "name": "CPU to admit one plaintext edge, gateway vs bare uvloop server",
                "value": round(head.value, 1),
                "baseline": round(head.baseline, 1),
                "ratio": round(head.ratio, 2),
                "unit": "us",
            }
        )
    )


if __name__ == "__main__":
    main()
