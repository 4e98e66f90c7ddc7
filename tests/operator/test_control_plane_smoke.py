"""Tier-3 smoke test: the locally built control plane behaves like a cluster (minus kubelets).

Deployment -> ReplicaSet -> Pod through the controller-manager, readiness once the test "plays
kubelet" by patching the pod status, and garbage collection of the children on delete.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from support.kube_control_plane import wait_for

pytestmark = pytest.mark.k8s

LABELS = {"app": "smoke"}


@pytest.fixture
def namespace(kube_api: ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(kube_api)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _deployment(name: str) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=LABELS),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=LABELS),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=LABELS),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="app", image="registry.invalid/smoke:1")]
                ),
            ),
        ),
    )


def _meta(obj: object) -> client.V1ObjectMeta:
    meta = getattr(obj, "metadata", None)
    assert isinstance(meta, client.V1ObjectMeta), f"{type(obj).__name__} without metadata"
    return meta


def _owned_by(obj: object, owner_uid: str) -> bool:
    refs = _meta(obj).owner_references or []
    return any(ref.uid == owner_uid and ref.controller for ref in refs)


def _deployment_status(apps: client.AppsV1Api, namespace: str) -> client.V1DeploymentStatus:
    status = apps.read_namespaced_deployment_status("smoke", namespace).status
    assert status is not None
    return status


def _play_kubelet_ready(core: client.CoreV1Api, namespace: str, pod_name: str) -> None:
    """What a kubelet would report for a started, ready pod (there is no kubelet here)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": now}
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    ]
    core.patch_namespaced_pod_status(
        pod_name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "conditions": conditions,
                "podIP": "10.244.0.10",
                "startTime": now,
            }
        },
    )


def test_deployment_replicaset_pod_ready_and_garbage_collected(
    kube_api: ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    apps = client.AppsV1Api(kube_api)

    deployment = apps.create_namespaced_deployment(namespace, _deployment("smoke"))
    deployment_uid = str(_meta(deployment).uid)

    replica_set = wait_for(
        lambda: next(
            (
                rs
                for rs in apps.list_namespaced_replica_set(namespace).items
                if _owned_by(rs, deployment_uid)
            ),
            None,
        ),
        timeout=60,
        what="the deployment controller to create a ReplicaSet",
    )
    replica_set_uid = str(_meta(replica_set).uid)
    pod = wait_for(
        lambda: next(
            (p for p in core.list_namespaced_pod(namespace).items if _owned_by(p, replica_set_uid)),
            None,
        ),
        timeout=60,
        what="the replicaset controller to create a Pod",
    )
    assert pod.spec is not None
    assert pod.spec.containers[0].image == "registry.invalid/smoke:1"
    assert not _deployment_status(apps, namespace).ready_replicas

    _play_kubelet_ready(core, namespace, str(_meta(pod).name))

    def deployment_ready() -> client.V1DeploymentStatus | None:
        status = _deployment_status(apps, namespace)
        return status if status.ready_replicas == 1 else None

    ready = wait_for(
        deployment_ready, timeout=60, what="the Deployment's readyReplicas to become 1"
    )
    assert ready.available_replicas == 1
    conditions = {c.type: c.status for c in ready.conditions or []}
    assert conditions.get("Available") == "True"

    apps.delete_namespaced_deployment(
        "smoke", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )

    def children_gone() -> bool:
        replica_sets = apps.list_namespaced_replica_set(namespace).items
        pods = core.list_namespaced_pod(namespace).items
        return not replica_sets and not pods

    wait_for(children_gone, timeout=90, what="the garbage collector to delete the ReplicaSet/Pod")
