"""The small Kubernetes API layer the handlers use: read, create, merge-patch, list, delete.

Objects are plain dicts in and out (the builders' output and what the API returns), never the
``kubernetes`` package's models: those drop fields they do not know and re-serialise
quantities, which would make drift detection compare the wrong things. Calls go through the
synchronous ``kubernetes`` client in worker threads (its in-cluster loader refreshes rotated
service-account tokens, and it is already what kopf authenticates with), and every failure comes
out as one :class:`KubeError` carrying the HTTP status, which is all the handlers decide on.

Writes are merge patches (RFC 7386) of the whole desired object, sent only when
:func:`drift` finds a difference: maps merge, so fields the API server or other controllers
add (``clusterIP``, defaulted probe fields, ``kubectl rollout restart``'s annotation) stay;
lists replace, so an env var or port added by hand disappears. An unchanged child therefore
costs one GET and no write, and the API server sees no update at all.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import kopf
import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from .spec import JSONDict

MERGE_PATCH: Final = "application/merge-patch+json"
FIELD_MANAGER: Final = "frontier-operator"


@dataclass(frozen=True)
class Kind:
    """A resource the operator reads or writes."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


CONFIG_MAP: Final = Kind("v1", "ConfigMap", "configmaps")
SERVICE: Final = Kind("v1", "Service", "services")
SECRET: Final = Kind("v1", "Secret", "secrets")
DEPLOYMENT: Final = Kind("apps/v1", "Deployment", "deployments")
#: Served as ``policy/v1`` from Kubernetes 1.21, only as ``policy/v1beta1`` before: KubeApi
#: reads and writes it in the version :meth:`KubeApi.pdb_api_version` finds served.
POD_DISRUPTION_BUDGET: Final = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
PDB_VERSIONS: Final = ("v1", "v1beta1")
FRONTIER_CLUSTER: Final = Kind(
    "frontier.singchia.io/v1alpha1", "FrontierCluster", "frontierclusters"
)
CHILD_KINDS: Final = (CONFIG_MAP, SERVICE, DEPLOYMENT, POD_DISRUPTION_BUDGET)
_BY_KIND: Final = {
    k.kind: k
    for k in (CONFIG_MAP, SERVICE, SECRET, DEPLOYMENT, POD_DISRUPTION_BUDGET, FRONTIER_CLUSTER)
}


def kind_of(obj: Mapping[str, Any]) -> Kind:
    try:
        return _BY_KIND[str(obj.get("kind"))]
    except KeyError:
        raise ValueError(f"unsupported kind {obj.get('kind')!r}") from None


class KubeError(Exception):
    """A failed API call. ``status`` is the HTTP status, 0 when no answer came back."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else message)
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def invalid(self) -> bool:
        """The API server rejected the object itself (422): retrying the same write cannot
        succeed; only a changed spec can."""
        return self.status == 422

    @classmethod
    def from_api_exception(cls, exc: ApiException) -> KubeError:
        status = int(exc.status or 0)
        reason, message = str(exc.reason or ""), ""
        body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                message = body[:1000]
            else:
                if isinstance(parsed, dict):
                    reason = str(parsed.get("reason") or reason)
                    message = str(parsed.get("message") or "")
        return cls(status, reason, message or reason)


# --------------------------------------------------------------------------------------------
# drift


def drift(desired: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where ``actual`` does not carry ``desired``: a missing or different map key, a
    list of another length, a different scalar.

    What the API server does to an object that is not a difference: keys only in ``actual``
    (defaulted fields, other controllers' annotations; list items compare position by
    position with the same rule, so a defaulted ``protocol: TCP`` in a port is fine); a
    desired zero value (``[]``, ``{}``, ``""``, ``0``, ``false``, ``null``) that ``actual`` omits,
    as Go's ``omitempty`` does; and a resource quantity written another way (``0.5`` is
    returned as ``500m``). Without these, every pass would patch and announce drift.
    """
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in desired.items():
            sub = f"{path}.{key}"
            if key in actual:
                out.extend(drift(value, actual[key], sub))
            elif value:  # a zero value the API server omitted is not missing
                out.append(sub)
        return out
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [path or "."]
        return [p for i, item in enumerate(desired) for p in drift(item, actual[i], f"{path}[{i}]")]
    if desired == actual or _same_quantity(desired, actual, path):
        return []
    return [path or "."]


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")
_SUFFIX: Final[dict[str, Decimal | int]] = {
    "": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10**3,
    "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def _quantity(value: Any) -> Decimal | None:
    match = _QUANTITY.match(str(value)) if isinstance(value, str | int) else None
    if match is None:
        return None
    try:
        number = Decimal(match[1])
    except InvalidOperation:
        return None
    if match[2]:
        return number * Decimal(f"1{match[2]}")
    return number * Decimal(_SUFFIX[match[3] or ""])


def _same_quantity(desired: Any, actual: Any, path: str) -> bool:
    """Equal resource quantities (under ``resources``), however each is written."""
    if ".resources." not in path or isinstance(desired, bool) or isinstance(actual, bool):
        return False
    a, b = _quantity(desired), _quantity(actual)
    return a is not None and a == b


def desired_fields(obj: Mapping[str, Any]) -> JSONDict:
    """The part of a built child the operator owns and compares: labels, annotations, owner
    references and everything outside ``metadata`` except ``status``."""
    meta = obj.get("metadata") or {}
    owned_meta = {k: meta[k] for k in ("labels", "annotations", "ownerReferences") if k in meta}
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return {"metadata": owned_meta, **rest}


# --------------------------------------------------------------------------------------------
# connection


class KubeConnection:
    """Where the API server is and how to authenticate: one source for kopf and for KubeApi.

    ``login()`` is what kopf's login handler returns; ``api()`` is the client the handlers use.
    Both come from one ``kubernetes.client.Configuration``, loaded lazily (in-cluster service
    account, else kubeconfig) unless given, so that the operator and its own calls can never
    talk to two different clusters.
    """

    def __init__(
        self,
        configuration: kubernetes.client.Configuration | None = None,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self._configuration = configuration
        self._kubeconfig = kubeconfig
        self._context = context
        self._request_timeout = request_timeout
        self._api: KubeApi | None = None

    def configuration(self) -> kubernetes.client.Configuration:
        """The loaded configuration; raises `kubernetes.config.ConfigException` saying
        every place it looked (the service account, then the kubeconfig) and why each
        failed."""
        if self._configuration is None:
            cfg = kubernetes.client.Configuration()
            load_incluster: Callable[..., None] = kubernetes.config.load_incluster_config
            load_kubeconfig: Callable[..., None] = kubernetes.config.load_kube_config
            in_cluster = ""
            if self._kubeconfig is None and self._context is None:
                try:
                    load_incluster(client_configuration=cfg)
                except kubernetes.config.ConfigException as exc:
                    in_cluster = f"no in-cluster service account ({_reason(exc)}), and "
                else:
                    self._configuration = cfg
                    return cfg
            try:
                load_kubeconfig(
                    config_file=self._kubeconfig, context=self._context, client_configuration=cfg
                )
            except Exception as exc:  # a malformed file raises TypeError, YAMLError, ...
                raise kubernetes.config.ConfigException(
                    f"{in_cluster}no usable kubeconfig ({self._kubeconfig_source()}: "
                    f"{_reason(exc)})"
                ) from exc
            self._configuration = cfg
        return self._configuration

    def _kubeconfig_source(self) -> str:
        if self._kubeconfig is not None:
            return f"--kubeconfig {self._kubeconfig}"
        if env := os.environ.get("KUBECONFIG"):
            return f"KUBECONFIG={env}"
        return "~/.kube/config"

    def login(self) -> kopf.ConnectionInfo:
        """Credentials for kopf, mirroring ``kopf.login_via_client`` for this configuration."""
        try:
            cfg = self.configuration()
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise kopf.LoginError(f"no Kubernetes credentials: {exc}") from exc
        header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
            "authorization"
        )
        parts = header.split(" ", 1) if header else []
        scheme: str | None = parts[0] if len(parts) == 2 else None
        token: str | None = parts[-1] if parts else None
        return kopf.ConnectionInfo(
            server=cfg.host,
            ca_path=cfg.ssl_ca_cert,
            insecure=not cfg.verify_ssl,
            username=cfg.username or None,
            password=cfg.password or None,
            scheme=scheme,
            token=token,
            certificate_path=cfg.cert_file,
            private_key_path=cfg.key_file,
        )

    def api(self) -> KubeApi:
        if self._api is None:
            client = kubernetes.client.ApiClient(self.configuration())
            client.user_agent = FIELD_MANAGER
            self._api = KubeApi(client, request_timeout=self._request_timeout)
        return self._api


def _reason(exc: BaseException) -> str:
    """An exception's message without a trailing full stop (it goes inside a sentence)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, kubernetes.config.ConfigException):
        return str(exc).rstrip(".")
    return f"not a kubeconfig: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# API calls

Verb = Literal["read", "create", "patch", "delete", "list"]


class KubeApi:
    """Typed, dict-based access to the few resources the operator touches."""

    def __init__(self, client: kubernetes.client.ApiClient, *, request_timeout: float = 30.0):
        self._core = kubernetes.client.CoreV1Api(client)
        self._apps = kubernetes.client.AppsV1Api(client)
        self._custom = kubernetes.client.CustomObjectsApi(client)
        self._apis = kubernetes.client.ApisApi(client)
        self._timeout = request_timeout
        self._pdb_version: str | None = None

    async def pdb_api_version(self) -> str:
        """``policy/v1`` when the API server serves it, else ``policy/v1beta1`` (asked once)."""
        if self._pdb_version is None:
            groups = (await self._call(self._apis.get_api_versions) or {}).get("groups") or ()
            policy: Mapping[str, Any] = next(
                (g for g in groups if g.get("name") == POD_DISRUPTION_BUDGET.group), {}
            )
            served = {str(v.get("version")) for v in policy.get("versions") or ()}
            version = next((v for v in PDB_VERSIONS if v in served), None)
            if version is None:
                raise KubeError(404, "NotFound", "the API server serves no PodDisruptionBudget")
            self._pdb_version = f"policy/{version}"
        return self._pdb_version

    def _method(self, kind: Kind, verb: Verb) -> Callable[..., Any]:
        if kind == FRONTIER_CLUSTER:
            raise ValueError("FrontierCluster is read with get_cluster / patch_cluster_status")
        if kind == POD_DISRUPTION_BUDGET:
            return self._pdb_method(verb)
        api: Any = self._apps if kind == DEPLOYMENT else self._core
        suffix = {"ConfigMap": "config_map", "Service": "service", "Secret": "secret"}.get(
            kind.kind, "deployment"
        )
        method: Callable[..., Any] = getattr(api, f"{verb}_namespaced_{suffix}")
        return method

    def _pdb_method(self, verb: Verb) -> Callable[..., Any]:
        """PodDisruptionBudget calls through the generic object API (the typed client knows
        only ``policy/v1``), in the core calls' argument order: (name, namespace) or
        (namespace, body)."""
        custom = self._custom
        group, plural = POD_DISRUPTION_BUDGET.group, POD_DISRUPTION_BUDGET.plural

        def version() -> str:
            if self._pdb_version is None:
                raise RuntimeError("pdb_api_version() must be awaited before PDB calls")
            return self._pdb_version.rpartition("/")[2]

        def by_name(fn: Callable[..., Any]) -> Callable[..., Any]:
            return lambda name, namespace, *a, **kw: fn(
                group, version(), namespace, plural, name, *a, **kw
            )

        def by_namespace(fn: Callable[..., Any]) -> Callable[..., Any]:
            return lambda namespace, *a, **kw: fn(group, version(), namespace, plural, *a, **kw)

        return {
            "read": by_name(custom.get_namespaced_custom_object),
            "patch": by_name(custom.patch_namespaced_custom_object),
            "delete": by_name(custom.delete_namespaced_custom_object),
            "create": by_namespace(custom.create_namespaced_custom_object),
            "list": by_namespace(custom.list_namespaced_custom_object),
        }[verb]

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call in a worker thread and decode its JSON body."""

        def call() -> Any:
            resp = fn(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            data = resp.data
            return json.loads(data) if data else None

        try:
            return await asyncio.to_thread(call)
        except ApiException as exc:
            raise KubeError.from_api_exception(exc) from exc
        except (Urllib3Error, OSError) as exc:
            raise KubeError(0, "Unreachable", f"API server unreachable: {exc}") from exc

    async def get(self, kind: Kind, namespace: str, name: str) -> JSONDict | None:
        """The object, or ``None`` when it does not exist."""
        try:
            obj: JSONDict = await self._call(self._method(kind, "read"), name, namespace)
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return obj

    async def create(self, obj: Mapping[str, Any]) -> JSONDict:
        kind, namespace = kind_of(obj), str(obj["metadata"]["namespace"])
        created: JSONDict = await self._call(
            self._method(kind, "create"), namespace, dict(obj), field_manager=FIELD_MANAGER
        )
        return created

    async def patch(
        self, kind: Kind, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> JSONDict:
        patched: JSONDict = await self._call(
            self._method(kind, "patch"),
            name,
            namespace,
            dict(patch),
            field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
        )
        return patched

    async def delete(self, kind: Kind, namespace: str, name: str) -> None:
        try:
            await self._call(self._method(kind, "delete"), name, namespace)
        except KubeError as exc:
            if not exc.not_found:
                raise

    async def list(self, kind: Kind, namespace: str, label_selector: str) -> list[JSONDict]:
        listed = await self._call(
            self._method(kind, "list"), namespace, label_selector=label_selector
        )
        items: list[JSONDict] = listed.get("items") or []
        return items

    async def get_cluster(self, namespace: str, name: str) -> JSONDict | None:
        k = FRONTIER_CLUSTER
        try:
            obj: JSONDict = await self._call(
                self._custom.get_namespaced_custom_object, k.group, k.version, namespace,
                k.plural, name,
            )  # fmt: skip
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return obj

    async def patch_cluster_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> JSONDict:
        k = FRONTIER_CLUSTER
        patched: JSONDict = await self._call(
            self._custom.patch_namespaced_custom_object_status, k.group, k.version, namespace,
            k.plural, name, {"status": dict(status)}, field_manager=FIELD_MANAGER,
            _content_type=MERGE_PATCH,
        )  # fmt: skip
        return patched


# --------------------------------------------------------------------------------------------
# applying a child


@dataclass(frozen=True)
class Applied:
    """What :func:`apply` did: ``created``, ``updated`` (with the drifted paths),
    ``replaced`` (deleted and created: an immutable field differed) or ``unchanged``, and the
    object as the API server now has it."""

    action: Literal["created", "updated", "replaced", "unchanged"]
    obj: JSONDict
    drifted: tuple[str, ...] = ()


class NotOurs(Exception):
    """A child's name is taken by an object another owner controls; the operator will not
    take it over (it may be a leftover of a deleted cluster that garbage collection is about
    to remove, or someone else's)."""


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


async def apply(api: KubeApi, desired: Mapping[str, Any], owner_uid: str) -> Applied:
    """Make the child exist as built: create it, or merge-patch it if it drifted.

    An existing object without a controller is adopted (the patch adds the owner reference);
    one controlled by another owner raises :class:`NotOurs`. A create that races with someone
    else's (409) is retried once as a read and patch. A Deployment whose (immutable) selector
    differs is deleted and created again.
    """
    kind = kind_of(desired)
    meta = desired["metadata"]
    namespace, name = str(meta["namespace"]), str(meta["name"])
    for _attempt in range(2):
        actual = await api.get(kind, namespace, name)
        if actual is None:
            try:
                return Applied("created", await api.create(desired))
            except KubeError as exc:
                if exc.status == 409:
                    continue
                raise
        controller = controller_uid(actual)
        if controller is not None and controller != owner_uid:
            raise NotOurs(
                f"{kind.kind} {namespace}/{name} exists and is controlled by another owner "
                f"(uid {controller})"
            )
        wanted = desired_fields(desired)
        drifted = drift(wanted, actual)
        if not drifted:
            return Applied("unchanged", actual)
        if kind == DEPLOYMENT and (actual.get("spec") or {}).get("selector") != desired["spec"].get(
            "selector"
        ):
            # A Deployment's selector is immutable (a patch would be rejected with 422): one
            # left by upstream's operator (``app: <name>-frontier``) has to be recreated.
            await api.delete(kind, namespace, name)
            return Applied("replaced", await api.create(desired), (".spec.selector",))
        if kind == SERVICE:
            wanted = keep_allocated_node_ports(wanted, actual)
        patched = await api.patch(kind, namespace, name, wanted)
        return Applied("updated", patched, tuple(drifted))
    raise KubeError(409, "Conflict", f"{kind.kind} {namespace}/{name} keeps being recreated")


_NODE_PORT_TYPES: Final = ("NodePort", "LoadBalancer")


def keep_allocated_node_ports(wanted: JSONDict, actual: Mapping[str, Any]) -> JSONDict:
    """``wanted`` with the live Service's allocated ``nodePort`` copied into each port that
    does not choose one (matched by port name).

    A merge patch replaces ``spec.ports`` whole, and the API server allocates a *new* node
    port for a port sent without one: correcting any drift on a NodePort Service would move
    the port edges connect to. (``clusterIP`` is a map key, which a merge patch keeps.)"""
    spec = wanted.get("spec") or {}
    live_spec = actual.get("spec") or {}
    if spec.get("type") not in _NODE_PORT_TYPES or live_spec.get("type") not in _NODE_PORT_TYPES:
        return wanted
    allocated = {
        p.get("name"): p["nodePort"] for p in live_spec.get("ports") or () if p.get("nodePort")
    }
    ports = [
        {**p, "nodePort": allocated[p.get("name")]}
        if not p.get("nodePort") and p.get("name") in allocated
        else p
        for p in spec.get("ports") or ()
    ]
    return {**wanted, "spec": {**spec, "ports": ports}}


def names_of(objs: Sequence[Mapping[str, Any]], kind: Kind) -> set[str]:
    return {str(o["metadata"]["name"]) for o in objs if o.get("kind") == kind.kind}
