"""Pure builders of every child object of a FrontierCluster.

Dict in, dict out: no API calls, no environment, no clock. The kopf handlers parse the spec
(:func:`frontier_operator.spec.parse_spec`), call :func:`build_children`, adopt the results
(owner references) and apply them; drift correction is re-applying the same output. Keeping
this layer pure is what lets every field be tested without a cluster, and makes re-applying
idempotent: the same spec always yields byte-identical manifests, so an unchanged cluster sees
no writes and no rollouts.

How :class:`~frontier_operator.spec.PodOverrides` combine with the operator's defaults:

* ``podSecurityContext`` / ``containerSecurityContext``: applied to the defaults as a JSON merge
  patch (RFC 7386): objects merge key by key, the override wins, ``null`` removes a default,
  lists replace. Setting ``runAsUser`` therefore keeps ``drop: [ALL]`` and the read-only root
  filesystem (upstream replaced the whole object and silently lost them).
* ``livenessProbe`` / ``readinessProbe`` / ``lifecycle`` / ``resources`` / ``affinity``: replace
  the default whole (merging two probe handlers would make an invalid probe). ``affinity``
  replaces both the default pod anti-affinity and the legacy ``nodeAffinity`` field, as upstream.
* ``labels`` / ``annotations``: added to the pod template; the operator's own keys (the
  ``app.kubernetes.io/*`` labels and ``frontier.singchia.io/*`` annotations) always win.
* everything else (``nodeSelector``, ``tolerations``, ``topologySpreadConstraints``,
  ``priorityClassName``, ``serviceAccountName``, ``imagePullSecrets``, ``imagePullPolicy``,
  ``terminationGracePeriodSeconds``): set as given; absent means the operator default.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .config import (
    CA_CERT_KEY,
    CONFIG_DIR,
    EDGE_TLS_CA_DIR,
    EDGE_TLS_CERT_DIR,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    RenderedConfig,
    frontlas_address,
    render_frontd_config,
    render_frontier_config,
    render_frontlas_config,
)
from .spec import (
    ANNOTATION_PREFIX,
    FRONTD_METRICS_PORT,
    FRONTIER_METRICS_PORT,
    FRONTLAS_METRICS_PORT,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_PART_OF,
    OPERATOR_LABEL_KEYS,
    ClusterSpec,
    DisruptionBudget,
    JSONDict,
    PodOverrides,
)

FRONTIER: Final = "frontier"
FRONTLAS: Final = "frontlas"
FRONTD: Final = "frontd"
_COMPONENT_ROLE: Final = {FRONTIER: "gateway", FRONTLAS: "coordinator", FRONTD: "tcp-gateway"}
MANAGED_BY: Final = "frontier-operator"
PART_OF: Final = "frontier"

CONFIG_CHECKSUM_ANNOTATION: Final = f"{ANNOTATION_PREFIX}config-checksum"
SECRETS_CHECKSUM_ANNOTATION: Final = f"{ANNOTATION_PREFIX}secrets-checksum"
#: The name of the WebSocket edge port on the frontier container and the edgebound Service.
WEBSOCKET_PORT_NAME: Final = "websocket"

#: Upstream's defaults: the preStop sleep lets endpoints propagate before SIGTERM; the grace
#: period bounds the whole shutdown.
FRONTIER_PRESTOP_SLEEP: Final = 10
FRONTLAS_PRESTOP_SLEEP: Final = 5
FRONTIER_GRACE_SECONDS: Final = 60
FRONTLAS_GRACE_SECONDS: Final = 30
FRONTD_PRESTOP_SLEEP: Final = 5
FRONTD_GRACE_SECONDS: Final = 60
#: Time left after the drain for frontier to close its connections before SIGKILL.
DRAIN_HEADROOM_SECONDS: Final = 10
RUN_AS_ID: Final = 65532
NODE_PORT_RANGE: Final = range(30000, 32768)

#: Resources of a container whose ``pod.resources`` is not set. Requests let the scheduler
#: place the pods (and an HPA compute CPU utilisation); the memory limit bounds a leaking or
#: flooded process to its own pod. frontier: about 3.7 KB per idle edge (README performance
#: table), so 1 GiB holds some 200,000 idle edges; frontlas keeps its state in Redis.
DEFAULT_RESOURCES: Final[Mapping[str, Mapping[str, Mapping[str, str]]]] = {
    "frontier": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    "frontlas": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    # frontd relays with splice through pooled pipes: little memory per connection
    "frontd": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}
#: ``policy/v1`` from Kubernetes 1.21 (the only one from 1.25); the handlers pass
#: ``policy/v1beta1`` to :func:`build_children` on older API servers.
PDB_API_VERSION: Final = "policy/v1"


@dataclass(frozen=True)
class Images:
    """Data-plane images. The operator fills these from ``FRONTIER_IMAGE`` / ``FRONTLAS_IMAGE``
    / ``FRONTD_IMAGE``; ``spec.<component>.image`` overrides them per cluster."""

    frontier: str
    frontlas: str
    frontd: str = "frontier-py/frontd:0.1.0"


@dataclass(frozen=True)
class SecretDigests:
    """Digests (:func:`frontier_operator.config.digest_secrets`) of the Secrets each component
    reads; put on the pod templates so a rotated Secret rolls the pods. ``None``: not known."""

    frontier: str | None = None
    frontlas: str | None = None
    frontd: str | None = None


# --------------------------------------------------------------------------------------------
# labels


def selector_labels(name: str, component: str) -> dict[str, str]:
    """The labels a component's Deployment and Services select on (immutable once created)."""
    return {LABEL_NAME: component, LABEL_INSTANCE: name}


def component_labels(name: str, component: str) -> dict[str, str]:
    """The recommended ``app.kubernetes.io/*`` labels every child of a component carries."""
    return {
        **selector_labels(name, component),
        LABEL_COMPONENT: _COMPONENT_ROLE[component],
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def owner_selector(name: str) -> str:
    """A label selector matching every child of the FrontierCluster ``name`` (both components),
    for handlers that list children to find strays, e.g. a Service left behind by a rename."""
    return f"{LABEL_INSTANCE}={name},{LABEL_MANAGED_BY}={MANAGED_BY}"


def _meta(name: str, namespace: str, labels: Mapping[str, str]) -> JSONDict:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


# --------------------------------------------------------------------------------------------
# merging


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of ``patch`` onto ``target``; neither input is modified."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out: JSONDict = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _overlay(default: JSONDict, override: JSONDict | None) -> JSONDict:
    """``default`` with an optional override merge-patched on; absent keeps the default."""
    if override is None:
        return default
    merged: JSONDict = merge_patch(default, override)
    return merged


def _with_extras(
    owned: Mapping[str, str], extra: Mapping[str, str] | None, reserved: Callable[[str], bool]
) -> dict[str, str]:
    """``extra`` keys first, then the operator's ``owned`` ones (which win); ``reserved(key)``
    drops extra keys that collide with the operator's namespace even if it did not set them."""
    out = {k: v for k, v in (extra or {}).items() if not reserved(k)}
    out.update(owned)
    return out


# --------------------------------------------------------------------------------------------
# ConfigMaps


def _config_map(
    name: str, namespace: str, labels: Mapping[str, str], rendered: RenderedConfig
) -> JSONDict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            **_meta(name, namespace, labels),
            "annotations": {CONFIG_CHECKSUM_ANNOTATION: rendered.checksum},
        },
        "data": {rendered.filename: rendered.text},
    }


def build_frontier_config_map(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    return _config_map(
        spec.names(name).frontier_config_map,
        namespace,
        component_labels(name, FRONTIER),
        render_frontier_config(spec, name, namespace),
    )


def build_frontlas_config_map(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    return _config_map(
        spec.names(name).frontlas_config_map,
        namespace,
        component_labels(name, FRONTLAS),
        render_frontlas_config(spec, name, namespace),
    )


# --------------------------------------------------------------------------------------------
# Services


def node_port_for(port: int, service_type: str) -> int | None:
    """Upstream pins ``nodePort = port`` for NodePort Services. That only works inside the
    API server's default node-port range; outside it we let the API server allocate one
    instead of writing a Service it would reject."""
    if service_type == "NodePort" and port in NODE_PORT_RANGE:
        return port
    return None


def _service_port(port_name: str, port: int, service_type: str) -> JSONDict:
    out: JSONDict = {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
    node_port = node_port_for(port, service_type)
    if node_port is not None:
        out["nodePort"] = node_port
    return out


def _service(
    svc_name: str,
    namespace: str,
    name: str,
    component: str,
    service_type: str,
    ports: list[tuple[str, int]],
) -> JSONDict:
    # No publishNotReadyAddresses (upstream set it): a draining or unready pod must leave the
    # endpoints, otherwise readiness during drain means nothing to clients.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(svc_name, namespace, component_labels(name, component)),
        "spec": {
            "type": service_type,
            "selector": selector_labels(name, component),
            "ports": [_service_port(n, p, service_type) for n, p in ports],
        },
    }


def build_servicebound_service(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    sb = spec.frontier.servicebound
    return _service(
        spec.names(name).servicebound_service,
        namespace,
        name,
        FRONTIER,
        sb.service_type,
        [("servicebound", sb.port)],
    )


def build_edgebound_service(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    """Edges' Service: the TCP port, and the WebSocket one when enabled (the same type, so
    a NodePort or LoadBalancer reaches both; a NodePort pinned to the port as for TCP)."""
    eb = spec.frontier.edgebound
    ports = [("edgebound", eb.port)]
    if eb.websocket.enabled:
        ports.append((WEBSOCKET_PORT_NAME, eb.websocket.port))
    return _service(
        spec.names(name).edgebound_service, namespace, name, FRONTIER, eb.service_type, ports
    )


def build_frontlas_service(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    cp = spec.frontlas.controlplane
    return _service(
        spec.names(name).frontlas_service,
        namespace,
        name,
        FRONTLAS,
        cp.service_type,
        [("controlplane", cp.port), ("frontierplane", cp.frontier_plane_port)],
    )


# --------------------------------------------------------------------------------------------
# Deployments


def _field_env(env_name: str, field_path: str) -> JSONDict:
    return {"name": env_name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def _env(env_name: str, value: str | int) -> JSONDict:
    return {"name": env_name, "value": str(value)}


def _http_probe(path: str, initial: int, period: int) -> JSONDict:
    return {
        "httpGet": {"path": path, "port": "metrics", "scheme": "HTTP"},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }


def _pre_stop_sleep(seconds: int) -> JSONDict:
    return {"preStop": {"exec": {"command": ["/bin/sh", "-c", f"sleep {seconds}"]}}}


def default_pod_security_context() -> JSONDict:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_ID,
        "runAsGroup": RUN_AS_ID,
        "fsGroup": RUN_AS_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def default_container_security_context() -> JSONDict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _affinity(
    pod: PodOverrides, node_affinity: JSONDict | None, name: str, component: str
) -> JSONDict:
    if pod.affinity is not None:
        return copy.deepcopy(pod.affinity)
    out: JSONDict = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": selector_labels(name, component)},
                    },
                }
            ]
        }
    }
    if node_affinity:
        out["nodeAffinity"] = copy.deepcopy(node_affinity)
    return out


def frontier_drain_seconds(spec: ClusterSpec) -> int:
    """``FRONTIER_DRAIN_SECONDS``: explicit ``drainSeconds``, else what fits in the grace period.

    Kubernetes counts the preStop hook against the grace period, so the drain must fit in
    ``grace - preStop``, minus headroom for closing connections. Upstream used ``grace - 10``
    and so was SIGKILLed exactly as the drain ended. With an overridden lifecycle the preStop
    length is unknown and counted as zero.
    """
    f = spec.frontier
    if f.drain_seconds is not None:
        return f.drain_seconds
    grace = _grace(f.pod, FRONTIER_GRACE_SECONDS)
    pre_stop = FRONTIER_PRESTOP_SLEEP if f.pod.lifecycle is None else 0
    return max(0, grace - pre_stop - DRAIN_HEADROOM_SECONDS)


def _grace(pod: PodOverrides, default: int) -> int:
    t = pod.termination_grace_period_seconds
    return default if t is None else t


def _deployment(
    *,
    deploy_name: str,
    namespace: str,
    name: str,
    component: str,
    replicas: int,
    pod: PodOverrides,
    node_affinity: JSONDict | None,
    container: JSONDict,
    volumes: list[JSONDict],
    grace: int,
    annotations: dict[str, str],
) -> JSONDict:
    labels = component_labels(name, component)
    tpl_labels = _with_extras(labels, pod.labels, lambda k: k in OPERATOR_LABEL_KEYS)
    tpl_annotations = _with_extras(
        annotations, pod.annotations, lambda k: k.startswith(ANNOTATION_PREFIX)
    )
    pod_spec: JSONDict = {
        # The data plane never talks to the Kubernetes API: no token in its pods.
        "automountServiceAccountToken": False,
        # Service links would inject e.g. FRONTLAS_CONTROLPLANE_PORT=tcp://... for a Service
        # named "frontlas-controlplane", colliding with the daemons' env overrides.
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": grace,
        "securityContext": _overlay(default_pod_security_context(), pod.pod_security_context),
        "affinity": _affinity(pod, node_affinity, name, component),
        "containers": [container],
        "volumes": volumes,
    }
    optional: list[tuple[str, Any]] = [
        ("serviceAccountName", pod.service_account_name),
        ("priorityClassName", pod.priority_class_name),
        ("nodeSelector", pod.node_selector),
        ("tolerations", pod.tolerations),
        ("topologySpreadConstraints", pod.topology_spread_constraints),
        ("imagePullSecrets", pod.image_pull_secrets),
    ]
    for key, value in optional:
        if value is not None:
            pod_spec[key] = copy.deepcopy(value)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(deploy_name, namespace, labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(name, component)},
            # Surge, never go below the desired count: each frontier pod holds long-lived
            # connections and drains for up to a minute; pod-name IDs make surging safe.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": tpl_labels, "annotations": tpl_annotations},
                "spec": pod_spec,
            },
        },
    }


def _container(
    *,
    component: str,
    image: str,
    pod: PodOverrides,
    config: RenderedConfig,
    ports: list[tuple[str, int]],
    env: list[JSONDict],
    mounts: list[JSONDict],
    liveness: JSONDict,
    readiness: JSONDict,
    lifecycle: JSONDict,
) -> JSONDict:
    out: JSONDict = {
        "name": component,
        "image": image,
        "imagePullPolicy": pod.image_pull_policy or "IfNotPresent",
        "args": ["--config", config.path],
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
        "env": env,
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            *mounts,
        ],
        "livenessProbe": copy.deepcopy(pod.liveness_probe) if pod.liveness_probe else liveness,
        "readinessProbe": copy.deepcopy(pod.readiness_probe) if pod.readiness_probe else readiness,
        "lifecycle": copy.deepcopy(pod.lifecycle) if pod.lifecycle else lifecycle,
        "securityContext": _overlay(
            default_container_security_context(), pod.container_security_context
        ),
    }
    resources = pod.resources if pod.resources is not None else DEFAULT_RESOURCES[component]
    out["resources"] = _quantities_as_strings(dict(resources))
    return out


def _quantities_as_strings(resources: JSONDict) -> JSONDict:
    """Resource quantities as strings (``cpu: 1`` -> ``"1"``): the API server accepts both but
    returns strings, and typed clients (the ``kubernetes`` package) reject numbers."""
    out = copy.deepcopy(resources)
    for section in ("limits", "requests"):
        values = out.get(section)
        if isinstance(values, dict):
            out[section] = {
                k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for k, v in values.items()
            }
    return out


def _base_volumes(config_map: str) -> list[JSONDict]:
    return [
        {"name": "config", "configMap": {"name": config_map}},
        {"name": "tmp", "emptyDir": {}},
    ]


def _template_annotations(config: RenderedConfig, secrets_digest: str | None) -> dict[str, str]:
    out = {CONFIG_CHECKSUM_ANNOTATION: config.checksum}
    if secrets_digest is not None:
        out[SECRETS_CHECKSUM_ANNOTATION] = secrets_digest
    return out


def build_frontier_deployment(
    spec: ClusterSpec,
    name: str,
    namespace: str,
    images: Images,
    secrets_digest: str | None = None,
) -> JSONDict:
    f = spec.frontier
    names = spec.names(name)
    config = render_frontier_config(spec, name, namespace)
    sb, eb = f.servicebound, f.edgebound

    ports = [("servicebound", sb.port), ("edgebound", eb.port)]
    if eb.websocket.enabled:
        ports.append((WEBSOCKET_PORT_NAME, eb.websocket.port))
    if f.controlplane.enabled:
        ports.append(("controlplane", f.controlplane.port))
    ports.append(("metrics", FRONTIER_METRICS_PORT))

    edge_node_port = node_port_for(eb.port, eb.service_type)
    env = [
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        _field_env("POD_IP", "status.podIP"),
    ]
    if edge_node_port is not None:
        env.append(_field_env("HOST_IP", "status.hostIP"))
    edge_advertised = (
        f"$(HOST_IP):{edge_node_port}" if edge_node_port is not None else f"$(POD_IP):{eb.port}"
    )
    env += [
        # The frontier ID must be unique per pod: frontlas rejects a second frontier with the
        # same ID. FRONTIER_ID is the pod name; NODE_NAME carries the pod name too, so a gateway
        # that only knows upstream's override (frontier_id = "frontier-" + NODE_NAME) also gets
        # a per-pod ID instead of upstream's per-node one.
        _field_env("FRONTIER_ID", "metadata.name"),
        _field_env("NODE_NAME", "metadata.name"),
        _env("FRONTIER_SERVICEBOUND_PORT", sb.port),
        _env("FRONTIER_EDGEBOUND_PORT", eb.port),
        _env("FRONTIER_SERVICEBOUND_ADVERTISED_ADDR", f"$(POD_IP):{sb.port}"),
        _env("FRONTIER_EDGEBOUND_ADVERTISED_ADDR", edge_advertised),
        _env("FRONTLAS_ADDR", frontlas_address(spec, name, namespace)),
        _env("FRONTIER_DRAIN_SECONDS", frontier_drain_seconds(spec)),
    ]
    if sb.token_secret is not None:
        # From the Secret, never the ConfigMap; its digest on the template rolls the pods
        # when it changes (the handlers check the key exists and is not empty first).
        ref = {"name": sb.token_secret.name, "key": sb.token_secret.key}
        env.append({"name": "FRONTIER_SERVICEBOUND_TOKEN", "valueFrom": {"secretKeyRef": ref}})

    volumes = _base_volumes(names.frontier_config_map)
    mounts: list[JSONDict] = []
    tls = eb.tls
    if tls.enabled and tls.certificate_key_secret:
        volumes.append(
            _secret_volume("edge-tls", tls.certificate_key_secret, (TLS_CERT_KEY, TLS_KEY_KEY))
        )
        mounts.append({"name": "edge-tls", "mountPath": EDGE_TLS_CERT_DIR, "readOnly": True})
    if tls.enabled and tls.mtls and tls.ca_certificate_secret:
        volumes.append(_secret_volume("edge-tls-ca", tls.ca_certificate_secret, (CA_CERT_KEY,)))
        mounts.append({"name": "edge-tls-ca", "mountPath": EDGE_TLS_CA_DIR, "readOnly": True})

    container = _container(
        component=FRONTIER,
        image=f.image or images.frontier,
        pod=f.pod,
        config=config,
        ports=ports,
        env=env,
        mounts=mounts,
        liveness=_http_probe("/healthz", initial=10, period=20),
        readiness=_http_probe("/readyz", initial=5, period=10),
        lifecycle=_pre_stop_sleep(FRONTIER_PRESTOP_SLEEP),
    )
    return _deployment(
        deploy_name=names.frontier_deployment,
        namespace=namespace,
        name=name,
        component=FRONTIER,
        replicas=f.replicas,
        pod=f.pod,
        node_affinity=f.node_affinity,
        container=container,
        volumes=volumes,
        grace=_grace(f.pod, FRONTIER_GRACE_SECONDS),
        annotations=_template_annotations(config, secrets_digest),
    )


def _secret_volume(volume: str, secret: str, keys: tuple[str, ...]) -> JSONDict:
    # Only the keys the config names are projected: a Secret missing one fails the mount
    # visibly (pod event) instead of frontier failing on a missing file. 0440 + fsGroup makes
    # them readable by the non-root user and nobody else.
    return {
        "name": volume,
        "secret": {
            "secretName": secret,
            "defaultMode": 0o440,
            "items": [{"key": k, "path": k} for k in keys],
        },
    }


def build_frontlas_deployment(
    spec: ClusterSpec,
    name: str,
    namespace: str,
    images: Images,
    secrets_digest: str | None = None,
) -> JSONDict:
    fl = spec.frontlas
    cp = fl.controlplane
    r = fl.redis
    config = render_frontlas_config(spec, name, namespace)
    env = [
        _env("FRONTLAS_CONTROLPLANE_PORT", cp.port),
        _env("FRONTLAS_FRONTIERPLANE_PORT", cp.frontier_plane_port),
        _env("REDIS_TYPE", r.redis_type),
        _env("REDIS_ADDRS", ",".join(r.addrs)),
        _env("REDIS_DB", r.db),
    ]
    if r.user:
        env.append(_env("REDIS_USER", r.user))
    if r.master_name:
        env.append(_env("MASTER_NAME", r.master_name))
    if r.password_secret is not None:
        ref: JSONDict = {"name": r.password_secret.name, "key": r.password_secret.key}
        if r.password_secret.optional is not None:
            ref["optional"] = r.password_secret.optional
        env.append({"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": ref}})
    elif r.password:
        env.append(_env("REDIS_PASSWORD", r.password))

    container = _container(
        component=FRONTLAS,
        image=fl.image or images.frontlas,
        pod=fl.pod,
        config=config,
        ports=[
            ("controlplane", cp.port),
            ("frontierplane", cp.frontier_plane_port),
            ("metrics", FRONTLAS_METRICS_PORT),
        ],
        env=env,
        mounts=[],
        liveness=_http_probe("/healthz", initial=10, period=20),
        readiness=_http_probe("/readyz", initial=5, period=5),
        lifecycle=_pre_stop_sleep(FRONTLAS_PRESTOP_SLEEP),
    )
    return _deployment(
        deploy_name=spec.names(name).frontlas_deployment,
        namespace=namespace,
        name=name,
        component=FRONTLAS,
        replicas=fl.replicas,
        pod=fl.pod,
        node_affinity=fl.node_affinity,
        container=container,
        volumes=_base_volumes(spec.names(name).frontlas_config_map),
        grace=_grace(fl.pod, FRONTLAS_GRACE_SECONDS),
        annotations=_template_annotations(config, secrets_digest),
    )


# --------------------------------------------------------------------------------------------
# frontd (optional)


def frontd_drain_seconds(spec: ClusterSpec) -> int:
    """frontd's ``daemon.drain_seconds``: explicit, else what fits in the grace period after
    the preStop sleep and the headroom (as for frontier)."""
    fd = spec.frontd
    assert fd is not None
    if fd.drain_seconds is not None:
        return fd.drain_seconds
    pre_stop = FRONTD_PRESTOP_SLEEP if fd.pod.lifecycle is None else 0
    return max(0, _grace(fd.pod, FRONTD_GRACE_SECONDS) - pre_stop - DRAIN_HEADROOM_SECONDS)


def _frontd_config(spec: ClusterSpec, name: str, namespace: str) -> RenderedConfig:
    return render_frontd_config(spec, name, namespace, frontd_drain_seconds(spec))


def build_frontd_config_map(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    config_map = spec.names(name).frontd_config_map
    assert config_map is not None
    return _config_map(
        config_map, namespace, component_labels(name, FRONTD), _frontd_config(spec, name, namespace)
    )


def build_frontd_service(spec: ClusterSpec, name: str, namespace: str) -> JSONDict:
    fd = spec.frontd
    svc = spec.names(name).frontd_service
    assert fd is not None
    assert svc is not None
    return _service(svc, namespace, name, FRONTD, fd.service_type, [("frontd", fd.port)])


def build_frontd_deployment(
    spec: ClusterSpec,
    name: str,
    namespace: str,
    images: Images,
    secrets_digest: str | None = None,
) -> JSONDict:
    """frontd's pods: the secret from the Secret key through ``FRONTD_SECRET`` (never in the
    ConfigMap or the spec); the Secret's digest on the template rolls them on rotation."""
    fd = spec.frontd
    names = spec.names(name)
    assert fd is not None
    assert names.frontd_deployment is not None
    assert names.frontd_config_map is not None
    config = _frontd_config(spec, name, namespace)
    ref = {"name": fd.secret.name, "key": fd.secret.key}
    container = _container(
        component=FRONTD,
        image=fd.image or images.frontd,
        pod=fd.pod,
        config=config,
        ports=[("frontd", fd.port), ("metrics", FRONTD_METRICS_PORT)],
        env=[{"name": "FRONTD_SECRET", "valueFrom": {"secretKeyRef": ref}}],
        mounts=[],
        liveness=_http_probe("/healthz", initial=10, period=20),
        readiness=_http_probe("/readyz", initial=3, period=5),
        lifecycle=_pre_stop_sleep(FRONTD_PRESTOP_SLEEP),
    )
    return _deployment(
        deploy_name=names.frontd_deployment,
        namespace=namespace,
        name=name,
        component=FRONTD,
        replicas=fd.replicas,
        pod=fd.pod,
        node_affinity=None,
        container=container,
        volumes=_base_volumes(names.frontd_config_map),
        grace=_grace(fd.pod, FRONTD_GRACE_SECONDS),
        annotations=_template_annotations(config, secrets_digest),
    )


def build_disruption_budget(
    budget: DisruptionBudget,
    name: str,
    namespace: str,
    component: str,
    api_version: str = PDB_API_VERSION,
) -> JSONDict:
    """The PodDisruptionBudget of one component's pods (named like its Deployment): at most
    ``max_unavailable`` of them evicted at a time by a node drain."""
    return {
        "apiVersion": api_version,
        "kind": "PodDisruptionBudget",
        "metadata": _meta(f"{name}-{component}", namespace, component_labels(name, component)),
        "spec": {
            "maxUnavailable": budget.max_unavailable,
            "selector": {"matchLabels": selector_labels(name, component)},
        },
    }


def build_disruption_budgets(
    spec: ClusterSpec, name: str, namespace: str, api_version: str = PDB_API_VERSION
) -> list[JSONDict]:
    """The enabled PodDisruptionBudgets, frontier's first (frontd's last, with its section)."""
    budgets = [
        (FRONTIER, spec.frontier.disruption_budget),
        (FRONTLAS, spec.frontlas.disruption_budget),
    ]
    if spec.frontd is not None:
        budgets.append((FRONTD, spec.frontd.disruption_budget))
    return [
        build_disruption_budget(budget, name, namespace, component, api_version)
        for component, budget in budgets
        if budget.enabled
    ]


def build_children(
    spec: ClusterSpec,
    name: str,
    namespace: str,
    images: Images,
    secret_digests: SecretDigests | None = None,
    pdb_api_version: str = PDB_API_VERSION,
) -> list[JSONDict]:
    """Every child of the FrontierCluster ``namespace/name``, in the order to apply them:
    ConfigMaps, Services, PodDisruptionBudgets, the frontlas Deployment, and last the frontier
    Deployment (which the handlers hold back until frontlas is ready). With a ``frontd``
    section its ConfigMap, Service, PodDisruptionBudget and Deployment join in (it needs
    neither frontlas nor frontier). Owner references are left to the caller."""
    digests = secret_digests or SecretDigests()
    frontd = spec.frontd is not None
    return [
        build_frontier_config_map(spec, name, namespace),
        build_frontlas_config_map(spec, name, namespace),
        *([build_frontd_config_map(spec, name, namespace)] if frontd else []),
        build_servicebound_service(spec, name, namespace),
        build_edgebound_service(spec, name, namespace),
        build_frontlas_service(spec, name, namespace),
        *([build_frontd_service(spec, name, namespace)] if frontd else []),
        *build_disruption_budgets(spec, name, namespace, pdb_api_version),
        build_frontlas_deployment(spec, name, namespace, images, digests.frontlas),
        *(
            [build_frontd_deployment(spec, name, namespace, images, digests.frontd)]
            if frontd
            else []
        ),
        build_frontier_deployment(spec, name, namespace, images, digests.frontier),
    ]
