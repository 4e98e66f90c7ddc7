"""The FrontierCluster CRD (crds/frontiercluster.yaml): well-formed for a Kubernetes 1.20 API
server, structural, and in step with frontier_operator.spec and .status.

A small structural defaulter and validator below mimic what the API server does with the
schema (prune nulls, apply defaults top-down, check types/enums/ranges/patterns/required), so
the tests can check that the CRD and ``parse_spec`` agree without a cluster.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier_operator.spec import CRD_DEFAULTS, SpecError, parse_spec
from frontier_operator.status import Failure, compute_status

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "frontiercluster.yaml"

# Schema keywords a v1.20 API server accepts in a structural v1 CRD (no CEL, which is 1.25+).
ALLOWED_KEYWORDS = {
    "type",
    "format",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "nullable",
    "anyOf",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def load_crd() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(CRD_PATH.read_text()) if d]
    assert len(docs) == 1
    crd: dict[str, Any] = docs[0]
    return crd


CRD = load_crd()
VERSION = CRD["spec"]["versions"][0]
SCHEMA: dict[str, Any] = VERSION["schema"]["openAPIV3Schema"]
SPEC_SCHEMA: dict[str, Any] = SCHEMA["properties"]["spec"]
STATUS_SCHEMA: dict[str, Any] = SCHEMA["properties"]["status"]


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with a dotted path (``[]`` for array items, ``{}`` for map values)."""
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from nodes(sub, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")
    for i, sub in enumerate(schema.get("anyOf") or ()):
        yield from nodes(sub, f"{path}|anyOf{i}")


# --------------------------------------------------------------------------------------------
# what the API server does with a structural schema


def prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting: missing properties with a default get it, then recurse (so a
    defaulted ``{}`` gets its own nested defaults, as the API server does)."""
    if isinstance(value, dict):
        out = dict(value)
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
        for key in list(out):
            if key in props:
                out[key] = apply_defaults(props[key], out[key])
            elif isinstance(schema.get("additionalProperties"), dict):
                out[key] = apply_defaults(schema["additionalProperties"], out[key])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    errors: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            errors.append(f"{path}: not int-or-string")
        return errors
    t: str = schema.get("type", "")
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }.get(t, True)
    if not ok:
        return [f"{path}: not {t}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not in enum")
    if t in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum")
        bits = {"int32": 31, "int64": 63}.get(schema.get("format", ""))
        if bits is not None and not -(2**bits) <= value < 2**bits:
            errors.append(f"{path}: outside {schema['format']}")
    if t == "string":
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: too long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: pattern")
    if t == "array":
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        for i, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{i}]")
    if t == "object":
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{path}.{key}: required")
        props = schema.get("properties") or {}
        for key, item in value.items():
            if key in props:
                errors += validate(props[key], item, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(schema["additionalProperties"], item, f"{path}.{key}")
            # else: pruned (or preserved) by the API server, never an error
    return errors


def prune_unknown(schema: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return value
        props: dict[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {k: prune_unknown(extra, v) for k, v in value.items()}
        return {k: prune_unknown(props[k], v) for k, v in value.items() if k in props}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_unknown(schema["items"], v) for v in value]
    return value


def admit(spec: Any) -> tuple[Any, list[str]]:
    """What the API server stores for ``spec`` and the validation errors it would return."""
    stored = apply_defaults(SPEC_SCHEMA, prune_unknown(SPEC_SCHEMA, prune_nulls(spec)))
    return stored, validate(SPEC_SCHEMA, stored, "spec")


# --------------------------------------------------------------------------------------------
# identity


def test_crd_identity() -> None:
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1"
    assert CRD["kind"] == "CustomResourceDefinition"
    assert CRD["metadata"]["name"] == "frontierclusters.frontier.singchia.io"
    spec = CRD["spec"]
    assert spec["group"] == "frontier.singchia.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "FrontierCluster",
        "listKind": "FrontierClusterList",
        "plural": "frontierclusters",
        "singular": "frontiercluster",
        "shortNames": ["fc", "fcs"],
        "categories": ["frontier"],
    }
    assert [(v["name"], v["served"], v["storage"]) for v in spec["versions"]] == [
        ("v1alpha1", True, True)
    ]
    assert VERSION["subresources"] == {"status": {}}


# --------------------------------------------------------------------------------------------
# structural and 1.20-compatible


def test_schema_uses_only_keywords_a_1_20_api_server_knows() -> None:
    for path, node in nodes(SCHEMA):
        assert set(node) <= ALLOWED_KEYWORDS, (path, set(node) - ALLOWED_KEYWORDS)
    assert "x-kubernetes-validations" not in CRD_PATH.read_text()


def test_schema_is_structural() -> None:
    assert SCHEMA["type"] == "object"
    for path, node in nodes(SCHEMA):
        if "|anyOf" in path:
            # Only the int-or-string pattern uses anyOf, and its branches carry just a type.
            assert set(node) == {"type"}, path
            continue
        if node.get("x-kubernetes-int-or-string"):
            assert node["x-kubernetes-int-or-string"] is True
            assert "type" not in node, path
            assert node.get("anyOf", [{"type": "integer"}, {"type": "string"}]) == [
                {"type": "integer"},
                {"type": "string"},
            ]
            continue
        assert node.get("type") in TYPES, f"{path or '<root>'} has no type"
        assert "anyOf" not in node, path
        if node.get("x-kubernetes-preserve-unknown-fields") is not None:
            assert node["x-kubernetes-preserve-unknown-fields"] is True, path
            assert node["type"] == "object", path
        if node["type"] == "object":
            assert not ("properties" in node and "additionalProperties" in node), path
            assert isinstance(node.get("additionalProperties", {}), dict), path
            for key in node.get("required", ()):
                assert key in node.get("properties", {}), f"{path}.{key} required but undeclared"
        else:
            assert not {"properties", "additionalProperties", "required"} & set(node), path
        if node["type"] == "array":
            assert isinstance(node["items"], dict), path
            if node.get("x-kubernetes-list-type") == "map":
                for key in node["x-kubernetes-list-map-keys"]:
                    assert key in node["items"].get("required", ()), path
        else:
            assert "items" not in node, path
        if "enum" in node:
            assert all(validate({"type": node["type"]}, v) == [] for v in node["enum"]), path
    # metadata may only carry restrictions on name/generateName: we carry none.
    assert SCHEMA["properties"]["metadata"] == {"type": "object"}


def test_every_default_is_valid_for_its_own_node() -> None:
    for path, node in nodes(SCHEMA):
        if "default" in node:
            defaulted = apply_defaults(node, copy.deepcopy(node["default"]))
            assert validate(node, defaulted, path) == [], path


def test_crd_defaults_are_exactly_the_operators() -> None:
    found = {path: node["default"] for path, node in nodes(SPEC_SCHEMA) if "default" in node}
    assert found == dict(CRD_DEFAULTS)


# --------------------------------------------------------------------------------------------
# printer columns and status


def schema_at(json_path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in json_path.lstrip(".").split("."):
        node = node["properties"][part]
    return node


def test_printer_columns() -> None:
    cols = {c["name"]: c for c in VERSION["additionalPrinterColumns"]}
    assert list(cols)[:4] == ["Phase", "Frontier Ready", "Frontlas Ready", "Age"]
    assert cols["Age"]["jsonPath"] == ".metadata.creationTimestamp"
    assert cols["Age"]["type"] == "date"
    for col in cols.values():
        assert col["type"] in {"integer", "number", "string", "boolean", "date"}
        if col["jsonPath"].startswith(".status."):
            node = schema_at(col["jsonPath"])
            assert node["type"] == col["type"], col["name"]
    assert cols["Phase"]["jsonPath"] == ".status.phase"
    assert cols["Frontier Ready"]["jsonPath"] == ".status.frontierReadyReplicas"
    assert cols["Frontlas Ready"]["jsonPath"] == ".status.frontlasReadyReplicas"


def dep(ready: int, desired: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": 1},
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": 1,
            "replicas": desired,
            "updatedReplicas": desired,
            "readyReplicas": ready,
        },
    }


@pytest.mark.parametrize(
    ("frontlas", "frontier", "failure"),
    [
        (None, None, None),
        (dep(1), None, None),
        (dep(1), dep(2, 2), None),
        (dep(1), dep(0, 2), Failure("InvalidSpec", "spec.frontier.replicas: bad")),
        (dep(0), None, Failure("ReconcileFailed", "500")),
    ],
)
def test_computed_status_fits_the_status_schema(
    frontlas: dict[str, Any] | None, frontier: dict[str, Any] | None, failure: Failure | None
) -> None:
    status = compute_status(
        generation=7,
        frontlas=frontlas,
        frontier=frontier,
        previous=None,
        now=datetime(2024, 1, 1, tzinfo=UTC),
        failure=failure,
    )
    assert validate(STATUS_SCHEMA, status, "status") == []
    # Nothing would be pruned: every field the operator writes is declared.
    assert prune_unknown(STATUS_SCHEMA, status) == status
    item = STATUS_SCHEMA["properties"]["conditions"]["items"]["properties"]
    for cond in status["conditions"]:
        assert set(cond) <= set(item)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cond["lastTransitionTime"])


# --------------------------------------------------------------------------------------------
# CRD and parse_spec agree

UPSTREAM_SAMPLE: dict[str, Any] = {
    "frontier": {"replicas": 1, "servicebound": {"port": 30011}, "edgebound": {"port": 30012}},
    "frontlas": {
        "replicas": 1,
        "controlplane": {"port": 40011},
        "redis": {
            "addrs": ["rfs-redisfailover:26379"],
            "password": "your-password",
            "masterName": "mymaster",
            "redisType": "sentinel",
        },
    },
}

# Upstream's required TLS booleans and every other upstream field, as a full manifest would
# have them.
UPSTREAM_FULL: dict[str, Any] = {
    "frontier": {
        "replicas": 2,
        "image": "singchia/frontier:1.2.5",
        "servicebound": {"port": 30011, "service": "sb", "serviceType": "ClusterIP"},
        "edgebound": {
            "port": 30012,
            "serviceName": "eb",
            "serviceType": "NodePort",
            "tls": {
                "enabled": True,
                "optional": False,
                "mtls": True,
                "certificateKeySecretRef": {"name": "edge-cert"},
                "caCertificateSecretRef": {"name": "edge-ca"},
            },
        },
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
        },
        "pod": {
            "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
            "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 30}],
            "podSecurityContext": {"runAsUser": 1000},
            "livenessProbe": {"tcpSocket": {"port": 30012}},
            "terminationGracePeriodSeconds": 120,
        },
    },
    "frontlas": {
        "replicas": 1,
        "image": "singchia/frontlas:1.2.5",
        "controlplane": {
            "port": 40011,
            "frontierPlanePort": 40012,
            "service": "fl",
            "serviceType": "ClusterIP",
        },
        "redis": {
            "addrs": ["redis:6379"],
            "db": 1,
            "user": "u",
            "passwordSecret": {"name": "redis", "key": "password"},
            "redisType": "standalone",
        },
    },
}


@pytest.mark.parametrize("manifest", [UPSTREAM_SAMPLE, UPSTREAM_FULL])
def test_upstream_manifests_apply_unchanged(manifest: dict[str, Any]) -> None:
    stored, errors = admit(manifest)
    assert errors == []
    # Nothing the user wrote is pruned away.
    assert prune_unknown(SPEC_SCHEMA, manifest) == manifest
    assert parse_spec(stored) == parse_spec(manifest)


def test_crd_defaults_replicas_where_upstream_gave_zero() -> None:
    stored, errors = admit(
        {"frontier": {}, "frontlas": {"redis": {"addrs": ["r:1"], "redisType": "cluster"}}}
    )
    assert errors == []
    assert stored["frontier"]["replicas"] == 1
    assert stored["frontlas"]["replicas"] == 1
    assert stored["frontier"]["edgebound"]["tls"] == {
        "enabled": False,
        "optional": False,
        "mtls": False,
    }


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("frontier.replicas", -1),
        ("frontier.servicebound.port", 70000),
        ("frontier.edgebound.serviceType", "ExternalName"),
        ("frontier.servicebound.service", "Bad_Name"),
        ("frontlas.redis.redisType", "replicated"),
        ("frontlas.redis.addrs", []),
        ("frontlas.redis.addrs", ["no-port"]),
        ("frontier.pod.imagePullPolicy", "Sometimes"),
        ("frontlas.redis.passwordSecret", {"name": "x"}),
        ("frontier.edgebound.websocket.port", 0),
        ("frontier.edgebound.websocket.path", "ws"),
        ("frontier.edgebound.websocket.allowedOrigins", ["app.example.com"]),
        ("frontier.edgebound.websocket.subprotocol", "a b"),
        ("frontier.edgebound.websocket.maxMessageBytes", 1024),
    ],
)
def test_the_crd_rejects_what_the_operator_rejects(path: str, value: Any) -> None:
    spec = copy.deepcopy(UPSTREAM_SAMPLE)
    node = spec
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    assert admit(spec)[1] != []
    with pytest.raises(SpecError):
        parse_spec(spec)


# Values that exercise the schema: right and wrong types, edges of ranges, enum members.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([0, 1, 9091, 30011, 30012, 30013, 40011, 40012, 65535, 65536, 2**31]),
    st.sampled_from(
        [
            "",
            "ClusterIP",
            "NodePort",
            "LoadBalancer",
            "Bad_Name",
            "svc-a",
            "standalone",
            "sentinel",
            "cluster",
            "r:6379",
            "nope",
            "Always",
            "m",
            "line",
            "byte",
            "/",
            "/geminio",
            "geminio",
            "a b",
        ]
    ),
)
LEAVES = [
    "frontier.replicas",
    "frontier.image",
    "frontier.servicebound.port",
    "frontier.servicebound.service",
    "frontier.servicebound.serviceType",
    "frontier.edgebound.port",
    "frontier.edgebound.serviceName",
    "frontier.edgebound.serviceType",
    "frontier.edgebound.tls.enabled",
    "frontier.edgebound.tls.mtls",
    "frontier.edgebound.websocket.enabled",
    "frontier.edgebound.websocket.port",
    "frontier.edgebound.websocket.path",
    "frontier.edgebound.websocket.subprotocol",
    "frontier.edgebound.websocket.maxMessageBytes",
    "frontier.servicebound.tokenSecretRef.name",
    "frontier.servicebound.tokenSecretRef.key",
    "frontier.controlplane.enabled",
    "frontier.controlplane.port",
    "frontier.drainSeconds",
    "frontier.pod.imagePullPolicy",
    "frontier.pod.terminationGracePeriodSeconds",
    "frontlas.replicas",
    "frontlas.controlplane.port",
    "frontlas.controlplane.frontierPlanePort",
    "frontlas.controlplane.serviceType",
    "frontlas.redis.db",
    "frontlas.redis.redisType",
    "frontlas.redis.masterName",
    "frontlas.redis.user",
    "frontd.replicas",
    "frontd.port",
    "frontd.serviceType",
    "frontd.workers",
    "frontd.statusFormat",
    "frontd.secretRef.name",
    "frontd.secretRef.key",
]


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "frontier": {},
        "frontlas": {"redis": {"addrs": ["r:6379"], "redisType": "standalone"}},
    }
    for path in draw(st.lists(st.sampled_from(LEAVES), max_size=4, unique=True)):
        node = spec
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = draw(scalars)
    if draw(st.booleans()):
        spec["frontlas"]["redis"]["addrs"] = draw(
            st.lists(st.sampled_from(["r:6379", "s:26379", "bad", "[::1]:6379"]), max_size=3)
        )
    return spec


@settings(max_examples=400, deadline=None)
@given(mutated_specs())
def test_crd_and_parse_spec_agree(spec: dict[str, Any]) -> None:
    stored, errors = admit(spec)
    try:
        parsed = parse_spec(spec)
    except SpecError:
        return  # the operator may be stricter (cross-field rules the schema cannot express)
    # Anything the operator accepts, the API server accepts too ...
    assert errors == [], errors
    # ... and the API server's defaulting changes nothing the operator sees.
    assert parse_spec(stored) == parsed
