"""Parsing and validation of FrontierCluster specs (frontier_operator.spec)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier_operator.spec import (
    DEFAULT_CONTROL_API_PORT,
    DEFAULT_EDGEBOUND_PORT,
    DEFAULT_FRONTLAS_CONTROLPLANE_PORT,
    DEFAULT_FRONTLAS_FRONTIERPLANE_PORT,
    DEFAULT_SERVICEBOUND_PORT,
    DEFAULT_WEBSOCKET_PORT,
    ClusterSpec,
    EdgeWebSocket,
    SecretKeyRef,
    SpecError,
    parse_spec,
)

# The sample shipped with upstream's operator (config/samples), verbatim.
UPSTREAM_SAMPLE: dict[str, Any] = {
    "frontier": {
        "replicas": 1,
        "servicebound": {"port": 30011},
        "edgebound": {"port": 30012},
    },
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


WS = "spec.frontier.edgebound.websocket"
TOKEN = "spec.frontier.servicebound.tokenSecretRef"


def minimal() -> dict[str, Any]:
    return {
        "frontier": {},
        "frontlas": {"redis": {"addrs": ["redis:6379"], "redisType": "standalone"}},
    }


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with ``value`` set at the dotted ``path`` (creating objects)."""
    out = copy.deepcopy(base)
    node = out
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return out


def problems(spec: Any, name: str | None = None) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(spec, name=name)
    found: dict[str, str] = {}
    for p in info.value.problems:
        found[p.path] = f"{found[p.path]} | {p.message}" if p.path in found else p.message
    return found


def test_upstream_sample_parses_with_its_values_and_the_defaults() -> None:
    spec = parse_spec(UPSTREAM_SAMPLE, name="frontiercluster")
    f, fl = spec.frontier, spec.frontlas
    assert f.replicas == 1
    assert f.servicebound.port == 30011
    assert f.servicebound.service_type == "ClusterIP"
    assert f.edgebound.service_type == "NodePort"
    assert not f.edgebound.tls.enabled
    assert fl.redis.redis_type == "sentinel"
    assert fl.redis.addrs == ("rfs-redisfailover:26379",)
    assert fl.redis.master_name == "mymaster"
    assert fl.redis.password == "your-password"
    assert fl.controlplane.frontier_plane_port == DEFAULT_FRONTLAS_FRONTIERPLANE_PORT
    assert any("password is deprecated" in w for w in spec.warnings)


def test_omitted_fields_get_the_documented_defaults() -> None:
    spec = parse_spec(minimal())
    f, fl = spec.frontier, spec.frontlas
    # Upstream wrote an omitted replicas through as 0; ours is 1, like the CRD default.
    assert (f.replicas, fl.replicas) == (1, 1)
    assert (f.image, fl.image) == (None, None)
    assert f.servicebound.port == DEFAULT_SERVICEBOUND_PORT
    assert f.edgebound.port == DEFAULT_EDGEBOUND_PORT
    assert (f.servicebound.service_type, f.edgebound.service_type) == ("ClusterIP", "NodePort")
    assert fl.controlplane.service_type == "ClusterIP"
    assert (f.controlplane.enabled, f.controlplane.port) == (False, DEFAULT_CONTROL_API_PORT)
    assert fl.controlplane.port == DEFAULT_FRONTLAS_CONTROLPLANE_PORT
    assert fl.controlplane.frontier_plane_port == DEFAULT_FRONTLAS_FRONTIERPLANE_PORT
    assert fl.redis.db == 0
    assert f.drain_seconds is None
    assert f.edgebound.websocket == EdgeWebSocket()
    assert not f.edgebound.websocket.enabled
    assert f.edgebound.websocket.port == DEFAULT_WEBSOCKET_PORT == 30013
    assert f.servicebound.token_secret is None
    assert spec.warnings == ()


def test_explicit_zero_replicas_is_kept() -> None:
    spec = parse_spec(with_(with_(minimal(), "frontier.replicas", 0), "frontlas.replicas", 0))
    assert (spec.frontier.replicas, spec.frontlas.replicas) == (0, 0)


def test_empty_strings_mean_unset_as_in_upstream() -> None:
    spec = minimal()
    spec["frontier"] = {"image": "", "servicebound": {"service": ""}}
    parsed = parse_spec(spec, name="c")
    assert parsed.frontier.image is None
    assert parsed.names("c").servicebound_service == "c-servicebound-svc"


@pytest.mark.parametrize(
    ("path", "value", "where", "fragment"),
    [
        ("frontier.replicas", -1, "spec.frontier.replicas", ">= 0"),
        ("frontier.replicas", "2", "spec.frontier.replicas", "integer"),
        ("frontier.replicas", True, "spec.frontier.replicas", "integer"),
        ("frontlas.replicas", 2**31, "spec.frontlas.replicas", "<="),
        ("frontier.servicebound.port", 0, "spec.frontier.servicebound.port", ">= 1"),
        ("frontier.edgebound.port", 65536, "spec.frontier.edgebound.port", "<= 65535"),
        ("frontlas.controlplane.port", -5, "spec.frontlas.controlplane.port", ">= 1"),
        (
            "frontier.servicebound.serviceType",
            "ExternalName",
            "spec.frontier.servicebound.serviceType",
            "one of",
        ),
        ("frontier.edgebound.serviceType", "nodeport", "spec.frontier.edgebound.serviceType", ""),
        ("frontlas.controlplane.serviceType", 3, "spec.frontlas.controlplane.serviceType", ""),
        ("frontier.servicebound.service", "Bad_Name", "spec.frontier.servicebound.service", ""),
        ("frontier.edgebound.serviceName", "9lives", "spec.frontier.edgebound.serviceName", ""),
        ("frontier.edgebound.serviceName", "a" * 64, "spec.frontier.edgebound.serviceName", ""),
        ("frontier.image", 7, "spec.frontier.image", "string"),
        ("frontier.edgebound.tls", "yes", "spec.frontier.edgebound.tls", "object"),
        ("frontier.edgebound.tls.enabled", "true", "spec.frontier.edgebound.tls.enabled", ""),
        ("frontier.drainSeconds", -1, "spec.frontier.drainSeconds", ">= 0"),
        ("frontier.pod.imagePullPolicy", "Sometimes", "spec.frontier.pod.imagePullPolicy", ""),
        (
            "frontlas.pod.terminationGracePeriodSeconds",
            -1,
            "spec.frontlas.pod.terminationGracePeriodSeconds",
            ">= 0",
        ),
        ("frontier.pod.labels", {"tier": 1}, "spec.frontier.pod.labels.tier", "string"),
        ("frontier.pod.tolerations", {"key": "x"}, "spec.frontier.pod.tolerations", "array"),
        ("frontier.pod.tolerations", ["x"], "spec.frontier.pod.tolerations[0]", "object"),
        ("frontier.pod.imagePullSecrets", [{}], "spec.frontier.pod.imagePullSecrets[0].name", ""),
        ("frontier.pod.affinity", [], "spec.frontier.pod.affinity", "object"),
        ("frontier.nodeAffinity", "zone-a", "spec.frontier.nodeAffinity", "object"),
        ("frontier.bogus", 1, "spec.frontier.bogus", "unknown field"),
        ("frontier.edgebound.tls.sni", "x", "spec.frontier.edgebound.tls.sni", "unknown field"),
        ("frontlas.redis.passwd", "x", "spec.frontlas.redis.passwd", "unknown field"),
        ("frontier.pod.env", [], "spec.frontier.pod.env", "unknown field"),
        ("frontlas.redis.addrs", [], "spec.frontlas.redis.addrs", "at least one"),
        ("frontlas.redis.addrs", "redis:6379", "spec.frontlas.redis.addrs", "array"),
        ("frontlas.redis.addrs", ["redis"], "spec.frontlas.redis.addrs[0]", "host:port"),
        ("frontlas.redis.addrs", ["redis:99999"], "spec.frontlas.redis.addrs[0]", "host:port"),
        ("frontlas.redis.addrs", [6379], "spec.frontlas.redis.addrs[0]", "host:port"),
        ("frontlas.redis.redisType", "replicated", "spec.frontlas.redis.redisType", "one of"),
        ("frontlas.redis.db", -1, "spec.frontlas.redis.db", ">= 0"),
        (
            "frontlas.redis.passwordSecret",
            {"name": "s"},
            "spec.frontlas.redis.passwordSecret.key",
            "",
        ),
        (
            "frontlas.redis.passwordSecret",
            {"key": "k"},
            "spec.frontlas.redis.passwordSecret.name",
            "",
        ),
        (
            "frontlas.redis.passwordSecret",
            {"name": "s", "key": "k", "optional": "no"},
            "spec.frontlas.redis.passwordSecret.optional",
            "boolean",
        ),
        ("frontier.edgebound.websocket", [], "spec.frontier.edgebound.websocket", "object"),
        ("frontier.edgebound.websocket.enabled", "on", f"{WS}.enabled", "boolean"),
        ("frontier.edgebound.websocket.port", 0, f"{WS}.port", ">= 1"),
        ("frontier.edgebound.websocket.path", "geminio", f"{WS}.path", "URL path"),
        ("frontier.edgebound.websocket.path", "/a?b", f"{WS}.path", "URL path"),
        ("frontier.edgebound.websocket.allowedOrigins", "x", f"{WS}.allowedOrigins", "array"),
        (
            "frontier.edgebound.websocket.allowedOrigins",
            ["https://ok.example.com", "app.example.com"],
            f"{WS}.allowedOrigins[1]",
            "not an origin",
        ),
        (
            "frontier.edgebound.websocket.allowedOrigins",
            ["https://app.example.com/"],
            f"{WS}.allowedOrigins[0]",
            "not an origin",
        ),
        ("frontier.edgebound.websocket.subprotocol", "a b", f"{WS}.subprotocol", "HTTP token"),
        ("frontier.edgebound.websocket.subprotocol", 1, f"{WS}.subprotocol", "string"),
        ("frontier.edgebound.websocket.maxMessageBytes", 1024, f"{WS}.maxMessageBytes", "65536"),
        ("frontier.edgebound.websocket.tls", {}, f"{WS}.tls", "unknown field"),
        ("frontier.servicebound.tokenSecretRef", {}, f"{TOKEN}.name", "is required"),
        ("frontier.servicebound.tokenSecretRef", {"key": "t"}, f"{TOKEN}.name", "is required"),
        ("frontier.servicebound.tokenSecretRef", {"name": "Bad_"}, f"{TOKEN}.name", "DNS-1123"),
        (
            "frontier.servicebound.tokenSecretRef",
            {"name": "s", "key": "a/b"},
            f"{TOKEN}.key",
            "not a Secret key",
        ),
        (
            "frontier.servicebound.tokenSecretRef",
            {"name": "s", "optional": True},
            f"{TOKEN}.optional",
            "unknown",
        ),
    ],
)
def test_invalid_field_is_reported_at_its_path(
    path: str, value: Any, where: str, fragment: str
) -> None:
    found = problems(with_(minimal(), path, value))
    assert where in found, found
    assert fragment in found[where]


@pytest.mark.parametrize(
    ("tls", "where", "fragment"),
    [
        ({"enabled": True}, "spec.frontier.edgebound.tls.certificateKeySecretRef.name", "tls.crt"),
        (
            {"enabled": True, "mtls": True, "certificateKeySecretRef": {"name": "cert"}},
            "spec.frontier.edgebound.tls.caCertificateSecretRef.name",
            "ca.crt",
        ),
        (
            {"mtls": True, "caCertificateSecretRef": {"name": "ca"}},
            "spec.frontier.edgebound.tls.mtls",
            "enabled",
        ),
        (
            {"enabled": True, "certificateKeySecretRef": {"name": "Not_A_Name"}},
            "spec.frontier.edgebound.tls.certificateKeySecretRef.name",
            "DNS-1123",
        ),
    ],
)
def test_tls_cross_field_rules(tls: dict[str, Any], where: str, fragment: str) -> None:
    found = problems(with_(minimal(), "frontier.edgebound.tls", tls))
    assert fragment in found[where]


def test_mtls_with_both_secrets_is_valid() -> None:
    tls = {
        "enabled": True,
        "mtls": True,
        "certificateKeySecretRef": {"name": "edge-cert"},
        "caCertificateSecretRef": {"name": "edge-ca"},
    }
    spec = parse_spec(with_(minimal(), "frontier.edgebound.tls", tls))
    t = spec.frontier.edgebound.tls
    assert (t.enabled, t.mtls, t.certificate_key_secret, t.ca_certificate_secret) == (
        True,
        True,
        "edge-cert",
        "edge-ca",
    )
    assert spec.referenced_secrets() == (("edge-cert", "edge-ca"), ())


def test_ca_secret_without_mtls_is_not_referenced() -> None:
    tls = {
        "enabled": True,
        "certificateKeySecretRef": {"name": "edge-cert"},
        "caCertificateSecretRef": {"name": "edge-ca"},
    }
    spec = parse_spec(with_(minimal(), "frontier.edgebound.tls", tls))
    assert spec.referenced_secrets() == (("edge-cert",), ())


def test_tls_optional_is_a_warning_not_silently_ignored() -> None:
    tls = {"enabled": True, "optional": True, "certificateKeySecretRef": {"name": "c"}}
    spec = parse_spec(with_(minimal(), "frontier.edgebound.tls", tls))
    assert spec.frontier.edgebound.tls.optional
    assert any("tls.optional" in w and "not supported" in w for w in spec.warnings)


def test_disruption_budget_defaults_to_one_unavailable_pod_per_component() -> None:
    spec = parse_spec(minimal())
    for budget in (spec.frontier.disruption_budget, spec.frontlas.disruption_budget):
        assert (budget.enabled, budget.max_unavailable) == (True, 1)
    spec = parse_spec(
        with_(
            with_(minimal(), "frontier.podDisruptionBudget", {"maxUnavailable": "50%"}),
            "frontlas.podDisruptionBudget",
            {"enabled": False, "maxUnavailable": 2},
        )
    )
    assert spec.frontier.disruption_budget.max_unavailable == "50%"
    assert not spec.frontlas.disruption_budget.enabled
    assert spec.frontlas.disruption_budget.max_unavailable == 2
    assert not spec.warnings


@pytest.mark.parametrize(
    ("budget", "fragment"),
    [
        ({"maxUnavailable": -1}, ">= 0"),
        ({"maxUnavailable": "101%"}, "percentage"),
        ({"maxUnavailable": "one"}, "percentage"),
        ({"maxUnavailable": True}, "integer or a percentage"),
        ({"enabled": "yes"}, "boolean"),
    ],
)
def test_disruption_budget_rejects_what_policy_v1_would(
    budget: dict[str, Any], fragment: str
) -> None:
    found = problems(with_(minimal(), "frontier.podDisruptionBudget", budget))
    (where,) = found
    assert where.startswith("spec.frontier.podDisruptionBudget.")
    assert fragment in found[where]
    assert "spec.frontier.podDisruptionBudget.minAvailable" in problems(
        with_(minimal(), "frontier.podDisruptionBudget", {"minAvailable": 1})
    )


@pytest.mark.parametrize("blocking", [0, "0%"])
def test_disruption_budget_that_blocks_every_drain_is_a_warning(blocking: int | str) -> None:
    spec = parse_spec(
        with_(minimal(), "frontlas.podDisruptionBudget", {"maxUnavailable": blocking})
    )
    assert spec.frontlas.disruption_budget.max_unavailable == blocking
    assert any("node drains will wait" in w for w in spec.warnings)


@pytest.mark.parametrize(
    ("redis", "where", "fragment"),
    [
        ({"addrs": ["a:1", "b:2"], "redisType": "standalone"}, "spec.frontlas.redis.addrs", "one"),
        ({"addrs": ["s:26379"], "redisType": "sentinel"}, "spec.frontlas.redis.masterName", ""),
        ({"addrs": ["c:7000"], "redisType": "cluster", "db": 2}, "spec.frontlas.redis.db", "0"),
        ({"redisType": "standalone"}, "spec.frontlas.redis.addrs", "required"),
        ({"addrs": ["r:6379"]}, "spec.frontlas.redis.redisType", "required"),
        ({"addrs": ["r:6379"], "redisType": ""}, "spec.frontlas.redis.redisType", "required"),
    ],
)
def test_redis_rules(redis: dict[str, Any], where: str, fragment: str) -> None:
    found = problems(with_(minimal(), "frontlas.redis", redis))
    assert fragment in found[where]


def test_missing_redis_is_reported() -> None:
    assert "spec.frontlas.redis" in problems({"frontier": {}, "frontlas": {}})


def test_redis_password_secret_wins_over_plaintext_with_a_warning() -> None:
    redis = {
        "addrs": ["r:6379"],
        "redisType": "standalone",
        "password": "hunter2",
        "passwordSecret": {"name": "redis-auth", "key": "password", "optional": False},
    }
    spec = parse_spec(with_(minimal(), "frontlas.redis", redis))
    r = spec.frontlas.redis
    assert r.password is None
    assert r.password_secret is not None
    assert (r.password_secret.name, r.password_secret.key, r.password_secret.optional) == (
        "redis-auth",
        "password",
        False,
    )
    assert any("passwordSecret takes precedence" in w for w in spec.warnings)
    assert spec.referenced_secrets() == ((), ("redis-auth",))


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"frontier.servicebound.port": 30012}, "spec.frontier.edgebound.port"),
        ({"frontier.edgebound.port": 9091}, "spec.frontier.edgebound.port"),
        (
            {"frontier.controlplane.enabled": True, "frontier.controlplane.port": 30011},
            "spec.frontier.controlplane.port",
        ),
        (
            {"frontlas.controlplane.frontierPlanePort": 40011},
            "spec.frontlas.controlplane.frontierPlanePort",
        ),
        ({"frontlas.controlplane.port": 9092}, "spec.frontlas.controlplane.port"),
    ],
)
def test_port_clashes_within_a_pod(patch: dict[str, Any], where: str) -> None:
    spec = minimal()
    for path, value in patch.items():
        spec = with_(spec, path, value)
    assert "port" in problems(spec)[where]


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (30011, "port 30011 is also used by spec.frontier.servicebound.port"),
        (30012, "port 30012 is also used by spec.frontier.edgebound.port"),
        (9091, "port 9091 is reserved for the metrics and health endpoints"),
    ],
)
def test_websocket_port_clashes_are_rejected(port: int, message: str) -> None:
    spec = with_(minimal(), "frontier.edgebound.websocket", {"enabled": True, "port": port})
    assert problems(spec) == {f"{WS}.port": message}


def test_websocket_port_clashing_with_the_control_api() -> None:
    spec = with_(minimal(), "frontier.edgebound.websocket", {"enabled": True, "port": 30010})
    spec = with_(spec, "frontier.controlplane.enabled", True)
    # The later field names the earlier one (control API after the WebSocket listener).
    assert problems(spec) == {
        "spec.frontier.controlplane.port": f"port 30010 is also used by {WS}.port"
    }


def test_disabled_websocket_port_does_not_clash() -> None:
    spec = with_(minimal(), "frontier.edgebound.websocket", {"enabled": False, "port": 30012})
    assert parse_spec(spec).frontier.edgebound.websocket.port == 30012


def test_websocket_fields_are_parsed() -> None:
    spec = with_(
        minimal(),
        "frontier.edgebound.websocket",
        {
            "enabled": True,
            "port": 443,
            "path": "/geminio",
            "allowedOrigins": ["https://app.example.com", "http://localhost:8080"],
            "subprotocol": "",
            "maxMessageBytes": 65536,
        },
    )
    assert parse_spec(spec).frontier.edgebound.websocket == EdgeWebSocket(
        enabled=True,
        port=443,
        path="/geminio",
        allowed_origins=("https://app.example.com", "http://localhost:8080"),
        subprotocol="",  # explicitly none required, unlike an absent field
        max_message_bytes=65536,
    )
    absent = with_(minimal(), "frontier.edgebound.websocket", {"enabled": True, "path": ""})
    ws = parse_spec(absent).frontier.edgebound.websocket
    assert (ws.path, ws.subprotocol, ws.max_message_bytes) == ("/", "geminio", 1048576)


def test_token_secret_is_read_by_frontier_and_its_key_defaults_to_token() -> None:
    spec = parse_spec(with_(minimal(), "frontier.servicebound.tokenSecretRef", {"name": "svc"}))
    assert spec.frontier.servicebound.token_secret == SecretKeyRef("svc", "token")
    assert spec.referenced_secrets() == (("svc",), ())
    keyed = with_(minimal(), "frontier.servicebound.tokenSecretRef", {"name": "a", "key": "k"})
    assert parse_spec(keyed).frontier.servicebound.token_secret == SecretKeyRef("a", "k")


def test_disabled_control_api_port_does_not_clash() -> None:
    spec = with_(minimal(), "frontier.controlplane.port", 30011)
    assert not parse_spec(spec).frontier.controlplane.enabled


def test_ports_may_repeat_across_components() -> None:
    # frontier and frontlas are different pods and Services: no clash.
    spec = with_(minimal(), "frontlas.controlplane.port", 30011)
    assert parse_spec(spec).frontlas.controlplane.port == 30011


def test_every_problem_is_reported_at_once() -> None:
    spec = {
        "frontier": {
            "replicas": -1,
            "edgebound": {"port": 0, "tls": {"mtls": True}},
            "typo": True,
        },
        "frontlas": {"redis": {"addrs": ["nope"], "redisType": "bogus"}},
        "extra": {},
    }
    found = problems(spec)
    assert {
        "spec.frontier.replicas",
        "spec.frontier.edgebound.port",
        "spec.frontier.edgebound.tls.mtls",
        "spec.frontier.edgebound.tls.caCertificateSecretRef.name",
        "spec.frontier.typo",
        "spec.frontlas.redis.addrs[0]",
        "spec.frontlas.redis.redisType",
        "spec.extra",
    } <= set(found)


def test_spec_error_message_names_every_path() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(with_(with_(minimal(), "frontier.replicas", -2), "frontlas.replicas", "x"))
    text = str(info.value)
    assert "spec.frontier.replicas: must be >= 0" in text
    assert "spec.frontlas.replicas: must be an integer" in text


@pytest.mark.parametrize("spec", [None, [], "spec", 3])
def test_non_object_spec(spec: Any) -> None:
    assert "spec" in problems(spec)


@pytest.mark.parametrize("component", ["frontier", "frontlas"])
def test_components_are_required(component: str) -> None:
    spec = minimal()
    del spec[component]
    assert f"spec.{component}" in problems(spec)
    spec[component] = None
    assert f"spec.{component}" in problems(spec)


def test_derived_names_must_fit_kubernetes_limits() -> None:
    # "-servicebound-svc" is 17 characters: 46 is the longest name with default Services.
    assert parse_spec(minimal(), name="a" * 46).names("a" * 46).servicebound_service
    found = problems(minimal(), name="a" * 47)
    assert "longer than 63" in found["metadata.name"]


def test_explicit_service_names_lift_the_derived_name_limit() -> None:
    spec = minimal()
    spec["frontier"] = {"servicebound": {"service": "sb"}, "edgebound": {"serviceName": "eb"}}
    spec["frontlas"]["controlplane"] = {"service": "fl"}
    name = "a" * 47
    names = parse_spec(spec, name=name).names(name)
    assert (names.servicebound_service, names.edgebound_service, names.frontlas_service) == (
        "sb",
        "eb",
        "fl",
    )


@pytest.mark.parametrize("name", ["Upper", "1abc", "a.b", "a_b", ""])
def test_cr_name_must_be_a_dns1035_label(name: str) -> None:
    assert "metadata.name" in problems(minimal(), name=name)


def test_service_names_must_be_distinct() -> None:
    spec = minimal()
    spec["frontier"] = {"servicebound": {"service": "gw"}, "edgebound": {"serviceName": "gw"}}
    found = problems(spec, name="c")
    assert "spec.frontier.servicebound.service" in found["spec.frontier.edgebound.serviceName"]


def test_a_service_name_may_equal_a_derived_default_of_another_kind() -> None:
    spec = with_(minimal(), "frontier.servicebound.service", "c-frontier")
    assert parse_spec(spec, name="c").names("c").servicebound_service == "c-frontier"


def test_reserved_labels_and_annotations_are_warned_about() -> None:
    spec = with_(
        minimal(),
        "frontier.pod",
        {
            "labels": {"app.kubernetes.io/instance": "other", "team": "edge"},
            "annotations": {"frontier.singchia.io/config-checksum": "x", "note": "y"},
        },
    )
    parsed = parse_spec(spec)
    assert parsed.frontier.pod.labels == {"app.kubernetes.io/instance": "other", "team": "edge"}
    assert sum("is set by the operator" in w for w in parsed.warnings) == 2


def test_pod_overrides_are_parsed_into_typed_fields() -> None:
    pod = {
        "resources": {"limits": {"cpu": "1", "memory": "256Mi"}},
        "nodeSelector": {"zone": "a"},
        "tolerations": [{"key": "edge", "operator": "Exists"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}],
        "affinity": {"nodeAffinity": {}},
        "priorityClassName": "high",
        "serviceAccountName": "frontier-sa",
        "imagePullSecrets": [{"name": "regcred"}],
        "imagePullPolicy": "Always",
        "annotations": {"a": "b"},
        "labels": {"c": "d"},
        "podSecurityContext": {"runAsUser": 1000},
        "containerSecurityContext": {"privileged": False},
        "terminationGracePeriodSeconds": 90,
        "livenessProbe": {"tcpSocket": {"port": 30012}},
        "readinessProbe": {"tcpSocket": {"port": 30011}},
        "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
    }
    p = parse_spec(with_(minimal(), "frontlas.pod", pod)).frontlas.pod
    assert p.resources == pod["resources"]
    assert p.node_selector == {"zone": "a"}
    assert p.tolerations == pod["tolerations"]
    assert p.topology_spread_constraints == pod["topologySpreadConstraints"]
    assert p.affinity == {"nodeAffinity": {}}
    assert (p.priority_class_name, p.service_account_name) == ("high", "frontier-sa")
    assert p.image_pull_secrets == [{"name": "regcred"}]
    assert p.image_pull_policy == "Always"
    assert (p.annotations, p.labels) == ({"a": "b"}, {"c": "d"})
    assert p.pod_security_context == {"runAsUser": 1000}
    assert p.container_security_context == {"privileged": False}
    assert p.termination_grace_period_seconds == 90
    assert p.liveness_probe == pod["livenessProbe"]
    assert p.readiness_probe == pod["readinessProbe"]
    assert p.lifecycle == pod["lifecycle"]


def test_parsed_spec_does_not_alias_the_input() -> None:
    raw = with_(minimal(), "frontier.pod", {"affinity": {"podAffinity": {"x": [1]}}})
    parsed = parse_spec(raw)
    raw["frontier"]["pod"]["affinity"]["podAffinity"]["x"].append(2)
    assert parsed.frontier.pod.affinity == {"podAffinity": {"x": [1]}}


def test_parsing_is_deterministic_and_comparable() -> None:
    assert parse_spec(UPSTREAM_SAMPLE) == parse_spec(copy.deepcopy(UPSTREAM_SAMPLE))
    assert parse_spec(UPSTREAM_SAMPLE) != parse_spec(minimal())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "frontier",
                    "frontlas",
                    "replicas",
                    "port",
                    "redis",
                    "addrs",
                    "redisType",
                    "tls",
                    "enabled",
                    "mtls",
                    "edgebound",
                    "servicebound",
                    "pod",
                    "labels",
                    "passwordSecret",
                    "name",
                    "key",
                    "controlplane",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.one_of(st.none(), st.text(max_size=70)))
def test_arbitrary_input_yields_a_spec_or_a_spec_error(value: Any, name: str | None) -> None:
    result: ClusterSpec | SpecError
    try:
        result = parse_spec(value, name=name)
    except SpecError as e:
        result = e
    if isinstance(result, SpecError):
        assert result.problems, "a SpecError always names at least one problem"
        assert all(p.path.startswith(("spec", "metadata.name")) for p in result.problems)
    else:
        assert isinstance(result, ClusterSpec)
