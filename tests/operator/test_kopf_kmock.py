"""Tier 2: the real kopf operator against an in-memory Kubernetes API (kmock 0.8).

Each test starts the emulator (``support.kmock_server``: kmock plus the write semantics of a
real API server) and the operator (``kopf.operator`` with this project's registry and
settings) in threads of their own, then acts as the user (kubectl), the Deployment controller
(marking rollouts ready) and a fault injector, and waits on observable state with timeouts.
What a real API server adds on top (schema validation, defaulting, pruning, the garbage
collector's real timing, Deployments rolling out pods) is tier 3's job.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from support.operator_harness import OperatorThread, holds, settles

pytest.importorskip("kmock", reason="kmock is not installed (pip install kmock==0.8)")
pytest.importorskip("kopf", reason="kopf is not installed (the operator extra)")

import kubernetes.client

from frontier_operator.builders import (
    CONFIG_CHECKSUM_ANNOTATION,
    SECRETS_CHECKSUM_ANNOTATION,
    Images,
    SecretDigests,
    build_children,
)
from frontier_operator.cli import main as cli_main
from frontier_operator.config import digest_secrets
from frontier_operator.handlers import status_events
from frontier_operator.kube import KubeConnection, desired_fields, drift
from frontier_operator.settings import (
    DEFAULT_FRONTIER_IMAGE,
    FINALIZER,
    OperatorConfig,
)
from frontier_operator.spec import parse_spec
from support.kmock_server import (
    CONFIGMAPS,
    DEPLOYMENTS,
    EVENTS,
    FRONTIERCLUSTERS,
    PDBS,
    SECRETS,
    SERVICES,
    ApiStatusError,
    Fault,
    KubeServer,
    ResourceSpec,
)
from support.ports import free_port

JSON = dict[str, Any]
T = TypeVar("T")

NS = "team-a"
NAME = "demo"
REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = OperatorConfig(
    images=Images(frontier="registry.test/frontier:1", frontlas="registry.test/frontlas:1"),
    retry_delay=0.3,
    frontlas_poll=0.3,
    resync_interval=60.0,  # long: drift must be seen through the watches, not the timer
    request_timeout=5.0,
)
CHILDREN = (
    (CONFIGMAPS, f"{NAME}-frontier-config"),
    (CONFIGMAPS, f"{NAME}-frontlas-config"),
    (SERVICES, f"{NAME}-servicebound-svc"),
    (SERVICES, f"{NAME}-edgebound-svc"),
    (SERVICES, f"{NAME}-frontlas-svc"),
    (PDBS, f"{NAME}-frontier"),
    (PDBS, f"{NAME}-frontlas"),
    (DEPLOYMENTS, f"{NAME}-frontlas"),
    (DEPLOYMENTS, f"{NAME}-frontier"),
)

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(60)]


# --------------------------------------------------------------------------------------------
# waiting


def wait_for(fn: Callable[[], T | None], what: str, timeout: float = 8.0) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# the operator in a thread


def start_operator_thread(server: KubeServer, config: OperatorConfig) -> OperatorThread:
    connection = KubeConnection(
        kubernetes.client.Configuration(host=server.url), request_timeout=config.request_timeout
    )
    operator = OperatorThread(connection, config, exit_timeout=0.2, stop_grace=1.0)
    operator.start(timeout=10.0)
    return operator


@pytest.fixture
def kube() -> Iterator[KubeServer]:
    with KubeServer() as server:
        yield server


@pytest.fixture
def start_operator(kube: KubeServer) -> Iterator[Callable[[OperatorConfig], OperatorThread]]:
    started: list[OperatorThread] = []

    def start(config: OperatorConfig = TEST_CONFIG) -> OperatorThread:
        op = start_operator_thread(kube, config)
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


@pytest.fixture
def operator(start_operator: Callable[[OperatorConfig], OperatorThread]) -> OperatorThread:
    return start_operator(TEST_CONFIG)


# --------------------------------------------------------------------------------------------
# acting as the user and as the Deployment controller


def spec(**frontier: Any) -> JSON:
    return {
        "frontier": frontier,
        "frontlas": {"redis": {"addrs": ["redis.team-a.svc:6379"], "redisType": "standalone"}},
    }


def create_cluster(kube: KubeServer, body_spec: JSON, name: str = NAME) -> JSON:
    return kube.create(
        FRONTIERCLUSTERS,
        NS,
        {
            "apiVersion": "frontier.singchia.io/v1alpha1",
            "kind": "FrontierCluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": body_spec,
        },
    )


def replace_spec(kube: KubeServer, new_spec: JSON, name: str = NAME) -> JSON:
    """``kubectl apply`` of a new spec: replaces it whole (a merge patch could not remove
    a field that the new spec no longer has)."""
    return kube.patch(
        FRONTIERCLUSTERS, NS, name, [{"op": "replace", "path": "/spec", "value": new_spec}]
    )


def operator_reads(kube: KubeServer, name: str = NAME) -> list[int]:
    """Statuses of the operator's own GETs of the FrontierCluster (kopf watches; only the
    reconciler GETs it, once per pass)."""
    path = FRONTIERCLUSTERS.path(NS, name)
    return [r.status for r in kube.requests("GET", path, agent="frontier-operator")]


def cluster(kube: KubeServer, name: str = NAME) -> JSON:
    obj = kube.get(FRONTIERCLUSTERS, NS, name)
    assert obj is not None, f"FrontierCluster {name} is gone"
    return obj


def condition(obj: JSON | None, ctype: str) -> JSON:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or ():
        if cond["type"] == ctype:
            return dict(cond)
    return {}


def mark_rolled_out(kube: KubeServer, name: str, ready: int | None = None) -> JSON:
    """Do what the Deployment controller and kubelets would: every desired pod updated and
    ready, for the Deployment's current generation."""
    dep = wait_for(lambda: kube.get(DEPLOYMENTS, NS, name), f"Deployment {name}")
    replicas = dep["spec"]["replicas"]
    count = replicas if ready is None else ready
    status = {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": count,
        "availableReplicas": count,
    }
    return kube.patch(DEPLOYMENTS, NS, name, {"status": status}, subresource="status")


def running_cluster(kube: KubeServer, body_spec: JSON | None = None) -> JSON:
    """Create a cluster and roll both components out; returns the Running FrontierCluster."""
    create_cluster(kube, body_spec or spec())
    mark_rolled_out(kube, f"{NAME}-frontlas")
    mark_rolled_out(kube, f"{NAME}-frontier")
    return wait_for(
        lambda: (
            (c := kube.get(FRONTIERCLUSTERS, NS, NAME))
            and c.get("status", {}).get("phase") == "Running"
            and c
        ),
        "phase Running",
    )


def events(kube: KubeServer, name: str = NAME) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["reason"], e["message"])
        for e in kube.list(EVENTS, NS)
        if e["involvedObject"]["name"] == name
    ]


def wait_for_event(
    kube: KubeServer, etype: str, reason: str, containing: str = ""
) -> list[tuple[str, str, str]]:
    """Wait until an Event of this type and reason (and message part) was posted; return all.

    kopf posts Events from its own queue, after the handler returned, so an Event may land
    after the status write a test waited for: tests wait on Events, never assert them
    straight after a status change.
    """

    def posted() -> list[tuple[str, str, str]] | None:
        now = events(kube)
        found = any((t, r) == (etype, reason) and containing in m for t, r, m in now)
        return now if found else None

    return wait_for(
        posted, f"a {etype} {reason} Event" + (f" naming {containing!r}" if containing else "")
    )


def expected_children(kube: KubeServer, body_spec: JSON, config: OperatorConfig) -> list[JSON]:
    """What the operator should have applied: the builders' output for this spec (tier 1
    tests the builders field by field; here the point is that exactly that reaches the API)."""
    parsed = parse_spec(body_spec, name=NAME)
    frontier_secrets, frontlas_secrets = parsed.referenced_secrets()

    def digest(names: tuple[str, ...]) -> str | None:
        if not names:
            return None
        return digest_secrets([s for n in names if (s := kube.get(SECRETS, NS, n)) is not None])

    return build_children(
        parsed,
        NAME,
        NS,
        config.images,
        SecretDigests(frontier=digest(frontier_secrets), frontlas=digest(frontlas_secrets)),
    )


def resource_of(obj: JSON) -> ResourceSpec:
    return {
        "ConfigMap": CONFIGMAPS,
        "Service": SERVICES,
        "Deployment": DEPLOYMENTS,
        "PodDisruptionBudget": PDBS,
    }[obj["kind"]]


def matches_built(kube: KubeServer, built: JSON) -> bool:
    actual = kube.get(resource_of(built), NS, built["metadata"]["name"])
    if actual is None:
        return False
    body = {k: v for k, v in built.items() if k not in ("apiVersion", "kind", "metadata")}
    return all(actual.get(k) == v for k, v in body.items()) and all(
        actual["metadata"].get(k) == built["metadata"].get(k) for k in ("labels", "annotations")
    )


def tls_secret(name: str, cert: str = "Y2VydA==") -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": cert, "tls.key": "a2V5"},
    }


# --------------------------------------------------------------------------------------------
# the emulator keeps the API server's contract (what the operator and kopf rely on)


def test_emulator_versions_generations_and_status_subresource(kube: KubeServer) -> None:
    created = create_cluster(kube, spec())
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert meta["generation"] == 1
    rv = meta["resourceVersion"]

    same = kube.patch(FRONTIERCLUSTERS, NS, NAME, {"spec": spec()})
    assert same["metadata"]["resourceVersion"] == rv, "a no-op patch must not write"

    annotated = kube.patch(FRONTIERCLUSTERS, NS, NAME, {"metadata": {"annotations": {"a": "b"}}})
    assert annotated["metadata"]["generation"] == 1, "metadata changes keep the generation"
    assert int(annotated["metadata"]["resourceVersion"]) > int(rv)

    ignored = kube.patch(
        FRONTIERCLUSTERS, NS, NAME, {"status": {"phase": "X"}, "spec": spec(replicas=2)}
    )
    assert "status" not in ignored, "the main resource must not write status"
    assert ignored["metadata"]["generation"] == 2

    status = kube.patch(
        FRONTIERCLUSTERS, NS, NAME, {"status": {"phase": "Y"}, "spec": {}}, subresource="status"
    )
    assert status["status"] == {"phase": "Y"}
    assert status["spec"] == spec(replicas=2), "the status subresource must not write spec"
    assert status["metadata"]["generation"] == 2

    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv}]
    with pytest.raises(ApiStatusError) as err:
        kube.patch(FRONTIERCLUSTERS, NS, NAME, [*stale, {"op": "add", "path": "/x", "value": 1}])
    assert err.value.status == 422
    with pytest.raises(ApiStatusError) as err:
        create_cluster(kube, spec())
    assert err.value.status == 409


def test_emulator_finalizers_generate_name_and_garbage_collection(kube: KubeServer) -> None:
    owner = create_cluster(kube, spec())
    kube.patch(FRONTIERCLUSTERS, NS, NAME, {"metadata": {"finalizers": ["x/y"]}})
    child = kube.create(
        CONFIGMAPS,
        NS,
        {
            "metadata": {
                "generateName": "child-",
                "ownerReferences": [{"uid": owner["metadata"]["uid"], "name": NAME}],
            }
        },
    )
    assert child["metadata"]["name"].startswith("child-")
    assert len(child["metadata"]["name"]) > len("child-")

    kube.delete(FRONTIERCLUSTERS, NS, NAME)
    blocked = cluster(kube)
    assert blocked["metadata"]["deletionTimestamp"], "finalizers hold the object"
    assert kube.get(CONFIGMAPS, NS, child["metadata"]["name"]) is not None

    kube.patch(FRONTIERCLUSTERS, NS, NAME, {"metadata": {"finalizers": None}})
    assert kube.get(FRONTIERCLUSTERS, NS, NAME) is None
    assert kube.get(CONFIGMAPS, NS, child["metadata"]["name"]) is None, "dependents collected"


def test_emulator_watch_resumes_from_a_resource_version(kube: KubeServer) -> None:
    first = create_cluster(kube, spec())
    kube.patch(FRONTIERCLUSTERS, NS, NAME, {"metadata": {"labels": {"a": "1"}}})
    path = (
        FRONTIERCLUSTERS.path(NS)
        + f"?watch=true&resourceVersion={first['metadata']['resourceVersion']}"
    )
    with urllib.request.urlopen(kube.url + path, timeout=5) as resp:
        line = json.loads(resp.readline())
    assert line["type"] == "MODIFIED", "events at or before the given version are not replayed"
    assert line["object"]["metadata"]["labels"] == {"a": "1"}


# --------------------------------------------------------------------------------------------
# create


def test_create_builds_children_frontlas_first_and_reports_status(
    kube: KubeServer, operator: OperatorThread
) -> None:
    created = create_cluster(kube, spec(replicas=2))
    uid = created["metadata"]["uid"]

    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "the frontlas Deployment")
    waiting = wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Progressing").get("reason")
            == "WaitingForFrontlas"
            and cluster(kube)
        ),
        "Progressing=WaitingForFrontlas",
    )
    assert kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier") is None, "frontier waits for frontlas"
    assert waiting["status"]["phase"] == "Pending"
    assert waiting["status"]["observedGeneration"] == 1

    mark_rolled_out(kube, f"{NAME}-frontlas")
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier"), "the frontier Deployment")
    mark_rolled_out(kube, f"{NAME}-frontier", ready=1)
    partly = wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Available").get("reason")
            == "MinimumReplicasAvailable"
            and cluster(kube)
        ),
        "Available=MinimumReplicasAvailable with 1 of 2 frontier pods ready",
    )
    assert partly["status"]["frontierReadyReplicas"] == 1
    mark_rolled_out(kube, f"{NAME}-frontier")
    done = wait_for(
        lambda: (c := cluster(kube))["status"].get("phase") == "Running" and c, "phase Running"
    )

    status = done["status"]
    assert status["frontierReadyReplicas"] == 2
    assert status["frontlasReadyReplicas"] == 1
    assert status["message"] == "frontlas 1/1 ready, frontier 2/2 ready"
    assert condition(done, "Available")["reason"] == "AllComponentsReady"
    assert condition(done, "Progressing") | {"lastTransitionTime": None} == {
        "type": "Progressing",
        "status": "False",
        "reason": "ReconcileSucceeded",
        "message": status["message"],
        "observedGeneration": 1,
        "lastTransitionTime": None,
    }
    assert condition(done, "Degraded")["status"] == "False"

    for built in expected_children(kube, spec(replicas=2), TEST_CONFIG):
        assert matches_built(kube, built), f"{built['kind']} {built['metadata']['name']}"
    for res, child_name in CHILDREN:
        child = kube.get(res, NS, child_name)
        assert child is not None, child_name
        refs = child["metadata"]["ownerReferences"]
        assert refs == [
            {
                "apiVersion": "frontier.singchia.io/v1alpha1",
                "kind": "FrontierCluster",
                "name": NAME,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], child_name

    for reason in ("WaitingForFrontlas", "MinimumReplicasAvailable", "ReconcileSucceeded"):
        wait_for_event(kube, "Normal", reason)
    posted = wait_for_event(kube, "Normal", "Created", "Deployment demo-frontier")
    assert not [e for e in posted if e[0] == "Warning"], posted

    # kopf's own state lives under the operator's prefix; nothing under kopf.zalando.org and
    # nothing in status (a real API server prunes undeclared status fields).
    meta = wait_for(
        lambda: (
            (m := cluster(kube)["metadata"])
            and "frontier.singchia.io/last-handled-configuration" in m.get("annotations", {})
            and "frontier.singchia.io/reconcile" not in m["annotations"]
            and m
        ),
        "kopf's create handler to finish",
    )
    assert meta["finalizers"] == [FINALIZER]
    assert not [k for k in meta["annotations"] if k.startswith("kopf.zalando.org")]
    assert set(status) == {
        "phase",
        "message",
        "observedGeneration",
        "frontierReadyReplicas",
        "frontlasReadyReplicas",
        "conditions",
    }


def test_images_default_from_the_operator_and_are_overridable_per_cluster(
    kube: KubeServer, operator: OperatorThread
) -> None:
    body = spec(image="mirror.local/frontier:pinned")
    create_cluster(kube, body)
    frontlas = wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas")
    assert frontlas["spec"]["template"]["spec"]["containers"][0]["image"] == (
        TEST_CONFIG.images.frontlas
    )
    mark_rolled_out(kube, f"{NAME}-frontlas")
    frontier = wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier"), "frontier")
    assert frontier["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.local/frontier:pinned"
    )


# --------------------------------------------------------------------------------------------
# update


def test_spec_update_replicas_image_ports_and_tls(
    kube: KubeServer, operator: OperatorThread
) -> None:
    running = running_cluster(kube)
    frontlas_before = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas")
    frontier_before = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier")
    assert frontlas_before is not None
    assert frontier_before is not None
    kube.create(SECRETS, NS, tls_secret("edge-tls"))

    new_spec = spec(
        replicas=3,
        image="mirror.local/frontier:2",
        servicebound={"port": 31011},
        edgebound={
            "port": 31012,
            "tls": {"enabled": True, "certificateKeySecretRef": {"name": "edge-tls"}},
        },
    )
    replace_spec(kube, new_spec)

    for built in expected_children(kube, new_spec, TEST_CONFIG):
        wait_for(
            functools.partial(matches_built, kube, built),
            f"{built['kind']} {built['metadata']['name']} updated",
        )

    frontier = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier")
    assert frontier is not None
    template = frontier["spec"]["template"]
    assert frontier["spec"]["replicas"] == 3
    assert template["spec"]["containers"][0]["image"] == "mirror.local/frontier:2"
    assert {p["containerPort"] for p in template["spec"]["containers"][0]["ports"]} >= {
        31011,
        31012,
    }
    before = frontier_before["spec"]["template"]["metadata"]["annotations"]
    after = template["metadata"]["annotations"]
    assert after[CONFIG_CHECKSUM_ANNOTATION] != before[CONFIG_CHECKSUM_ANNOTATION]
    assert SECRETS_CHECKSUM_ANNOTATION in after
    assert "edge-tls" in json.dumps(template["spec"]["volumes"])
    config_text = wait_for(lambda: kube.get(CONFIGMAPS, NS, f"{NAME}-frontier-config"), "cm")
    assert "/app/conf/edgebound/tls/secret/tls.crt" in config_text["data"]["frontier.yaml"]
    svc = kube.get(SERVICES, NS, f"{NAME}-servicebound-svc")
    assert svc is not None
    assert [p["port"] for p in svc["spec"]["ports"]] == [31011]

    # frontlas did not change, so it was not written (no needless rollout or event).
    frontlas = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas")
    assert frontlas is not None
    assert frontlas["metadata"]["resourceVersion"] == frontlas_before["metadata"]["resourceVersion"]

    mark_rolled_out(kube, f"{NAME}-frontier")
    done = wait_for(
        lambda: (
            (c := cluster(kube))["status"].get("observedGeneration") == 2
            and c["status"]["phase"] == "Running"
            and c
        ),
        "status for generation 2, Running",
    )
    assert done["metadata"]["generation"] == running["metadata"]["generation"] + 1
    assert done["status"]["frontierReadyReplicas"] == 3
    wait_for_event(kube, "Normal", "Updated", "Deployment demo-frontier")


def test_rotating_a_secret_rolls_only_the_pods_that_read_it(
    kube: KubeServer, operator: OperatorThread
) -> None:
    kube.create(SECRETS, NS, tls_secret("edge-tls"))
    kube.create(
        SECRETS,
        NS,
        {"metadata": {"name": "redis-pw", "namespace": NS}, "data": {"password": "cHc="}},
    )
    body = spec(
        edgebound={"tls": {"enabled": True, "certificateKeySecretRef": {"name": "edge-tls"}}}
    )
    body["frontlas"]["redis"]["passwordSecret"] = {"name": "redis-pw", "key": "password"}
    running_cluster(kube, body)

    def checksum(name: str) -> str:
        dep = kube.get(DEPLOYMENTS, NS, name)
        assert dep is not None
        return str(dep["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION])

    frontier_before, frontlas_before = checksum(f"{NAME}-frontier"), checksum(f"{NAME}-frontlas")
    kube.patch(SECRETS, NS, "edge-tls", {"data": {"tls.crt": "bmV3LWNlcnQ="}})
    wait_for(lambda: checksum(f"{NAME}-frontier") != frontier_before, "frontier rolled")
    assert checksum(f"{NAME}-frontlas") == frontlas_before

    kube.patch(SECRETS, NS, "redis-pw", {"data": {"password": "bmV3"}})
    wait_for(lambda: checksum(f"{NAME}-frontlas") != frontlas_before, "frontlas rolled")
    wait_for(
        lambda: (
            {m for _, r, m in events(kube) if r == "SecretRotated"}
            >= {
                "rolling Deployment demo-frontier: a Secret its pods read changed",
                "rolling Deployment demo-frontlas: a Secret its pods read changed",
            }
        ),
        "SecretRotated events",
    )
    assert not [e for e in events(kube) if e[1] == "DriftCorrected"]


def test_missing_secret_degrades_until_it_exists(
    kube: KubeServer, operator: OperatorThread
) -> None:
    create_cluster(
        kube,
        spec(edgebound={"tls": {"enabled": True, "certificateKeySecretRef": {"name": "later"}}}),
    )
    degraded = wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Degraded").get("status") == "True"
            and cluster(kube)
        ),
        "Degraded",
    )
    assert condition(degraded, "Degraded")["reason"] == "ReconcileFailed"
    assert "Secret team-a/later" in condition(degraded, "Degraded")["message"]
    assert kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas") is None, "nothing rolled half-configured"

    kube.create(SECRETS, NS, tls_secret("later"))
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas after the Secret")
    wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Degraded").get("status") == "False"
        ),
        "Degraded cleared",
    )
    wait_for_event(kube, "Normal", "Recovered")


def test_servicebound_token_key_is_checked_and_its_rotation_rolls_frontier(
    kube: KubeServer, operator: OperatorThread
) -> None:
    """A token Secret without the key, or with an empty one, is a Degraded condition naming
    it (no pods that could not start, or would start without the token); once right, the
    token reaches frontier by env only, and changing it rolls frontier."""
    kube.create(
        SECRETS, NS, {"metadata": {"name": "svc-token", "namespace": NS}, "data": {"tokn": "eA=="}}
    )
    create_cluster(kube, spec(servicebound={"tokenSecretRef": {"name": "svc-token"}}))

    def degraded_with(fragment: str) -> JSON | None:
        obj = kube.get(FRONTIERCLUSTERS, NS, NAME)
        cond = condition(obj, "Degraded")
        return obj if cond.get("status") == "True" and fragment in cond["message"] else None

    no_key = wait_for(lambda: degraded_with("has no key 'token'"), "Degraded: no key")
    assert condition(no_key, "Degraded")["reason"] == "ReconcileFailed"
    assert (
        "Secret team-a/svc-token (spec.frontier.servicebound.tokenSecretRef)"
        in (condition(no_key, "Degraded")["message"])
    )
    assert kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas") is None, "nothing rolled half-configured"

    kube.patch(SECRETS, NS, "svc-token", {"data": {"token": ""}})
    wait_for(lambda: degraded_with("key 'token' is empty"), "Degraded: empty token")

    kube.patch(SECRETS, NS, "svc-token", {"data": {"token": "b25l"}})
    mark_rolled_out(kube, f"{NAME}-frontlas")
    mark_rolled_out(kube, f"{NAME}-frontier")
    wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Degraded").get("status") == "False"
        ),
        "Degraded cleared",
    )
    frontier = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier")
    assert frontier is not None
    (container,) = frontier["spec"]["template"]["spec"]["containers"]
    assert {"name": "FRONTIER_SERVICEBOUND_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "svc-token", "key": "token"}
    }} in container["env"]  # fmt: skip
    config_map = kube.get(CONFIGMAPS, NS, f"{NAME}-frontier-config")
    assert config_map is not None
    assert "token" not in config_map["data"]["frontier.yaml"]

    def checksum() -> str:
        dep = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier")
        assert dep is not None
        return str(dep["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION])

    before = checksum()
    kube.patch(SECRETS, NS, "svc-token", {"data": {"token": "dHdv"}})
    wait_for(lambda: checksum() != before, "frontier rolled on the new token")


def test_renamed_service_is_created_and_the_old_one_removed(
    kube: KubeServer, operator: OperatorThread
) -> None:
    running_cluster(kube)
    replace_spec(kube, spec(servicebound={"service": "gateway"}))
    wait_for(lambda: kube.get(SERVICES, NS, "gateway"), "the renamed Service")
    wait_for(lambda: kube.get(SERVICES, NS, f"{NAME}-servicebound-svc") is None, "old one gone")
    assert kube.get(SERVICES, NS, f"{NAME}-edgebound-svc") is not None


def test_deployment_with_a_foreign_selector_is_replaced(
    kube: KubeServer, operator: OperatorThread
) -> None:
    """Upstream's operator selected pods with ``app: <name>-frontlas``; a selector cannot be
    patched, so such a Deployment is deleted and created with the operator's selector."""
    legacy = {"app": f"{NAME}-frontlas"}
    kube.create(
        DEPLOYMENTS,
        NS,
        {
            "metadata": {"name": f"{NAME}-frontlas", "namespace": NS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": legacy},
                "template": {"metadata": {"labels": legacy}, "spec": {"containers": []}},
            },
        },
    )
    create_cluster(kube, spec())
    replaced = wait_for(
        lambda: (
            (d := kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"))
            and d["spec"]["selector"]["matchLabels"] != legacy
            and d
        ),
        "the frontlas Deployment re-created",
    )
    assert replaced["metadata"]["ownerReferences"][0]["name"] == NAME
    assert replaced["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] == NAME
    wait_for(
        lambda: ("Warning", "Replaced") in {(t, r) for t, r, _ in events(kube)},
        "a Replaced event",
    )


# --------------------------------------------------------------------------------------------
# drift


def test_children_deleted_or_edited_by_hand_are_restored(
    kube: KubeServer, operator: OperatorThread
) -> None:
    running_cluster(kube)
    built = {b["metadata"]["name"]: b for b in expected_children(kube, spec(), TEST_CONFIG)}

    dep_name = f"{NAME}-frontier"
    dep = kube.get(DEPLOYMENTS, NS, dep_name)
    assert dep is not None
    containers = copy.deepcopy(dep["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "evil/frontier:latest"
    containers[0]["env"].append({"name": "INJECTED", "value": "1"})
    kube.patch(
        DEPLOYMENTS,
        NS,
        dep_name,
        {
            "spec": {
                "replicas": 9,
                "template": {
                    # what `kubectl rollout restart` adds: not the operator's, so it stays
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}},
                    "spec": {"containers": containers},
                },
            }
        },
    )
    kube.delete(SERVICES, NS, f"{NAME}-servicebound-svc")
    kube.patch(CONFIGMAPS, NS, f"{NAME}-frontlas-config", {"data": {"frontlas.yaml": "hacked"}})

    for name in (dep_name, f"{NAME}-servicebound-svc", f"{NAME}-frontlas-config"):
        wait_for(
            functools.partial(matches_built_ignoring_extras, kube, built[name]), f"{name} restored"
        )
    restored = kube.get(DEPLOYMENTS, NS, dep_name)
    assert restored is not None
    assert (
        restored["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        == "now"
    )
    svc = kube.get(SERVICES, NS, f"{NAME}-servicebound-svc")
    assert svc is not None
    assert svc["metadata"]["ownerReferences"][0]["name"] == NAME

    def drift_event_names(path: str) -> bool:
        return any(path in m for t, r, m in events(kube) if (t, r) == ("Warning", "DriftCorrected"))

    for path in (f"{dep_name}.spec.replicas", f"{NAME}-frontlas-config.data.frontlas.yaml"):
        wait_for(functools.partial(drift_event_names, path), f"a DriftCorrected event on {path}")
    posted = events(kube)
    creations = [m for _, r, m in posted if r == "Created" and "Service demo-servicebound-svc" in m]
    assert len(creations) == 2, "created, then re-created after the deletion"


def matches_built_ignoring_extras(kube: KubeServer, built: JSON) -> bool:
    actual = kube.get(resource_of(built), NS, built["metadata"]["name"])
    return actual is not None and not drift(
        {k: v for k, v in desired_fields(built).items() if k != "metadata"}, actual
    )


def test_what_the_api_server_normalises_is_not_drift(
    kube: KubeServer, operator: OperatorThread
) -> None:
    """A real API server drops empty optional fields and rewrites quantities (``0.5`` ->
    ``500m``). Seen through the child watch, that must not count as drift, or every pass
    would patch the Deployment and post a DriftCorrected warning (found against a real
    kube-apiserver; the emulator does not normalise, so the test does it by hand)."""
    body = spec(pod={"resources": {"requests": {"cpu": "0.5"}}, "tolerations": []})
    running_cluster(kube, body)
    name = f"{NAME}-frontier"
    dep = kube.get(DEPLOYMENTS, NS, name)
    assert dep is not None
    pod = dep["spec"]["template"]["spec"]
    assert pod["tolerations"] == []
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "0.5"}}
    containers = copy.deepcopy(pod["containers"])
    containers[0]["resources"] = {"requests": {"cpu": "500m"}}
    reads = len(operator_reads(kube))  # before the patch: its reconcile may come at once
    normalised = kube.patch(
        DEPLOYMENTS,
        NS,
        name,
        {"spec": {"template": {"spec": {"tolerations": None, "containers": containers}}}},
    )
    version = normalised["metadata"]["resourceVersion"]
    # The operator reacts to the change (a reconcile reads the cluster after it) ...
    wait_for(lambda: len(operator_reads(kube)) > reads, "a reconcile after the change")
    settles(lambda: len(operator_reads(kube)), "reconciles")
    # ... and leaves the normalised Deployment alone.
    after = kube.get(DEPLOYMENTS, NS, name)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == version
    assert not [e for e in events(kube) if e[1] == "DriftCorrected"]


def test_resync_restores_drift_no_watch_reports(
    kube: KubeServer, start_operator: Callable[[OperatorConfig], OperatorThread]
) -> None:
    """A child stripped of its owner reference is invisible to the child watches (they find
    the cluster through it); the periodic resync still puts it back."""
    op = start_operator(
        OperatorConfig(
            images=TEST_CONFIG.images, retry_delay=0.3, frontlas_poll=0.3, resync_interval=0.5
        )
    )
    running_cluster(kube)
    name = f"{NAME}-frontier-config"
    kube.patch(
        CONFIGMAPS,
        NS,
        name,
        {"metadata": {"ownerReferences": None}, "data": {"frontier.yaml": "hacked"}},
    )
    restored = wait_for(
        lambda: (
            (cm := kube.get(CONFIGMAPS, NS, name))
            and cm["data"]["frontier.yaml"] != "hacked"
            and cm
        ),
        "the ConfigMap restored by the resync",
    )
    assert restored["metadata"]["ownerReferences"][0]["name"] == NAME
    assert op.config.resync_interval == 0.5


# --------------------------------------------------------------------------------------------
# delete


def test_delete_releases_the_finalizer_and_children_are_not_recreated(
    kube: KubeServer, operator: OperatorThread
) -> None:
    running_cluster(kube)
    kube.delete(FRONTIERCLUSTERS, NS, NAME)
    wait_for(lambda: kube.get(FRONTIERCLUSTERS, NS, NAME) is None, "the finalizer released")
    # The emulator's garbage collector removed the children; their DELETED events reach the
    # operator, which must look the cluster up, find it gone, and leave them gone.
    # (A reconcile already under way when the cluster went may still write a child; the
    # collector removes such an orphan, as kube-controller-manager does.)
    for res, child_name in CHILDREN:
        assert kube.get(res, NS, child_name) is None, child_name
    wait_for(lambda: 404 in operator_reads(kube), "the operator to look up the deleted cluster")
    # (keyed by resource too: a PodDisruptionBudget is named like its Deployment)
    versions = {(res, n): len(kube.history(res, NS, n)) for res, n in CHILDREN}
    holds(
        lambda: all(
            kube.get(res, NS, n) is None and len(kube.history(res, NS, n)) == versions[res, n]
            for res, n in CHILDREN
        ),
        "no child is written again",
    )


# --------------------------------------------------------------------------------------------
# API failures


def test_injected_500_degrades_then_recovers(kube: KubeServer, operator: OperatorThread) -> None:
    fault = kube.inject(Fault("POST", "deployments", 500, name=None, times=1))
    create_cluster(kube, spec())
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas after the retry")
    assert fault.fired == 1
    history = kube.history(FRONTIERCLUSTERS, NS, NAME)
    degraded = [condition(v, "Degraded") for v in history if v is not None]
    assert any(
        c.get("status") == "True" and c.get("reason") == "ReconcileFailed" and "500" in c["message"]
        for c in degraded
    ), degraded
    wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Degraded").get("status") == "False"
        ),
        "Degraded cleared",
    )
    wait_for_event(kube, "Warning", "ReconcileFailed")
    wait_for_event(kube, "Normal", "Recovered")


def test_injected_409_on_create_is_absorbed(kube: KubeServer, operator: OperatorThread) -> None:
    fault = kube.inject(Fault("POST", "configmaps", 409, reason="AlreadyExists"))
    create_cluster(kube, spec())
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas")
    assert fault.fired == 1
    assert kube.get(CONFIGMAPS, NS, f"{NAME}-frontier-config") is not None
    history = [v for v in kube.history(FRONTIERCLUSTERS, NS, NAME) if v is not None]
    assert all(condition(v, "Degraded").get("status") != "True" for v in history)


def test_injected_409_on_the_status_write_is_retried(
    kube: KubeServer, operator: OperatorThread
) -> None:
    fault = kube.inject(Fault("PATCH", "frontierclusters", 409, subresource="status", times=2))
    create_cluster(kube, spec())
    wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Progressing").get("reason")
            == "WaitingForFrontlas"
        ),
        "the status written after the conflicts",
    )
    assert fault.fired == 2


def test_api_422_is_reported_as_invalid_spec_without_a_retry_loop(
    kube: KubeServer, operator: OperatorThread
) -> None:
    fault = kube.inject(
        Fault(
            "POST",
            "deployments",
            422,
            name=None,
            times=1000,
            reason="Invalid",
            message='Deployment.apps "demo-frontlas" is invalid: spec.template...: Invalid value',
        )
    )
    create_cluster(kube, spec())
    failed = wait_for(
        lambda: (
            (c := kube.get(FRONTIERCLUSTERS, NS, NAME))
            and c.get("status", {}).get("phase") == "Failed"
            and c
        ),
        "phase Failed",
    )
    degraded = condition(failed, "Degraded")
    assert degraded["reason"] == "InvalidSpec"
    assert "rejected by the API server" in degraded["message"]
    assert "Invalid value" in degraded["message"]
    assert condition(failed, "Progressing")["reason"] == "InvalidSpec"
    # kopf took the handler's PermanentError as final: no progress record left to retry, the
    # spec recorded as handled.
    handled = wait_for(
        lambda: (
            (a := cluster(kube)["metadata"].get("annotations", {}))
            and "frontier.singchia.io/reconcile" not in a
            and a.get("frontier.singchia.io/last-handled-configuration")
        ),
        "kopf recording the change as handled",
    )
    assert json.loads(handled)["spec"] == spec()
    # The failing pass created the ConfigMaps and Services; their watch events may cause
    # more (equally failing, silent) passes, at most one each. Then nothing: no retry loop.
    attempts = settles(lambda: fault.fired, "create attempts")
    created = sum(1 for resource, _ in CHILDREN if resource != DEPLOYMENTS)
    assert attempts <= 1 + created, attempts
    holds(lambda: fault.fired == attempts, "no further create attempts")
    wait_for_event(kube, "Warning", "InvalidSpec")  # posted from kopf's queue
    warnings = [e for e in events(kube) if e[:2] == ("Warning", "InvalidSpec")]
    assert len(warnings) == 1, warnings

    # Fixing the spec (here: any change; the API stops rejecting) reconciles again.
    fault.times = fault.fired
    replace_spec(kube, spec(replicas=2))
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas after the fix")


# --------------------------------------------------------------------------------------------
# invalid spec


def test_invalid_spec_is_degraded_once_without_retries_until_fixed(
    kube: KubeServer, operator: OperatorThread
) -> None:
    bad = spec(edgebound={"tls": {"mtls": True}})
    bad["frontlas"]["redis"]["redisType"] = "sentinel"
    create_cluster(kube, bad)
    failed = wait_for(
        lambda: (
            (c := kube.get(FRONTIERCLUSTERS, NS, NAME))
            and c.get("status", {}).get("phase") == "Failed"
            and c
        ),
        "phase Failed",
    )
    message = condition(failed, "Degraded")["message"]
    assert condition(failed, "Degraded")["reason"] == "InvalidSpec"
    assert "spec.frontier.edgebound.tls.mtls: mTLS requires tls.enabled: true" in message
    assert "spec.frontlas.redis.masterName: is required for sentinel Redis" in message
    assert failed["status"]["message"] == message
    assert all(kube.get(res, NS, n) is None for res, n in CHILDREN), "nothing applied"

    reads = settles(lambda: len(operator_reads(kube)), "reconciles")
    holds(lambda: len(operator_reads(kube)) == reads, "no reconcile retries")
    wait_for_event(kube, "Warning", "InvalidSpec")  # posted from kopf's queue
    warnings = [e for e in events(kube) if e[0] == "Warning"]
    assert len(warnings) == 1, warnings
    assert warnings[0][1] == "InvalidSpec"

    replace_spec(kube, spec())
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas after the fix")
    fixed = wait_for(
        lambda: (
            condition(kube.get(FRONTIERCLUSTERS, NS, NAME), "Degraded").get("status") == "False"
            and cluster(kube)
        ),
        "Degraded cleared",
    )
    assert fixed["status"]["observedGeneration"] == 2
    wait_for_event(kube, "Normal", "Recovered")


def test_spec_warnings_are_posted_once_per_generation(
    kube: KubeServer, operator: OperatorThread
) -> None:
    body = spec()
    body["frontlas"]["redis"]["password"] = "plaintext"
    create_cluster(kube, body)
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas")
    mark_rolled_out(kube, f"{NAME}-frontlas")
    wait_for(lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier"), "frontier")
    wait_for_event(kube, "Warning", "SpecWarning")
    holds(lambda: len([e for e in events(kube) if e[1] == "SpecWarning"]) == 1, "one SpecWarning")
    warnings = [e for e in events(kube) if e[1] == "SpecWarning"]
    assert "deprecated" in warnings[0][2]


# --------------------------------------------------------------------------------------------
# the command


def test_cli_runs_the_operator_from_a_kubeconfig(kube: KubeServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": kube.url}}],
                "users": [{"name": "u", "user": {"token": "t0k3n"}}],
                "contexts": [{"name": "c", "context": {"cluster": "kmock", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    port = free_port()
    # As in the images: the UID (65532) has no passwd entry and no USER/LOGNAME is set, so
    # getpass.getuser() raises (kopf's default identity did, and the operator pod crashed).
    no_passwd = tmp_path / "no-passwd"
    no_passwd.mkdir()
    (no_passwd / "sitecustomize.py").write_text(
        "import pwd\n"
        "def _unknown(uid):\n"
        "    raise KeyError(f'getpwuid(): uid not found: {uid}')\n"
        "pwd.getpwuid = _unknown\n"
    )
    env = {
        **{
            k: v for k, v in os.environ.items() if k not in ("USER", "LOGNAME", "LNAME", "USERNAME")
        },
        "FRONTLAS_IMAGE": "from-env/frontlas:7",
        "FRONTIER_OPERATOR_RETRY_DELAY": "0.3",
        "PYTHONPATH": os.pathsep.join(
            [str(no_passwd), str(REPO / "operator"), str(REPO / "dataplane")]
        ),
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "frontier_operator.cli", "-A",
            "--kubeconfig", str(kubeconfig),
            "--liveness", f"http://127.0.0.1:{port}/healthz",
            "--log-level", "WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        create_cluster(kube, spec())
        frontlas = wait_for(
            lambda: kube.get(DEPLOYMENTS, NS, f"{NAME}-frontlas"), "frontlas", timeout=20
        )
        assert frontlas["spec"]["template"]["spec"]["containers"][0]["image"] == (
            "from-env/frontlas:7"
        )

        def live() -> bool:
            url = f"http://127.0.0.1:{port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
            return False

        wait_for(live, "the liveness endpoint")
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode in (0, -15), output.decode(errors="replace")


def test_cli_help_and_bad_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--namespace", "--all-namespaces", "--liveness", "--log-level", "FRONTIER_IMAGE"):
        assert flag in out

    monkeypatch.setenv("FRONTIER_OPERATOR_RESYNC_INTERVAL", "soon")
    with pytest.raises(SystemExit) as exited:
        cli_main([])
    assert exited.value.code == 2
    assert "FRONTIER_OPERATOR_RESYNC_INTERVAL='soon'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# pure pieces of the handlers


def test_operator_config_from_env() -> None:
    config = OperatorConfig.from_env(
        {"FRONTIER_IMAGE": " x/f:1 ", "FRONTIER_OPERATOR_RETRY_DELAY": "2.5"}
    )
    assert config.images.frontier == "x/f:1"
    assert config.images.frontlas.startswith("frontier-py/frontlas:")
    assert config.retry_delay == 2.5
    assert OperatorConfig.from_env({}).images.frontier == DEFAULT_FRONTIER_IMAGE
    with pytest.raises(ValueError, match="must be positive"):
        OperatorConfig.from_env({"FRONTIER_OPERATOR_FRONTLAS_POLL": "0"})


def test_drift_ignores_additions_but_not_changes() -> None:
    desired = {"spec": {"ports": [{"port": 1}], "selector": {"a": "b"}}}
    defaulted = {
        "spec": {"ports": [{"port": 1, "protocol": "TCP"}], "selector": {"a": "b"}, "x": 1}
    }
    assert drift(desired, defaulted) == []
    assert drift(desired, {"spec": {"ports": [], "selector": {"a": "b"}}}) == [".spec.ports"]
    assert drift(desired, {"spec": {"ports": [{"port": 2}], "selector": {}}}) == [
        ".spec.ports[0].port",
        ".spec.selector.a",
    ]
    # omitempty: zero values the API server leaves out are not missing
    zeros = {"a": [], "b": {}, "c": "", "d": 0, "e": False, "f": None}
    assert drift(zeros, {}) == []
    assert drift({"g": 1, "h": True}, {}) == [".g", ".h"]
    # quantities compare by value, and only under resources
    limits = {"c": {"resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}}}}
    same = {"c": {"resources": {"limits": {"cpu": "500m", "memory": "1024Mi"}}}}
    more = {"c": {"resources": {"limits": {"cpu": "600m", "memory": "1Gi"}}}}
    assert drift(limits, same) == []
    assert drift(limits, more) == [".c.resources.limits.cpu"]
    assert drift({"env": {"value": "0.5"}}, {"env": {"value": "500m"}}) == [".env.value"]


def _status(**conditions: tuple[str, str, str]) -> JSON:
    return {
        "conditions": [
            {"type": t, "status": s, "reason": r, "message": m}
            for t, (s, r, m) in conditions.items()
        ]
    }


def test_status_events_announce_changes_once() -> None:
    starting = _status(
        Available=("False", "ComponentsNotReady", "0/1"),
        Progressing=("True", "WaitingForFrontlas", "waiting"),
        Degraded=("False", "AsExpected", "ok"),
    )
    assert status_events(None, starting) == [
        ("Normal", "WaitingForFrontlas", "Progressing: waiting")
    ]
    assert status_events(starting, starting) == []

    failing = _status(
        Available=("False", "ComponentsNotReady", "0/1"),
        Progressing=("True", "WaitingForFrontlas", "waiting"),
        Degraded=("True", "ReconcileFailed", "boom"),
    )
    assert status_events(starting, failing) == [("Warning", "ReconcileFailed", "boom")]
    assert status_events(failing, failing) == []
    other = _status(Degraded=("True", "ReconcileFailed", "bang"))
    assert status_events(failing, other)[-1] == ("Warning", "ReconcileFailed", "bang")
    assert ("Normal", "Recovered", "ok") in status_events(failing, starting)

    up = _status(Available=("True", "AllComponentsReady", "1/1"))
    down = _status(Available=("False", "ComponentsNotReady", "0/1"))
    assert status_events(up, down) == [("Warning", "ComponentsNotReady", "Available: 0/1")]


# --------------------------------------------------------------------------------------------
# the optional frontd section


def test_a_frontd_section_adds_its_children_and_removing_it_prunes_them(
    kube: KubeServer, operator: OperatorThread
) -> None:
    kube.create(
        SECRETS,
        NS,
        {"metadata": {"name": "frontd-secret", "namespace": NS}, "data": {"secret": "czM="}},
    )
    body = spec()
    body["frontd"] = {"secretRef": {"name": "frontd-secret"}, "allow": ["10.0.0.0/8"]}
    create_cluster(kube, body)
    frontd_children = (
        (CONFIGMAPS, f"{NAME}-frontd-config"),
        (SERVICES, f"{NAME}-frontd-svc"),
        (DEPLOYMENTS, f"{NAME}-frontd"),
    )
    for res, child in frontd_children:
        wait_for(lambda res=res, child=child: kube.get(res, NS, child), f"{child}")
    for component in ("frontlas", "frontier", "frontd"):
        mark_rolled_out(kube, f"{NAME}-{component}")
    running = wait_for(
        lambda: (
            (c := kube.get(FRONTIERCLUSTERS, NS, NAME))
            and c.get("status", {}).get("phase") == "Running"
            and c.get("status", {}).get("frontdReadyReplicas") == 1
            and c
        ),
        "Running with frontd ready",
    )
    assert "frontd 1/1 ready" in running["status"]["message"]
    parsed = parse_spec(body, name=NAME)
    secret = kube.get(SECRETS, NS, "frontd-secret")
    assert secret is not None
    built = build_children(
        parsed, NAME, NS, TEST_CONFIG.images, SecretDigests(frontd=digest_secrets([secret]))
    )
    frontd_built = next(c for c in built if c["metadata"]["name"] == f"{NAME}-frontd")
    assert matches_built(kube, frontd_built)

    def checksum() -> str:
        dep = kube.get(DEPLOYMENTS, NS, f"{NAME}-frontd")
        assert dep is not None
        return str(dep["spec"]["template"]["metadata"]["annotations"][SECRETS_CHECKSUM_ANNOTATION])

    before = checksum()
    kube.patch(SECRETS, NS, "frontd-secret", {"data": {"secret": "bmV3"}})
    wait_for(lambda: checksum() != before, "frontd rolled on the rotated Secret")

    replace_spec(kube, spec())  # the section removed
    for res, child in frontd_children:
        wait_for(lambda res=res, child=child: kube.get(res, NS, child) is None, f"{child} gone")
    wait_for(
        lambda: "frontdReadyReplicas" not in (cluster(kube).get("status") or {}),
        "frontdReadyReplicas dropped from the status",
    )
    assert kube.get(DEPLOYMENTS, NS, f"{NAME}-frontier") is not None
    assert kube.get(SERVICES, NS, f"{NAME}-edgebound-svc") is not None
