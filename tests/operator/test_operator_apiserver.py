"""Tier 3: the real operator (kopf in a thread) against a real kube-apiserver v1.20.

One control plane per session (``kube_control_plane``); this module installs the CRD and
``deploy/operator/rbac.yaml`` once, first (the 1.20 garbage collector rediscovers resources
only every ~30 s, so the deletion test runs last), and runs one operator for all tests,
authenticated as the ``frontier-operator`` ServiceAccount of ``rbac.yaml`` (its token comes
from the controller-manager's token controller): never with the admin token, so every scenario
also shows that the ClusterRole is enough. Each test has its own namespace and plays kubelet
there (``support.operator_harness.Kubelet``: pods marked Running and Ready by patching status).

What only a real API server shows, and is checked here: the CRD's schema (422s, defaults,
pruning of unknown fields while the operator's status survives); Deployments really rolling out
through ReplicaSets; the API server's defaulting and normalisation of the children not taken
for drift (no write and no ``DriftCorrected`` Event on an unchanged cluster over several resync
passes); merge patches on real objects (an env var added by hand removed, a Service's
``clusterIP`` and allocated ``nodePort`` kept); owner references with the real garbage
collector (foreground deletion).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kopf", reason="kopf is not installed (the operator extra)")

import kubernetes.client
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from frontier_operator.builders import (
    CONFIG_CHECKSUM_ANNOTATION,
    SECRETS_CHECKSUM_ANNOTATION,
    Images,
)
from frontier_operator.settings import FINALIZER, PREFIX, OperatorConfig
from frontier_operator.spec import parse_spec
from support.kube_control_plane import ControlPlane
from support.operator_harness import (
    Kubelet,
    LogCapture,
    OperatorThread,
    RecordingConnection,
    Request,
    holds,
    mark_pods_ready,
    settles,
    wait_until,
)

JSON = dict[str, Any]

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "frontier.singchia.io", "v1alpha1", "frontierclusters"
CRD_NAME = f"{PLURAL}.{GROUP}"
SA_NAMESPACE, SA_NAME = "frontier-system", "frontier-operator"
SA_USER = f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"
NAME = "demo"

CONFIG = OperatorConfig(
    images=Images(frontier="registry.test/frontier:1", frontlas="registry.test/frontlas:1"),
    retry_delay=0.5,
    frontlas_poll=0.5,
    resync_interval=1.5,  # short: the no-write test watches several resync passes
    request_timeout=10.0,
)


def children(name: str = NAME) -> list[tuple[str, str]]:
    return [
        ("ConfigMap", f"{name}-frontier-config"),
        ("ConfigMap", f"{name}-frontlas-config"),
        ("Service", f"{name}-servicebound-svc"),
        ("Service", f"{name}-edgebound-svc"),
        ("Service", f"{name}-frontlas-svc"),
        ("PodDisruptionBudget", f"{name}-frontier"),
        ("PodDisruptionBudget", f"{name}-frontlas"),
        ("Deployment", f"{name}-frontlas"),
        ("Deployment", f"{name}-frontier"),
    ]


# --------------------------------------------------------------------------------------------
# the module's world: CRD, RBAC, the operator as its ServiceAccount


@dataclass
class World:
    plane: ControlPlane
    admin: kubernetes.client.ApiClient
    connection: RecordingConnection
    operator: OperatorThread
    logs: LogCapture
    sa_token: str

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.admin)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.admin)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.admin)


def _create(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status != 409:  # left from an earlier module of this session: fine
            raise


def _install_crd(admin: kubernetes.client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(admin)
    crd = yaml.safe_load((REPO / "crds" / "frontiercluster.yaml").read_text())
    _create(ext.create_custom_resource_definition, crd)

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(CRD_NAME).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(established, "the CRD to be Established", timeout=30)


def _install_rbac(admin: kubernetes.client.ApiClient) -> str:
    """Apply deploy/operator/rbac.yaml as is; return the ServiceAccount's token."""
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    _create(core.create_namespace, {"metadata": {"name": SA_NAMESPACE}})
    docs = [d for d in yaml.safe_load_all((REPO / "deploy/operator/rbac.yaml").read_text()) if d]
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
    ]
    for doc in docs:
        if doc["kind"] == "ServiceAccount":
            _create(core.create_namespaced_service_account, doc["metadata"]["namespace"], doc)
        elif doc["kind"] == "ClusterRole":
            _create(rbac.create_cluster_role, doc)
        else:
            _create(rbac.create_cluster_role_binding, doc)

    def token() -> str | None:  # written by the controller-manager's token controller
        for secret in core.list_namespaced_secret(SA_NAMESPACE).items:
            annotations = secret.metadata.annotations or {}
            if (
                secret.type == "kubernetes.io/service-account-token"
                and annotations.get("kubernetes.io/service-account.name") == SA_NAME
                and (secret.data or {}).get("token")
            ):
                return base64.b64decode(secret.data["token"]).decode()
        return None

    return wait_until(token, "the ServiceAccount's token Secret", timeout=30)


def _configuration(plane: ControlPlane, token: str) -> kubernetes.client.Configuration:
    cfg = kubernetes.client.Configuration()
    cfg.host = plane.server
    cfg.ssl_ca_cert = str(plane.ca_file)
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    return cfg


@pytest.fixture(scope="module")
def world(kube_control_plane: ControlPlane) -> Iterator[World]:
    admin = kube_control_plane.api_client()
    _install_crd(admin)
    token = _install_rbac(admin)
    connection = RecordingConnection(
        _configuration(kube_control_plane, token), request_timeout=CONFIG.request_timeout
    )
    with LogCapture("kopf", "frontier_operator") as logs:
        operator = OperatorThread(connection, CONFIG)
        operator.start()
        try:
            yield World(kube_control_plane, admin, connection, operator, logs, token)
        finally:
            operator.stop()
            admin.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def ns(world: World) -> Iterator[str]:
    name = f"fc-{uuid.uuid4().hex[:8]}"
    world.core.create_namespace({"metadata": {"name": name}})
    # Pods need the namespace's "default" ServiceAccount (ServiceAccount admission).
    wait_until(
        lambda: world.core.read_namespaced_service_account("default", name),
        "the default ServiceAccount",
        timeout=30,
    )
    yield name
    # FrontierClusters first, while the operator runs (it releases its finalizer): then no
    # reconcile is left writing into the terminating namespace.
    world.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, name, PLURAL)

    left: list[Any] = []

    def clusters_left() -> list[Any]:
        items = world.custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)["items"]
        left[:] = [
            {k: i["metadata"].get(k) for k in ("name", "finalizers", "deletionTimestamp")}
            for i in items
        ]
        return left

    try:
        wait_until(lambda: not clusters_left(), "the FrontierClusters to go", timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {left}") from None

    try:
        world.core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def kubelet(world: World, ns: str) -> Iterator[Kubelet]:
    player = Kubelet(world.core, ns).start()
    yield player
    player.stop()


# --------------------------------------------------------------------------------------------
# acting as the user


def make_spec(**frontier: Any) -> JSON:
    """A valid spec. The edgebound Service is a ClusterIP one unless asked otherwise: node
    ports are cluster-wide, and the default NodePort 30012 can be held by one cluster only
    (clusters of earlier tests may still be terminating)."""
    frontier.setdefault("edgebound", {"serviceType": "ClusterIP"})
    return {
        "frontier": frontier,
        "frontlas": {"redis": {"addrs": ["redis.default.svc:6379"], "redisType": "standalone"}},
    }


def create_cluster(world: World, ns: str, spec: JSON, name: str = NAME) -> JSON:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FrontierCluster",
        "metadata": {"name": name},
        "spec": spec,
    }
    created: JSON = world.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    return created


def get_cluster(world: World, ns: str, name: str = NAME) -> JSON:
    obj: JSON = world.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    return obj


def patch_spec(world: World, ns: str, patch: JSON, name: str = NAME) -> JSON:
    obj: JSON = world.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, name, {"spec": patch}
    )
    return obj


def read(world: World, ns: str, kind: str, name: str) -> JSON:
    """A child as the API server has it, as a plain dict (no model round trip)."""
    if kind == "PodDisruptionBudget":  # policy/v1beta1: the only version a 1.20 server has
        resp = world.custom.get_namespaced_custom_object(
            "policy", "v1beta1", ns, "poddisruptionbudgets", name, _preload_content=False
        )
        pdb: JSON = json.loads(resp.data)
        return pdb
    api: Any = world.apps if kind == "Deployment" else world.core
    method = {"Deployment": "deployment", "Service": "service", "ConfigMap": "config_map"}[kind]
    resp = getattr(api, f"read_namespaced_{method}")(name, ns, _preload_content=False)
    obj: JSON = json.loads(resp.data)
    return obj


def exists(world: World, ns: str, kind: str, name: str) -> bool:
    try:
        read(world, ns, kind, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def condition(obj: JSON, ctype: str) -> JSON:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == ctype:
            result: JSON = cond
            return result
    return {}


def events(world: World, ns: str, name: str = NAME) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events about the FrontierCluster ``name``."""
    return [
        (e.type, e.reason, e.message or "")
        for e in world.core.list_namespaced_event(ns).items
        if e.involved_object.kind == "FrontierCluster" and e.involved_object.name == name
    ]


def reasons(world: World, ns: str, name: str = NAME) -> set[str]:
    return {reason for _, reason, _ in events(world, ns, name)}


def is_running(world: World, ns: str, name: str = NAME) -> JSON | None:
    """The cluster once its status says it is fully rolled out for its current generation."""
    obj = get_cluster(world, ns, name)
    status = obj.get("status") or {}
    if (
        status.get("phase") == "Running"
        and status.get("observedGeneration") == obj["metadata"]["generation"]
        and condition(obj, "Available").get("reason") == "AllComponentsReady"
        and condition(obj, "Progressing").get("status") == "False"
    ):
        return obj
    return None


def running_cluster(world: World, ns: str, spec: JSON, name: str = NAME) -> JSON:
    """Create a cluster and wait for it to run (the namespace needs a ``kubelet``)."""
    create_cluster(world, ns, spec, name)
    return wait_until(lambda: is_running(world, ns, name), f"{name} to be Running", timeout=60)


def rollout_done(world: World, ns: str, name: str) -> JSON | None:
    dep = read(world, ns, "Deployment", name)
    spec, status = dep["spec"], dep.get("status") or {}
    desired = spec.get("replicas", 1)
    if (
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("replicas", 0) == desired
        and status.get("updatedReplicas", 0) == desired
        and status.get("readyReplicas", 0) == desired
    ):
        return dep
    return None


def written(requests: list[Request]) -> list[str]:
    return [f"{r.method} {r.path} -> {r.status}" for r in requests if r.write]


def operator_writes(world: World, ns: str, since: int) -> list[str]:
    return written(world.connection.requests(since, ns))


def pass_starts(requests: list[Request], ns: str, name: str = NAME) -> list[int]:
    """Where the reconciler's passes begin in ``requests``: each GETs the FrontierCluster
    once, first."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/{name}"
    return [i for i, r in enumerate(requests) if r.method == "GET" and r.path == path]


def cluster_reads(world: World, ns: str, since: int, name: str = NAME) -> int:
    """How many passes of the reconciler ran."""
    return len(pass_starts(world.connection.requests(since, ns), ns, name))


def quiet_passes(world: World, ns: str, passes: int) -> bool:
    """True when ``passes`` reconciles ran after this call and none of them (nor kopf) wrote
    anything: no request of the operator's but GETs, the FrontierCluster unchanged."""

    def version() -> str:
        return str(get_cluster(world, ns)["metadata"]["resourceVersion"])

    since, before = world.connection.count(), version()
    wait_until(
        lambda: cluster_reads(world, ns, since) >= passes,
        f"{passes} reconcile passes",
        timeout=passes * CONFIG.resync_interval + 15,
    )
    return not operator_writes(world, ns, since) and version() == before


def handled(world: World, ns: str) -> JSON | None:
    """The cluster once kopf's change handler has finished (its progress annotation gone, the
    handled spec recorded), else None."""
    obj = get_cluster(world, ns)
    annotations = obj["metadata"].get("annotations") or {}
    if (
        f"{PREFIX}/last-handled-configuration" in annotations
        and f"{PREFIX}/reconcile" not in annotations
    ):
        return obj
    return None


def settle(world: World, ns: str) -> None:
    """Wait until kopf's change handler is done (a child event may have brought the cluster
    to Running while the handler still sleeps before its retry; it then records the handled
    spec in an annotation) and a pass writes nothing."""

    wait_until(lambda: handled(world, ns), "kopf's change handler to finish", timeout=30)
    wait_until(lambda: quiet_passes(world, ns, 1), "a pass that writes nothing", timeout=30)


# --------------------------------------------------------------------------------------------
# the CRD


INVALID_SPECS: list[tuple[str, JSON]] = [
    ("negative replicas", make_spec(replicas=-1)),
    ("replicas not an integer", make_spec(replicas="two")),
    ("port out of range", make_spec(edgebound={"port": 70000})),
    ("unknown service type", make_spec(servicebound={"serviceType": "Headless"})),
    ("malformed service name", make_spec(servicebound={"service": "Not_A_Name"})),
    (
        "unknown redis type",
        {"frontier": {}, "frontlas": {"redis": {"addrs": ["r:6379"], "redisType": "bogus"}}},
    ),
    ("redis missing", {"frontier": {}, "frontlas": {}}),
    ("frontlas missing", {"frontier": {}}),
    ("websocket path without '/'", make_spec(edgebound={"websocket": {"path": "ws"}})),
    (
        "websocket message bound below 64 KiB",
        make_spec(edgebound={"websocket": {"maxMessageBytes": 1024}}),
    ),
]


def test_crd_rejects_invalid_specs_defaults_and_prunes(world: World, ns: str) -> None:
    for what, spec in INVALID_SPECS:
        with pytest.raises(ApiException) as info:
            create_cluster(world, ns, spec, name="bad")
        assert info.value.status == 422, f"{what}: {info.value.status} {info.value.body}"

    raw = make_spec()
    del raw["frontier"]["edgebound"]  # the only test using the default NodePort 30012
    raw["frontier"]["unknownField"] = "pruned"  # structural schema: pruned, not stored
    created = create_cluster(world, ns, raw)
    spec = created["spec"]
    assert "unknownField" not in spec["frontier"]
    assert spec["frontier"]["replicas"] == 1  # upstream wrote an omitted value through as 0
    assert spec["frontlas"]["replicas"] == 1
    assert spec["frontier"]["servicebound"] == {"port": 30011, "serviceType": "ClusterIP"}
    assert spec["frontier"]["edgebound"]["port"] == 30012
    assert spec["frontier"]["edgebound"]["serviceType"] == "NodePort"
    # The API server's defaulting does not change what the operator makes of the spec.
    pristine = make_spec()
    del pristine["frontier"]["edgebound"]
    assert parse_spec(spec, name=NAME) == parse_spec(pristine, name=NAME)

    # Status: the operator's fields survive the schema; an undeclared field is pruned.
    wait_until(
        lambda: (get_cluster(world, ns).get("status") or {}).get("observedGeneration"),
        "the operator's first status",
    )
    world.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, NAME, {"status": {"kopf": {"progress": {}}, "bogus": 1}}
    )
    status = get_cluster(world, ns)["status"]
    assert "kopf" not in status
    assert "bogus" not in status
    assert status["phase"] == "Pending"
    assert status["observedGeneration"] == 1
    assert {c["type"] for c in status["conditions"]} == {"Available", "Progressing", "Degraded"}


# --------------------------------------------------------------------------------------------
# create -> Available


def test_cluster_becomes_available_once_pods_are_ready(world: World, ns: str) -> None:
    created = create_cluster(world, ns, make_spec(replicas=2))
    uid = created["metadata"]["uid"]

    # frontlas first; frontier waits for it (no pod is ready: there is no kubelet yet).
    wait_until(lambda: exists(world, ns, "Deployment", f"{NAME}-frontlas"), "frontlas")

    def waiting_for_frontlas() -> JSON | None:
        obj = get_cluster(world, ns)
        return obj if condition(obj, "Progressing").get("reason") == "WaitingForFrontlas" else None

    waiting = wait_until(waiting_for_frontlas, "Progressing=WaitingForFrontlas")
    assert waiting["status"]["phase"] == "Pending"
    assert condition(waiting, "Available")["status"] == "False"
    holds(
        lambda: not exists(world, ns, "Deployment", f"{NAME}-frontier"),
        "frontier waits for frontlas",
        duration=2.0,  # four frontlas polls
    )

    # Play kubelet for frontlas: its Deployment becomes ready, then frontier is created.
    wait_until(lambda: mark_pods_ready(world.core, ns), "a frontlas pod to mark ready")
    wait_until(lambda: exists(world, ns, "Deployment", f"{NAME}-frontier"), "frontier")
    assert not is_running(world, ns)
    player = Kubelet(world.core, ns).start()
    try:
        obj = wait_until(lambda: is_running(world, ns), "Running", timeout=60)
    finally:
        player.stop()

    status = obj["status"]
    generation = obj["metadata"]["generation"]
    assert status["frontierReadyReplicas"] == 2
    assert status["frontlasReadyReplicas"] == 1
    assert status["observedGeneration"] == generation
    assert status["message"] == "frontlas 1/1 ready, frontier 2/2 ready"
    for ctype, expected in (("Available", "True"), ("Progressing", "False"), ("Degraded", "False")):
        cond = condition(obj, ctype)
        assert cond["status"] == expected, cond
        assert cond["observedGeneration"] == generation
        assert cond["lastTransitionTime"]
    assert condition(obj, "Degraded")["reason"] == "AsExpected"

    # Children, each controlled by the cluster (what the garbage collector follows).
    for kind, child in children():
        refs = read(world, ns, kind, child)["metadata"]["ownerReferences"]
        assert [(r["uid"], r["controller"], r["blockOwnerDeletion"]) for r in refs] == [
            (uid, True, True)
        ], (kind, child)
    frontier = read(world, ns, "Deployment", f"{NAME}-frontier")
    assert frontier["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.test/frontier:1"
    )

    # kopf's bookkeeping under the operator's prefix; nothing in status, nothing of kopf's own.
    # (A child event may have brought the cluster to Running while kopf's create handler still
    # sleeps before its next attempt; it then finishes and records the handled spec.)
    meta = wait_until(lambda: handled(world, ns), "kopf's create handler to finish")["metadata"]
    assert FINALIZER in meta["finalizers"]
    assert not [k for k in meta["annotations"] if "kopf.zalando.org" in k]
    assert "kopf" not in status

    # kopf posts Events from a queue after the handler returned: wait for them.
    wait_until(lambda: "Created" in reasons(world, ns), "a Created Event")
    # Available went True once (with frontier 1/2 or 2/2 ready, depending on timing).
    available = wait_until(
        lambda: [e for e in events(world, ns) if e[2].startswith("Available:")],
        "the Available Event",
    )
    assert [e[:2] for e in available] in (
        [("Normal", "AllComponentsReady")],
        [("Normal", "MinimumReplicasAvailable")],
    )
    assert not [e for e in events(world, ns) if e[0] == "Warning"]


# --------------------------------------------------------------------------------------------
# an unchanged cluster costs reads only


def test_disruption_budget_lets_a_drain_evict_one_gateway_at_a_time(world: World, ns: str) -> None:
    """The operator's PodDisruptionBudget, enforced by the real Eviction API (what a node
    drain uses): of two ready gateways one may be evicted, the second not until the first
    is replaced and ready."""
    create_cluster(world, ns, make_spec(replicas=2))
    player = Kubelet(world.core, ns).start()
    try:
        wait_until(lambda: is_running(world, ns), "Running", timeout=60)
    finally:
        player.stop()  # the replacement of the evicted pod must stay unready

    def allowed() -> bool:
        pdb = read(world, ns, "PodDisruptionBudget", f"{NAME}-frontier")
        status = pdb.get("status") or {}
        return status.get("currentHealthy") == 2 and status.get("disruptionsAllowed") == 1

    wait_until(allowed, "the disruption controller to allow one eviction", timeout=60)
    frontier_pods = sorted(
        p.metadata.name
        for p in world.core.list_namespaced_pod(
            ns, label_selector="app.kubernetes.io/name=frontier"
        ).items
    )
    assert len(frontier_pods) == 2

    def evict(pod: str) -> int:
        body = {
            "apiVersion": "policy/v1beta1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": ns},
        }
        try:
            world.core.create_namespaced_pod_eviction(pod, ns, body)
        except ApiException as exc:
            return int(exc.status)
        return 201

    assert evict(frontier_pods[0]) == 201
    assert evict(frontier_pods[1]) == 429  # TooManyRequests: it would violate the budget


def test_unchanged_cluster_writes_nothing_over_resyncs(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    running_cluster(world, ns, make_spec(edgebound={"port": 8443}, replicas=2))

    # Settle (the last rollout's status write, pods' readiness), then watch resyncs.
    settle(world, ns)

    def versions() -> dict[str, Any]:
        out: dict[str, Any] = {"cluster": get_cluster(world, ns)["metadata"]["resourceVersion"]}
        for kind, child in children():
            meta = read(world, ns, kind, child)["metadata"]
            # The controller-manager writes Deployment status; the spec is what we care about,
            # and the disruption controller the PodDisruptionBudgets' status.
            in_spec = kind in ("Deployment", "PodDisruptionBudget")
            out[f"{kind}/{child}"] = meta["generation"] if in_spec else meta["resourceVersion"]
        return out

    before, since = versions(), world.connection.count()
    # the last status write's Events may still be in kopf's queue: not new ones
    events_before = settles(
        lambda: events(world, ns), "the Events of the rollout", quiet=1.0, timeout=30
    )
    assert quiet_passes(world, ns, 3), operator_writes(world, ns, since)
    assert operator_writes(world, ns, since) == []
    assert cluster_reads(world, ns, since) >= 3
    assert versions() == before
    new_events = [e for e in events(world, ns) if e not in events_before]
    assert new_events == []
    assert "DriftCorrected" not in reasons(world, ns)


# --------------------------------------------------------------------------------------------
# a config change rolls the Deployment that reads it


def replica_sets_of(world: World, ns: str, deployment: JSON) -> list[Any]:
    uid = deployment["metadata"]["uid"]
    return [
        rs
        for rs in world.apps.list_namespaced_replica_set(ns).items
        if any(ref.uid == uid for ref in rs.metadata.owner_references or [])
    ]


def test_config_change_rolls_the_frontier_deployment(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    running_cluster(world, ns, make_spec())
    frontier = read(world, ns, "Deployment", f"{NAME}-frontier")
    frontlas = read(world, ns, "Deployment", f"{NAME}-frontlas")
    servicebound = read(world, ns, "Service", f"{NAME}-servicebound-svc")
    old_checksum = frontier["spec"]["template"]["metadata"]["annotations"][
        CONFIG_CHECKSUM_ANNOTATION
    ]
    assert len(replica_sets_of(world, ns, frontier)) == 1

    patched = patch_spec(world, ns, {"frontier": {"servicebound": {"port": 31011}}})
    generation = patched["metadata"]["generation"]
    assert generation == 2

    def rolled() -> JSON | None:
        obj = is_running(world, ns)
        if obj is None or obj["status"]["observedGeneration"] != generation:
            return None
        return rollout_done(world, ns, f"{NAME}-frontier")

    new_frontier = wait_until(rolled, "the frontier rollout for generation 2", timeout=60)
    template = new_frontier["spec"]["template"]
    new_checksum = template["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]
    assert new_checksum != old_checksum
    ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
    assert ports["servicebound"] == 31011
    config = read(world, ns, "ConfigMap", f"{NAME}-frontier-config")
    assert "31011" in config["data"]["frontier.yaml"]

    # A real rollout: a new ReplicaSet whose pods carry the new checksum, the old one at 0.
    sets = replica_sets_of(world, ns, new_frontier)
    assert len(sets) == 2
    by_checksum = {
        rs.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]: rs for rs in sets
    }
    assert by_checksum[old_checksum].spec.replicas == 0
    assert by_checksum[new_checksum].status.ready_replicas == 1
    pods = world.core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/name=frontier")
    live = [p for p in pods.items if p.metadata.deletion_timestamp is None]
    assert [p.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION] for p in live] == [new_checksum]

    # frontlas reads another config file: untouched.
    after = read(world, ns, "Deployment", f"{NAME}-frontlas")
    assert after["metadata"]["generation"] == frontlas["metadata"]["generation"]
    assert len(replica_sets_of(world, ns, after)) == 1

    # The Service follows, keeping its allocated clusterIP (merge patch, not replace).
    svc = read(world, ns, "Service", f"{NAME}-servicebound-svc")
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(31011, "servicebound")]
    assert svc["spec"]["clusterIP"] == servicebound["spec"]["clusterIP"]
    assert svc["metadata"]["uid"] == servicebound["metadata"]["uid"]
    wait_until(lambda: "Updated" in reasons(world, ns), "an Updated Event")
    assert "DriftCorrected" not in reasons(world, ns)


def test_secret_rotation_rolls_only_the_deployment_reading_it(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    world.core.create_namespaced_secret(
        ns, {"metadata": {"name": "redis-auth"}, "stringData": {"password": "one"}}
    )
    spec = make_spec()
    spec["frontlas"]["redis"]["passwordSecret"] = {"name": "redis-auth", "key": "password"}
    running_cluster(world, ns, spec)
    frontlas = read(world, ns, "Deployment", f"{NAME}-frontlas")
    frontier = read(world, ns, "Deployment", f"{NAME}-frontier")
    old = frontlas["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION]

    world.core.patch_namespaced_secret("redis-auth", ns, {"stringData": {"password": "two"}})

    def rolled() -> JSON | None:
        dep = rollout_done(world, ns, f"{NAME}-frontlas")
        if dep is None or not is_running(world, ns):
            return None
        new = dep["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION]
        return dep if new != old else None

    wait_until(rolled, "frontlas to roll out with the new Secret digest", timeout=60)
    assert len(replica_sets_of(world, ns, frontlas)) == 2
    after = read(world, ns, "Deployment", f"{NAME}-frontier")
    assert after["metadata"]["generation"] == frontier["metadata"]["generation"]
    wait_until(lambda: "SecretRotated" in reasons(world, ns), "a SecretRotated Event")
    assert "DriftCorrected" not in reasons(world, ns)


def test_websocket_port_and_servicebound_token_from_a_secret(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    """The WebSocket port on a real NodePort Service (both node ports allocated, kept over
    passes that write nothing), the token's key checked on a real Secret and its rotation
    rolling frontier through real ReplicaSets."""
    world.core.create_namespaced_secret(
        ns, {"metadata": {"name": "svc-token"}, "stringData": {"tokn": "typo"}}
    )
    spec = make_spec(
        servicebound={"tokenSecretRef": {"name": "svc-token"}},
        # outside the node-port range: the API server allocates both node ports
        edgebound={
            "port": 8443,
            "serviceType": "NodePort",
            "websocket": {"enabled": True, "port": 8444, "path": "/geminio"},
        },
    )
    created = create_cluster(world, ns, spec)
    stored = created["spec"]["frontier"]
    assert stored["servicebound"]["tokenSecretRef"] == {"name": "svc-token", "key": "token"}
    assert stored["edgebound"]["websocket"] == {"enabled": True, "port": 8444, "path": "/geminio"}

    def degraded() -> JSON | None:
        obj = get_cluster(world, ns)
        cond = condition(obj, "Degraded")
        return obj if cond.get("status") == "True" and "no key 'token'" in cond["message"] else None

    wait_until(degraded, "Degraded: the Secret has no key 'token'", timeout=30)
    assert not exists(world, ns, "Deployment", f"{NAME}-frontier")

    world.core.patch_namespaced_secret("svc-token", ns, {"stringData": {"token": "tok-one-5f1e"}})
    wait_until(lambda: is_running(world, ns), f"{NAME} to be Running", timeout=60)

    svc = read(world, ns, "Service", f"{NAME}-edgebound-svc")
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert (ports["websocket"]["port"], ports["websocket"]["targetPort"]) == (8444, "websocket")
    node_ports = {ports["edgebound"]["nodePort"], ports["websocket"]["nodePort"]}
    assert len(node_ports) == 2
    assert all(30000 <= n <= 32767 for n in node_ports)
    frontier = read(world, ns, "Deployment", f"{NAME}-frontier")
    (container,) = frontier["spec"]["template"]["spec"]["containers"]
    assert {"name": "websocket", "containerPort": 8444, "protocol": "TCP"} in container["ports"]
    assert {
        "name": "FRONTIER_SERVICEBOUND_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "svc-token", "key": "token"}},
    } in container["env"]
    text = read(world, ns, "ConfigMap", f"{NAME}-frontier-config")["data"]["frontier.yaml"]
    assert "tok-one-5f1e" not in text
    assert yaml.safe_load(text)["edgebound"]["websocket"]["path"] == "/geminio"

    # The allocated node ports are not drift: passes leave the Service alone. (Not settle():
    # kopf's change handler sleeps out the Degraded retry delay, a minute.)
    since = world.connection.count()
    wait_until(
        lambda: cluster_reads(world, ns, since) >= 3,
        "3 reconcile passes",
        timeout=3 * CONFIG.resync_interval + 15,
    )
    assert not [w for w in operator_writes(world, ns, since) if "/services/" in w]
    after = read(world, ns, "Service", f"{NAME}-edgebound-svc")
    assert after["metadata"]["resourceVersion"] == svc["metadata"]["resourceVersion"]

    old = frontier["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION]
    world.core.patch_namespaced_secret("svc-token", ns, {"stringData": {"token": "tok-two-9a7c"}})

    def rolled() -> JSON | None:
        dep = rollout_done(world, ns, f"{NAME}-frontier")
        if dep is None or not is_running(world, ns):
            return None
        new = dep["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION]
        return dep if new != old else None

    wait_until(rolled, "frontier to roll out with the new token", timeout=60)
    assert len(replica_sets_of(world, ns, frontier)) == 2
    wait_until(lambda: "SecretRotated" in reasons(world, ns), "a SecretRotated Event")


# --------------------------------------------------------------------------------------------
# drift


def test_drift_is_restored_keeping_allocated_service_fields(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    # edgebound on 8443: outside the node-port range, so the API server allocates a nodePort.
    running_cluster(world, ns, make_spec(edgebound={"port": 8443, "serviceType": "NodePort"}))
    edge = read(world, ns, "Service", f"{NAME}-edgebound-svc")
    (edge_port,) = edge["spec"]["ports"]
    assert edge["spec"]["type"] == "NodePort"
    assert 30000 <= edge_port["nodePort"] <= 32767
    servicebound = read(world, ns, "Service", f"{NAME}-servicebound-svc")
    frontier = read(world, ns, "Deployment", f"{NAME}-frontier")
    container = frontier["spec"]["template"]["spec"]["containers"][0]["name"]
    env_names = [e["name"] for e in frontier["spec"]["template"]["spec"]["containers"][0]["env"]]

    # By hand, as kubectl would: scale, add an env var, relabel a Service, delete another.
    world.apps.patch_namespaced_deployment(
        f"{NAME}-frontier",
        ns,
        {
            "spec": {
                "replicas": 3,
                "template": {
                    "spec": {
                        "containers": [
                            {"name": container, "env": [{"name": "HACKED", "value": "1"}]}
                        ]
                    }
                },
            }
        },
    )
    hacked = read(world, ns, "Deployment", f"{NAME}-frontier")
    # (The strategic merge added the variable; the operator may already have reverted it.)
    world.core.patch_namespaced_service(
        f"{NAME}-edgebound-svc", ns, {"metadata": {"labels": {"app.kubernetes.io/part-of": "x"}}}
    )
    world.core.delete_namespaced_service(f"{NAME}-servicebound-svc", ns, _preload_content=False)

    def restored() -> bool:
        dep = read(world, ns, "Deployment", f"{NAME}-frontier")
        env = [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]]
        edge_now = read(world, ns, "Service", f"{NAME}-edgebound-svc")
        return (
            dep["spec"]["replicas"] == 1
            and env == env_names
            and edge_now["metadata"]["labels"]["app.kubernetes.io/part-of"] == "frontier"
            and exists(world, ns, "Service", f"{NAME}-servicebound-svc")
        )

    wait_until(restored, "the drift to be corrected", timeout=30)
    assert hacked["metadata"]["generation"] > frontier["metadata"]["generation"]

    recreated = read(world, ns, "Service", f"{NAME}-servicebound-svc")
    assert recreated["metadata"]["uid"] != servicebound["metadata"]["uid"]
    assert recreated["metadata"]["ownerReferences"][0]["name"] == NAME

    # The operator's merge patch sent the ports list without nodePort (it does not choose
    # one for 8443), yet the allocation and the clusterIP are kept.
    edge_now = read(world, ns, "Service", f"{NAME}-edgebound-svc")
    assert edge_now["metadata"]["uid"] == edge["metadata"]["uid"]
    assert edge_now["spec"]["clusterIP"] == edge["spec"]["clusterIP"]
    assert [p["nodePort"] for p in edge_now["spec"]["ports"]] == [edge_port["nodePort"]]

    # kopf posts Events from a queue: wait for them. Each correcting pass posts one.
    def drift_events() -> list[tuple[str, str, str]]:
        found = [e for e in events(world, ns) if e[1] == "DriftCorrected"]
        text = " ".join(e[2] for e in found)
        expected = (f"{NAME}-frontier.spec.replicas", f"{NAME}-edgebound-svc.metadata.labels")
        return found if all(path in text for path in expected) else []

    found = wait_until(drift_events, "DriftCorrected Events naming the drifted paths")
    assert {e[0] for e in found} == {"Warning"}
    assert "Updated" not in reasons(world, ns)  # no new generation: drift, not an update

    # And it all rolls out again to a Running cluster.
    wait_until(
        lambda: is_running(world, ns) and rollout_done(world, ns, f"{NAME}-frontier"),
        "Running again",
        timeout=60,
    )


# --------------------------------------------------------------------------------------------
# RBAC


def test_operator_runs_with_exactly_the_rbac_of_the_manifest(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    # Every verb the operator uses, under the ServiceAccount (also when this test runs alone):
    # create, watch, read, status, events, a child deleted by hand and re-created.
    since = world.connection.count()
    running_cluster(world, ns, make_spec())
    world.core.delete_namespaced_service(f"{NAME}-frontlas-svc", ns, _preload_content=False)
    wait_until(lambda: exists(world, ns, "Service", f"{NAME}-frontlas-svc"), "re-creation")
    wait_until(
        lambda: [
            e for e in events(world, ns) if e[1] == "Created" and f"{NAME}-frontlas-svc" in e[2]
        ][1:],
        "a second Created Event naming the Service",
    )

    # The operator's credentials are the ServiceAccount's, not an admin's.
    authn = client.AuthenticationV1Api(world.admin)
    review = authn.create_token_review({"spec": {"token": world.sa_token}})
    assert review.status.authenticated
    assert review.status.user.username == SA_USER
    assert "system:masters" not in (review.status.user.groups or [])
    assert world.connection.configuration().api_key == {"authorization": world.sa_token}

    # ... and they are confined by the ClusterRole: no pods, no Secret writes.
    sa_client = kubernetes.client.ApiClient(_configuration(world.plane, world.sa_token))
    try:
        sa_core = client.CoreV1Api(sa_client)
        with pytest.raises(ApiException) as info:
            sa_core.list_namespaced_pod("default")
        assert info.value.status == 403
        with pytest.raises(ApiException) as info:
            sa_core.create_namespaced_secret("default", {"metadata": {"name": "nope"}})
        assert info.value.status == 403
        sa_core.list_namespaced_secret("default")  # granted: get, list, watch
    finally:
        sa_client.close()  # type: ignore[no-untyped-call]

    # Everything above ran under them: the operator never met a 403, nor did kopf.
    assert {r.method for r in world.connection.requests(since, ns)} >= {"GET", "POST", "PATCH"}
    requests = world.connection.requests()
    # (A 403 for a write into a namespace being deleted, by a pass that began before its
    # cluster was deleted, is not about RBAC.)
    denied_requests = [
        r for r in requests if r.status in (401, 403) and "being terminated" not in r.detail
    ]
    assert denied_requests == []
    denied = [
        m
        for m in world.logs.messages()
        if ("403" in m or "orbidden" in m) and "being terminated" not in m
    ]
    assert denied == []
    assert world.operator.alive


# --------------------------------------------------------------------------------------------
# deletion (last: the garbage collector needs ~30 s to discover the new CRD)


def test_deleting_the_cluster_garbage_collects_its_children(
    world: World, ns: str, kubelet: Kubelet
) -> None:
    obj = running_cluster(world, ns, make_spec())
    uid = obj["metadata"]["uid"]
    assert world.apps.list_namespaced_replica_set(ns).items
    assert world.core.list_namespaced_pod(ns).items

    settle(world, ns)
    since = world.connection.count()
    world.custom.delete_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, NAME, body={"propagationPolicy": "Foreground"}
    )
    # Foreground: the cluster stays, with a deletionTimestamp, until its children are gone.
    deleting = get_cluster(world, ns)
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["uid"] == uid
    assert "foregroundDeletion" in deleting["metadata"]["finalizers"]

    def gone() -> bool:
        try:
            get_cluster(world, ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    def children_gone() -> bool:
        left = [child for kind, child in children() if exists(world, ns, kind, child)]
        return (
            not left
            and not world.apps.list_namespaced_replica_set(ns).items
            and not world.core.list_namespaced_pod(ns).items
        )

    wait_until(gone, "the FrontierCluster to be deleted", timeout=90)
    wait_until(children_gone, "the garbage collector to delete every child", timeout=90)
    holds(children_gone, "no child is re-created", duration=2 * CONFIG.resync_interval)
    # Nothing re-created or patched back. Passes run one at a time and each begins with a
    # GET of the cluster; the one under way at the delete (a child's event started it)
    # may still act on what it read before, so only passes from the second GET on count:
    # those saw the deletionTimestamp and may write the status alone.
    requests = world.connection.requests(since, ns)
    starts = pass_starts(requests, ns)
    assert len(starts) >= 2, "passes after the delete"
    writes = [w for w in written(requests[starts[1] :]) if "/status " not in w]
    assert writes == []


def test_uninstall_guard_refuses_while_clusters_exist(
    world: World, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m frontier_operator.uninstall`` (the chart's pre-delete hook) against the
    real API server: 1 naming the cluster while one exists, 0 once it is gone, 2 when it
    cannot ask."""
    from frontier_operator import uninstall

    config = f"--kubeconfig={world.plane.kubeconfig}"
    create_cluster(world, ns, make_spec())
    assert uninstall.main(["-n", ns, config]) == 1
    assert f"{ns}/{NAME}" in capsys.readouterr().err
    assert uninstall.main([config]) == 1  # cluster-wide too
    world.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, NAME)
    wait_until(
        lambda: not world.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"],
        "the cluster to be gone (the operator releases its finalizer)",
        timeout=60,
    )
    assert uninstall.main(["-n", ns, config]) == 0
    missing = world.plane.workdir / "missing.kubeconfig"
    assert uninstall.main(["-n", ns, f"--kubeconfig={missing}"]) == 2
