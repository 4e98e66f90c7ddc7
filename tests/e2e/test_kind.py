"""End to end on kind: images -> operator chart -> FrontierCluster -> SDK traffic.

1. create a kind cluster from ``kind-config.yaml`` (edgebound NodePort 30012 mapped to the
   host), build the three images and ``kind load`` them;
2. ``helm install`` ``charts/frontier-operator`` pointing at those images;
3. apply an in-cluster Redis and a FrontierCluster, wait for ``Available``;
4. a Python service (through ``kubectl port-forward`` to servicebound) and a Python edge
   (through the NodePort) exchange RPCs both ways, messages both ways and a stream;
5. on failure: ``kind export logs``, the operator's and the pods' logs, ``describe`` of the
   FrontierCluster; then tear down.

Runs only with ``--run-e2e`` (tests/conftest.py) and skips, with the reason, unless ``kind``
is installed and ``docker info`` succeeds. Every wait polls with a deadline. Environment:

* ``FRONTIER_E2E_CLUSTER`` (default ``frontier-e2e``): the kind cluster's name. A cluster that
  already exists is reused and left in place; one created here is deleted afterwards unless
  ``FRONTIER_E2E_KEEP=1``.
* ``FRONTIER_E2E_SKIP_BUILD=1``: do not rebuild the images (``frontier-py/<name>:e2e`` must
  exist in the local Docker engine).
* ``FRONTIER_E2E_LOGS`` (default: under pytest's tmp dir): where ``kind export logs`` and the
  pods' logs go when a test failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.ports import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).parent / "manifests"
CLUSTER = os.environ.get("FRONTIER_E2E_CLUSTER", "frontier-e2e")
TAG = "e2e"
IMAGES = {
    "frontier": "Dockerfile.frontier",
    "frontlas": "Dockerfile.frontlas",
    "frontier-operator": "Dockerfile.operator",
}
OPERATOR_NS = "frontier-system"
NS = "frontier-e2e"
FC = "e2e"
EDGE_ADDR = "127.0.0.1:30012"  # kind-config.yaml extraPortMappings
SERVICEBOUND_SVC = f"{FC}-servicebound-svc"


def _prerequisites() -> str | None:
    if shutil.which("kind") is None:
        return "kind is not installed"
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"docker info failed: {exc}"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"docker info failed (no engine?): {lines[-1] if lines else info.returncode}"
    return None


def _tool(name: str) -> str:
    """helm/kubectl: scripts/fetch-helm.sh's cache first, then PATH."""
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
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} unavailable (scripts/fetch-helm.sh failed and none on PATH)")
    return found


def run(argv: list[str], *, timeout: float = 600, input: str | None = None) -> str:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, input=input, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    return proc.stdout


def poll(probe: object, *, timeout: float, what: str, interval: float = 1.0) -> None:
    assert callable(probe)
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


@dataclass
class Cluster:
    kubeconfig: Path
    kubectl: str
    helm: str

    def k(self, *args: str, timeout: float = 300, input: str | None = None) -> str:
        return run(
            [self.kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            timeout=timeout,
            input=input,
        )


def _dump_logs(cluster: Cluster, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    commands = {
        "get-all.txt": ["get", "all,frontierclusters,events", "-A", "-o", "wide"],
        "describe-fc.txt": ["-n", NS, "describe", "frontierclusters"],
        "describe-pods.txt": ["describe", "pods", "-A"],
        "operator.log": ["-n", OPERATOR_NS, "logs", "-l",
                         "app.kubernetes.io/name=frontier-operator", "--all-containers",
                         "--tail=500"],
        "frontier.log": ["-n", NS, "logs", "-l", "app.kubernetes.io/name=frontier",
                         "--all-containers", "--tail=500"],
        "frontlas.log": ["-n", NS, "logs", "-l", "app.kubernetes.io/name=frontlas",
                         "--all-containers", "--tail=500"],
    }  # fmt: skip
    for filename, args in commands.items():
        try:
            text = cluster.k(*args, timeout=60)
        except (AssertionError, subprocess.SubprocessError) as exc:
            text = str(exc)
        (where / filename).write_text(text)
        if filename.endswith(".log") or filename == "describe-fc.txt":
            print(f"\n===== {filename} =====\n{text[-4000:]}", file=sys.stderr)
    subprocess.run(
        ["kind", "export", "logs", str(where / "kind"), "--name", CLUSTER],
        capture_output=True,
        timeout=300,
        check=False,
    )
    print(f"e2e: logs in {where}", file=sys.stderr)


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    reason = _prerequisites()
    if reason:
        print(f"e2e: skipping: {reason}", file=sys.stderr)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("e2e")
    kubectl, helm = _tool("kubectl"), _tool("helm")

    existing = run(["kind", "get", "clusters"], timeout=60).split()
    created = CLUSTER not in existing
    if created:
        run(
            ["kind", "create", "cluster", "--name", CLUSTER, "--config",
             str(REPO / "kind-config.yaml"), "--wait", "180s"],
            timeout=600,
        )  # fmt: skip
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(run(["kind", "get", "kubeconfig", "--name", CLUSTER], timeout=60))
    state = Cluster(kubeconfig, kubectl, helm)
    try:
        yield state
    finally:
        if request.session.testsfailed:
            logs = Path(os.environ.get("FRONTIER_E2E_LOGS", str(work / "logs")))
            _dump_logs(state, logs)
        if created and os.environ.get("FRONTIER_E2E_KEEP", "") in ("", "0"):
            subprocess.run(
                ["kind", "delete", "cluster", "--name", CLUSTER],
                capture_output=True,
                timeout=300,
                check=False,
            )


@pytest.fixture(scope="module")
def images(cluster: Cluster) -> dict[str, str]:
    refs = {name: f"frontier-py/{name}:{TAG}" for name in IMAGES}
    for name, dockerfile in IMAGES.items():
        if os.environ.get("FRONTIER_E2E_SKIP_BUILD", "") in ("", "0"):
            run(["docker", "build", "-f", str(REPO / dockerfile), "-t", refs[name], str(REPO)],
                timeout=1800)  # fmt: skip
        run(["kind", "load", "docker-image", refs[name], "--name", CLUSTER], timeout=600)
    return refs


@pytest.fixture(scope="module")
def frontier_cluster(cluster: Cluster, images: dict[str, str]) -> Cluster:
    """The operator installed by its chart and an Available FrontierCluster."""
    run(
        [cluster.helm, "upgrade", "--install", "frontier-operator",
         str(REPO / "charts" / "frontier-operator"), "--kubeconfig", str(cluster.kubeconfig),
         "--namespace", OPERATOR_NS, "--create-namespace",
         "--set", "image.repository=frontier-py/frontier-operator", "--set", f"image.tag={TAG}",
         "--set", "image.pullPolicy=IfNotPresent",
         "--set", f"dataPlaneImages.frontier={images['frontier']}",
         "--set", f"dataPlaneImages.frontlas={images['frontlas']}",
         "--set", "settings.frontlasPoll=2", "--set", "logLevel=DEBUG",
         "--wait", "--timeout", "300s"],
        timeout=400,
    )  # fmt: skip
    namespace = cluster.k("create", "namespace", NS, "--dry-run=client", "-o", "yaml")
    cluster.k("apply", "-f", "-", input=namespace)  # idempotent, unlike create
    cluster.k("-n", NS, "apply", "-f", str(MANIFESTS / "redis.yaml"))
    cluster.k("-n", NS, "rollout", "status", "deployment/redis", "--timeout=300s", timeout=330)
    cluster.k("-n", NS, "apply", "-f", str(MANIFESTS / "frontiercluster.yaml"))
    cluster.k("-n", NS, "wait", f"frontiercluster/{FC}", "--for=condition=Available",
              "--timeout=420s", timeout=450)  # fmt: skip
    cluster.k("-n", NS, "rollout", "status", f"deployment/{FC}-frontier", "--timeout=300s",
              timeout=330)  # fmt: skip
    return cluster


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def servicebound_port(frontier_cluster: Cluster) -> Iterator[int]:
    """A local port forwarded to the servicebound Service."""
    port = free_port()
    argv = [frontier_cluster.kubectl, "--kubeconfig", str(frontier_cluster.kubeconfig), "-n", NS,
            "port-forward", f"svc/{SERVICEBOUND_SVC}", f"{port}:30011"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        poll(lambda: proc.poll() is None and _accepts(port), timeout=60, interval=0.2,
             what="kubectl port-forward")  # fmt: skip
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_operator_rolled_out_the_cluster(frontier_cluster: Cluster) -> None:
    phase = frontier_cluster.k("-n", NS, "get", f"frontierclusters/{FC}", "-o",
                               "jsonpath={.status.phase}")  # fmt: skip
    poll(
        lambda: frontier_cluster.k("-n", NS, "get", f"frontierclusters/{FC}", "-o",
                                   "jsonpath={.status.phase}") == "Running",
        timeout=180,
        what=f"phase Running (was {phase})",
    )  # fmt: skip
    uid = frontier_cluster.k(
        "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=frontier",
        "-o", "jsonpath={.items[0].spec.securityContext.runAsUser}",
    )  # fmt: skip
    assert uid == "65532"


async def test_service_and_edge_exchange_rpc_messages_and_a_stream(servicebound_port: int) -> None:
    from frontier.sdk import Edge, Service

    async def echo(request: object) -> bytes:
        data: bytes = request.data  # type: ignore[attr-defined]
        return b"echo:" + data

    async def ping(request: object) -> bytes:
        data: bytes = request.data  # type: ignore[attr-defined]
        return b"pong:" + data

    async with Service(
        f"127.0.0.1:{servicebound_port}", name="e2e-service", topics=["telemetry"]
    ) as service:
        await service.register("echo", echo)
        edge = Edge(EDGE_ADDR, meta=b"e2e-edge")
        deadline = time.monotonic() + 60
        while True:  # the NodePort may need a moment after the rollout
            try:
                await edge.start()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        try:
            await edge.register("ping", ping)

            # RPC edge -> service, retried until the service's registration has reached the
            # gateway (the edge only learns "rpc not online" otherwise).
            async def call_echo() -> bytes:
                return await edge.call("echo", b"hi", timeout=5)

            result = await _retry(call_echo, within=30)
            assert result == b"echo:hi"

            # message edge -> service (by topic), acked end to end
            publish = asyncio.create_task(edge.publish("telemetry", b"21.5C", timeout=10))
            message = await asyncio.wait_for(service.receive(), 10)
            assert message.topic == "telemetry"
            assert message.data == b"21.5C"
            assert message.edge_id == edge.edge_id
            message.done()
            await publish

            # RPC and message service -> edge (by edge ID)
            async def call_ping() -> bytes:
                return await service.call(edge.edge_id, "ping", b"x", timeout=5)

            assert await _retry(call_ping, within=30) == b"pong:x"
            publish = asyncio.create_task(service.publish(edge.edge_id, b"cmd", timeout=10))
            down = await asyncio.wait_for(edge.receive(), 10)
            assert down.data == b"cmd"
            down.done()
            await publish

            # a stream edge -> service, bytes both ways
            stream = await edge.open_stream("e2e-service")
            accepted = await asyncio.wait_for(service.accept_stream(), 10)
            stream.write(b"up" * 1000)
            await stream.drain()
            assert await asyncio.wait_for(accepted.readexactly(2000), 10) == b"up" * 1000
            accepted.write(b"down")
            await accepted.drain()
            assert await asyncio.wait_for(stream.readexactly(4), 10) == b"down"
            await stream.close()
        finally:
            await edge.close()


async def _retry(fn: object, *, within: float) -> bytes:
    assert callable(fn)
    deadline = time.monotonic() + within
    while True:
        try:
            result: bytes = await fn()
            return result
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
