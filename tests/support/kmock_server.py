"""A Kubernetes API emulator for operator tests: kmock 0.8, made faithful enough for kopf.

kmock's ``KubernetesEmulator`` stores objects and streams watch events, but it merges every
write into the stored dict and nothing more. kopf relies on more than that, so the subclass
here adds what a real API server does on writes:

* ``uid``, ``creationTimestamp``, ``generation`` on create; ``generateName`` resolved (kopf
  posts its Events with it); 409 when the name is taken.
* ``resourceVersion`` bumped on every write that changes the object, and *only* then (a no-op
  patch writes nothing, as etcd's guaranteed update does). kopf's JSON patches start with a
  ``test`` op on the old ``resourceVersion``; a failed test (or any unappliable op) is a 422.
* ``generation`` bumped when anything outside ``metadata`` and ``status`` changes.
* the ``status`` subresource: writes to ``/status`` change only ``status``; writes to the main
  resource leave ``status`` alone (for resources declared with the subresource).
* deletion honours finalizers (``deletionTimestamp`` first, removal when the last goes), and a
  garbage collector removes objects whose owner (by ``ownerReferences`` uid) is gone, as
  kube-controller-manager would: when the owner is removed, and when a dependent is created
  for an owner that is already gone.
* injected faults (:class:`Fault`): the next N matching requests fail with a chosen status
  *before* touching state, unlike kmock's own reactions, which still mutate the stored object.

:class:`KubeServer` runs the emulator on its own event loop in its own thread, so the kopf
operator (in another thread) and the synchronous test body cannot block it, and offers small
synchronous HTTP helpers for the tests to act as users and controllers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import datetime
import json
import secrets
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
from kmock._internal import rendering  # Request, to re-issue a CREATE with its resolved name

JSON = dict[str, Any]
T = TypeVar("T")

_WRITES = (kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE)
_MERGE_PATCH_TYPES = (
    "application/merge-patch+json",
    # Treated as a merge patch: lists replace instead of merging by key. The operator never
    # sends strategic merge patches; a test that does gets merge semantics.
    "application/strategic-merge-patch+json",
)


@dataclass(frozen=True)
class ResourceSpec:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.group}/{self.version}/{self.plural}" if self.group else f"v1/{self.plural}"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if namespace is not None and self.namespaced:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return base if name is None else f"{base}/{name}"


FRONTIERCLUSTERS = ResourceSpec(
    "frontier.singchia.io", "v1alpha1", "frontierclusters", "FrontierCluster",
    subresources=("status",),
)  # fmt: skip
DEPLOYMENTS = ResourceSpec("apps", "v1", "deployments", "Deployment", subresources=("status",))
SERVICES = ResourceSpec("", "v1", "services", "Service", subresources=("status",))
CONFIGMAPS = ResourceSpec("", "v1", "configmaps", "ConfigMap")
PDBS = ResourceSpec("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
SECRETS = ResourceSpec("", "v1", "secrets", "Secret")
EVENTS = ResourceSpec("", "v1", "events", "Event")
NAMESPACES = ResourceSpec("", "v1", "namespaces", "Namespace", namespaced=False)
CRDS = ResourceSpec(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
    namespaced=False,
)  # fmt: skip
RESOURCES = (
    FRONTIERCLUSTERS, DEPLOYMENTS, SERVICES, CONFIGMAPS, PDBS, SECRETS, EVENTS, NAMESPACES, CRDS
)  # fmt: skip


@dataclass
class Fault:
    """Fail the next ``times`` requests matching ``method`` + ``plural`` (+ ``name``,
    ``subresource`` when given) with ``status``, without changing any state."""

    method: str
    plural: str
    status: int
    name: str | None = None
    subresource: str | None = None
    times: int = 1
    reason: str = "InjectedFault"
    message: str = "injected by the test"
    #: How many requests this fault has failed so far (a test asserts it fired).
    fired: int = field(default=0, init=False)

    def matches(self, request: rendering.Request) -> bool:
        return (
            self.fired < self.times
            and request.method is not None
            and request.method.value == self.method.upper()
            and request.resource is not None
            and request.resource.plural == self.plural
            and (self.name is None or request.name == self.name)
            and (self.subresource is None or request.subresource == self.subresource)
        )


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out: JSON = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _without(obj: Mapping[str, Any], *keys: str) -> JSON:
    return {k: v for k, v in obj.items() if k not in keys}


@dataclass
class Seen:
    """One request the emulator answered (``status`` 0 while a watch is still streaming)."""

    method: str
    path: str
    agent: str
    status: int = 0


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with the write semantics kopf and the operator depend on."""

    garbage_collect: bool = True
    #: Every request, in arrival order (appended on the server loop; read via KubeServer.call).
    seen: list[Seen] = attrs.field(factory=list, init=False)
    _faults: list[Fault] = attrs.field(factory=list, init=False)
    _faults_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _version: int = attrs.field(default=0, init=False)
    #: Every watch event ever emitted, per resource, for watches resuming from a version.
    _log: dict[kmock.resource, list[tuple[int, JSON]]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # A real API server answers discovery with or without a trailing slash, and the
        # kubernetes client asks for "/apis/" (the operator's PodDisruptionBudget version).
        self.fallback["get /apis/"] << self._serve_apis
        for res in RESOURCES:
            self.resources[res.key] = kmock.ResourceInfo(
                kind=res.kind,
                namespaced=res.namespaced,
                subresources=set(res.subresources),
                verbs={"create", "delete", "get", "list", "patch", "update", "watch"},
            )

    # -- faults (called from the test thread) -----------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        with self._faults_lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, request: rendering.Request) -> Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.matches(request):
                    fault.fired += 1
                    return fault
        return None

    # -- request handling (server loop) -----------------------------------------------------

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        entry = Seen(
            str(request.method.value if request.method else ""),
            request.url.path,
            str(request.headers.get("User-Agent", "")),
        )
        self.seen.append(entry)
        try:
            response = await self._answer(request)
        except kmock.KubernetesError as exc:
            entry.status = exc.status
            raise
        except Exception:
            entry.status = 500
            raise
        entry.status = response.status
        return response

    async def _answer(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None:
            fault = self._take_fault(request)
            if fault is not None:
                raise kmock.KubernetesError(
                    status=fault.status, reason=fault.reason, message=fault.message
                )
        if request.resource is None or request.action not in _WRITES:
            return await super()._handle(request)
        async with self._lock:
            status, body = await self._write(request)
        # Answered here, not through kmock's fallbacks, which would apply the write again.
        return aiohttp.web.json_response(body, status=status)

    def _info(self, request: rendering.Request) -> kmock.ResourceInfo:
        assert request.resource is not None
        return self.resources[request.resource]

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    async def _emit(self, resource: kmock.resource, kind: str, obj: JSON) -> None:
        event = {"type": kind, "object": copy.deepcopy(obj)}
        version = int(obj["metadata"]["resourceVersion"])
        self._log.setdefault(resource, []).append((version, event))
        await self._buses[resource].put(event)

    # -- list and watch with resource versions ----------------------------------------------

    @staticmethod
    def _selects(request: rendering.Request, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (request.namespace is None or meta.get("namespace") == request.namespace) and (
            request.name is None or meta.get("name") == request.name
        )

    def _current(self, request: rendering.Request) -> list[JSON]:
        return [
            copy.deepcopy(obj.raw)
            for (res, _, _), obj in self.objects.items()
            if res == request.resource and not obj.deleted and self._selects(request, obj.raw)
        ]

    async def _serve_list(self, request: rendering.Request) -> kmock.Payload:
        if request.resource not in self.resources:
            raise kmock.KubernetesResourceNotFoundError()
        async with self._lock:
            items = self._current(request)
            version = str(self._version)
        return {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": version},
                "items": items}  # fmt: skip

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[kmock.Payload]:
        """Stream what happened after ``?resourceVersion=`` (everything there is, as ADDED,
        when absent or 0), then live events: kmock's own watch replays every object as ADDED
        whatever the version, which makes kopf act twice on stale bodies."""
        assert request.resource is not None
        yield b""  # start the response (headers) before waiting for events
        since = request.params.get("resourceVersion", "")
        bus = self._buses[request.resource]
        async with self._lock:  # writes emit under this lock: the mark and backlog agree
            mark = await bus.mark()
            if since in ("", "0"):
                backlog = [{"type": "ADDED", "object": obj} for obj in self._current(request)]
            else:
                backlog = [
                    copy.deepcopy(event)
                    for version, event in self._log.get(request.resource, ())
                    if version > int(since) and self._selects(request, event["object"])
                ]
        try:
            for event in backlog:
                yield event
            async for event in bus.stream(since=mark):
                if self._selects(request, event["object"]):
                    yield copy.deepcopy(event)
        finally:
            await bus.unmark(mark)

    async def _write(self, request: rendering.Request) -> tuple[int, JSON]:
        """Apply one write; return the HTTP status and the object to answer with."""
        if request.action == kmock.action.CREATE:
            return 201, await self._create(request)
        if request.action == kmock.action.UPDATE:
            return 200, await self._patch(request)
        return 200, await self._delete(request)

    async def _create(self, request: rendering.Request) -> JSON:
        assert request.resource is not None
        if not isinstance(request.data, Mapping):
            raise kmock.KubernetesError(status=400, reason="BadRequest", message="not an object")
        body: JSON = copy.deepcopy(dict(request.data))
        meta = body.setdefault("metadata", {})
        info = self._info(request)
        namespace = (request.namespace or meta.get("namespace")) if info.namespaced else None
        if namespace is not None:
            meta["namespace"] = namespace
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise kmock.KubernetesError(
                    status=422, reason="Invalid", message="name or generateName is required"
                )
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        key = (request.resource, namespace, meta["name"])
        if key in self.objects and not self.objects[key].deleted:
            raise kmock.KubernetesError(
                status=409, reason="AlreadyExists", message=f"{meta['name']!r} already exists"
            )
        meta.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            generation=1,
            resourceVersion=self._next_version(),
        )
        if "status" in info.subresources:
            body.pop("status", None)  # a create sets no status where a subresource owns it
        if key in self.objects:
            self.objects[key].history.append(body)
        else:
            self.objects[key] = body
        await self._emit(request.resource, "ADDED", body)
        created = copy.deepcopy(body)
        refs = meta.get("ownerReferences") or ()
        if self.garbage_collect and refs and not self._any_owner_alive(refs):
            # Created for an owner that is already gone (a writer racing the owner's
            # deletion): kube-controller-manager's collector removes such orphans too.
            await self._remove(key)
        return created

    async def _patch(self, request: rendering.Request) -> JSON:
        assert request.resource is not None
        assert request.name is not None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise kmock.KubernetesError(
                status=404, reason="NotFound", message=f"{request.name!r} not found"
            )
        current: JSON = copy.deepcopy(self.objects[key].raw)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            if content_type == "application/json-patch+json" and isinstance(request.data, list):
                patched = jsonpatch.apply_patch(current, request.data, in_place=False)
            elif content_type in _MERGE_PATCH_TYPES and isinstance(request.data, Mapping):
                wanted = (request.data.get("metadata") or {}).get("resourceVersion")
                if wanted is not None and wanted != current["metadata"].get("resourceVersion"):
                    raise kmock.KubernetesError(
                        status=409, reason="Conflict", message="the object has been modified"
                    )
                patched = _merge_patch(current, request.data)
            else:
                raise kmock.KubernetesError(
                    status=415, reason="UnsupportedMediaType", message=content_type
                )
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from exc
        if not isinstance(patched, dict):
            raise kmock.KubernetesError(status=422, reason="Invalid", message="not an object")

        has_status = "status" in self._info(request).subresources
        if request.subresource == "status":
            new = copy.deepcopy(current)
            if "status" in patched:
                new["status"] = patched["status"]
            else:
                new.pop("status", None)
        else:
            new = patched
            if has_status:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = current["status"]
        # Identity and server-owned metadata cannot be patched.
        meta = new.setdefault("metadata", {})
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if fixed in current["metadata"]:
                meta[fixed] = current["metadata"][fixed]
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return current  # a no-op: nothing written, no event, same resourceVersion
        if _without(new, "metadata", "status") != _without(current, "metadata", "status"):
            meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        meta["resourceVersion"] = self._next_version()
        self.objects[key].history.append(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return await self._remove(key)
        await self._emit(request.resource, "MODIFIED", new)
        return copy.deepcopy(new)

    async def _delete(self, request: rendering.Request) -> JSON:
        assert request.resource is not None
        assert request.name is not None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise kmock.KubernetesError(
                status=404, reason="NotFound", message=f"{request.name!r} not found"
            )
        current: JSON = copy.deepcopy(self.objects[key].raw)
        meta = current["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = _now()
                meta["resourceVersion"] = self._next_version()
                self.objects[key].history.append(current)
                await self._emit(request.resource, "MODIFIED", current)
            return current
        return await self._remove(key)

    async def _remove(self, key: tuple[kmock.resource, str | None, str]) -> JSON:
        """Delete the stored object now, then (as the garbage collector) its dependents."""
        obj = self.objects[key]
        final: JSON = copy.deepcopy(obj.raw)
        final["metadata"]["resourceVersion"] = self._next_version()
        obj.history.append(final)
        obj.delete()
        await self._emit(key[0], "DELETED", final)
        if self.garbage_collect:
            await self._collect_dependents(final["metadata"].get("uid"))
        return final

    def _any_owner_alive(self, refs: Any) -> bool:
        uids = {ref.get("uid") for ref in refs}
        return any(
            not obj.deleted and obj.raw.get("metadata", {}).get("uid") in uids
            for obj in self.objects.values()
        )

    async def _collect_dependents(self, uid: str | None) -> None:
        for dep_key, dep in list(self.objects.items()):
            if dep.deleted:
                continue
            refs = dep.raw.get("metadata", {}).get("ownerReferences") or ()
            if any(ref.get("uid") == uid for ref in refs):
                await self._remove(dep_key)


class ApiStatusError(Exception):
    """A non-2xx answer to one of :class:`KubeServer`'s helper requests."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class KubeServer:
    """The emulator served on loopback from its own thread and event loop."""

    def __init__(self, *, garbage_collect: bool = True) -> None:
        self._garbage_collect = garbage_collect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kmock-server", daemon=True)
        self.emulator: KubeEmulator | None = None
        self.url = ""

    def __enter__(self) -> KubeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the kmock server did not start")
        if self._error is not None:
            raise RuntimeError("the kmock server failed to start") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start() or ignored after the tests
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        emulator = KubeEmulator(garbage_collect=self._garbage_collect)
        async with emulator, kmock.Server(emulator) as server:
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stopping.wait()

    # -- access to the emulator's state, consistently, from the test thread ------------------

    def call(self, fn: Callable[[KubeEmulator], T], timeout: float = 5.0) -> T:
        """Run ``fn(emulator)`` on the server loop (under its lock) and return the result."""
        assert self._loop is not None
        assert self.emulator is not None
        emulator = self.emulator

        async def run() -> T:
            async with emulator._lock:
                return fn(emulator)

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def history(self, res: ResourceSpec, namespace: str | None, name: str) -> list[JSON | None]:
        """Every stored version of one object, oldest first (``None`` marks a deletion)."""

        def read(em: KubeEmulator) -> list[JSON | None]:
            key = (kmock.resource(res.group, res.version, res.plural), namespace, name)
            if key not in em.objects:
                return []
            return [None if v is None else copy.deepcopy(v.raw) for v in em.objects[key].history]

        return self.call(read)

    def inject(self, fault: Fault) -> Fault:
        assert self.emulator is not None
        return self.emulator.inject(fault)

    def requests(
        self, method: str | None = None, path: str | None = None, agent: str | None = None
    ) -> list[Seen]:
        """The requests answered so far, filtered by method, exact path and User-Agent
        prefix (to tell the operator's requests from the test's own)."""

        def read(em: KubeEmulator) -> list[Seen]:
            return [
                copy.copy(s)
                for s in em.seen
                if (method is None or s.method == method)
                and (path is None or s.path == path)
                and (agent is None or s.agent.startswith(agent))
            ]

        return self.call(read)

    # -- synchronous HTTP helpers (the test acting as a user or a controller) ----------------

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise ApiStatusError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def get(self, res: ResourceSpec, namespace: str | None, name: str) -> JSON | None:
        try:
            result: JSON = self.request("GET", res.path(namespace, name))
        except ApiStatusError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def list(self, res: ResourceSpec, namespace: str | None = None) -> list[JSON]:
        items: list[JSON] = self.request("GET", res.path(namespace))["items"]
        return items

    def create(self, res: ResourceSpec, namespace: str | None, body: JSON) -> JSON:
        created: JSON = self.request("POST", res.path(namespace), body)
        return created

    def patch(
        self,
        res: ResourceSpec,
        namespace: str | None,
        name: str,
        patch: object,
        *,
        subresource: str | None = None,
    ) -> JSON:
        path = res.path(namespace, name) + (f"/{subresource}" if subresource else "")
        kind = "application/json-patch+json" if isinstance(patch, list) else None
        patched: JSON = self.request(
            "PATCH", path, patch, content_type=kind or "application/merge-patch+json"
        )
        return patched

    def delete(self, res: ResourceSpec, namespace: str | None, name: str) -> None:
        self.request("DELETE", res.path(namespace, name))
