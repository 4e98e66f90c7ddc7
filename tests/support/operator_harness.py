"""Helpers for running the real operator against a real kube-apiserver (tier 3).

* :class:`RecordingConnection`: a ``KubeConnection`` whose own API calls (not kopf's) are
  logged as (method, path, HTTP status), so a test can show that an unchanged cluster costs
  reads only, or that the operator never met a 403.
* :class:`OperatorThread`: ``kopf.operator`` with this project's registry and settings on an
  event loop of its own, stoppable from the test thread.
* :class:`Kubelet`: there is no kubelet on the test control plane; this marks the pods of a
  namespace Running and Ready (what a kubelet would report), once or in a background loop.
* :class:`LogCapture`: WARNING+ records of kopf and the operator, to assert on (403s).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf
import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from frontier_operator.handlers import make_registry
from frontier_operator.kube import KubeApi, KubeConnection
from frontier_operator.settings import OperatorConfig, make_settings

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# polling


def wait_until(fn: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``fn`` (exceptions count as "not yet") until it returns something truthy;
    ``AssertionError`` naming ``what`` and the last value or exception after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = fn()
        except Exception as exc:  # e.g. a 404 while an object is being created
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(0.1)


def holds(fn: Callable[[], object], what: str, duration: float = 0.8) -> None:
    """Assert ``fn`` stays truthy for ``duration`` seconds (how a test shows that something
    does not happen, after it has seen the operator act)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert fn(), f"no longer true: {what}"
        time.sleep(0.05)


def settles(fn: Callable[[], T], what: str, quiet: float = 0.5, timeout: float = 8.0) -> T:
    """``fn()`` once it has stopped changing for ``quiet`` seconds. For what arrives on its
    own schedule with nothing to wait on, such as the Events kopf posts from its queue
    after a status write."""
    deadline = time.monotonic() + timeout
    value, since = fn(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            pytest.fail(f"{what} kept changing for {timeout}s; last value: {value!r}")
        time.sleep(0.05)
        current = fn()
        if current != value:
            value, since = current, time.monotonic()
    return value


# --------------------------------------------------------------------------------------------
# the operator's own requests


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    detail: str = ""  # the start of an error response's body

    @property
    def write(self) -> bool:
        return self.method not in ("GET", "HEAD")


class RecordingConnection(KubeConnection):
    """A ``KubeConnection`` logging every request its ``KubeApi`` sends (thread-safe)."""

    def __init__(self, configuration: kubernetes.client.Configuration, **kwargs: Any) -> None:
        super().__init__(configuration, **kwargs)
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._recording_api: KubeApi | None = None

    def api(self) -> KubeApi:
        if self._recording_api is None:
            api = super().api()
            rest = api._core.api_client.rest_client  # one ApiClient behind all three APIs
            original = rest.request

            def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                path = urllib.parse.urlsplit(url).path
                try:
                    response = original(method, url, *args, **kwargs)
                except ApiException as exc:
                    # The body says why (a 403 into a namespace being deleted names it there);
                    # the reason phrase alone is "Forbidden", or empty.
                    body = exc.body or b""
                    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
                    detail = f"{exc.reason or ''} {text[:500]}".strip()
                    self._record(Request(method, path, int(exc.status or 0), detail))
                    raise
                status = int(response.status)
                detail = ""
                if status >= 400:  # urllib3 caches the body it reads: the caller still gets it
                    detail = bytes(response.data or b"")[:500].decode(errors="replace")
                self._record(Request(method, path, status, detail))
                return response

            rest.request = request
            self._recording_api = api
        return self._recording_api

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self, since: int = 0, namespace: str | None = None) -> list[Request]:
        """Requests from index ``since`` on, optionally only those under ``namespace``."""
        with self._lock:
            selected = self._requests[since:]
        if namespace is None:
            return selected
        marker = f"/namespaces/{namespace}/"
        return [r for r in selected if marker in r.path]

    def count(self) -> int:
        with self._lock:
            return len(self._requests)


# --------------------------------------------------------------------------------------------
# the operator in a thread


class OperatorThread:
    """``kopf.operator`` (cluster-wide, standalone, as ``kopf run -A``) with this project's
    registry and settings, on its own thread and event loop. Used by tiers 2 and 3.

    ``exit_timeout``: how long shutdown waits for idle per-object workers (kopf: 2 s).
    ``stop_grace``: how long ``stop()`` waits before cancelling. kopf may respawn a timer for
    an event it processes while stopping, then waits 5 s for that "hung" task: harmless in
    production, a waste of 5 s per test here.
    """

    def __init__(
        self,
        connection: KubeConnection,
        config: OperatorConfig,
        *,
        exit_timeout: float = 0.5,
        stop_grace: float = 2.0,
    ) -> None:
        self.config = config
        self._registry = make_registry(config=config, connection=connection)
        self._settings = make_settings(config)
        self._settings.queueing.exit_timeout = exit_timeout
        self._stop_grace = stop_grace
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kopf-operator", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._main = asyncio.current_task()
            await kopf.operator(
                registry=self._registry,
                settings=self._settings,
                standalone=True,
                clusterwide=True,
                stop_flag=self._stop,
                ready_flag=self._ready,
            )

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.error = exc

    def start(self, timeout: float = 20.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError(f"kopf did not become ready within {timeout}s: {self.error!r}")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self._stop_grace)
        if self._thread.is_alive() and self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)
        self._thread.join(20)
        assert not self._thread.is_alive(), "kopf did not stop"
        assert self.error is None, f"kopf crashed: {self.error!r}"


# --------------------------------------------------------------------------------------------
# playing kubelet

_pod_ips = itertools.count(10)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def mark_pods_ready(core: kubernetes.client.CoreV1Api, namespace: str) -> list[str]:
    """Report every pod of ``namespace`` that is not Ready yet (and not being deleted) as a
    kubelet would for started, ready containers; return the names of the pods marked."""
    marked = []
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    response: Any = core.list_namespaced_pod(namespace, _preload_content=False)  # raw JSON
    listed = json.loads(response.data)
    for pod in listed.get("items") or ():
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or _pod_ready(pod):
            continue
        ip = next(_pod_ips)
        status = {
            "phase": "Running",
            "startTime": now,
            "hostIP": "127.0.0.1",
            "podIP": f"10.244.{ip // 250 % 250}.{ip % 250 + 2}",
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": f"docker-pullable://{c['image']}",
                    "containerID": f"containerd://{meta['uid']}-{c['name']}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in pod["spec"].get("containers") or ()
            ],
        }
        try:
            core.patch_namespaced_pod_status(
                meta["name"], namespace, {"status": status}, _preload_content=False
            )
        except ApiException as exc:
            if exc.status in (404, 409):  # deleted or changed meanwhile: next round
                continue
            raise
        marked.append(str(meta["name"]))
    return marked


class Kubelet:
    """Marks the pods of one namespace ready as they appear, in a background thread."""

    def __init__(self, core: kubernetes.client.CoreV1Api, namespace: str) -> None:
        self._core = core
        self._namespace = namespace
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.marked: list[str] = []
        self._thread = threading.Thread(target=self._run, name=f"kubelet-{namespace}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.marked.extend(mark_pods_ready(self._core, self._namespace))
            except BaseException as exc:
                self.error = exc
                return
            self._stop.wait(0.2)

    def start(self) -> Kubelet:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert self.error is None, f"kubelet loop failed: {self.error!r}"


# --------------------------------------------------------------------------------------------
# logs


class LogCapture(logging.Handler):
    """Keeps WARNING+ records of the given loggers (kopf's, the operator's)."""

    def __init__(self, *loggers: str) -> None:
        super().__init__(logging.WARNING)
        self._loggers = [logging.getLogger(name) for name in loggers]
        self._lock_records = threading.Lock()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def messages(self) -> list[str]:
        with self._lock_records:
            records = list(self.records)
        out = []
        for record in records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({record.exc_info[1]!r})"
            out.append(text)
        return out

    def __enter__(self) -> LogCapture:
        for logger in self._loggers:
            logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger in self._loggers:
            logger.removeHandler(self)
