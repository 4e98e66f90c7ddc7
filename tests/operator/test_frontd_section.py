"""The optional ``frontd`` section of a FrontierCluster: parsing and validation, the children
it adds (ConfigMap, Service, Deployment), the status, and the CRD's schema for it."""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.frontd.config import parse_config
from frontier_operator.builders import (
    CONFIG_CHECKSUM_ANNOTATION,
    SECRETS_CHECKSUM_ANNOTATION,
    Images,
    SecretDigests,
    build_children,
)
from frontier_operator.spec import SpecError, parse_spec
from frontier_operator.status import compute_status

NS, NAME = "edge", "demo"
IMAGES = Images(frontier="r/frontier:1", frontlas="r/frontlas:1", frontd="r/frontd:1")
BASE: dict[str, Any] = {
    "frontier": {},
    "frontlas": {"redis": {"addrs": ["redis:6379"], "redisType": "standalone"}},
}


def with_frontd(**frontd: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec["frontd"] = {"secretRef": {"name": "frontd-secret"}, **frontd}
    return spec


def objs(spec: dict[str, Any], digests: SecretDigests | None = None) -> dict[tuple[str, str], Any]:
    built = build_children(parse_spec(spec, name=NAME), NAME, NS, IMAGES, digests)
    return {(c["kind"], c["metadata"]["name"]): c for c in built}


def test_without_the_section_nothing_changes() -> None:
    parsed = parse_spec(copy.deepcopy(BASE), name=NAME)
    assert parsed.frontd is None
    assert parsed.frontd_secrets() == ()
    assert not any("frontd" in name for _, name in objs(copy.deepcopy(BASE)))


def test_defaults() -> None:
    fd = parse_spec(with_frontd(), name=NAME).frontd
    assert fd is not None
    assert (fd.replicas, fd.port, fd.service_type, fd.status_format) == (
        1, 4043, "ClusterIP", "line",
    )  # fmt: skip
    assert (fd.secret.name, fd.secret.key) == ("frontd-secret", "secret")
    assert (fd.allow, fd.workers, fd.drain_seconds) == ((), 0, None)


@pytest.mark.parametrize(
    ("frontd", "path"),
    [
        ({"secretRef": None}, "spec.frontd.secretRef.name"),
        ({"secretRef": {"key": "k"}}, "spec.frontd.secretRef.name"),
        ({"allow": ["10.0.0.0/33"]}, "spec.frontd.allow[0]"),
        ({"allow": ["10.0.0.0/8", 5]}, "spec.frontd.allow[1]"),
        ({"allow": "10.0.0.0/8"}, "spec.frontd.allow"),
        ({"port": 9093}, "spec.frontd.port"),
        ({"port": 0}, "spec.frontd.port"),
        ({"workers": -1}, "spec.frontd.workers"),
        ({"statusFormat": "text"}, "spec.frontd.statusFormat"),
        ({"serviceType": "ExternalName"}, "spec.frontd.serviceType"),
        ({"serviceName": "demo-frontlas-svc"}, "spec.frontd.serviceName"),
        ({"typo": 1}, "spec.frontd.typo"),
    ],
)
def test_invalid_sections_name_the_field(frontd: dict[str, Any], path: str) -> None:
    spec = with_frontd(**frontd)
    with pytest.raises(SpecError) as caught:
        parse_spec(spec, name=NAME)
    assert any(p.path == path for p in caught.value.problems), caught.value.problems


def test_the_children_it_adds() -> None:
    built = objs(with_frontd(port=7000, serviceType="LoadBalancer", replicas=3))
    deployment = built[("Deployment", "demo-frontd")]
    service = built[("Service", "demo-frontd-svc")]
    config_map = built[("ConfigMap", "demo-frontd-config")]
    labels = {"app.kubernetes.io/name": "frontd", "app.kubernetes.io/instance": NAME}
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"] == [
        {"name": "frontd", "port": 7000, "targetPort": "frontd", "protocol": "TCP"}
    ]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "r/frontd:1"
    assert container["args"] == ["--config", "/usr/conf/frontd.yaml"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "frontd": 7000, "metrics": 9093,
    }  # fmt: skip
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz", "port": "metrics", "scheme": "HTTP",
    }  # fmt: skip
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    # the secret only ever travels as a Secret reference
    assert container["env"] == [
        {
            "name": "FRONTD_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "frontd-secret", "key": "secret"}},
        }
    ]
    assert "frontd-secret" not in config_map["data"]["frontd.yaml"].split("\n", 2)[2]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations[CONFIG_CHECKSUM_ANNOTATION]
        == config_map["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]
    )
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }
    budget = built[("PodDisruptionBudget", "demo-frontd")]
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}


def test_its_disruption_budget_follows_the_spec() -> None:
    off = objs(with_frontd(podDisruptionBudget={"enabled": False}))
    assert ("PodDisruptionBudget", "demo-frontd") not in off
    assert ("PodDisruptionBudget", "demo-frontier") in off
    quarter = objs(with_frontd(podDisruptionBudget={"maxUnavailable": "25%"}))
    assert quarter[("PodDisruptionBudget", "demo-frontd")]["spec"]["maxUnavailable"] == "25%"
    with pytest.raises(SpecError, match=r"spec\.frontd\.podDisruptionBudget\.maxUnavailable"):
        objs(with_frontd(podDisruptionBudget={"maxUnavailable": "150%"}))


def test_the_rendered_config_is_a_valid_frontd_config() -> None:
    spec = with_frontd(
        allow=["10.0.0.0/8:7000-7999", "[fd00::/8]:443"], workers=2, statusFormat="byte",
        drainSeconds=12,
    )  # fmt: skip
    text = objs(spec)[("ConfigMap", "demo-frontd-config")]["data"]["frontd.yaml"]
    config = parse_config(yaml.safe_load(text), {"FRONTD_SECRET": "from-the-secret"})
    assert config.listen.addr == "0.0.0.0:4043"
    assert (config.listen.reuse, config.worker_count) == (True, 2)
    assert config.backend.allow == ("10.0.0.0/8:7000-7999", "[fd00::/8]:443")
    assert config.handshake.status_format == "byte"
    assert config.daemon.drain_seconds == 12
    assert config.observability.addr == "0.0.0.0:9093"


def test_the_drain_fits_the_grace_period_by_default() -> None:
    text = objs(with_frontd(pod={"terminationGracePeriodSeconds": 40}))[
        ("ConfigMap", "demo-frontd-config")
    ]["data"]["frontd.yaml"]
    assert yaml.safe_load(text)["daemon"]["drain_seconds"] == 40 - 5 - 10  # preStop, headroom


def test_a_rotated_secret_rolls_frontd_only() -> None:
    before = objs(with_frontd(), SecretDigests(frontd="a" * 64))
    after = objs(with_frontd(), SecretDigests(frontd="b" * 64))
    template = before[("Deployment", "demo-frontd")]["spec"]["template"]["metadata"]
    assert template["annotations"][SECRETS_CHECKSUM_ANNOTATION] == "a" * 64
    assert before[("Deployment", "demo-frontier")] == after[("Deployment", "demo-frontier")]
    assert before[("Deployment", "demo-frontd")] != after[("Deployment", "demo-frontd")]


def test_frontd_secrets_are_watched() -> None:
    assert parse_spec(with_frontd(), name=NAME).frontd_secrets() == ("frontd-secret",)


def deployment_status(ready: int, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def test_status_counts_frontd_when_configured() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    common = {
        "generation": 1,
        "frontlas": deployment_status(1, 1),
        "frontier": deployment_status(1, 1),
        "previous": None,
        "now": now,
        "desired_frontlas": 1,
        "desired_frontier": 1,
    }
    without = compute_status(**common)  # type: ignore[arg-type]
    assert "frontdReadyReplicas" not in without
    assert without["phase"] == "Running"
    waiting = compute_status(**common, frontd=deployment_status(0, 2), desired_frontd=2)  # type: ignore[arg-type]
    assert waiting["frontdReadyReplicas"] == 0
    assert waiting["phase"] != "Running"
    assert "frontd 0/2 ready" in waiting["message"]
    running = compute_status(**common, frontd=deployment_status(2, 2), desired_frontd=2)  # type: ignore[arg-type]
    assert (running["phase"], running["frontdReadyReplicas"]) == ("Running", 2)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "replicas": st.integers(-1, 3),
            "port": st.sampled_from([0, 1, 4043, 9093, 65535, 65536]),
            "workers": st.integers(-1, 300),
            "statusFormat": st.sampled_from(["line", "byte", "x"]),
            "serviceType": st.sampled_from(["ClusterIP", "NodePort", "Nope"]),
            "allow": st.lists(st.sampled_from(["10.0.0.0/8", "10.0.0.0/8:80", "x", "[::1]:1"])),
        },
    )
)
def test_parse_never_raises_anything_but_spec_error(frontd: dict[str, Any]) -> None:
    try:
        parsed = parse_spec(with_frontd(**frontd), name=NAME)
    except SpecError:
        return
    assert parsed.frontd is not None
    objs(with_frontd(**frontd))  # and whatever parses builds


def test_the_example_in_docs_operator_md_is_a_valid_spec() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    section = doc.split("### `spec.frontd` (optional)", 1)[1].split("\n### ", 1)[0]
    example = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    spec = {**copy.deepcopy(BASE), **example["spec"]}
    fd = parse_spec(spec, name=NAME).frontd
    assert fd is not None
    assert (fd.secret.name, fd.service_type, fd.allow) == (
        "frontd-secret", "LoadBalancer", ("10.0.0.0/8:7000-7999",),
    )  # fmt: skip
