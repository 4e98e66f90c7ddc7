"""Typed parsing and validation of a FrontierCluster ``spec``.

The API server applies the CRD's defaults and structural validation, but the operator cannot
rely on that: a cluster may still carry the upstream CRD (no defaults, so an omitted
``replicas`` arrives as nothing and upstream turned it into 0), objects may predate a CRD
upgrade, and some rules (cross-field ones such as "mTLS needs a CA secret") cannot be written
in a Kubernetes 1.20 schema at all. So every default here equals the CRD's default (a test walks
the CRD to keep them in step), and every rule is checked here, collecting *all* problems with
their field paths so one status message tells the user everything that is wrong.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from frontier.frontd.allow import parse_rule  # frontd's own parser: the same rules as --allow

JSONDict = dict[str, Any]

# Defaults shared with crds/frontiercluster.yaml (tests/operator/test_crd.py compares them).
DEFAULT_REPLICAS: Final = 1
DEFAULT_SERVICEBOUND_PORT: Final = 30011
DEFAULT_EDGEBOUND_PORT: Final = 30012
DEFAULT_WEBSOCKET_PORT: Final = 30013
DEFAULT_CONTROL_API_PORT: Final = 30010
DEFAULT_FRONTLAS_CONTROLPLANE_PORT: Final = 40011
DEFAULT_FRONTLAS_FRONTIERPLANE_PORT: Final = 40012
DEFAULT_SERVICEBOUND_SERVICE_TYPE: Final = "ClusterIP"
DEFAULT_EDGEBOUND_SERVICE_TYPE: Final = "NodePort"
DEFAULT_FRONTLAS_SERVICE_TYPE: Final = "ClusterIP"
DEFAULT_REDIS_DB: Final = 0
DEFAULT_FRONTD_PORT: Final = 4043
DEFAULT_FRONTD_SERVICE_TYPE: Final = "ClusterIP"
DEFAULT_FRONTD_SECRET_KEY: Final = "secret"
DEFAULT_FRONTD_STATUS_FORMAT: Final = "line"
DEFAULT_TOKEN_SECRET_KEY: Final = "token"
# Not CRD defaults (an absent field means these): the gateway's own defaults for
# ``edgebound.websocket`` (dataplane/frontier/gateway/config.py), written out in the rendered
# config so that it states what the listener does.
DEFAULT_WEBSOCKET_PATH: Final = "/"
DEFAULT_WEBSOCKET_SUBPROTOCOL: Final = "geminio"
DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES: Final = 1024 * 1024
#: The gateway refuses a smaller ``max_message`` (its clients send 64 KiB messages).
MIN_WEBSOCKET_MAX_MESSAGE_BYTES: Final = 65536
#: Not a CRD default (an absent ``podDisruptionBudget`` means this): one pod of a component at
#: a time may be evicted voluntarily, whatever the replica count (a single replica is never
#: protected into blocking a node drain forever).
DEFAULT_PDB_MAX_UNAVAILABLE: Final = 1

# Fixed ports (not part of the CRD): the observability servers of the two daemons.
FRONTIER_METRICS_PORT: Final = 9091
FRONTLAS_METRICS_PORT: Final = 9092
FRONTD_METRICS_PORT: Final = 9093

#: Labels the operator sets on every child; the selector uses the first two. A pod override
#: cannot replace them (that would detach pods from their Deployment and Services).
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
OPERATOR_LABEL_KEYS: Final = (
    LABEL_NAME,
    LABEL_INSTANCE,
    LABEL_COMPONENT,
    LABEL_PART_OF,
    LABEL_MANAGED_BY,
)
#: Annotation prefix owned by the operator (pod-template checksums, kopf's own state).
ANNOTATION_PREFIX: Final = "frontier.singchia.io/"

SERVICE_TYPES: Final = ("ClusterIP", "NodePort", "LoadBalancer")
REDIS_TYPES: Final = ("standalone", "sentinel", "cluster")
PULL_POLICIES: Final = ("Always", "IfNotPresent", "Never")
STATUS_FORMATS: Final = ("line", "byte")

#: Every default the CRD declares, by its path under ``spec``. The CRD test walks the schema and
#: requires exactly this set of (path, value) pairs, so the two cannot drift apart.
CRD_DEFAULTS: Final[Mapping[str, object]] = {
    "frontier.replicas": DEFAULT_REPLICAS,
    "frontier.servicebound": {},
    "frontier.servicebound.port": DEFAULT_SERVICEBOUND_PORT,
    "frontier.servicebound.serviceType": DEFAULT_SERVICEBOUND_SERVICE_TYPE,
    "frontier.servicebound.tokenSecretRef.key": DEFAULT_TOKEN_SECRET_KEY,
    "frontier.edgebound": {},
    "frontier.edgebound.port": DEFAULT_EDGEBOUND_PORT,
    "frontier.edgebound.serviceType": DEFAULT_EDGEBOUND_SERVICE_TYPE,
    "frontier.edgebound.tls": {},
    "frontier.edgebound.tls.enabled": False,
    "frontier.edgebound.tls.optional": False,
    "frontier.edgebound.tls.mtls": False,
    "frontier.edgebound.websocket": {},
    "frontier.edgebound.websocket.enabled": False,
    "frontier.edgebound.websocket.port": DEFAULT_WEBSOCKET_PORT,
    "frontier.controlplane": {},
    "frontier.controlplane.enabled": False,
    "frontier.controlplane.port": DEFAULT_CONTROL_API_PORT,
    "frontlas.replicas": DEFAULT_REPLICAS,
    "frontlas.controlplane": {},
    "frontlas.controlplane.port": DEFAULT_FRONTLAS_CONTROLPLANE_PORT,
    "frontlas.controlplane.frontierPlanePort": DEFAULT_FRONTLAS_FRONTIERPLANE_PORT,
    "frontlas.controlplane.serviceType": DEFAULT_FRONTLAS_SERVICE_TYPE,
    "frontlas.redis.db": DEFAULT_REDIS_DB,
    "frontd.replicas": DEFAULT_REPLICAS,
    "frontd.port": DEFAULT_FRONTD_PORT,
    "frontd.serviceType": DEFAULT_FRONTD_SERVICE_TYPE,
    "frontd.secretRef.key": DEFAULT_FRONTD_SECRET_KEY,
    "frontd.statusFormat": DEFAULT_FRONTD_STATUS_FORMAT,
}

_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_PERCENT = re.compile(r"^(?P<n>[0-9]{1,3})%$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(?P<port>[0-9]{1,5})$")
_INT32_MAX: Final = 2**31 - 1
#: A key of a Secret's ``data`` (what a ``secretKeyRef`` may name).
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
#: What the gateway upgrades: a path from "/", no query, fragment or space (its ``_ws_path``).
_WS_PATH = re.compile(r"^/[^?# ]*$")
#: An HTTP token (RFC 9110), the only thing a ``Sec-WebSocket-Protocol`` value can be.
_HTTP_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: scheme://host[:port], without a trailing slash (the gateway's ``origins`` rule).
_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+$")


@dataclass(frozen=True)
class Problem:
    """One invalid field: where it is (``spec.frontier.replicas``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(ValueError):
    """A FrontierCluster spec that cannot be reconciled; carries every problem found.

    Raised once with the full list (not at the first problem) so that the Degraded condition
    and the Warning event name everything the user must fix in one go.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class SecretKeyRef:
    """A key in a Secret of the cluster's namespace (core/v1 SecretKeySelector)."""

    name: str
    key: str
    optional: bool | None = None


@dataclass(frozen=True)
class EdgeTLS:
    enabled: bool = False
    mtls: bool = False
    #: Accepted for upstream compatibility; the gateway cannot serve TLS and plaintext on one
    #: port, so ``True`` yields a warning instead of being silently ignored as upstream did.
    optional: bool = False
    #: Secret with ``tls.crt`` / ``tls.key`` (the kubernetes.io/tls layout).
    certificate_key_secret: str | None = None
    #: Secret with ``ca.crt``; required when ``mtls``.
    ca_certificate_secret: str | None = None


@dataclass(frozen=True)
class Servicebound:
    port: int = DEFAULT_SERVICEBOUND_PORT
    service_name: str | None = None
    service_type: str = DEFAULT_SERVICEBOUND_SERVICE_TYPE
    #: The key services must present (``servicebound.token``), from a Secret through
    #: ``FRONTIER_SERVICEBOUND_TOKEN``: never in the ConfigMap. ``None``: no token.
    token_secret: SecretKeyRef | None = None


@dataclass(frozen=True)
class EdgeWebSocket:
    """The gateway's second edge listener, edges over WebSocket (``edgebound.websocket``):
    its own port on the edgebound Service; TLS (wss) follows ``edgebound.tls``."""

    enabled: bool = False
    port: int = DEFAULT_WEBSOCKET_PORT
    path: str = DEFAULT_WEBSOCKET_PATH
    #: Browser origins allowed (``https://app.example.com``); empty: any.
    allowed_origins: tuple[str, ...] = ()
    #: The subprotocol clients must offer; ``""``: none required.
    subprotocol: str = DEFAULT_WEBSOCKET_SUBPROTOCOL
    max_message_bytes: int = DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class Edgebound:
    port: int = DEFAULT_EDGEBOUND_PORT
    service_name: str | None = None
    service_type: str = DEFAULT_EDGEBOUND_SERVICE_TYPE
    tls: EdgeTLS = field(default_factory=EdgeTLS)
    websocket: EdgeWebSocket = field(default_factory=EdgeWebSocket)


@dataclass(frozen=True)
class ControlAPI:
    """The frontier control API (:30010). Off by default: it is per instance (so it gets no
    Service) and upstream's has no authentication."""

    enabled: bool = False
    port: int = DEFAULT_CONTROL_API_PORT


@dataclass(frozen=True)
class PodOverrides:
    """Optional pod-level settings; ``None`` / empty means "operator default".

    Values of Kubernetes core types (affinity, probes, security contexts, ...) are kept as the
    plain dicts the user wrote: the API server validates them when the Deployment is written,
    and the merge rules live in :mod:`frontier_operator.builders`.
    """

    resources: JSONDict | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[JSONDict] | None = None
    topology_spread_constraints: list[JSONDict] | None = None
    affinity: JSONDict | None = None
    priority_class_name: str | None = None
    service_account_name: str | None = None
    image_pull_secrets: list[JSONDict] | None = None
    image_pull_policy: str | None = None
    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    pod_security_context: JSONDict | None = None
    container_security_context: JSONDict | None = None
    termination_grace_period_seconds: int | None = None
    liveness_probe: JSONDict | None = None
    readiness_probe: JSONDict | None = None
    lifecycle: JSONDict | None = None


@dataclass(frozen=True)
class DisruptionBudget:
    """The PodDisruptionBudget the operator keeps for a component's pods, so that a node drain
    (or any other voluntary eviction) cannot take every gateway down at once. ``max_unavailable``
    is an integer or a percentage string (``"25%"``), as in ``policy/v1``."""

    enabled: bool = True
    max_unavailable: int | str = DEFAULT_PDB_MAX_UNAVAILABLE


@dataclass(frozen=True)
class FrontierSpec:
    replicas: int = DEFAULT_REPLICAS
    image: str | None = None
    servicebound: Servicebound = field(default_factory=Servicebound)
    edgebound: Edgebound = field(default_factory=Edgebound)
    controlplane: ControlAPI = field(default_factory=ControlAPI)
    #: Seconds frontier keeps serving after SIGTERM; ``None`` = derived from the grace period.
    drain_seconds: int | None = None
    node_affinity: JSONDict | None = None
    pod: PodOverrides = field(default_factory=PodOverrides)
    disruption_budget: DisruptionBudget = field(default_factory=DisruptionBudget)


@dataclass(frozen=True)
class FrontlasControlPlane:
    port: int = DEFAULT_FRONTLAS_CONTROLPLANE_PORT
    frontier_plane_port: int = DEFAULT_FRONTLAS_FRONTIERPLANE_PORT
    service_name: str | None = None
    service_type: str = DEFAULT_FRONTLAS_SERVICE_TYPE


@dataclass(frozen=True)
class Redis:
    addrs: tuple[str, ...]
    redis_type: str
    db: int = DEFAULT_REDIS_DB
    user: str | None = None
    #: Deprecated plaintext password (upstream compatibility); ends up in a container env value.
    password: str | None = None
    password_secret: SecretKeyRef | None = None
    master_name: str | None = None


@dataclass(frozen=True)
class FrontlasSpec:
    redis: Redis
    replicas: int = DEFAULT_REPLICAS
    image: str | None = None
    controlplane: FrontlasControlPlane = field(default_factory=FrontlasControlPlane)
    node_affinity: JSONDict | None = None
    pod: PodOverrides = field(default_factory=PodOverrides)
    disruption_budget: DisruptionBudget = field(default_factory=DisruptionBudget)


@dataclass(frozen=True)
class FrontdSpec:
    """The optional encrypted-address TCP gateway (docs/frontd.md): its own Deployment,
    ConfigMap and Service; the secret comes from a Secret key, never the spec."""

    secret: SecretKeyRef
    replicas: int = DEFAULT_REPLICAS
    image: str | None = None
    port: int = DEFAULT_FRONTD_PORT
    service_name: str | None = None
    service_type: str = DEFAULT_FRONTD_SERVICE_TYPE
    #: ``CIDR[:PORTS]`` backends it may reach; empty: all but the host's own and metadata.
    allow: tuple[str, ...] = ()
    #: SO_REUSEPORT worker processes per pod; 0: one process.
    workers: int = 0
    status_format: str = DEFAULT_FRONTD_STATUS_FORMAT
    #: Seconds open relays may finish after SIGTERM; ``None`` = derived from the grace period.
    drain_seconds: int | None = None
    pod: PodOverrides = field(default_factory=PodOverrides)
    disruption_budget: DisruptionBudget = field(default_factory=DisruptionBudget)


@dataclass(frozen=True)
class ChildNames:
    """Names of every child object; derived from the CR name unless the spec names a Service."""

    frontier_deployment: str
    frontlas_deployment: str
    frontier_config_map: str
    frontlas_config_map: str
    servicebound_service: str
    edgebound_service: str
    frontlas_service: str
    #: The frontd children's names, or None without a ``frontd`` section.
    frontd_deployment: str | None = None
    frontd_config_map: str | None = None
    frontd_service: str | None = None

    def all(self) -> tuple[str, ...]:
        names = (
            self.frontier_deployment,
            self.frontlas_deployment,
            self.frontier_config_map,
            self.frontlas_config_map,
            self.servicebound_service,
            self.edgebound_service,
            self.frontlas_service,
            self.frontd_deployment,
            self.frontd_config_map,
            self.frontd_service,
        )
        return tuple(n for n in names if n is not None)


@dataclass(frozen=True)
class ClusterSpec:
    frontier: FrontierSpec
    frontlas: FrontlasSpec
    frontd: FrontdSpec | None = None
    #: Accepted-but-questionable settings (deprecated plaintext password, ``tls.optional``,
    #: ignored labels): the handlers surface them as Warning events instead of dropping them.
    warnings: tuple[str, ...] = ()

    def names(self, cr_name: str) -> ChildNames:
        fd = self.frontd
        return ChildNames(
            frontd_deployment=None if fd is None else f"{cr_name}-frontd",
            frontd_config_map=None if fd is None else f"{cr_name}-frontd-config",
            frontd_service=None if fd is None else fd.service_name or f"{cr_name}-frontd-svc",
            frontier_deployment=f"{cr_name}-frontier",
            frontlas_deployment=f"{cr_name}-frontlas",
            frontier_config_map=f"{cr_name}-frontier-config",
            frontlas_config_map=f"{cr_name}-frontlas-config",
            servicebound_service=self.frontier.servicebound.service_name
            or f"{cr_name}-servicebound-svc",
            edgebound_service=self.frontier.edgebound.service_name or f"{cr_name}-edgebound-svc",
            frontlas_service=self.frontlas.controlplane.service_name or f"{cr_name}-frontlas-svc",
        )

    def referenced_secrets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Secrets each component reads, as (frontier, frontlas).

        The handlers watch these and feed their digests back into the pod templates, so that
        a rotated certificate or password rolls the pods (upstream never watched Secrets).
        """
        tls = self.frontier.edgebound.tls
        frontier: list[str] = []
        if tls.enabled and tls.certificate_key_secret:
            frontier.append(tls.certificate_key_secret)
        if tls.enabled and tls.mtls and tls.ca_certificate_secret:
            frontier.append(tls.ca_certificate_secret)
        token = self.frontier.servicebound.token_secret
        if token is not None:
            frontier.append(token.name)
        frontlas: list[str] = []
        if self.frontlas.redis.password_secret is not None:
            frontlas.append(self.frontlas.redis.password_secret.name)
        return tuple(dict.fromkeys(frontier)), tuple(frontlas)

    def frontd_secrets(self) -> tuple[str, ...]:
        """The Secret frontd reads its secret from (watched and digested like the others)."""
        return () if self.frontd is None else (self.frontd.secret.name,)


# --------------------------------------------------------------------------------------------
# parsing


class _Ctx:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


_MISSING: Final = object()


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _obj(
    ctx: _Ctx, value: object, path: str, known: frozenset[str] | None
) -> Mapping[str, Any] | None:
    """Return ``value`` as a mapping (``None`` if absent/null), reporting wrong types and,
    when ``known`` is given, unknown keys (a typo must not silently become a default)."""
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, Mapping):
        ctx.error(path, f"must be an object, not {_type_name(value)}")
        return None
    if known is not None:
        for key in value:
            if key not in known:
                ctx.error(f"{path}.{key}", "unknown field")
    return value


def _int(
    ctx: _Ctx,
    m: Mapping[str, Any] | None,
    key: str,
    path: str,
    default: int | None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = _MISSING if m is None else m.get(key, _MISSING)
    p = f"{path}.{key}"
    if value is _MISSING or value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.error(p, f"must be an integer, not {_type_name(value)}")
        return default
    if minimum is not None and value < minimum:
        ctx.error(p, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        ctx.error(p, f"must be <= {maximum}, got {value}")
    return value


def _port(ctx: _Ctx, m: Mapping[str, Any] | None, key: str, path: str, default: int) -> int:
    value = _int(ctx, m, key, path, default, minimum=1, maximum=65535)
    return default if value is None else value


def _bool(ctx: _Ctx, m: Mapping[str, Any] | None, key: str, path: str, default: bool) -> bool:
    value = _MISSING if m is None else m.get(key, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        ctx.error(f"{path}.{key}", f"must be a boolean, not {_type_name(value)}")
        return default
    return value


def _str(ctx: _Ctx, m: Mapping[str, Any] | None, key: str, path: str) -> str | None:
    """A string field; empty means unset (upstream's Go ``omitempty`` semantics)."""
    value = _MISSING if m is None else m.get(key, _MISSING)
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, str):
        ctx.error(f"{path}.{key}", f"must be a string, not {_type_name(value)}")
        return None
    return value or None


def _enum(
    ctx: _Ctx,
    m: Mapping[str, Any] | None,
    key: str,
    path: str,
    allowed: Sequence[str],
    default: str | None,
) -> str | None:
    value = _str(ctx, m, key, path)
    if value is None:
        return default
    if value not in allowed:
        ctx.error(f"{path}.{key}", f"must be one of {', '.join(allowed)}; got {value!r}")
        return default
    return value


def _name(
    ctx: _Ctx, m: Mapping[str, Any] | None, key: str, path: str, *, dns1035: bool
) -> str | None:
    value = _str(ctx, m, key, path)
    if value is None:
        return None
    if dns1035:
        if len(value) > 63 or not _DNS1035_LABEL.match(value):
            ctx.error(
                f"{path}.{key}",
                f"{value!r} is not a valid Service name (DNS-1035 label: lowercase letters, "
                "digits and '-', starting with a letter, at most 63 characters)",
            )
            return None
    elif len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        ctx.error(f"{path}.{key}", f"{value!r} is not a valid object name (DNS-1123 subdomain)")
        return None
    return value


def _str_map(ctx: _Ctx, value: object, path: str) -> dict[str, str] | None:
    m = _obj(ctx, value, path, None)
    if m is None:
        return None
    out: dict[str, str] = {}
    for k, v in m.items():
        if not isinstance(v, str):
            ctx.error(f"{path}.{k}", f"must be a string, not {_type_name(v)}")
            continue
        out[str(k)] = v
    return out


def _object_list(ctx: _Ctx, value: object, path: str) -> list[JSONDict] | None:
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, list | tuple):
        ctx.error(path, f"must be an array, not {_type_name(value)}")
        return None
    out: list[JSONDict] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            ctx.error(f"{path}[{i}]", f"must be an object, not {_type_name(item)}")
            continue
        out.append(copy.deepcopy(dict(item)))
    return out


def _free_obj(ctx: _Ctx, value: object, path: str) -> JSONDict | None:
    m = _obj(ctx, value, path, None)
    return None if m is None else copy.deepcopy(dict(m))


_POD_FIELDS: Final = frozenset(
    {
        "resources",
        "nodeSelector",
        "tolerations",
        "topologySpreadConstraints",
        "affinity",
        "priorityClassName",
        "serviceAccountName",
        "imagePullSecrets",
        "imagePullPolicy",
        "annotations",
        "labels",
        "podSecurityContext",
        "containerSecurityContext",
        "terminationGracePeriodSeconds",
        "livenessProbe",
        "readinessProbe",
        "lifecycle",
    }
)


def _pod(ctx: _Ctx, value: object, path: str) -> PodOverrides:
    m = _obj(ctx, value, path, _POD_FIELDS)
    if m is None:
        return PodOverrides()
    labels = _str_map(ctx, m.get("labels"), f"{path}.labels")
    for key in labels or ():
        if key in OPERATOR_LABEL_KEYS:
            ctx.warnings.append(f"{path}.labels.{key} is set by the operator; ignored")
    annotations = _str_map(ctx, m.get("annotations"), f"{path}.annotations")
    for key in annotations or ():
        if key.startswith(ANNOTATION_PREFIX):
            ctx.warnings.append(f"{path}.annotations.{key} is set by the operator; ignored")
    pull_secrets = _object_list(ctx, m.get("imagePullSecrets"), f"{path}.imagePullSecrets")
    for i, ref in enumerate(pull_secrets or ()):
        if not isinstance(ref.get("name"), str) or not ref["name"]:
            ctx.error(f"{path}.imagePullSecrets[{i}].name", "is required")
    return PodOverrides(
        resources=_free_obj(ctx, m.get("resources"), f"{path}.resources"),
        node_selector=_str_map(ctx, m.get("nodeSelector"), f"{path}.nodeSelector"),
        tolerations=_object_list(ctx, m.get("tolerations"), f"{path}.tolerations"),
        topology_spread_constraints=_object_list(
            ctx, m.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints"
        ),
        affinity=_free_obj(ctx, m.get("affinity"), f"{path}.affinity"),
        priority_class_name=_str(ctx, m, "priorityClassName", path),
        service_account_name=_name(ctx, m, "serviceAccountName", path, dns1035=False),
        image_pull_secrets=pull_secrets,
        image_pull_policy=_enum(ctx, m, "imagePullPolicy", path, PULL_POLICIES, None),
        annotations=annotations,
        labels=labels,
        pod_security_context=_free_obj(
            ctx, m.get("podSecurityContext"), f"{path}.podSecurityContext"
        ),
        container_security_context=_free_obj(
            ctx, m.get("containerSecurityContext"), f"{path}.containerSecurityContext"
        ),
        termination_grace_period_seconds=_int(
            ctx, m, "terminationGracePeriodSeconds", path, None, minimum=0
        ),
        liveness_probe=_free_obj(ctx, m.get("livenessProbe"), f"{path}.livenessProbe"),
        readiness_probe=_free_obj(ctx, m.get("readinessProbe"), f"{path}.readinessProbe"),
        lifecycle=_free_obj(ctx, m.get("lifecycle"), f"{path}.lifecycle"),
    )


def _disruption_budget(ctx: _Ctx, value: object, path: str) -> DisruptionBudget:
    m = _obj(ctx, value, path, frozenset({"enabled", "maxUnavailable"}))
    enabled = _bool(ctx, m, "enabled", path, True)
    raw = None if m is None else m.get("maxUnavailable")
    where = f"{path}.maxUnavailable"
    max_unavailable: int | str = DEFAULT_PDB_MAX_UNAVAILABLE
    if raw is None:
        pass
    elif isinstance(raw, bool) or not isinstance(raw, int | str):
        ctx.error(where, f"must be an integer or a percentage, not {_type_name(raw)}")
    elif isinstance(raw, int):
        if raw < 0 or raw > _INT32_MAX:
            ctx.error(where, f"must be >= 0, got {raw}")
        else:
            max_unavailable = raw
    else:
        match = _PERCENT.match(raw)
        if match is None or int(match["n"]) > 100:
            ctx.error(where, f"{raw!r} is not a percentage between 0% and 100%")
        else:
            max_unavailable = raw
    if enabled and max_unavailable in (0, "0%"):
        ctx.warnings.append(
            f"{where}: {max_unavailable!r} forbids every voluntary eviction: node drains will "
            "wait until the budget is changed"
        )
    return DisruptionBudget(enabled=enabled, max_unavailable=max_unavailable)


def _secret_ref_name(ctx: _Ctx, value: object, path: str) -> tuple[str | None, bool]:
    """The referenced Secret's name (``None`` if absent or invalid) and whether one was given
    at all, so that an invalid name is not also reported as missing."""
    m = _obj(ctx, value, path, frozenset({"name"}))
    given = m is not None and m.get("name") not in (None, "")
    return _name(ctx, m, "name", path, dns1035=False), given


def _tls(ctx: _Ctx, value: object, path: str) -> EdgeTLS:
    m = _obj(
        ctx,
        value,
        path,
        frozenset(
            {"enabled", "optional", "mtls", "certificateKeySecretRef", "caCertificateSecretRef"}
        ),
    )
    enabled = _bool(ctx, m, "enabled", path, False)
    mtls = _bool(ctx, m, "mtls", path, False)
    optional = _bool(ctx, m, "optional", path, False)
    cert, cert_given = _secret_ref_name(
        ctx,
        None if m is None else m.get("certificateKeySecretRef"),
        f"{path}.certificateKeySecretRef",
    )
    ca, ca_given = _secret_ref_name(
        ctx,
        None if m is None else m.get("caCertificateSecretRef"),
        f"{path}.caCertificateSecretRef",
    )
    if mtls and not enabled:
        ctx.error(f"{path}.mtls", "mTLS requires tls.enabled: true")
    if enabled and not cert_given:
        ctx.error(
            f"{path}.certificateKeySecretRef.name",
            "is required when TLS is enabled (a Secret with tls.crt and tls.key)",
        )
    if mtls and not ca_given:
        ctx.error(
            f"{path}.caCertificateSecretRef.name",
            "is required when mTLS is enabled (a Secret with ca.crt)",
        )
    if enabled and optional:
        ctx.warnings.append(
            f"{path}.optional: optional TLS is not supported; the edgebound port requires TLS"
        )
    return EdgeTLS(
        enabled=enabled,
        mtls=mtls,
        optional=optional,
        certificate_key_secret=cert,
        ca_certificate_secret=ca,
    )


def _token_secret(ctx: _Ctx, value: object, path: str) -> SecretKeyRef | None:
    m = _obj(ctx, value, path, frozenset({"name", "key"}))
    if m is None:
        return None
    name = _name(ctx, m, "name", path, dns1035=False)
    if m.get("name") in (None, ""):
        ctx.error(f"{path}.name", "is required (the Secret holding the servicebound token)")
    key = _str(ctx, m, "key", path) or DEFAULT_TOKEN_SECRET_KEY
    if not _SECRET_KEY.match(key):
        ctx.error(f"{path}.key", f"{key!r} is not a Secret key (letters, digits, '-', '_', '.')")
    return None if name is None else SecretKeyRef(name, key)


def _websocket(ctx: _Ctx, value: object, path: str) -> EdgeWebSocket:
    m = _obj(
        ctx,
        value,
        path,
        frozenset({"enabled", "port", "path", "allowedOrigins", "subprotocol", "maxMessageBytes"}),
    )
    if m is None:
        return EdgeWebSocket()
    url_path = _str(ctx, m, "path", path) or DEFAULT_WEBSOCKET_PATH
    if not _WS_PATH.match(url_path):
        ctx.error(
            f"{path}.path",
            f"{url_path!r} is not a URL path (starts with '/', no '?', '#' or spaces)",
        )
    origins: list[str] = []
    raw = m.get("allowedOrigins")
    if raw is not None and not isinstance(raw, list | tuple):
        ctx.error(f"{path}.allowedOrigins", f"must be an array, not {_type_name(raw)}")
    else:
        for i, origin in enumerate(raw or ()):
            if not isinstance(origin, str) or not _ORIGIN.match(origin):
                ctx.error(
                    f"{path}.allowedOrigins[{i}]",
                    f"{origin!r} is not an origin (scheme://host[:port], no path)",
                )
            else:
                origins.append(origin)
    # Unlike other strings, "" is meaningful here (no subprotocol required): only an absent
    # field takes the default.
    subprotocol = m.get("subprotocol")
    if subprotocol is None:
        subprotocol = DEFAULT_WEBSOCKET_SUBPROTOCOL
    elif not isinstance(subprotocol, str):
        ctx.error(f"{path}.subprotocol", f"must be a string, not {_type_name(subprotocol)}")
        subprotocol = DEFAULT_WEBSOCKET_SUBPROTOCOL
    elif subprotocol and not _HTTP_TOKEN.match(subprotocol):
        ctx.error(f"{path}.subprotocol", f"{subprotocol!r} is not an HTTP token")
    max_message = _int(
        ctx,
        m,
        "maxMessageBytes",
        path,
        DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES,
        minimum=MIN_WEBSOCKET_MAX_MESSAGE_BYTES,
        maximum=_INT32_MAX,
    )
    return EdgeWebSocket(
        enabled=_bool(ctx, m, "enabled", path, False),
        port=_port(ctx, m, "port", path, DEFAULT_WEBSOCKET_PORT),
        path=url_path,
        allowed_origins=tuple(origins),
        subprotocol=subprotocol,
        max_message_bytes=DEFAULT_WEBSOCKET_MAX_MESSAGE_BYTES
        if max_message is None
        else max_message,
    )


def _frontier(ctx: _Ctx, value: object, path: str) -> FrontierSpec:
    m = _obj(
        ctx,
        value,
        path,
        frozenset(
            {
                "replicas",
                "image",
                "servicebound",
                "edgebound",
                "controlplane",
                "drainSeconds",
                "nodeAffinity",
                "pod",
                "podDisruptionBudget",
            }
        ),
    )
    if value is _MISSING or value is None:
        ctx.error(path, "is required")
    replicas = _int(ctx, m, "replicas", path, DEFAULT_REPLICAS, minimum=0, maximum=_INT32_MAX)

    sb_path = f"{path}.servicebound"
    sb = _obj(ctx, None if m is None else m.get("servicebound"), sb_path,
              frozenset({"port", "service", "serviceType", "tokenSecretRef"}))  # fmt: skip
    servicebound = Servicebound(
        port=_port(ctx, sb, "port", sb_path, DEFAULT_SERVICEBOUND_PORT),
        service_name=_name(ctx, sb, "service", sb_path, dns1035=True),
        service_type=_enum(
            ctx, sb, "serviceType", sb_path, SERVICE_TYPES, DEFAULT_SERVICEBOUND_SERVICE_TYPE
        )
        or DEFAULT_SERVICEBOUND_SERVICE_TYPE,
        token_secret=_token_secret(
            ctx, None if sb is None else sb.get("tokenSecretRef"), f"{sb_path}.tokenSecretRef"
        ),
    )

    eb_path = f"{path}.edgebound"
    eb = _obj(ctx, None if m is None else m.get("edgebound"), eb_path,
              frozenset({"port", "serviceName", "serviceType", "tls", "websocket"}))  # fmt: skip
    edgebound = Edgebound(
        port=_port(ctx, eb, "port", eb_path, DEFAULT_EDGEBOUND_PORT),
        service_name=_name(ctx, eb, "serviceName", eb_path, dns1035=True),
        service_type=_enum(
            ctx, eb, "serviceType", eb_path, SERVICE_TYPES, DEFAULT_EDGEBOUND_SERVICE_TYPE
        )
        or DEFAULT_EDGEBOUND_SERVICE_TYPE,
        tls=_tls(ctx, None if eb is None else eb.get("tls"), f"{eb_path}.tls"),
        websocket=_websocket(
            ctx, None if eb is None else eb.get("websocket"), f"{eb_path}.websocket"
        ),
    )

    cp_path = f"{path}.controlplane"
    cp = _obj(ctx, None if m is None else m.get("controlplane"), cp_path,
              frozenset({"enabled", "port"}))  # fmt: skip
    controlplane = ControlAPI(
        enabled=_bool(ctx, cp, "enabled", cp_path, False),
        port=_port(ctx, cp, "port", cp_path, DEFAULT_CONTROL_API_PORT),
    )

    ports = {f"{sb_path}.port": servicebound.port, f"{eb_path}.port": edgebound.port}
    if edgebound.websocket.enabled:
        ports[f"{eb_path}.websocket.port"] = edgebound.websocket.port
    if controlplane.enabled:
        ports[f"{cp_path}.port"] = controlplane.port
    _distinct_ports(ctx, ports, {FRONTIER_METRICS_PORT: "metrics and health endpoints"})

    pod = _pod(ctx, None if m is None else m.get("pod"), f"{path}.pod")
    drain = _int(ctx, m, "drainSeconds", path, None, minimum=0)
    return FrontierSpec(
        replicas=DEFAULT_REPLICAS if replicas is None else replicas,
        image=_str(ctx, m, "image", path),
        servicebound=servicebound,
        edgebound=edgebound,
        controlplane=controlplane,
        drain_seconds=drain,
        node_affinity=_free_obj(
            ctx, None if m is None else m.get("nodeAffinity"), f"{path}.nodeAffinity"
        ),
        pod=pod,
        disruption_budget=_disruption_budget(
            ctx, None if m is None else m.get("podDisruptionBudget"), f"{path}.podDisruptionBudget"
        ),
    )


def _distinct_ports(ctx: _Ctx, fields: Mapping[str, int], fixed: Mapping[int, str]) -> None:
    """Listeners of one container cannot share a port. A clash with a fixed port (metrics) is
    reported on the field; a clash between two fields on the later one, naming the earlier."""
    seen: dict[int, str] = {}
    for where, port in fields.items():
        if port in fixed:
            ctx.error(where, f"port {port} is reserved for the {fixed[port]}")
        elif port in seen:
            ctx.error(where, f"port {port} is also used by {seen[port]}")
        else:
            seen[port] = where


def _redis(ctx: _Ctx, value: object, path: str) -> Redis:
    m = _obj(
        ctx,
        value,
        path,
        frozenset({"addrs", "db", "user", "password", "passwordSecret", "redisType", "masterName"}),
    )
    if m is None:
        ctx.error(path, "is required")
    addrs: list[str] = []
    raw_addrs = _MISSING if m is None else m.get("addrs", _MISSING)
    if m is not None and (raw_addrs is _MISSING or raw_addrs is None):
        ctx.error(f"{path}.addrs", "is required (host:port of Redis, or of the sentinels)")
    elif raw_addrs is not _MISSING and raw_addrs is not None:
        if not isinstance(raw_addrs, list | tuple):
            ctx.error(f"{path}.addrs", f"must be an array, not {_type_name(raw_addrs)}")
        elif not raw_addrs:
            ctx.error(f"{path}.addrs", "must list at least one address")
        else:
            for i, a in enumerate(raw_addrs):
                match = _HOST_PORT.match(a) if isinstance(a, str) else None
                if match is None or not 1 <= int(match["port"]) <= 65535:
                    ctx.error(f"{path}.addrs[{i}]", f"{a!r} is not a host:port address")
                else:
                    addrs.append(a)
    redis_type = _enum(ctx, m, "redisType", path, REDIS_TYPES, None)
    if m is not None and m.get("redisType") in (None, ""):
        ctx.error(f"{path}.redisType", f"is required (one of {', '.join(REDIS_TYPES)})")
    db = _int(ctx, m, "db", path, DEFAULT_REDIS_DB, minimum=0)
    master = _str(ctx, m, "masterName", path)
    if redis_type == "standalone" and len(addrs) > 1:
        ctx.error(f"{path}.addrs", "standalone Redis takes exactly one address")
    if redis_type == "sentinel" and master is None:
        ctx.error(f"{path}.masterName", "is required for sentinel Redis")
    if redis_type == "cluster" and db not in (None, 0):
        ctx.error(f"{path}.db", "Redis cluster only has database 0")

    secret: SecretKeyRef | None = None
    ps_path = f"{path}.passwordSecret"
    ps = _obj(ctx, None if m is None else m.get("passwordSecret"), ps_path,
              frozenset({"name", "key", "optional"}))  # fmt: skip
    if ps is not None:
        s_name = _name(ctx, ps, "name", ps_path, dns1035=False)
        s_key = _str(ctx, ps, "key", ps_path)
        if "name" not in ps or ps.get("name") in (None, ""):
            ctx.error(f"{ps_path}.name", "is required")
        if s_key is None:
            ctx.error(f"{ps_path}.key", "is required")
        optional = ps.get("optional")
        if optional is not None and not isinstance(optional, bool):
            ctx.error(f"{ps_path}.optional", f"must be a boolean, not {_type_name(optional)}")
            optional = None
        if s_name is not None and s_key is not None:
            secret = SecretKeyRef(s_name, s_key, optional)
    password = _str(ctx, m, "password", path)
    if password is not None and ps is not None:
        ctx.warnings.append(f"{path}.password is ignored: passwordSecret takes precedence")
        password = None
    elif password is not None:
        ctx.warnings.append(
            f"{path}.password is deprecated: it is visible in the pod spec; use passwordSecret"
        )
    return Redis(
        addrs=tuple(addrs),
        redis_type=redis_type or "standalone",
        db=DEFAULT_REDIS_DB if db is None else db,
        user=_str(ctx, m, "user", path),
        password=password,
        password_secret=secret,
        master_name=master,
    )


def _frontlas(ctx: _Ctx, value: object, path: str) -> FrontlasSpec:
    m = _obj(
        ctx,
        value,
        path,
        frozenset(
            {
                "replicas",
                "image",
                "controlplane",
                "redis",
                "nodeAffinity",
                "pod",
                "podDisruptionBudget",
            }
        ),
    )
    if value is _MISSING or value is None:
        ctx.error(path, "is required")
    replicas = _int(ctx, m, "replicas", path, DEFAULT_REPLICAS, minimum=0, maximum=_INT32_MAX)
    cp_path = f"{path}.controlplane"
    cp = _obj(ctx, None if m is None else m.get("controlplane"), cp_path,
              frozenset({"port", "frontierPlanePort", "service", "serviceType"}))  # fmt: skip
    controlplane = FrontlasControlPlane(
        port=_port(ctx, cp, "port", cp_path, DEFAULT_FRONTLAS_CONTROLPLANE_PORT),
        frontier_plane_port=_port(
            ctx, cp, "frontierPlanePort", cp_path, DEFAULT_FRONTLAS_FRONTIERPLANE_PORT
        ),
        service_name=_name(ctx, cp, "service", cp_path, dns1035=True),
        service_type=_enum(
            ctx, cp, "serviceType", cp_path, SERVICE_TYPES, DEFAULT_FRONTLAS_SERVICE_TYPE
        )
        or DEFAULT_FRONTLAS_SERVICE_TYPE,
    )
    _distinct_ports(
        ctx,
        {
            f"{cp_path}.port": controlplane.port,
            f"{cp_path}.frontierPlanePort": controlplane.frontier_plane_port,
        },
        {FRONTLAS_METRICS_PORT: "metrics and health endpoints"},
    )
    redis_value = _MISSING if m is None else m.get("redis", _MISSING)
    if m is None:
        # The frontlas object itself is missing or malformed (already reported); do not pile a
        # "redis is required" on top of it.
        redis = Redis(addrs=(), redis_type="standalone")
    else:
        redis = _redis(ctx, None if redis_value is _MISSING else redis_value, f"{path}.redis")
    return FrontlasSpec(
        redis=redis,
        replicas=DEFAULT_REPLICAS if replicas is None else replicas,
        image=_str(ctx, m, "image", path),
        controlplane=controlplane,
        node_affinity=_free_obj(
            ctx, None if m is None else m.get("nodeAffinity"), f"{path}.nodeAffinity"
        ),
        pod=_pod(ctx, None if m is None else m.get("pod"), f"{path}.pod"),
        disruption_budget=_disruption_budget(
            ctx, None if m is None else m.get("podDisruptionBudget"), f"{path}.podDisruptionBudget"
        ),
    )


def _frontd(ctx: _Ctx, value: object, path: str) -> FrontdSpec | None:
    m = _obj(
        ctx,
        value,
        path,
        frozenset(
            {
                "replicas",
                "image",
                "port",
                "serviceName",
                "serviceType",
                "secretRef",
                "allow",
                "workers",
                "statusFormat",
                "drainSeconds",
                "pod",
                "podDisruptionBudget",
            }
        ),
    )
    if m is None:
        return None
    replicas = _int(ctx, m, "replicas", path, DEFAULT_REPLICAS, minimum=0, maximum=_INT32_MAX)
    port = _port(ctx, m, "port", path, DEFAULT_FRONTD_PORT)
    _distinct_ports(
        ctx, {f"{path}.port": port}, {FRONTD_METRICS_PORT: "metrics and health endpoints"}
    )
    ref_path = f"{path}.secretRef"
    ref = _obj(ctx, m.get("secretRef"), ref_path, frozenset({"name", "key"}))
    secret_name = _name(ctx, ref, "name", ref_path, dns1035=False)
    if ref is None or ref.get("name") in (None, ""):
        ctx.error(f"{ref_path}.name", "is required (the Secret holding frontd's secret)")
    secret_key = _str(ctx, ref, "key", ref_path) or DEFAULT_FRONTD_SECRET_KEY
    allow: list[str] = []
    raw_allow = m.get("allow")
    if raw_allow is not None and not isinstance(raw_allow, list | tuple):
        ctx.error(f"{path}.allow", f"must be an array, not {_type_name(raw_allow)}")
    else:
        for i, rule in enumerate(raw_allow or ()):
            try:
                if not isinstance(rule, str):
                    raise ValueError(f"must be a string, not {_type_name(rule)}")
                parse_rule(rule)
            except ValueError as exc:
                ctx.error(f"{path}.allow[{i}]", f"{exc} (CIDR[:PORTS])")
            else:
                allow.append(rule)
    return FrontdSpec(
        secret=SecretKeyRef(secret_name or "", secret_key),
        replicas=DEFAULT_REPLICAS if replicas is None else replicas,
        image=_str(ctx, m, "image", path),
        port=port,
        service_name=_name(ctx, m, "serviceName", path, dns1035=True),
        service_type=_enum(ctx, m, "serviceType", path, SERVICE_TYPES, DEFAULT_FRONTD_SERVICE_TYPE)
        or DEFAULT_FRONTD_SERVICE_TYPE,
        allow=tuple(allow),
        workers=_int(ctx, m, "workers", path, 0, minimum=0, maximum=256) or 0,
        status_format=_enum(
            ctx, m, "statusFormat", path, STATUS_FORMATS, DEFAULT_FRONTD_STATUS_FORMAT
        )
        or DEFAULT_FRONTD_STATUS_FORMAT,
        drain_seconds=_int(ctx, m, "drainSeconds", path, None, minimum=0),
        pod=_pod(ctx, m.get("pod"), f"{path}.pod"),
        disruption_budget=_disruption_budget(
            ctx, m.get("podDisruptionBudget"), f"{path}.podDisruptionBudget"
        ),
    )


def _check_names(ctx: _Ctx, spec: ClusterSpec, cr_name: str) -> None:
    if len(cr_name) > 63 or not _DNS1035_LABEL.match(cr_name):
        # Children get names and an instance label derived from the CR name; a label value is
        # at most 63 characters and Service names must be DNS-1035 labels.
        ctx.error(
            "metadata.name",
            f"{cr_name!r} must be a DNS-1035 label (lowercase letters, digits and '-', starting "
            "with a letter) to name the cluster's Services and labels",
        )
        return
    names = spec.names(cr_name)
    services = {
        "spec.frontier.servicebound.service": names.servicebound_service,
        "spec.frontier.edgebound.serviceName": names.edgebound_service,
        "spec.frontlas.controlplane.service": names.frontlas_service,
    }
    if names.frontd_service is not None:
        services["spec.frontd.serviceName"] = names.frontd_service
    for where, svc in services.items():
        if len(svc) > 63:
            ctx.error(
                "metadata.name",
                f"the derived Service name {svc!r} is longer than 63 characters; shorten the "
                f"name or set {where}",
            )
    for n in (names.frontier_deployment, names.frontier_config_map, names.frontd_config_map):
        if n is not None and len(n) > 63:
            ctx.error("metadata.name", f"the derived name {n!r} is longer than 63 characters")
    seen: dict[str, str] = {}
    for where, svc in services.items():
        if svc in seen:
            ctx.error(where, f"Service name {svc!r} is also used by {seen[svc]}")
        else:
            seen[svc] = where


def parse_spec(spec: object, *, name: str | None = None) -> ClusterSpec:
    """Parse a FrontierCluster ``spec`` (as the API returns it) into a :class:`ClusterSpec`.

    Defaults are applied exactly as the CRD would apply them. When ``name`` (the CR's
    ``metadata.name``) is given, the names derived from it are checked too. Raises
    :class:`SpecError` listing every problem; never raises anything else for bad input.
    """
    ctx = _Ctx()
    m = _obj(ctx, spec, "spec", frozenset({"frontier", "frontlas", "frontd"}))
    if m is None:
        if spec is None or spec is _MISSING:
            ctx.error("spec", "is required")
        raise SpecError(ctx.problems)
    frontier = _frontier(ctx, m.get("frontier", _MISSING), "spec.frontier")
    frontlas = _frontlas(ctx, m.get("frontlas", _MISSING), "spec.frontlas")
    frontd = _frontd(ctx, m.get("frontd"), "spec.frontd")
    result = ClusterSpec(frontier=frontier, frontlas=frontlas, frontd=frontd)
    if name is not None:
        _check_names(ctx, result, name)
    if ctx.problems:
        raise SpecError(ctx.problems)
    return ClusterSpec(
        frontier=frontier, frontlas=frontlas, frontd=frontd, warnings=tuple(ctx.warnings)
    )
