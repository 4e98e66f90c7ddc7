"""End to end on real pods: a local one-node cluster (support.local_cluster, conftest.py).

The images are built from the project's Dockerfiles (support.e2e_images) and loaded into the
node's containerd; ``charts/frontier-operator`` is installed with helm; an in-cluster Redis and
a FrontierCluster are applied and the operator rolls them out; then, from this machine:

* a ``ClusterService`` (through frontlas's ClusterIP) and an SDK edge (through the edgebound
  NodePort) exchange RPCs both ways, acked messages both ways and a stream;
* scaled to two gateways, new edges spread over both;
* a gateway pod deleted while edges are connected: they reconnect, to the other gateway;
* a spec edit rolls the gateways (surge, drain) while calls flow both ways: no call is lost;
* edges over WebSocket and the servicebound token from a Secret, turned on by a spec edit: a
  service without the token refused, an edge through the second NodePort served;
* ``helm uninstall`` of the operator refuses while a FrontierCluster exists, and succeeds
  once it is gone.

When a test fails, every object and Event, pod descriptions and the logs of the operator,
frontier, frontlas and Redis are dumped (``FRONTIER_E2E_LOGS``, default under pytest's tmp
dir) and their tails printed; the node's own process logs are attached to the report.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.e2e import Kube, dump_logs, echo, exchange, ping, poll, retry, tool
from support.e2e_images import REDIS_IMAGE, project_ref
from support.local_cluster import NODE_IP, LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).parent / "manifests"
OPERATOR_NS = "frontier-system"
NS = "frontier-e2e"
FC = "e2e"
EDGE_NODE_PORT = 30012
EDGE_ADDR = f"{NODE_IP}:{EDGE_NODE_PORT}"
#: The edgebound Service's WebSocket port (pinned: in the node-port range, like 30012).
WS_NODE_PORT = 30013
#: label app.kubernetes.io/name -> namespace, for the logs of a failed run
COMPONENTS = {"frontier-operator": OPERATOR_NS, "frontier": NS, "frontlas": NS, "redis": NS}


@pytest.fixture(scope="module")
def kube(
    local_cluster: LocalCluster,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Kube]:
    kubectl, helm = tool("kubectl"), tool("helm")
    if kubectl is None or helm is None:
        pytest.fail("helm/kubectl unavailable (scripts/fetch-helm.sh failed, none on PATH)")
    state = Kube(local_cluster.plane.kubeconfig, kubectl, helm)
    failed_before = request.session.testsfailed
    yield state
    if request.session.testsfailed > failed_before:
        default = tmp_path_factory.mktemp("e2e-logs")
        dump_logs(state, Path(os.environ.get("FRONTIER_E2E_LOGS", str(default))), COMPONENTS)


def _redis_manifests() -> str:
    """tests/e2e/manifests/redis.yaml with the locally built Redis (nothing is pulled)."""
    docs = [d for d in yaml.safe_load_all((MANIFESTS / "redis.yaml").read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            container["image"] = REDIS_IMAGE
            container["imagePullPolicy"] = "Never"
    return yaml.safe_dump_all(docs)


def _frontier_cluster(replicas: int = 1, revision: str = "1") -> str:
    """tests/e2e/manifests/frontiercluster.yaml, with short shutdowns (a 2 s preStop, a 3 s
    drain) so that rollouts take seconds, and a pod annotation to edit."""
    fc: dict[str, Any] = yaml.safe_load((MANIFESTS / "frontiercluster.yaml").read_text())
    frontier = fc["spec"]["frontier"]
    frontier["replicas"] = replicas
    frontier["drainSeconds"] = 3
    frontier["pod"] = {
        "terminationGracePeriodSeconds": 20,
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 2"]}}},
        "annotations": {"e2e.frontier.singchia.io/revision": revision},
    }
    return yaml.safe_dump(fc)


@pytest.fixture(scope="module")
def operator(kube: Kube) -> Kube:
    """charts/frontier-operator, installed with the images built here, serving one namespace:
    a namespaced install (a Role and RoleBinding there, nothing cluster-wide)."""
    namespace = kube.k("create", "namespace", NS, "--dry-run=client", "-o", "yaml")
    kube.k("apply", "-f", "-", input=namespace)  # the Role's namespace must exist first
    kube.h(
        "upgrade", "--install", "frontier-operator", str(REPO / "charts" / "frontier-operator"),
        "--namespace", OPERATOR_NS, "--create-namespace",
        "--set-json", f'watchNamespaces=["{NS}"]',
        "--set", "image.repository=frontier-py/frontier-operator", "--set", "image.tag=e2e",
        "--set", "image.pullPolicy=Never",
        "--set", f"dataPlaneImages.frontier={project_ref('frontier')}",
        "--set", f"dataPlaneImages.frontlas={project_ref('frontlas')}",
        "--set", "settings.frontlasPoll=1", "--set", "settings.retryDelay=2",
        "--set", "logLevel=DEBUG",
        "--wait", "--timeout", "180s",
        timeout=240,
    )  # fmt: skip
    return kube


@pytest.fixture(scope="module")
def frontier_cluster(operator: Kube) -> Kube:
    """An in-cluster Redis and an Available FrontierCluster (one gateway, one frontlas)."""
    k = operator
    k.k("-n", NS, "apply", "-f", "-", input=_redis_manifests())
    k.k("-n", NS, "rollout", "status", "deployment/redis", "--timeout=180s", timeout=200)
    k.k("-n", NS, "apply", "-f", "-", input=_frontier_cluster())
    k.k("-n", NS, "wait", f"frontiercluster/{FC}", "--for=condition=Available",
        "--timeout=300s", timeout=320)  # fmt: skip
    k.k("-n", NS, "rollout", "status", f"deployment/{FC}-frontier", "--timeout=180s", timeout=200)
    return k


def _json(k: Kube, *args: str) -> Any:
    return json.loads(k.k(*args, "-o", "json"))


def _frontlas_addr(k: Kube) -> str:
    svc = _json(k, "-n", NS, "get", "service", f"{FC}-frontlas-svc")
    return f"{svc['spec']['clusterIP']}:40011"


def _frontier_pods(k: Kube) -> list[dict[str, Any]]:
    pods = _json(k, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=frontier")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _scale(k: Kube, replicas: int) -> None:
    k.k("-n", NS, "patch", "frontiercluster", FC, "--type=merge",
        "-p", json.dumps({"spec": {"frontier": {"replicas": replicas}}}))  # fmt: skip

    def ready() -> bool:
        status = _json(k, "-n", NS, "get", "frontiercluster", FC).get("status") or {}
        return status.get("frontierReadyReplicas") == replicas and status.get("phase") == "Running"

    poll(ready, timeout=240, what=f"{replicas} ready gateways")


async def _frontier_of(frontlas: str, edge_id: int) -> str | None:
    """Which frontier frontlas says holds ``edge_id`` (None if it knows of none)."""
    import aiohttp

    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"http://{frontlas}/cluster/v1/frontier", params={"edge_id": edge_id}) as r,
    ):
        if r.status != 200:
            return None
        body = await r.json()
    frontier = body.get("frontier") or {}
    found = frontier.get("frontier_id")
    return str(found) if found else None


async def _edges(count: int) -> list[Any]:
    from frontier.sdk import Edge

    edges = []
    for i in range(count):
        edge = Edge(EDGE_ADDR, meta=f"e2e-edge-{i}".encode())
        await retry(edge.start, within=60, interval=1)  # the NodePort may need a moment
        await edge.register("ping", ping)
        edges.append(edge)
    return edges


async def _spread_edges(frontlas: str, frontiers: int, limit: int = 40) -> list[Any]:
    """Connect edges through the NodePort until ``frontiers`` gateways hold some."""
    edges: list[Any] = []
    seen: set[str] = set()
    while len(seen) < frontiers:
        assert len(edges) < limit, f"{limit} edges all landed on {seen}"
        (edge,) = await _edges(1)
        edges.append(edge)

        async def where(e: Any = edge) -> str:
            found = await _frontier_of(frontlas, e.edge_id)
            assert found, "frontlas does not know the edge yet"
            return found

        seen.add(await retry(where, within=30))
    return edges


# --------------------------------------------------------------------------------------------


def test_operator_rolled_out_the_cluster(frontier_cluster: Kube) -> None:
    k = frontier_cluster
    fc = _json(k, "-n", NS, "get", "frontiercluster", FC)
    assert fc["status"]["phase"] == "Running"
    (pod,) = _frontier_pods(k)
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    (container,) = pod["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"] == "250m"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    # The frontier pod resolved frontlas through the cluster DNS and registered: it is Ready.
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    budgets = _json(k, "-n", NS, "get", "poddisruptionbudgets")["items"]
    assert sorted(b["metadata"]["name"] for b in budgets) == [f"{FC}-frontier", f"{FC}-frontlas"]
    assert {b["spec"]["maxUnavailable"] for b in budgets} == {1}


async def test_service_and_edge_exchange_rpc_messages_and_a_stream(
    frontier_cluster: Kube,
) -> None:
    from frontier.sdk import ClusterService

    frontlas = _frontlas_addr(frontier_cluster)
    async with ClusterService(
        frontlas, name="e2e-service", topics=["telemetry"], accept_streams=True
    ) as service:
        await service.register("echo", echo)
        (edge,) = await _edges(1)
        try:
            await exchange(service, edge, "e2e-service")
        finally:
            await edge.close()


async def test_scaled_gateways_share_the_edges(frontier_cluster: Kube) -> None:
    from frontier.sdk import ClusterService

    _scale(frontier_cluster, 2)
    frontlas = _frontlas_addr(frontier_cluster)
    pods = {p["metadata"]["name"] for p in _frontier_pods(frontier_cluster)}
    async with ClusterService(frontlas, name="e2e-service", refresh_interval=1) as service:
        edges = await _spread_edges(frontlas, 2)
        try:
            holders = {await _frontier_of(frontlas, e.edge_id) for e in edges}
            assert holders == pods  # frontier IDs are the pod names
            for edge in edges:  # the service reaches each, wherever it is
                result = await retry(
                    lambda e=edge: service.call(e.edge_id, "ping", b"spread", timeout=5), within=30
                )
                assert result == b"pong:spread"
        finally:
            for edge in edges:
                await edge.close()


async def test_edges_of_a_deleted_gateway_pod_reconnect_to_the_other(
    frontier_cluster: Kube,
) -> None:
    from frontier.sdk import ClusterService

    k = frontier_cluster
    _scale(k, 2)
    frontlas = _frontlas_addr(k)
    async with ClusterService(frontlas, name="e2e-service", refresh_interval=1) as service:
        edges = await _spread_edges(frontlas, 2)
        try:
            victim = await _frontier_of(frontlas, edges[0].edge_id)
            assert victim
            on_victim = [e for e in edges if await _frontier_of(frontlas, e.edge_id) == victim]
            old_ids = {e.edge_id for e in on_victim}
            k.k("-n", NS, "delete", "pod", victim, "--wait=false")

            async def moved(edge: Any) -> str:
                assert edge.edge_id not in old_ids, "still on its first connection"
                holder = await _frontier_of(frontlas, edge.edge_id)
                assert holder, "frontlas does not know it yet"
                assert holder != victim, f"held by {holder}"
                assert await service.call(edge.edge_id, "ping", b"moved", timeout=5) == (
                    b"pong:moved"
                )
                return holder

            started = time.monotonic()
            holders = [await retry(lambda e=e: moved(e), within=90) for e in on_victim]
            print(f"e2e: {len(on_victim)} edges moved off {victim} in "
                  f"{time.monotonic() - started:.1f}s to {sorted(set(holders))}")  # fmt: skip
        finally:
            for edge in edges:
                await edge.close()


async def test_a_spec_edit_rolls_the_gateways_without_losing_a_call(
    frontier_cluster: Kube,
) -> None:
    """Calls flow both ways, every 50 ms per edge, while the operator rolls the gateways
    (surge one, then each old pod: preStop, drain, close). A draining gateway closes each
    connection once its calls are answered and the SDK moves to another gateway on its own
    (docs/gateway.md "Drain"), so edge -> service calls need no retry by the caller. A
    service -> edge call may still fail while its edge is between gateways for longer than
    the call's timeout (frontlas catching up); the caller retries those, as an SDK user
    would: every call must be answered within 30 s, none lost."""
    from frontier.sdk import ClusterService

    k = frontier_cluster
    _scale(k, 2)
    frontlas = _frontlas_addr(k)
    before = {p["metadata"]["name"] for p in _frontier_pods(k)}
    async with ClusterService(frontlas, name="e2e-service", refresh_interval=1) as service:
        await service.register("echo", echo)
        edges = await _spread_edges(frontlas, 2)
        stop = asyncio.Event()
        stats = {"calls": 0, "retries": 0, "up_retries": 0}

        async def one(call: Any, direction: str) -> None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await call()
                    stats["calls"] += 1
                    return
                except Exception:
                    stats["retries"] += 1
                    if direction == "up":
                        stats["up_retries"] += 1
                    if time.monotonic() > deadline:
                        raise  # lost: not answered within 30 s
                    await asyncio.sleep(0.2)

        async def traffic(edge: Any, n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                up, down = f"up-{n}-{i}".encode(), f"down-{n}-{i}".encode()

                async def edge_to_service(data: bytes = up) -> None:
                    assert await edge.call("echo", data, timeout=5) == b"echo:" + data

                async def service_to_edge(data: bytes = down) -> None:
                    got = await service.call(edge.edge_id, "ping", data, timeout=5)
                    assert got == b"pong:" + data

                await one(edge_to_service, "up")
                await one(service_to_edge, "down")
                await asyncio.sleep(0.05)

        try:
            await retry(lambda: edges[0].call("echo", b"warm", timeout=5), within=30)
            flows = [asyncio.create_task(traffic(e, n)) for n, e in enumerate(edges)]
            await asyncio.sleep(2)
            k.k("-n", NS, "apply", "-f", "-", input=_frontier_cluster(replicas=2, revision="2"))

            def edited() -> bool:  # the operator has applied the edit to the Deployment
                deployment = _json(k, "-n", NS, "get", "deployment", f"{FC}-frontier")
                template = deployment["spec"]["template"]["metadata"].get("annotations") or {}
                return template.get("e2e.frontier.singchia.io/revision") == "2"

            await asyncio.to_thread(poll, edited, timeout=60, what="the operator to apply the edit")
            await asyncio.to_thread(
                k.k, "-n", NS, "rollout", "status", f"deployment/{FC}-frontier",
                "--timeout=240s", timeout=260,
            )  # fmt: skip
            after = {p["metadata"]["name"] for p in _frontier_pods(k)}
            await asyncio.sleep(3)  # traffic on the new gateways too
            stop.set()
            await asyncio.gather(*flows)  # re-raises a lost call
        finally:
            stop.set()
            for edge in edges:
                await edge.close()
    assert before.isdisjoint(after), "the gateways were not replaced"
    assert stats["calls"] > 20 * len(edges), stats
    print(f"e2e: rolling update: {stats['calls']} calls answered, {stats['retries']} retried")
    assert stats["up_retries"] == 0, f"edge -> service calls failed during the drain: {stats}"


async def test_websocket_edges_and_a_servicebound_token_from_a_secret(
    frontier_cluster: Kube,
) -> None:
    """The opt-in fields on real pods, turned on by a spec edit: the operator rolls the
    gateways; a service without the Secret's token is refused, one with it serves an edge that
    came in over WebSocket through the edgebound Service's second NodePort."""
    from frontier.geminio.aio import ConnectRejected
    from frontier.sdk import ClusterService, Edge, Service

    k = frontier_cluster
    secret = k.k("-n", NS, "create", "secret", "generic", "e2e-token",
                 "--from-literal=token=e2e-s3cret", "--dry-run=client", "-o", "yaml")  # fmt: skip
    k.k("-n", NS, "apply", "-f", "-", input=secret)
    patch = {
        "servicebound": {"tokenSecretRef": {"name": "e2e-token"}},
        "edgebound": {"websocket": {"enabled": True, "port": WS_NODE_PORT, "path": "/geminio"}},
    }
    k.k("-n", NS, "patch", "frontiercluster", FC, "--type=merge",
        "-p", json.dumps({"spec": {"frontier": patch}}))  # fmt: skip

    def ports(pod: dict[str, Any]) -> set[str]:
        return {p["name"] for p in pod["spec"]["containers"][0].get("ports") or ()}

    def rolled() -> bool:
        fc = _json(k, "-n", NS, "get", "frontiercluster", FC)
        status = fc.get("status") or {}
        pods = _frontier_pods(k)
        return (
            status.get("observedGeneration") == fc["metadata"]["generation"]
            and status.get("phase") == "Running"
            and bool(pods)
            and all("websocket" in ports(p) for p in pods)
            and all(
                all(c["ready"] for c in p["status"].get("containerStatuses") or [{"ready": 0}])
                for p in pods
            )
        )

    poll(rolled, timeout=240, what="the gateways rolled with the WebSocket port and the token")
    svc = _json(k, "-n", NS, "get", "service", f"{FC}-edgebound-svc")
    assert {(p["name"], p.get("nodePort")) for p in svc["spec"]["ports"]} == {
        ("edgebound", EDGE_NODE_PORT),
        ("websocket", WS_NODE_PORT),
    }
    pod_ip = _frontier_pods(k)[0]["status"]["podIP"]

    for token in ("", "wrong"):
        rogue = Service(f"{pod_ip}:30011", name="rogue", token=token, reconnect=False)
        with pytest.raises(ConnectRejected, match="service authentication failed"):
            await rogue.start()

    frontlas = _frontlas_addr(k)
    async with ClusterService(
        frontlas, name="e2e-ws-service", token="e2e-s3cret", refresh_interval=1
    ) as service:
        await service.register("echo", echo)
        edge = Edge(f"ws://{NODE_IP}:{WS_NODE_PORT}/geminio", meta=b"e2e-ws-edge", proxy=False)
        await retry(edge.start, within=60, interval=1)  # the NodePort may need a moment
        try:
            answer = await retry(
                lambda: edge.call("echo", b"over a WebSocket", timeout=5), within=30
            )
            assert answer == b"echo:over a WebSocket"
        finally:
            await edge.close()


def test_helm_uninstall_refuses_while_a_cluster_exists(frontier_cluster: Kube) -> None:
    """The chart's pre-delete hook, as a real Job: the uninstall fails and removes nothing
    while the FrontierCluster exists; once it is deleted (the operator releases its
    finalizer, the garbage collector its children), the uninstall goes through."""
    k = frontier_cluster
    with pytest.raises(AssertionError) as refused:
        k.h("uninstall", "frontier-operator", "-n", OPERATOR_NS, "--timeout", "120s",
            timeout=180)  # fmt: skip
    assert "job frontier-operator-uninstall-guard failed" in str(refused.value)
    job_log = k.k("-n", OPERATOR_NS, "logs", "job/frontier-operator-uninstall-guard")
    assert "refusing to uninstall" in job_log
    assert f"{NS}/{FC}" in job_log
    assert _json(k, "-n", OPERATOR_NS, "get", "deployment", "frontier-operator")  # still there
    k.k("-n", NS, "delete", "frontiercluster", FC, "--wait=true", "--timeout=120s", timeout=150)
    poll(
        lambda: not _json(k, "-n", NS, "get", "deployments,services,pdb",
                          "-l", f"app.kubernetes.io/instance={FC}")["items"],
        timeout=120,
        what="the cluster's children to be collected",
    )  # fmt: skip
    k.h("uninstall", "frontier-operator", "-n", OPERATOR_NS, "--timeout", "120s", timeout=180)
    poll(
        lambda: not _json(k, "-n", OPERATOR_NS, "get", "deployments,jobs")["items"],
        timeout=60,
        what="the operator and the hook's Job to be gone",
    )
