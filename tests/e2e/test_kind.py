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
is installed and ``docker info`` succeeds. Where kind cannot run (no privileged containers,
no registry), ``test_local_cluster.py`` runs the same path, and more, on a local node.
Every wait polls with a deadline. Environment:

* ``FRONTIER_E2E_CLUSTER`` (default ``frontier-e2e``): the kind cluster's name. A cluster that
  already exists is reused and left in place; one created here is deleted afterwards unless
  ``FRONTIER_E2E_KEEP=1``.
* ``FRONTIER_E2E_SKIP_BUILD=1``: do not rebuild the images (``frontier-py/<name>:e2e`` must
  exist in the local Docker engine).
* ``FRONTIER_E2E_LOGS`` (default: under pytest's tmp dir): where ``kind export logs`` and the
  pods' logs go when a test failed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.e2e import Kube, dump_logs, echo, exchange, ping, poll, retry, run, tool
from support.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kind]

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
    found = tool(name)
    if found is None:
        pytest.skip(f"{name} unavailable (scripts/fetch-helm.sh failed and none on PATH)")
    return found


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kube]:
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
    state = Kube(kubeconfig, kubectl, helm)
    try:
        yield state
    finally:
        if request.session.testsfailed:
            logs = Path(os.environ.get("FRONTIER_E2E_LOGS", str(work / "logs")))
            dump_logs(
                state,
                logs,
                {"frontier-operator": OPERATOR_NS, "frontier": NS, "frontlas": NS},
            )
            subprocess.run(
                ["kind", "export", "logs", str(logs / "kind"), "--name", CLUSTER],
                capture_output=True,
                timeout=300,
                check=False,
            )
        if created and os.environ.get("FRONTIER_E2E_KEEP", "") in ("", "0"):
            subprocess.run(
                ["kind", "delete", "cluster", "--name", CLUSTER],
                capture_output=True,
                timeout=300,
                check=False,
            )


@pytest.fixture(scope="module")
def images(cluster: Kube) -> dict[str, str]:
    refs = {name: f"frontier-py/{name}:{TAG}" for name in IMAGES}
    for name, dockerfile in IMAGES.items():
        if os.environ.get("FRONTIER_E2E_SKIP_BUILD", "") in ("", "0"):
            run(["docker", "build", "-f", str(REPO / dockerfile), "-t", refs[name], str(REPO)],
                timeout=1800)  # fmt: skip
        run(["kind", "load", "docker-image", refs[name], "--name", CLUSTER], timeout=600)
    return refs


@pytest.fixture(scope="module")
def frontier_cluster(cluster: Kube, images: dict[str, str]) -> Kube:
    """The operator installed by its chart and an Available FrontierCluster."""
    cluster.h(
        "upgrade", "--install", "frontier-operator", str(REPO / "charts" / "frontier-operator"),
        "--namespace", OPERATOR_NS, "--create-namespace",
        "--set", "image.repository=frontier-py/frontier-operator", "--set", f"image.tag={TAG}",
        "--set", "image.pullPolicy=IfNotPresent",
        "--set", f"dataPlaneImages.frontier={images['frontier']}",
        "--set", f"dataPlaneImages.frontlas={images['frontlas']}",
        "--set", "settings.frontlasPoll=2", "--set", "logLevel=DEBUG",
        "--wait", "--timeout", "300s",
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
def servicebound_port(frontier_cluster: Kube) -> Iterator[int]:
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


def test_operator_rolled_out_the_cluster(frontier_cluster: Kube) -> None:
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

    async with Service(
        f"127.0.0.1:{servicebound_port}",
        name="e2e-service",
        topics=["telemetry"],
        accept_streams=True,
    ) as service:
        await service.register("echo", echo)
        edge = Edge(EDGE_ADDR, meta=b"e2e-edge")
        await retry(edge.start, within=60, interval=1)  # the NodePort may need a moment
        try:
            await edge.register("ping", ping)
            await exchange(service, edge, "e2e-service")
        finally:
            await edge.close()
