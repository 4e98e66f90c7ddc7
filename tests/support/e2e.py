"""What both e2e suites (the local node, tests/e2e/test_local_cluster.py, and kind,
tests/e2e/test_kind.py) share: running kubectl/helm, polling, dumping logs and events of a
failed run, and the SDK exchange between a service and an edge."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run(argv: list[str], *, timeout: float = 600, input: str | None = None) -> str:
    """Run a command; ``AssertionError`` with its output when it fails."""
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, input=input, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    return proc.stdout


def poll(probe: Callable[[], object], *, timeout: float, what: str, interval: float = 1.0) -> None:
    """Call ``probe`` until it is truthy; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: {last}")


def tool(name: str) -> str | None:
    """helm/kubectl: scripts/fetch-helm.sh's cache first, then PATH; ``None`` if neither."""
    try:
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "fetch-helm.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if out.returncode == 0:
            path = Path(out.stdout.strip().splitlines()[-1]) / name
            if os.access(path, os.X_OK):
                return str(path)
    except (OSError, subprocess.SubprocessError):
        pass
    return shutil.which(name)


@dataclass
class Kube:
    """kubectl and helm on one cluster (a kubeconfig)."""

    kubeconfig: Path
    kubectl: str
    helm: str

    def k(self, *args: str, timeout: float = 300, input: str | None = None) -> str:
        return run(
            [self.kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            timeout=timeout,
            input=input,
        )

    def h(self, *args: str, timeout: float = 600) -> str:
        return run([self.helm, "--kubeconfig", str(self.kubeconfig), *args], timeout=timeout)


def dump_logs(kube: Kube, where: Path, namespaces: Mapping[str, str]) -> None:
    """Write what explains a failed run to ``where`` (and print the tails): every object and
    Event, pod descriptions, the FrontierClusters, and the logs of the operator and of each
    component (``namespaces``: label ``app.kubernetes.io/name`` value -> namespace)."""
    where.mkdir(parents=True, exist_ok=True)
    commands: dict[str, list[str]] = {
        "get-all.txt": ["get", "all,frontierclusters,pdb,events", "-A", "-o", "wide"],
        "events.txt": ["get", "events", "-A", "--sort-by=.lastTimestamp"],
        "describe-fc.txt": ["describe", "frontierclusters", "-A"],
        "describe-pods.txt": ["describe", "pods", "-A"],
    }
    for name, namespace in namespaces.items():
        commands[f"{name}.log"] = [
            "-n", namespace, "logs", "-l", f"app.kubernetes.io/name={name}",
            "--all-containers", "--prefix", "--tail=500",
        ]  # fmt: skip
    for filename, args in commands.items():
        try:
            text = kube.k(*args, timeout=60)
        except (AssertionError, subprocess.SubprocessError) as exc:
            text = str(exc)
        (where / filename).write_text(text)
        if filename.endswith(".log") or filename in ("describe-fc.txt", "events.txt"):
            print(f"\n===== {filename} =====\n{text[-4000:]}", file=sys.stderr)
    print(f"e2e: logs in {where}", file=sys.stderr)


async def retry(fn: Callable[[], Awaitable[T]], *, within: float, interval: float = 0.5) -> T:
    """``fn()`` until it succeeds; its last error once ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(interval)


async def exchange(service: Any, edge: Any, service_name: str) -> None:
    """RPCs both ways, acked messages both ways and a stream between a started service
    (``Service`` or ``ClusterService``, registered under ``service_name`` with topic
    ``telemetry`` and the RPC ``echo``) and a started edge (with the RPC ``ping``)."""

    async def call_echo() -> bytes:
        result: bytes = await edge.call("echo", b"hi", timeout=5)
        return result

    # the service's registration may reach the edge's gateway a moment after start()
    assert await retry(call_echo, within=30) == b"echo:hi"

    publish = asyncio.create_task(edge.publish("telemetry", b"21.5C", timeout=10))
    message = await asyncio.wait_for(service.receive(), 10)
    assert (message.topic, message.data, message.edge_id) == ("telemetry", b"21.5C", edge.edge_id)
    message.done()
    await publish

    async def call_ping() -> bytes:
        result: bytes = await service.call(edge.edge_id, "ping", b"x", timeout=5)
        return result

    assert await retry(call_ping, within=30) == b"pong:x"
    publish = asyncio.create_task(service.publish(edge.edge_id, b"cmd", timeout=10))
    down = await asyncio.wait_for(edge.receive(), 10)
    assert down.data == b"cmd"
    down.done()
    await publish

    stream = await edge.open_stream(service_name)
    accepted = await asyncio.wait_for(service.accept_stream(), 10)
    stream.write(b"up" * 1000)
    await stream.drain()
    assert await asyncio.wait_for(accepted.readexactly(2000), 10) == b"up" * 1000
    accepted.write(b"down")
    await accepted.drain()
    assert await asyncio.wait_for(stream.readexactly(4), 10) == b"down"
    await stream.close()


async def echo(request: Any) -> bytes:
    data: bytes = request.data
    return b"echo:" + data


async def ping(request: Any) -> bytes:
    data: bytes = request.data
    return b"pong:" + data
