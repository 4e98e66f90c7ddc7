"""kopf handlers for FrontierCluster: several triggers, one idempotent reconcile.

Every path into the operator ends in :meth:`Reconciler.reconcile`, which reads the cluster
fresh, builds every child (:func:`~frontier_operator.builders.build_children`), applies the
ones that drifted, computes the whole status (:func:`~frontier_operator.status.compute_status`)
and posts Events for what changed. The triggers only differ in what they do with the outcome:

* create / resume / update of the FrontierCluster (kopf's change handlers): the outcome becomes
  kopf's verdict: ``TemporaryError`` (retry after a delay) while frontlas is not ready or the
  API failed, ``PermanentError`` for a spec the operator or the API server rejects, so an
  invalid spec is reported once (Degraded condition + Warning Event) and not retried until
  it changes;
* an event on an owned Deployment, Service or ConfigMap (a rollout progressing, a child edited
  or deleted by hand), on a Secret a cluster reads (rotation), or the periodic resync timer:
  best effort, coalesced per cluster, never raising into kopf.

Reconciles of one cluster are serialised by a lock, and a reconcile reads everything it acts
on, so a stale trigger at worst causes one redundant pass that writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import kopf

from .builders import (
    SECRETS_CHECKSUM_ANNOTATION,
    SecretDigests,
    build_children,
    owner_selector,
)
from .config import digest_secrets
from .kube import (
    CHILD_KINDS,
    DEPLOYMENT,
    FRONTIER_CLUSTER,
    POD_DISRUPTION_BUDGET,
    SECRET,
    Applied,
    Kind,
    KubeApi,
    KubeConnection,
    KubeError,
    NotOurs,
    apply,
    controller_uid,
    names_of,
)
from .settings import OperatorConfig
from .spec import ClusterSpec, JSONDict, SpecError, parse_spec
from .status import (
    AVAILABLE,
    DEGRADED,
    REASON_INVALID_SPEC,
    REASON_RECONCILE_FAILED,
    Failure,
    compute_status,
    deployment_ready,
    transitions,
)

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name) of a FrontierCluster
Clock = Callable[[], datetime.datetime]

#: At most this many drifted paths are named in a DriftCorrected event.
_MAX_PATHS_IN_EVENT: Final = 8


class Trigger(enum.Enum):
    SPEC = "spec"  # kopf create / resume / update of the FrontierCluster
    CHILD = "child"  # an owned Deployment / Service / ConfigMap changed or vanished
    SECRET = "secret"  # a Secret the cluster reads changed
    RESYNC = "resync"  # the periodic timer


@dataclass(frozen=True)
class Outcome:
    """How a reconcile ended. ``done``: everything applied; ``waiting``: all but the frontier
    Deployment, which waits for frontlas; ``retry``: a failure a later attempt may fix;
    ``invalid``: a spec that cannot be applied until it changes; ``gone``: the cluster no
    longer exists or is being deleted."""

    state: Literal["done", "waiting", "retry", "invalid", "gone"]
    message: str = ""
    #: For ``retry``: seconds until kopf retries, when not the configured ``retry_delay``.
    delay: float | None = None


class _ChildFailed(Exception):
    def __init__(self, what: str, error: KubeError) -> None:
        super().__init__(f"{what}: {error}")
        self.error = error


class _MissingSecret(Exception):
    pass


def _condition(status: Mapping[str, Any] | None, ctype: str) -> Mapping[str, Any] | None:
    for cond in (status or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == ctype:
            return cond
    return None


def status_events(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """The Events (type, reason, message) a status change deserves.

    A failure is announced once per distinct (reason, message), as a Warning; recovering from
    it is a Normal ``Recovered``. Other conditions announce changes of their status, except
    ones that first appear as ``False`` (a new cluster is not "unavailable", it is starting).
    Losing availability is a Warning. An unchanged status yields nothing, so periodic
    resyncs do not repeat Events.
    """
    out: list[tuple[str, str, str]] = []
    for t in transitions(previous, current):
        if t.type == DEGRADED:
            if t.old == "True" and t.new == "False":
                out.append(("Normal", "Recovered", t.message))
            continue
        if t.old is None and t.new == "False":
            continue
        warning = t.type == AVAILABLE and t.new == "False"
        out.append(("Warning" if warning else "Normal", t.reason, f"{t.type}: {t.message}"))
    new = _condition(current, DEGRADED)
    old = _condition(previous, DEGRADED)
    if new is not None and new.get("status") == "True":
        same = old is not None and all(
            old.get(k) == new.get(k) for k in ("status", "reason", "message")
        )
        if not same:
            out.append(("Warning", str(new.get("reason")), str(new.get("message"))))
    return out


def owner_of(child: Mapping[str, Any]) -> Key | None:
    """The FrontierCluster controlling ``child``, from its owner references."""
    meta = child.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if (
            ref.get("controller")
            and ref.get("kind") == FRONTIER_CLUSTER.kind
            and str(ref.get("apiVersion", "")).startswith(f"{FRONTIER_CLUSTER.group}/")
            and meta.get("namespace")
        ):
            return str(meta["namespace"]), str(ref.get("name"))
    return None


class _KeyedLocks:
    """One lock per cluster, dropped when nobody holds or waits for it (cluster names churn;
    a lock per name ever seen would grow without bound)."""

    def __init__(self) -> None:
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Key) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Reconciler:
    """The one reconcile function, its per-cluster serialisation and its Secret index."""

    def __init__(
        self,
        connection: KubeConnection,
        config: OperatorConfig,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._connection = connection
        self._config = config
        self._clock: Clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._locks = _KeyedLocks()
        self._queued: set[Key] = set()
        #: (namespace, Secret name) -> names of the clusters whose pods read it.
        self._secret_readers: dict[Key, set[str]] = {}

    # -- entry points ---------------------------------------------------------------------

    async def reconcile(self, namespace: str, name: str, trigger: Trigger) -> Outcome:
        key = (namespace, name)
        async with self._locks.hold(key):
            outcome = await self._reconcile(namespace, name, trigger)
        if outcome.state == "gone":
            self._forget(key)
        return outcome

    async def reconcile_soon(self, namespace: str, name: str, trigger: Trigger) -> None:
        """A background reconcile: skipped when one for this cluster is already queued
        behind the running one (it will read everything afresh anyway); failures are logged
        and left to the next trigger or the resync timer."""
        key = (namespace, name)
        if key in self._queued:
            return
        self._queued.add(key)
        try:
            async with self._locks.hold(key):
                self._queued.discard(key)
                outcome = await self._reconcile(namespace, name, trigger)
        except Exception:
            log.exception("reconcile of FrontierCluster %s/%s failed", namespace, name)
            return
        finally:
            self._queued.discard(key)
        if outcome.state == "gone":
            self._forget(key)
        elif outcome.state in ("retry", "invalid"):
            log.warning(
                "FrontierCluster %s/%s (%s): %s", namespace, name, trigger.value, outcome.message
            )

    def readers_of_secret(self, namespace: str, secret: str) -> set[str]:
        return set(self._secret_readers.get((namespace, secret), ()))

    # -- bookkeeping ----------------------------------------------------------------------

    def _forget(self, key: Key) -> None:
        namespace, name = key
        for secret_key, readers in list(self._secret_readers.items()):
            if secret_key[0] == namespace:
                readers.discard(name)
                if not readers:
                    del self._secret_readers[secret_key]

    def _remember_secrets(self, namespace: str, name: str, spec: ClusterSpec) -> None:
        frontier, frontlas = spec.referenced_secrets()
        wanted = {(namespace, s) for s in (*frontier, *frontlas, *spec.frontd_secrets())}
        for key, readers in list(self._secret_readers.items()):
            if key[0] == namespace and key not in wanted:
                readers.discard(name)
                if not readers:
                    del self._secret_readers[key]
        for key in wanted:
            self._secret_readers.setdefault(key, set()).add(name)

    # -- the reconcile --------------------------------------------------------------------

    async def _reconcile(self, namespace: str, name: str, trigger: Trigger) -> Outcome:
        log.debug("reconciling FrontierCluster %s/%s (%s)", namespace, name, trigger.value)
        api = self._connection.api()
        try:
            cluster = await api.get_cluster(namespace, name)
        except KubeError as exc:
            return Outcome("retry", f"reading the FrontierCluster: {exc}")
        if cluster is None or cluster.get("metadata", {}).get("deletionTimestamp"):
            return Outcome("gone")
        meta = cluster["metadata"]
        generation = int(meta.get("generation") or 0)
        previous: JSONDict = cluster.get("status") or {}
        owner = kopf.Body(cast(kopf.RawBody, cluster))

        try:
            spec = parse_spec(cluster.get("spec"), name=name)
        except SpecError as exc:
            await self._publish(
                api, cluster, generation, None, Failure(REASON_INVALID_SPEC, str(exc))
            )
            return Outcome("invalid", str(exc))

        self._remember_secrets(namespace, name, spec)
        # Whether this pass applies a spec generation not yet reported in status: writes are
        # then the update itself; otherwise they undo changes made outside the operator.
        new_generation = previous.get("observedGeneration") != generation
        if new_generation:
            for warning in spec.warnings:  # once per generation, not on every retry
                _post(owner, "Warning", "SpecWarning", warning)

        failure: Failure | None = None
        outcome = Outcome("done")
        applied: list[Applied] = []
        deployments: tuple[JSONDict | None, JSONDict | None] | None = None
        frontd: JSONDict | None = None
        uid = str(meta["uid"])
        try:
            digests = await self._secret_digests(api, namespace, spec)
            try:
                pdb_version = await api.pdb_api_version()
            except KubeError as exc:
                raise _ChildFailed("finding the PodDisruptionBudget API version", exc) from exc
            children = build_children(
                spec, name, namespace, self._config.images, digests, pdb_version
            )
            kopf.append_owner_reference(children, owner=owner)
            names = spec.names(name)
            frontier = next(c for c in children if _is(c, DEPLOYMENT, names.frontier_deployment))
            frontlas: JSONDict | None = None
            for child in children:  # in order, one by one: what was applied before a failure
                if child is frontier:  # is reported; frontier waits for frontlas (below)
                    continue
                applied.append(await self._apply(api, child, uid))
                if _is(child, DEPLOYMENT, names.frontlas_deployment):
                    frontlas = applied[-1].obj
                elif names.frontd_deployment and _is(child, DEPLOYMENT, names.frontd_deployment):
                    frontd = applied[-1].obj
            if deployment_ready(frontlas, spec.frontlas.replicas):
                applied.append(await self._apply(api, frontier, uid))
                deployments = (frontlas, applied[-1].obj)
            else:
                outcome = Outcome(
                    "waiting", f"frontlas is not ready yet ({names.frontlas_deployment}); "
                    "frontier waits",
                )  # fmt: skip
                try:
                    current = await api.get(DEPLOYMENT, namespace, names.frontier_deployment)
                except KubeError as exc:
                    what = f"reading Deployment {names.frontier_deployment}"
                    raise _ChildFailed(what, exc) from exc
                deployments = (frontlas, current)
            renamed = any(a.action == "created" and a.obj.get("kind") == "Service" for a in applied)
            if new_generation or renamed or trigger is Trigger.RESYNC:  # else none can be stale
                await self._prune(api, namespace, name, uid, children)
        except _ChildFailed as exc:
            if exc.error.invalid:
                # The API server rejected what the spec asked for (e.g. a malformed pod
                # override): the same write would fail again until the spec changes.
                msg = f"rejected by the API server: {exc}"
                failure, outcome = Failure(REASON_INVALID_SPEC, msg), Outcome("invalid", msg)
            else:
                failure, outcome = (
                    Failure(REASON_RECONCILE_FAILED, str(exc)),
                    Outcome("retry", str(exc)),
                )
        except NotOurs as exc:
            failure, outcome = (
                Failure(REASON_RECONCILE_FAILED, str(exc)),
                Outcome("retry", str(exc)),
            )
        except _MissingSecret as exc:
            # The Secret watch reconciles as soon as it appears; kopf's retry is a backstop
            # and need not rewrite its progress annotation every few seconds meanwhile.
            failure, outcome = (
                Failure(REASON_RECONCILE_FAILED, str(exc)),
                Outcome("retry", str(exc), delay=max(self._config.retry_delay, 60.0)),
            )

        self._announce_writes(owner, applied, new_generation)
        published = await self._publish(
            api, cluster, generation, spec, failure, deployments, frontd
        )
        if not published and outcome.state == "done":
            outcome = Outcome("retry", "could not update the FrontierCluster status")
        return outcome

    async def _apply(self, api: KubeApi, child: JSONDict, owner_uid: str) -> Applied:
        try:
            return await apply(api, child, owner_uid)
        except KubeError as exc:
            what = f"{child['kind']} {child['metadata']['name']}"
            raise _ChildFailed(what, exc) from exc

    async def _secret_digests(
        self, api: KubeApi, namespace: str, spec: ClusterSpec
    ) -> SecretDigests:
        frontier_names, frontlas_names = spec.referenced_secrets()
        optional = spec.frontlas.redis.password_secret is not None and bool(
            spec.frontlas.redis.password_secret.optional
        )

        async def read(names: Sequence[str], may_be_missing: bool) -> str | None:
            if not names:
                return None
            found: list[JSONDict] = []
            for secret_name in names:
                try:
                    secret = await api.get(SECRET, namespace, secret_name)
                except KubeError as exc:
                    raise _ChildFailed(f"reading Secret {secret_name}", exc) from exc
                if secret is None:
                    if may_be_missing:
                        continue
                    raise _MissingSecret(
                        f"Secret {namespace}/{secret_name} referenced by the spec does not exist"
                    )
                found.append(secret)
            _check_token_key(namespace, spec, found)
            return digest_secrets(found)

        return SecretDigests(
            frontier=await read(frontier_names, False),
            frontlas=await read(frontlas_names, optional),
            frontd=await read(spec.frontd_secrets(), False),
        )

    async def _prune(
        self, api: KubeApi, namespace: str, name: str, uid: str, children: Sequence[JSONDict]
    ) -> None:
        """Delete children this cluster made that the spec no longer asks for: Services under
        a name no longer used (a renamed ``servicebound.service``), PodDisruptionBudgets it no
        longer wants (disabled), and the frontd Deployment, ConfigMap and Service once the
        ``frontd`` section is removed. Owner references alone would keep them until the
        cluster is deleted."""
        for kind in CHILD_KINDS:
            keep = names_of(children, kind)
            try:
                for obj in await api.list(kind, namespace, owner_selector(name)):
                    obj_name = str(obj["metadata"]["name"])
                    if obj_name not in keep and controller_uid(obj) == uid:
                        await api.delete(kind, namespace, obj_name)
                        log.info(
                            "deleted %s %s/%s: no longer in the spec",
                            kind.kind,
                            namespace,
                            obj_name,
                        )
            except KubeError as exc:
                raise _ChildFailed(f"removing {kind.kind}s the spec no longer has", exc) from exc

    def _announce_writes(
        self, owner: kopf.Body, applied: Sequence[Applied], new_generation: bool
    ) -> None:
        def describe(items: Sequence[Applied]) -> str:
            return ", ".join(f"{a.obj.get('kind')} {a.obj['metadata']['name']}" for a in items)

        created = [a for a in applied if a.action == "created"]
        replaced = [a for a in applied if a.action == "replaced"]
        changed = [a for a in applied if a.action == "updated"]
        # Only the Secrets' digest moved: a Secret was rotated, nothing was tampered with.
        rotated = [
            a for a in changed if all(p.endswith(SECRETS_CHECKSUM_ANNOTATION) for p in a.drifted)
        ]
        updated = [a for a in changed if a not in rotated]
        if rotated:
            _post(
                owner,
                "Normal",
                "SecretRotated",
                f"rolling {describe(rotated)}: a Secret its pods read changed",
            )
        if created:
            _post(owner, "Normal", "Created", f"created {describe(created)}")
        if replaced:
            _post(
                owner,
                "Warning",
                "Replaced",
                f"deleted and re-created {describe(replaced)}: its selector differed and "
                "cannot be changed in place",
            )
        if updated and new_generation:
            _post(owner, "Normal", "Updated", f"updated {describe(updated)}")
        elif updated:
            paths = [f"{a.obj['metadata']['name']}{p}" for a in updated for p in a.drifted]
            more = len(paths) - _MAX_PATHS_IN_EVENT
            shown = ", ".join(paths[:_MAX_PATHS_IN_EVENT]) + (
                f" (+{more} more)" if more > 0 else ""
            )
            _post(
                owner,
                "Warning",
                "DriftCorrected",
                f"restored {describe(updated)} changed outside the operator: {shown}",
            )

    async def _publish(
        self,
        api: KubeApi,
        cluster: JSONDict,
        generation: int,
        spec: ClusterSpec | None,
        failure: Failure | None,
        deployments: tuple[JSONDict | None, JSONDict | None] | None = None,
        frontd: JSONDict | None = None,
    ) -> bool:
        """Compute the status from the Deployments as they are now (as just applied, or read
        here), write it if it changed, and post the Events the change deserves. False when
        the status could not be written (or the Deployments not read)."""
        meta = cluster["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        previous: JSONDict = cluster.get("status") or {}
        try:
            if deployments is None:
                deployments = (
                    await api.get(DEPLOYMENT, namespace, f"{name}-frontlas"),
                    await api.get(DEPLOYMENT, namespace, f"{name}-frontier"),
                )
        except KubeError as exc:
            log.warning(
                "FrontierCluster %s/%s: cannot read its Deployments: %s", namespace, name, exc
            )
            return False
        frontlas, frontier = deployments
        status = compute_status(
            generation=generation,
            frontlas=frontlas,
            frontier=frontier,
            previous=previous,
            now=self._clock(),
            desired_frontlas=None if spec is None else spec.frontlas.replicas,
            desired_frontier=None if spec is None else spec.frontier.replicas,
            failure=failure,
            frontd=frontd,
            desired_frontd=None if spec is None or spec.frontd is None else spec.frontd.replicas,
        )
        if spec is not None and spec.frontd is None and "frontdReadyReplicas" in previous:
            status["frontdReadyReplicas"] = None  # the section is gone: merge-patch it away
        if all(previous.get(k) == v for k, v in status.items()):
            return True
        try:
            await api.patch_cluster_status(namespace, name, status)
        except KubeError as exc:
            if exc.not_found:
                return True  # deleted meanwhile; nothing left to report on
            log.warning("FrontierCluster %s/%s: cannot write its status: %s", namespace, name, exc)
            return False
        owner = kopf.Body(cast(kopf.RawBody, cluster))
        for etype, reason, message in status_events(previous, status):
            _post(owner, etype, reason, message)
        return True


def _check_token_key(namespace: str, spec: ClusterSpec, secrets: Sequence[JSONDict]) -> None:
    """The servicebound token's key must exist and hold something: a missing key would
    leave the pods unable to start (CreateContainerConfigError) and an empty value would be
    refused by the gateway, so either is reported on the cluster before any pod is touched."""
    ref = spec.frontier.servicebound.token_secret
    if ref is None:
        return
    for secret in secrets:
        if (secret.get("metadata") or {}).get("name") != ref.name:
            continue
        where = f"Secret {namespace}/{ref.name} (spec.frontier.servicebound.tokenSecretRef)"
        value = (secret.get("data") or {}).get(ref.key)
        if value is None:
            raise _MissingSecret(f"{where} has no key {ref.key!r}")
        if not value:  # base64 of nothing is nothing
            raise _MissingSecret(f"{where}: key {ref.key!r} is empty")


# --------------------------------------------------------------------------------------------
# registration


def _is(obj: Mapping[str, Any], kind: Kind, name: str) -> bool:
    return obj.get("kind") == kind.kind and obj.get("metadata", {}).get("name") == name


def _post(owner: kopf.Body, etype: str, reason: str, message: str) -> None:
    """Post a Normal or Warning Event on the cluster, subject to kopf's posting level. kopf
    queues it for its poster task, which exists only inside a running operator; elsewhere (a
    reconcile driven by hand) the Event is only logged."""
    post = kopf.warn if etype == "Warning" else kopf.info
    try:
        post(owner, reason=reason, message=message)
    except LookupError:
        log.info("event %s %s: %s", etype, reason, message)


def _owned_by_a_cluster(body: kopf.Body, **_: Any) -> bool:
    return owner_of(body) is not None


def register(
    registry: kopf.OperatorRegistry,
    *,
    config: OperatorConfig,
    connection: KubeConnection,
    clock: Clock | None = None,
) -> Reconciler:
    """Register every handler of the operator in ``registry`` (never kopf's global one, so
    tests and the CLI each build their own) and return the reconciler they share."""
    reconciler = Reconciler(connection, config, clock=clock)
    fc = FRONTIER_CLUSTER

    @kopf.on.login(id="login", registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection.login()

    # One id for the three causes: kopf keeps one progress record, under the operator's prefix
    # (``frontier.singchia.io/reconcile``), whichever cause is in flight.
    @kopf.on.resume(fc.group, fc.version, fc.plural, id="reconcile", registry=registry)
    @kopf.on.create(fc.group, fc.version, fc.plural, id="reconcile", registry=registry)
    @kopf.on.update(fc.group, fc.version, fc.plural, id="reconcile", registry=registry)
    async def reconcile_cluster(namespace: str | None, name: str | None, **_: Any) -> None:
        assert namespace is not None
        assert name is not None
        outcome = await reconciler.reconcile(namespace, name, Trigger.SPEC)
        if outcome.state == "waiting":
            raise kopf.TemporaryError(outcome.message, delay=config.frontlas_poll)
        if outcome.state == "retry":
            raise kopf.TemporaryError(outcome.message, delay=outcome.delay or config.retry_delay)
        if outcome.state == "invalid":
            raise kopf.PermanentError(outcome.message)

    @kopf.timer(
        fc.group, fc.version, fc.plural,
        id="resync", interval=config.resync_interval, initial_delay=config.resync_interval,
        registry=registry,
    )  # fmt: skip
    async def resync(namespace: str | None, name: str | None, **_: Any) -> None:
        assert namespace is not None
        assert name is not None
        await reconciler.reconcile_soon(namespace, name, Trigger.RESYNC)

    async def child_changed(body: kopf.Body, **_: Any) -> None:
        owner = owner_of(body)
        if owner is not None:
            await reconciler.reconcile_soon(*owner, Trigger.CHILD)

    for kind in CHILD_KINDS:
        # PodDisruptionBudgets: whichever version the API server prefers (policy/v1 from 1.21).
        version = None if kind is POD_DISRUPTION_BUDGET else kind.version
        kopf.on.event(
            group=kind.group, version=version, plural=kind.plural,
            id=f"watch-{kind.plural}", when=_owned_by_a_cluster, registry=registry,
        )(child_changed)  # fmt: skip

    def reads_secret(namespace: str | None, name: str | None, **_: Any) -> bool:
        return bool(namespace and name and reconciler.readers_of_secret(namespace, name))

    @kopf.on.event("", "v1", "secrets", id="watch-secrets", when=reads_secret, registry=registry)
    async def secret_changed(namespace: str | None, name: str | None, **_: Any) -> None:
        assert namespace is not None
        assert name is not None
        for cluster in sorted(reconciler.readers_of_secret(namespace, name)):
            await reconciler.reconcile_soon(namespace, cluster, Trigger.SECRET)

    return reconciler


def make_registry(
    *, config: OperatorConfig, connection: KubeConnection, clock: Clock | None = None
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    register(registry, config=config, connection=connection, clock=clock)
    return registry


__all__ = [
    "Outcome",
    "Reconciler",
    "Trigger",
    "make_registry",
    "owner_of",
    "register",
    "status_events",
]
