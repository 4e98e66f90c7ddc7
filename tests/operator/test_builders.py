"""Child manifests built from a FrontierCluster spec (frontier_operator.builders / .config)."""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier_operator.builders import (
    CONFIG_CHECKSUM_ANNOTATION,
    DEFAULT_RESOURCES,
    SECRETS_CHECKSUM_ANNOTATION,
    Images,
    SecretDigests,
    build_children,
    merge_patch,
    owner_selector,
)
from frontier_operator.config import digest_secrets, render_frontier_config
from frontier_operator.spec import ClusterSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
NS = "edge"
NAME = "demo"
IMAGES = Images(frontier="registry.local/frontier:1.0", frontlas="registry.local/frontlas:1.0")
OWNER_LABELS = {
    "app.kubernetes.io/instance": NAME,
    "app.kubernetes.io/managed-by": "frontier-operator",
    "app.kubernetes.io/part-of": "frontier",
}


def raw_spec(**frontier: Any) -> dict[str, Any]:
    return {
        "frontier": frontier,
        "frontlas": {"redis": {"addrs": ["redis.db:6379"], "redisType": "standalone"}},
    }


def children(
    spec: dict[str, Any] | ClusterSpec,
    name: str = NAME,
    digests: SecretDigests | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    parsed = spec if isinstance(spec, ClusterSpec) else parse_spec(spec, name=name)
    out = build_children(parsed, name, NS, IMAGES, digests)
    return {(c["kind"], c["metadata"]["name"]): c for c in out}


def deployment(objs: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    return objs[("Deployment", f"{NAME}-{component}")]


def container(objs: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    containers = deployment(objs, component)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def env(objs: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    """name -> value (plain) or valueFrom (dict)."""
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in container(objs, component)["env"]
    }


def config(objs: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    cm = objs[("ConfigMap", f"{NAME}-{component}-config")]
    loaded: dict[str, Any] = yaml.safe_load(cm["data"][f"{component}.yaml"])
    return loaded


# --------------------------------------------------------------------------------------------
# the set of children


def test_children_kinds_names_and_order() -> None:
    objs = build_children(parse_spec(raw_spec()), NAME, NS, IMAGES)
    assert [(c["kind"], c["metadata"]["name"]) for c in objs] == [
        ("ConfigMap", "demo-frontier-config"),
        ("ConfigMap", "demo-frontlas-config"),
        ("Service", "demo-servicebound-svc"),
        ("Service", "demo-edgebound-svc"),
        ("Service", "demo-frontlas-svc"),
        ("PodDisruptionBudget", "demo-frontier"),
        ("PodDisruptionBudget", "demo-frontlas"),
        ("Deployment", "demo-frontlas"),
        ("Deployment", "demo-frontier"),
    ]
    assert {c["metadata"]["namespace"] for c in objs} == {NS}
    assert {c["apiVersion"] for c in objs if c["kind"] == "Deployment"} == {"apps/v1"}
    assert {c["apiVersion"] for c in objs if c["kind"] == "PodDisruptionBudget"} == {"policy/v1"}
    assert {
        c["apiVersion"] for c in objs if c["kind"] not in ("Deployment", "PodDisruptionBudget")
    } == {"v1"}


def test_every_child_carries_the_owner_labels_and_no_owner_reference() -> None:
    for obj in build_children(parse_spec(raw_spec()), NAME, NS, IMAGES):
        assert OWNER_LABELS.items() <= obj["metadata"]["labels"].items()
        # ownerReferences are the handlers' job (kopf.adopt), with the live CR's uid.
        assert "ownerReferences" not in obj["metadata"]
    assert owner_selector(NAME) == (
        "app.kubernetes.io/instance=demo,app.kubernetes.io/managed-by=frontier-operator"
    )


def test_services_select_the_pods_of_their_component() -> None:
    objs = children(raw_spec())
    frontier_pods = deployment(objs, "frontier")["spec"]["template"]["metadata"]["labels"]
    frontlas_pods = deployment(objs, "frontlas")["spec"]["template"]["metadata"]["labels"]
    for svc, pods, other in [
        ("demo-servicebound-svc", frontier_pods, frontlas_pods),
        ("demo-edgebound-svc", frontier_pods, frontlas_pods),
        ("demo-frontlas-svc", frontlas_pods, frontier_pods),
    ]:
        selector = objs[("Service", svc)]["spec"]["selector"]
        assert selector.items() <= pods.items()
        assert not selector.items() <= other.items()


def test_service_target_ports_name_container_ports() -> None:
    objs = children(raw_spec())
    fr_ports = {p["name"]: p["containerPort"] for p in container(objs, "frontier")["ports"]}
    fl_ports = {p["name"]: p["containerPort"] for p in container(objs, "frontlas")["ports"]}
    for svc, ports in [
        ("demo-servicebound-svc", fr_ports),
        ("demo-edgebound-svc", fr_ports),
        ("demo-frontlas-svc", fl_ports),
    ]:
        for p in objs[("Service", svc)]["spec"]["ports"]:
            assert ports[p["targetPort"]] == p["port"]


# --------------------------------------------------------------------------------------------
# Services


def test_default_services() -> None:
    objs = children(raw_spec())
    sb = objs[("Service", "demo-servicebound-svc")]["spec"]
    eb = objs[("Service", "demo-edgebound-svc")]["spec"]
    fl = objs[("Service", "demo-frontlas-svc")]["spec"]
    assert sb["type"] == "ClusterIP"
    assert sb["ports"] == [
        {"name": "servicebound", "port": 30011, "targetPort": "servicebound", "protocol": "TCP"}
    ]
    assert eb["type"] == "NodePort"
    assert eb["ports"] == [
        {
            "name": "edgebound",
            "port": 30012,
            "targetPort": "edgebound",
            "protocol": "TCP",
            "nodePort": 30012,
        }
    ]
    assert fl["type"] == "ClusterIP"
    assert [(p["name"], p["port"]) for p in fl["ports"]] == [
        ("controlplane", 40011),
        ("frontierplane", 40012),
    ]
    # Unready (e.g. draining) pods must leave the endpoints: no publishNotReadyAddresses.
    assert all("publishNotReadyAddresses" not in s for s in (sb, eb, fl))


def test_service_fields_land() -> None:
    spec = raw_spec(
        servicebound={"port": 31000, "service": "gw-services", "serviceType": "NodePort"},
        edgebound={"port": 8443, "serviceName": "gw-edges", "serviceType": "NodePort"},
    )
    spec["frontlas"]["controlplane"] = {
        "port": 41000,
        "frontierPlanePort": 41001,
        "service": "coord",
        "serviceType": "LoadBalancer",
    }
    objs = children(spec)
    sb = objs[("Service", "gw-services")]["spec"]
    assert (sb["type"], sb["ports"][0]["port"], sb["ports"][0]["nodePort"]) == (
        "NodePort",
        31000,
        31000,
    )
    eb = objs[("Service", "gw-edges")]["spec"]
    # 8443 is outside the node-port range: the API server allocates one instead.
    assert (eb["type"], eb["ports"][0]["port"]) == ("NodePort", 8443)
    assert "nodePort" not in eb["ports"][0]
    fl = objs[("Service", "coord")]["spec"]
    assert fl["type"] == "LoadBalancer"
    assert [p["port"] for p in fl["ports"]] == [41000, 41001]
    assert all("nodePort" not in p for p in fl["ports"])
    assert {p["containerPort"] for p in container(objs, "frontlas")["ports"]} == {
        41000,
        41001,
        9092,
    }
    assert {p["containerPort"] for p in container(objs, "frontier")["ports"]} == {
        31000,
        8443,
        9091,
    }


# --------------------------------------------------------------------------------------------
# Deployments: the spec fields


def test_replicas_and_images() -> None:
    objs = children(raw_spec())
    assert deployment(objs, "frontier")["spec"]["replicas"] == 1
    assert deployment(objs, "frontlas")["spec"]["replicas"] == 1
    assert container(objs, "frontier")["image"] == IMAGES.frontier
    assert container(objs, "frontlas")["image"] == IMAGES.frontlas

    spec = raw_spec(replicas=3, image="example/frontier:9")
    spec["frontlas"].update(replicas=0, image="example/frontlas:9")
    objs = children(spec)
    assert deployment(objs, "frontier")["spec"]["replicas"] == 3
    assert deployment(objs, "frontlas")["spec"]["replicas"] == 0
    assert container(objs, "frontier")["image"] == "example/frontier:9"
    assert container(objs, "frontlas")["image"] == "example/frontlas:9"


def test_deployment_selector_is_a_subset_of_the_pod_labels() -> None:
    objs = children(raw_spec())
    for component in ("frontier", "frontlas"):
        d = deployment(objs, component)["spec"]
        assert d["selector"]["matchLabels"].items() <= d["template"]["metadata"]["labels"].items()
        assert d["selector"]["matchLabels"]["app.kubernetes.io/name"] == component
        assert d["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_frontier_env_overrides() -> None:
    objs = children(raw_spec(servicebound={"port": 31001}, edgebound={"port": 31002}))
    e = env(objs, "frontier")
    assert e["FRONTIER_SERVICEBOUND_PORT"] == "31001"
    assert e["FRONTIER_EDGEBOUND_PORT"] == "31002"
    assert e["FRONTLAS_ADDR"] == "demo-frontlas-svc.edge.svc:40012"
    assert e["FRONTIER_DRAIN_SECONDS"] == "40"
    # Per-pod frontier ID: the pod name, never the node name (upstream collided two pods on
    # one node, and frontlas rejected the second).
    assert e["FRONTIER_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert e["NODE_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    field_paths = [
        v["fieldRef"]["fieldPath"] for v in e.values() if isinstance(v, dict) and "fieldRef" in v
    ]
    assert "spec.nodeName" not in field_paths


def test_advertised_addresses_come_from_the_downward_api() -> None:
    objs = children(raw_spec(edgebound={"serviceType": "ClusterIP"}))
    entries = container(objs, "frontier")["env"]
    names = [x["name"] for x in entries]
    e = env(objs, "frontier")
    assert e["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert e["FRONTIER_SERVICEBOUND_ADVERTISED_ADDR"] == "$(POD_IP):30011"
    assert e["FRONTIER_EDGEBOUND_ADVERTISED_ADDR"] == "$(POD_IP):30012"
    assert "HOST_IP" not in e
    # $(VAR) only expands variables defined earlier in the list.
    assert names.index("POD_IP") < names.index("FRONTIER_SERVICEBOUND_ADVERTISED_ADDR")

    e = env(children(raw_spec()), "frontier")  # edgebound NodePort 30012
    assert e["HOST_IP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    assert e["FRONTIER_EDGEBOUND_ADVERTISED_ADDR"] == "$(HOST_IP):30012"


def test_frontier_config_renders_listeners_frontlas_and_observability() -> None:
    objs = children(raw_spec(servicebound={"port": 31001}, edgebound={"port": 31002}))
    cfg = config(objs, "frontier")
    assert cfg["servicebound"]["listen"] == {"network": "tcp", "addr": "0.0.0.0:31001"}
    assert cfg["edgebound"]["listen"] == {"network": "tcp", "addr": "0.0.0.0:31002"}
    assert cfg["edgebound"]["edgeid_alloc_when_no_idservice_on"] is True
    assert cfg["frontlas"] == {
        "enable": True,
        "dial": {"network": "tcp", "addrs": ["demo-frontlas-svc.edge.svc:40012"]},
    }
    assert cfg["observability"] == {"enable": True, "addr": "0.0.0.0:9091"}
    assert cfg["controlplane"] == {"enable": False}
    assert "tls" not in cfg["edgebound"]["listen"]
    # The file the container is told to read is the one the ConfigMap provides.
    c = container(objs, "frontier")
    assert c["args"] == ["--config", "/usr/conf/frontier.yaml"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
    assert mount == {"name": "config", "mountPath": "/usr/conf", "readOnly": True}
    volume = next(
        v
        for v in deployment(objs, "frontier")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "config"
    )
    assert volume == {"name": "config", "configMap": {"name": "demo-frontier-config"}}


def test_frontier_follows_a_moved_frontlas() -> None:
    spec = raw_spec()
    spec["frontlas"]["controlplane"] = {"frontierPlanePort": 41012, "service": "coord"}
    objs = children(spec)
    assert config(objs, "frontier")["frontlas"]["dial"]["addrs"] == ["coord.edge.svc:41012"]
    assert env(objs, "frontier")["FRONTLAS_ADDR"] == "coord.edge.svc:41012"


def test_control_api_is_off_by_default_and_wired_when_enabled() -> None:
    objs = children(raw_spec())
    assert "controlplane" not in {p["name"] for p in container(objs, "frontier")["ports"]}

    objs = children(raw_spec(controlplane={"enabled": True, "port": 30100}))
    assert config(objs, "frontier")["controlplane"] == {
        "enable": True,
        "listen": {"network": "tcp", "addr": "0.0.0.0:30100"},
    }
    ports = {p["name"]: p["containerPort"] for p in container(objs, "frontier")["ports"]}
    assert ports["controlplane"] == 30100
    # Per-instance API: no Service load-balancing across pods for it.
    assert all(
        "controlplane" not in [p["name"] for p in o["spec"]["ports"]]
        for (kind, name), o in objs.items()
        if kind == "Service" and name != "demo-frontlas-svc"
    )


@pytest.mark.parametrize(("component", "port"), [("frontier", 9091), ("frontlas", 9092)])
def test_http_probes_on_the_metrics_port(component: str, port: int) -> None:
    c = container(children(raw_spec()), component)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert (get["path"], ports[get["port"]]) == (path, port)
        assert c[probe]["timeoutSeconds"] > 0


def test_shutdown_defaults() -> None:
    objs = children(raw_spec())
    fr = deployment(objs, "frontier")["spec"]["template"]["spec"]
    fl = deployment(objs, "frontlas")["spec"]["template"]["spec"]
    assert fr["terminationGracePeriodSeconds"] == 60
    assert fl["terminationGracePeriodSeconds"] == 30
    assert container(objs, "frontier")["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 10"]}}
    }
    assert container(objs, "frontlas")["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}
    }
    # preStop (10) + drain + headroom (10) fit in the grace period (60).
    assert env(objs, "frontier")["FRONTIER_DRAIN_SECONDS"] == "40"


@pytest.mark.parametrize(
    ("frontier", "drain"),
    [
        ({"pod": {"terminationGracePeriodSeconds": 120}}, "100"),
        ({"pod": {"terminationGracePeriodSeconds": 5}}, "0"),
        ({"pod": {"lifecycle": {"preStop": {"httpGet": {"path": "/drain", "port": 9091}}}}}, "50"),
        ({"drainSeconds": 7}, "7"),
    ],
)
def test_drain_seconds_follow_the_grace_period(frontier: dict[str, Any], drain: str) -> None:
    assert env(children(raw_spec(**frontier)), "frontier")["FRONTIER_DRAIN_SECONDS"] == drain


@pytest.mark.parametrize("component", ["frontier", "frontlas"])
def test_security_defaults(component: str) -> None:
    objs = children(raw_spec())
    pod = deployment(objs, component)["spec"]["template"]["spec"]
    c = container(objs, component)
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert c["imagePullPolicy"] == "IfNotPresent"


def test_security_context_overrides_merge_instead_of_replacing() -> None:
    pod = {
        "podSecurityContext": {"runAsUser": 1000, "seccompProfile": None},
        "containerSecurityContext": {
            "readOnlyRootFilesystem": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"]},
        },
    }
    objs = children(raw_spec(pod=pod))
    psc = deployment(objs, "frontier")["spec"]["template"]["spec"]["securityContext"]
    assert psc == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 65532, "fsGroup": 65532}
    csc = container(objs, "frontier")["securityContext"]
    assert csc["readOnlyRootFilesystem"] is False
    assert csc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert csc["allowPrivilegeEscalation"] is False
    # frontlas is untouched by frontier's overrides.
    assert container(objs, "frontlas")["securityContext"]["readOnlyRootFilesystem"] is True


def test_pod_overrides_land_where_they_should() -> None:
    pod = {
        "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "512Mi"}},
        "nodeSelector": {"topology.kubernetes.io/zone": "a"},
        "tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}],
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ],
        "priorityClassName": "gateway-critical",
        "serviceAccountName": "gw",
        "imagePullSecrets": [{"name": "regcred"}],
        "imagePullPolicy": "Always",
        "annotations": {"prometheus.io/scrape": "true"},
        "labels": {"team": "edge"},
        "terminationGracePeriodSeconds": 90,
        "livenessProbe": {"tcpSocket": {"port": 30012}, "periodSeconds": 7},
        "readinessProbe": {"tcpSocket": {"port": 30011}},
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "3"]}}},
    }
    objs = children(raw_spec(pod=pod))
    tpl = deployment(objs, "frontier")["spec"]["template"]
    ps, c = tpl["spec"], container(objs, "frontier")
    assert c["resources"] == pod["resources"]
    assert ps["nodeSelector"] == pod["nodeSelector"]
    assert ps["tolerations"] == pod["tolerations"]
    assert ps["topologySpreadConstraints"] == pod["topologySpreadConstraints"]
    assert ps["priorityClassName"] == "gateway-critical"
    assert ps["serviceAccountName"] == "gw"
    assert ps["imagePullSecrets"] == [{"name": "regcred"}]
    assert c["imagePullPolicy"] == "Always"
    assert tpl["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert tpl["metadata"]["labels"]["team"] == "edge"
    assert ps["terminationGracePeriodSeconds"] == 90
    # Probes and lifecycle replace the defaults whole (a merged probe would have two handlers).
    assert c["livenessProbe"] == pod["livenessProbe"]
    assert c["readinessProbe"] == pod["readinessProbe"]
    assert c["lifecycle"] == pod["lifecycle"]
    # frontlas keeps its defaults.
    fl = deployment(objs, "frontlas")["spec"]["template"]["spec"]
    assert "nodeSelector" not in fl
    assert fl["terminationGracePeriodSeconds"] == 30


def test_resource_quantities_are_written_as_strings() -> None:
    resources = {"limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": 0.5}, "claims": []}
    objs = children(raw_spec(pod={"resources": resources}))
    assert container(objs, "frontier")["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "0.5"},
        "claims": [],
    }


def test_operator_owned_labels_and_annotations_win_over_overrides() -> None:
    pod = {
        "labels": {"app.kubernetes.io/name": "hijack", "app.kubernetes.io/version": "x"},
        "annotations": {CONFIG_CHECKSUM_ANNOTATION: "0", "frontier.singchia.io/other": "1"},
    }
    objs = children(raw_spec(pod=pod))
    meta = deployment(objs, "frontier")["spec"]["template"]["metadata"]
    assert meta["labels"]["app.kubernetes.io/name"] == "frontier"
    assert meta["labels"]["app.kubernetes.io/version"] == "x"
    cm = objs[("ConfigMap", "demo-frontier-config")]
    assert meta["annotations"] == {
        CONFIG_CHECKSUM_ANNOTATION: cm["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]
    }


def test_default_affinity_and_legacy_node_affinity() -> None:
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "edge", "operator": "In", "values": ["yes"]}]}
            ]
        }
    }
    objs = children(raw_spec(nodeAffinity=node_affinity))
    affinity = deployment(objs, "frontier")["spec"]["template"]["spec"]["affinity"]
    anti = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["weight"] == 100
    assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "frontier",
        "app.kubernetes.io/instance": NAME,
    }
    assert affinity["nodeAffinity"] == node_affinity

    explicit: dict[str, Any] = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}
    }
    objs = children(raw_spec(nodeAffinity=node_affinity, pod={"affinity": explicit}))
    # pod.affinity replaces both the default anti-affinity and the legacy field (as upstream).
    assert deployment(objs, "frontier")["spec"]["template"]["spec"]["affinity"] == explicit


# --------------------------------------------------------------------------------------------
# edge TLS: mounted *and* used


def tls_spec(mtls: bool) -> dict[str, Any]:
    tls: dict[str, Any] = {"enabled": True, "certificateKeySecretRef": {"name": "edge-cert"}}
    if mtls:
        tls.update(mtls=True, caCertificateSecretRef={"name": "edge-ca"})
    return raw_spec(edgebound={"tls": tls})


def mounted_files(objs: dict[tuple[str, str], dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Every file a Secret volume puts in the frontier container: path -> (secret, key)."""
    pod = deployment(objs, "frontier")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    files: dict[str, tuple[str, str]] = {}
    for m in container(objs, "frontier")["volumeMounts"]:
        secret = volumes[m["name"]].get("secret")
        if secret is None:
            continue
        assert m["readOnly"] is True
        for item in secret["items"]:
            files[posixpath.join(m["mountPath"], item["path"])] = (
                secret["secretName"],
                item["key"],
            )
    return files


@pytest.mark.parametrize("mtls", [False, True])
def test_edge_tls_config_points_at_the_mounted_secret_files(mtls: bool) -> None:
    objs = children(tls_spec(mtls))
    tls = config(objs, "frontier")["edgebound"]["listen"]["tls"]
    files = mounted_files(objs)
    assert tls["enable"] is True
    assert tls["mtls"] is mtls
    assert len(tls["certs"]) == 1
    assert files[tls["certs"][0]["cert"]] == ("edge-cert", "tls.crt")
    assert files[tls["certs"][0]["key"]] == ("edge-cert", "tls.key")
    if mtls:
        assert [files[p] for p in tls["ca_certs"]] == [("edge-ca", "ca.crt")]
        assert set(files.values()) == {
            ("edge-cert", "tls.crt"),
            ("edge-cert", "tls.key"),
            ("edge-ca", "ca.crt"),
        }
    else:
        assert "ca_certs" not in tls
        assert set(files.values()) == {("edge-cert", "tls.crt"), ("edge-cert", "tls.key")}
    pod = deployment(objs, "frontier")["spec"]["template"]["spec"]
    modes = {v["secret"]["defaultMode"] for v in pod["volumes"] if "secret" in v}
    assert modes == {0o440}


# --------------------------------------------------------------------------------------------
# edges over WebSocket, the servicebound token


def ws_spec(service_type: str = "NodePort", **websocket: Any) -> dict[str, Any]:
    return raw_spec(
        edgebound={"serviceType": service_type, "websocket": {"enabled": True, **websocket}}
    )


def test_websocket_disabled_changes_nothing() -> None:
    """An explicit disabled section (what the CRD defaults store) builds the same bytes as
    none at all, whatever its other fields say: existing clusters are not rolled."""
    disabled = raw_spec(edgebound={"websocket": {"enabled": False, "port": 30999, "path": "/ws"}})
    assert json.dumps(build_children(parse_spec(disabled, name=NAME), NAME, NS, IMAGES)) == (
        json.dumps(build_children(parse_spec(raw_spec(), name=NAME), NAME, NS, IMAGES))
    )
    assert "websocket" not in config(children(raw_spec()), "frontier")["edgebound"]


@pytest.mark.parametrize(
    ("service_type", "node_port"),
    [("NodePort", 30013), ("LoadBalancer", None), ("ClusterIP", None)],
)
def test_websocket_port_on_the_container_and_the_edgebound_service(
    service_type: str, node_port: int | None
) -> None:
    objs = children(ws_spec(service_type))
    ports = {p["name"]: p["containerPort"] for p in container(objs, "frontier")["ports"]}
    assert ports == {"servicebound": 30011, "edgebound": 30012, "websocket": 30013, "metrics": 9091}
    eb = objs[("Service", "demo-edgebound-svc")]["spec"]
    assert eb["type"] == service_type
    want = {"name": "websocket", "port": 30013, "targetPort": "websocket", "protocol": "TCP"}
    if node_port is not None:
        want["nodePort"] = node_port
    assert eb["ports"][1] == want
    assert eb["ports"][0]["name"] == "edgebound"
    # Readiness is the gateway's own /readyz, whichever listeners it has.
    probe = container(objs, "frontier")["readinessProbe"]
    assert probe == container(children(raw_spec()), "frontier")["readinessProbe"]


def test_websocket_outside_the_node_port_range_gets_an_allocated_node_port() -> None:
    eb = children(ws_spec(port=8080))[("Service", "demo-edgebound-svc")]["spec"]
    assert eb["ports"][1] == {
        "name": "websocket",
        "port": 8080,
        "targetPort": "websocket",
        "protocol": "TCP",
    }


def test_websocket_config_is_what_the_gateway_loads() -> None:
    """The rendered section goes through the gateway's own strict parser: operator and data
    plane cannot drift apart on key names or value rules."""
    from frontier.gateway.config import parse_config

    objs = children(
        ws_spec(
            port=30443,
            path="/geminio",
            allowedOrigins=["https://app.example.com"],
            subprotocol="",
            maxMessageBytes=262144,
        )
    )
    rendered = config(objs, "frontier")
    assert rendered["edgebound"]["websocket"] == {
        "enable": True,
        "listen": {"network": "tcp", "addr": "0.0.0.0:30443"},
        "path": "/geminio",
        "origins": ["https://app.example.com"],
        "subprotocol": "",
        "max_message": 262144,
    }
    ws = parse_config(rendered, env={}).edgebound.websocket
    assert ws.enable
    assert ws.listen.addr == "0.0.0.0:30443"
    assert not ws.listen.tls.enable
    assert (ws.path, ws.origins, ws.subprotocol, ws.max_message) == (
        "/geminio",
        ("https://app.example.com",),
        "",
        262144,
    )


@pytest.mark.parametrize("mtls", [False, True])
def test_websocket_tls_follows_the_edgebound_tls(mtls: bool) -> None:
    from frontier.gateway.config import parse_config

    spec = tls_spec(mtls)
    spec["frontier"]["edgebound"]["websocket"] = {"enabled": True}
    objs = children(spec)
    edgebound = config(objs, "frontier")["edgebound"]
    assert edgebound["websocket"]["listen"]["tls"] == edgebound["listen"]["tls"]
    text = objs[("ConfigMap", "demo-frontier-config")]["data"]["frontier.yaml"]
    assert "&id" not in text  # no YAML anchors: the file reads as written
    loaded = parse_config(yaml.safe_load(text), env={})
    assert loaded.edgebound.websocket.listen.tls == loaded.edgebound.listen.tls
    # No second copy of the Secrets: the same mounted files serve both listeners.
    assert len(mounted_files(objs)) == (3 if mtls else 2)


def test_servicebound_token_comes_from_the_secret_never_the_config_map() -> None:
    spec = raw_spec(servicebound={"tokenSecretRef": {"name": "svc-token", "key": "t"}})
    objs = children(spec)
    assert env(objs, "frontier")["FRONTIER_SERVICEBOUND_TOKEN"] == {
        "secretKeyRef": {"name": "svc-token", "key": "t"}
    }
    cfg = config(objs, "frontier")
    assert "token" not in cfg["servicebound"]
    # Everything else is unchanged: the env var is the only addition.
    plain = children(raw_spec())
    assert (
        objs[("ConfigMap", "demo-frontier-config")] == plain[("ConfigMap", "demo-frontier-config")]
    )
    names = [e["name"] for e in container(objs, "frontier")["env"]]
    assert names == [e["name"] for e in container(plain, "frontier")["env"]] + [
        "FRONTIER_SERVICEBOUND_TOKEN"
    ]
    assert "FRONTIER_SERVICEBOUND_TOKEN" not in env(plain, "frontier")


def test_no_tls_no_secret_volumes() -> None:
    objs = children(
        raw_spec(edgebound={"tls": {"enabled": False, "certificateKeySecretRef": {"name": "x"}}})
    )
    assert mounted_files(objs) == {}
    assert "tls" not in config(objs, "frontier")["edgebound"]["listen"]


# --------------------------------------------------------------------------------------------
# frontlas and Redis


@pytest.mark.parametrize(
    ("redis", "section"),
    [
        (
            {"addrs": ["r:6379"], "redisType": "standalone", "db": 2, "user": "fl"},
            {"standalone": {"network": "tcp", "addr": "r:6379", "db": 2}},
        ),
        (
            {"addrs": ["s1:26379", "s2:26379"], "redisType": "sentinel", "masterName": "m"},
            {"sentinel": {"addrs": ["s1:26379", "s2:26379"], "master_name": "m", "db": 0}},
        ),
        (
            {"addrs": ["c1:7000", "c2:7000"], "redisType": "cluster"},
            {"cluster": {"addrs": ["c1:7000", "c2:7000"]}},
        ),
    ],
)
def test_redis_config_and_env(redis: dict[str, Any], section: dict[str, Any]) -> None:
    spec = raw_spec()
    spec["frontlas"]["redis"] = redis
    objs = children(spec)
    cfg = config(objs, "frontlas")
    expected = {"mode": redis["redisType"], **section}
    if "user" in redis:
        expected["username"] = redis["user"]
    assert cfg["redis"] == expected
    e = env(objs, "frontlas")
    assert e["REDIS_TYPE"] == redis["redisType"]
    assert e["REDIS_ADDRS"] == ",".join(redis["addrs"])
    assert e["REDIS_DB"] == str(redis.get("db", 0))
    assert e.get("REDIS_USER") == redis.get("user")
    assert e.get("MASTER_NAME") == redis.get("masterName")
    assert "REDIS_PASSWORD" not in e


def test_frontlas_listeners_and_env() -> None:
    spec = raw_spec()
    spec["frontlas"]["controlplane"] = {"port": 41011, "frontierPlanePort": 41012}
    objs = children(spec)
    cfg = config(objs, "frontlas")
    assert cfg["control_plane"]["listen"]["addr"] == "0.0.0.0:41011"
    assert cfg["frontier_plane"]["listen"]["addr"] == "0.0.0.0:41012"
    assert cfg["frontier_plane"]["expiration"] == {"service_meta": 30, "edge_meta": 30}
    assert cfg["observability"] == {"enable": True, "addr": "0.0.0.0:9092"}
    e = env(objs, "frontlas")
    assert (e["FRONTLAS_CONTROLPLANE_PORT"], e["FRONTLAS_FRONTIERPLANE_PORT"]) == ("41011", "41012")
    assert container(objs, "frontlas")["args"] == ["--config", "/usr/conf/frontlas.yaml"]


def test_redis_password_from_secret_never_in_the_config_map() -> None:
    spec = raw_spec()
    spec["frontlas"]["redis"]["passwordSecret"] = {"name": "redis-auth", "key": "pw"}
    objs = children(spec)
    assert env(objs, "frontlas")["REDIS_PASSWORD"] == {
        "secretKeyRef": {"name": "redis-auth", "key": "pw"}
    }
    assert "password" not in config(objs, "frontlas")["redis"]


def test_deprecated_plaintext_password_goes_to_env_not_the_config_map() -> None:
    spec = raw_spec()
    spec["frontlas"]["redis"]["password"] = "hunter2-secret"
    objs = children(spec)
    assert env(objs, "frontlas")["REDIS_PASSWORD"] == "hunter2-secret"
    for (kind, _), obj in objs.items():
        if kind == "ConfigMap":
            assert "hunter2-secret" not in json.dumps(obj)


# --------------------------------------------------------------------------------------------
# checksums


def checksum(objs: dict[tuple[str, str], dict[str, Any]], component: str) -> str:
    value: str = deployment(objs, component)["spec"]["template"]["metadata"]["annotations"][
        CONFIG_CHECKSUM_ANNOTATION
    ]
    return value


@pytest.mark.parametrize("component", ["frontier", "frontlas"])
def test_checksum_is_the_sha256_of_the_config_map_text(component: str) -> None:
    objs = children(raw_spec())
    cm = objs[("ConfigMap", f"{NAME}-{component}-config")]
    text = cm["data"][f"{component}.yaml"]
    assert checksum(objs, component) == hashlib.sha256(text.encode()).hexdigest()
    assert cm["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION] == checksum(objs, component)


@pytest.mark.parametrize(
    ("change", "frontier_rolls", "frontlas_rolls"),
    [
        ({"frontier.edgebound.port": 31000}, True, False),
        ({"frontier.servicebound.port": 31000}, True, False),
        ({"frontier.controlplane.enabled": True}, True, False),
        (
            {
                "frontier.edgebound.tls": {
                    "enabled": True,
                    "certificateKeySecretRef": {"name": "c"},
                }
            },
            True,
            False,
        ),
        ({"frontlas.controlplane.port": 41000}, False, True),
        ({"frontlas.controlplane.frontierPlanePort": 41000}, True, True),
        ({"frontlas.redis.db": 3}, False, True),
        # Not config: a rollout (if any) comes from the pod template itself, not the checksum.
        ({"frontier.replicas": 5}, False, False),
        ({"frontier.image": "other:1"}, False, False),
        ({"frontier.pod.labels": {"a": "b"}}, False, False),
        ({"frontlas.redis.passwordSecret": {"name": "s", "key": "k"}}, False, False),
    ],
)
def test_checksum_changes_exactly_when_the_config_does(
    change: dict[str, Any], frontier_rolls: bool, frontlas_rolls: bool
) -> None:
    base = raw_spec()
    changed = copy.deepcopy(base)
    for path, value in change.items():
        node = changed
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    before, after = children(base), children(changed)
    assert (checksum(before, "frontier") != checksum(after, "frontier")) is frontier_rolls
    assert (checksum(before, "frontlas") != checksum(after, "frontlas")) is frontlas_rolls


def test_secret_digests_go_on_the_pod_templates() -> None:
    objs = children(raw_spec())
    for component in ("frontier", "frontlas"):
        annotations = deployment(objs, component)["spec"]["template"]["metadata"]["annotations"]
        assert SECRETS_CHECKSUM_ANNOTATION not in annotations
    objs = children(raw_spec(), digests=SecretDigests(frontier="f" * 64, frontlas="a" * 64))
    fr = deployment(objs, "frontier")["spec"]["template"]["metadata"]["annotations"]
    fl = deployment(objs, "frontlas")["spec"]["template"]["metadata"]["annotations"]
    assert fr[SECRETS_CHECKSUM_ANNOTATION] == "f" * 64
    assert fl[SECRETS_CHECKSUM_ANNOTATION] == "a" * 64


def test_digest_secrets_tracks_data_only() -> None:
    cert = {"metadata": {"name": "cert", "resourceVersion": "1"}, "data": {"tls.crt": "QQ=="}}
    ca = {"metadata": {"name": "ca"}, "data": {"ca.crt": "Qg=="}}
    d = digest_secrets([cert, ca])
    assert d == digest_secrets([ca, cert])
    assert len(d) == 64
    bumped = copy.deepcopy(cert)
    bumped["metadata"]["resourceVersion"] = "2"
    assert digest_secrets([bumped, ca]) == d
    rotated = copy.deepcopy(cert)
    rotated["data"]["tls.crt"] = "Qw=="
    assert digest_secrets([rotated, ca]) != d
    assert digest_secrets([cert]) != d


def test_config_header_names_the_cluster() -> None:
    text = render_frontier_config(parse_spec(raw_spec()), NAME, NS).text
    assert text.startswith("# frontier configuration rendered by frontier-operator")
    assert f"{NS}/{NAME}" in text.splitlines()[0]


# --------------------------------------------------------------------------------------------
# merge_patch


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        (
            {"a": 1, "b": {"c": 2, "d": 3}},
            {"b": {"c": None, "e": 4}},
            {"a": 1, "b": {"d": 3, "e": 4}},
        ),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, None, None),
        ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
        (None, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
        ({"a": 1}, {}, {"a": 1}),
    ],
)
def test_merge_patch_follows_rfc7386(target: Any, patch: Any, result: Any) -> None:
    snapshot = copy.deepcopy(target)
    assert merge_patch(target, patch) == result
    assert target == snapshot


# --------------------------------------------------------------------------------------------
# default resources and disruption budgets


def test_default_resources_request_cpu_and_memory_and_limit_memory() -> None:
    objs = children(raw_spec())
    for component in ("frontier", "frontlas"):
        resources = container(objs, component)["resources"]
        assert set(resources) == {"requests", "limits"}, component
        assert set(resources["requests"]) == {"cpu", "memory"}, component
        # no CPU limit (throttling a gateway adds latency); a memory limit bounds a leak
        assert set(resources["limits"]) == {"memory"}, component
        assert all(isinstance(v, str) for v in resources["requests"].values())
    assert container(objs, "frontier")["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    # an explicit override replaces the defaults whole, even an empty one (no resources)
    empty = children(raw_spec(pod={"resources": {}}))
    assert container(empty, "frontier")["resources"] == {}
    assert container(empty, "frontlas")["resources"] == DEFAULT_RESOURCES["frontlas"]


def test_disruption_budgets_select_each_component_and_allow_one_eviction() -> None:
    objs = children(raw_spec())
    for component in ("frontier", "frontlas"):
        pdb = objs[("PodDisruptionBudget", f"{NAME}-{component}")]
        pods = deployment(objs, component)["spec"]["template"]["metadata"]["labels"]
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector == deployment(objs, component)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pods.items()
        assert pdb["spec"]["maxUnavailable"] == 1
        assert "minAvailable" not in pdb["spec"]
        assert OWNER_LABELS.items() <= pdb["metadata"]["labels"].items()


def test_disruption_budgets_follow_the_spec_and_the_served_version() -> None:
    raw = raw_spec(podDisruptionBudget={"maxUnavailable": "25%"})
    raw["frontlas"]["podDisruptionBudget"] = {"enabled": False}
    spec = parse_spec(raw, name=NAME)
    objs = build_children(spec, NAME, NS, IMAGES, pdb_api_version="policy/v1beta1")
    pdbs = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    assert [(p["metadata"]["name"], p["apiVersion"]) for p in pdbs] == [
        ("demo-frontier", "policy/v1beta1")
    ]
    assert pdbs[0]["spec"]["maxUnavailable"] == "25%"


# --------------------------------------------------------------------------------------------
# RBAC covers what the builders produce


def test_rbac_grants_what_reconciling_the_children_needs() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/operator/rbac.yaml").read_text()))
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    plural = {
        "Deployment": "deployments",
        "Service": "services",
        "ConfigMap": "configmaps",
        "PodDisruptionBudget": "poddisruptionbudgets",
    }
    for obj in build_children(parse_spec(raw_spec()), NAME, NS, IMAGES):
        group = obj["apiVersion"].rpartition("/")[0]
        assert {"get", "list", "watch", "create", "patch"} <= grants[(group, plural[obj["kind"]])]
    assert grants[("", "secrets")] == {"get", "list", "watch"}  # read-only
    assert "create" in grants[("", "events")]
    assert grants[("frontier.singchia.io", "frontierclusters/status")] >= {"patch"}
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    account = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]


# --------------------------------------------------------------------------------------------
# properties over generated specs

ports = st.integers(1, 65535).filter(lambda p: p not in (9091, 9092))
service_types = st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    sb, eb, cp, ws = draw(st.lists(ports, min_size=4, max_size=4, unique=True))
    fl_cp, fl_fp = draw(st.lists(ports, min_size=2, max_size=2, unique=True))
    tls = draw(st.sampled_from(["off", "tls", "mtls"]))
    frontier: dict[str, Any] = {
        "replicas": draw(st.integers(0, 50)),
        "servicebound": {"port": sb, "serviceType": draw(service_types)},
        "edgebound": {"port": eb, "serviceType": draw(service_types)},
        "controlplane": {"enabled": draw(st.booleans()), "port": cp},
    }
    if draw(st.booleans()):
        frontier["edgebound"]["websocket"] = {"enabled": draw(st.booleans()), "port": ws}
    if draw(st.booleans()):
        frontier["servicebound"]["tokenSecretRef"] = {"name": "svc-token"}
    if draw(st.booleans()):
        frontier["image"] = draw(st.sampled_from(["a/frontier:1", "b/frontier@sha256:00"]))
    if tls != "off":
        frontier["edgebound"]["tls"] = {
            "enabled": True,
            "mtls": tls == "mtls",
            "certificateKeySecretRef": {"name": "cert"},
            "caCertificateSecretRef": {"name": "ca"},
        }
    if draw(st.booleans()):
        frontier["pod"] = {
            "labels": draw(
                st.dictionaries(st.sampled_from(["a", "b", "team"]), st.text(max_size=5))
            ),
            "terminationGracePeriodSeconds": draw(st.integers(0, 600)),
        }
    redis_type = draw(st.sampled_from(["standalone", "sentinel", "cluster"]))
    redis: dict[str, Any] = {
        "redisType": redis_type,
        "addrs": ["r0:6379"] if redis_type == "standalone" else ["r0:6379", "r1:6379"],
    }
    if redis_type == "sentinel":
        redis["masterName"] = "mymaster"
    if redis_type != "cluster":
        redis["db"] = draw(st.integers(0, 15))
    if draw(st.booleans()):
        redis["passwordSecret"] = {"name": "redis", "key": "password"}
    return {
        "frontier": frontier,
        "frontlas": {
            "replicas": draw(st.integers(0, 5)),
            "controlplane": {
                "port": fl_cp,
                "frontierPlanePort": fl_fp,
                "serviceType": draw(service_types),
            },
            "redis": redis,
        },
    }


names = st.from_regex(r"[a-z][a-z0-9]{0,20}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(valid_specs(), names)
def test_builders_are_deterministic_and_json_clean(raw: dict[str, Any], name: str) -> None:
    spec = parse_spec(raw, name=name)
    first = build_children(spec, name, NS, IMAGES)
    second = build_children(parse_spec(copy.deepcopy(raw), name=name), name, NS, IMAGES)
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)
    # Mutating an output must not leak into the next build (no shared sub-objects).
    first[-1]["spec"]["template"]["spec"]["containers"][0]["env"].clear()
    assert build_children(spec, name, NS, IMAGES) == second


@settings(max_examples=150, deadline=None)
@given(valid_specs(), names)
def test_children_are_well_formed(raw: dict[str, Any], name: str) -> None:
    spec = parse_spec(raw, name=name)
    objs = build_children(spec, name, NS, IMAGES)
    keys = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(set(keys)) == len(keys)
    deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    for o in objs:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == name
        assert labels["app.kubernetes.io/managed-by"] == "frontier-operator"
        assert all(len(v) <= 63 for v in labels.values())
        assert len(o["metadata"]["name"]) <= 63
        if o["kind"] == "Service":
            matched = [
                d
                for d in deployments.values()
                if o["spec"]["selector"].items()
                <= d["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert len(matched) == 1
            port_names = {
                p["name"] for p in matched[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
            }
            assert {p["targetPort"] for p in o["spec"]["ports"]} <= port_names
            for p in o["spec"]["ports"]:
                assert "nodePort" not in p or 30000 <= p["nodePort"] <= 32767
    for d in deployments.values():
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        env_names = [e["name"] for e in c["env"]]
        assert len(set(env_names)) == len(env_names)
        container_ports = [p["name"] for p in c["ports"]]
        assert len(set(container_ports)) == len(container_ports)
        assert all(len(n) <= 15 for n in container_ports)  # IANA_SVC_NAME
        assert len({p["containerPort"] for p in c["ports"]}) == len(c["ports"])
        volumes = [v["name"] for v in pod["volumes"]]
        assert len(set(volumes)) == len(volumes)
        assert {m["name"] for m in c["volumeMounts"]} <= set(volumes)
        assert (
            d["spec"]["selector"]["matchLabels"].items()
            <= d["spec"]["template"]["metadata"]["labels"].items()
        )
    # Every config file parses as YAML and its checksum annotation matches its text; the
    # gateway's loads with its own strict parser.
    from frontier.gateway.config import parse_config

    for o in objs:
        if o["kind"] == "ConfigMap":
            ((key, text),) = o["data"].items()
            assert isinstance(yaml.safe_load(text), dict)
            if key == "frontier.yaml":
                loaded = parse_config(yaml.safe_load(text), env={})
                ws = spec.frontier.edgebound.websocket
                assert loaded.edgebound.websocket.enable is ws.enabled
                if ws.enabled:
                    assert loaded.edgebound.websocket.listen.addr == f"0.0.0.0:{ws.port}"
                assert loaded.servicebound.token == ""  # never in the ConfigMap
            assert (
                hashlib.sha256(text.encode()).hexdigest()
                == o["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]
            )
