"""Operator configuration (from the environment) and kopf's startup settings.

kopf's defaults are wrong for this operator in three ways, fixed here:

* kopf keeps handler progress in ``status.kopf`` by default. The CRD declares its ``status``
  fields, so a real API server prunes ``status.kopf`` and kopf would never see its own progress
  (handlers re-run forever). Progress and the diff base go to annotations instead, under the
  operator's own prefix, as does the finalizer: nothing is written under ``kopf.zalando.org``.
* kopf peers with other instances through a ``KopfPeering`` resource unless told otherwise;
  the operator runs as a single replica, so it runs standalone and needs no peering CRD or RBAC.
* Events: only what the handlers post explicitly becomes a Kubernetes Event (transitions,
  failures, corrected drift), not every log line of kopf's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Final

import kopf

from .builders import Images

#: The operator's own annotation/finalizer prefix (``frontier.singchia.io/...``).
PREFIX: Final = "frontier.singchia.io"
FINALIZER: Final = f"{PREFIX}/finalizer"
REPORTING_COMPONENT: Final = "frontier-operator"

ENV_FRONTIER_IMAGE: Final = "FRONTIER_IMAGE"
ENV_FRONTLAS_IMAGE: Final = "FRONTLAS_IMAGE"
ENV_FRONTD_IMAGE: Final = "FRONTD_IMAGE"
ENV_RETRY_DELAY: Final = "FRONTIER_OPERATOR_RETRY_DELAY"
ENV_FRONTLAS_POLL: Final = "FRONTIER_OPERATOR_FRONTLAS_POLL"
ENV_RESYNC_INTERVAL: Final = "FRONTIER_OPERATOR_RESYNC_INTERVAL"
ENV_REQUEST_TIMEOUT: Final = "FRONTIER_OPERATOR_REQUEST_TIMEOUT"


def _version() -> str:
    try:
        return metadata.version("frontier-py")
    except metadata.PackageNotFoundError:
        return "latest"


#: Images used when neither the operator's environment nor the CR names one; they follow this
#: project's Dockerfiles and version so an operator never silently runs another release's data
#: plane.
DEFAULT_FRONTIER_IMAGE: Final = f"frontier-py/frontier:{_version()}"
DEFAULT_FRONTLAS_IMAGE: Final = f"frontier-py/frontlas:{_version()}"
DEFAULT_FRONTD_IMAGE: Final = f"frontier-py/frontd:{_version()}"


@dataclass(frozen=True)
class OperatorConfig:
    """What the handlers need beyond kopf: default images and timing.

    ``retry_delay``: seconds before a reconcile that failed on the API (5xx, 409, unreachable,
    a missing Secret) is retried. ``frontlas_poll``: seconds between readiness checks while the
    frontier Deployment waits for frontlas (the Deployment watch usually notices sooner).
    ``resync_interval``: a full reconcile of every cluster this often, for drift no watch
    reports (a label removed by hand from a child hides it from the child watch's filter).
    """

    images: Images
    retry_delay: float = 10.0
    frontlas_poll: float = 10.0
    resync_interval: float = 300.0
    request_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """Read the operator's environment; a malformed number raises ``ValueError`` naming
        the variable (at startup, not at the first reconcile)."""
        env = os.environ if env is None else env

        def seconds(var: str, default: float) -> float:
            raw = env.get(var, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a number of seconds") from None
            if value <= 0:
                raise ValueError(f"{var}={raw!r} must be positive")
            return value

        return cls(
            images=Images(
                frontier=env.get(ENV_FRONTIER_IMAGE, "").strip() or DEFAULT_FRONTIER_IMAGE,
                frontlas=env.get(ENV_FRONTLAS_IMAGE, "").strip() or DEFAULT_FRONTLAS_IMAGE,
                frontd=env.get(ENV_FRONTD_IMAGE, "").strip() or DEFAULT_FRONTD_IMAGE,
            ),
            retry_delay=seconds(ENV_RETRY_DELAY, cls.retry_delay),
            frontlas_poll=seconds(ENV_FRONTLAS_POLL, cls.frontlas_poll),
            resync_interval=seconds(ENV_RESYNC_INTERVAL, cls.resync_interval),
            request_timeout=seconds(ENV_REQUEST_TIMEOUT, cls.request_timeout),
        )


def exact_namespaces(namespaces: Sequence[str]) -> bool:
    """Whether ``namespaces`` names namespaces only (no kopf glob, negation or list): such an
    operator needs no cluster-wide access (a Role per namespace does), see ``configure``."""
    return bool(namespaces) and not any(set(ns) & set("*?[]!,") for ns in namespaces)


def configure(
    settings: kopf.OperatorSettings, config: OperatorConfig, namespaces: Sequence[str] = ()
) -> None:
    """Apply the operator's choices to kopf's settings (see the module docstring).

    Serving exact ``namespaces`` only, kopf's cluster scans are turned off: it would watch
    CustomResourceDefinitions and Namespaces (cluster-scoped, so a namespaced install's Roles
    cannot grant them) only to notice CRDs installed later and namespaces matching a glob."""
    settings.scanning.disabled = exact_namespaces(namespaces)
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)

    settings.peering.standalone = True
    settings.peering.mandatory = False

    settings.posting.enabled = True
    settings.posting.loggers = False
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = REPORTING_COMPONENT
    settings.posting.event_name_prefix = f"{REPORTING_COMPONENT}-"

    # A watch the network silently dropped must not stall the operator: let the server end
    # each watch well within the client's own limit, and bound every other request.
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.networking.request_timeout = max(60.0, config.request_timeout)

    # Deleting a cluster while its resync timer is mid-pass: kopf releases the finalizer only
    # once the timer has exited, and by default re-checks an exiting timer every 60 s, so the
    # deletion stalled for a minute. A pass is a few requests: wait for it, poll briefly.
    settings.background.instant_exit_timeout = config.request_timeout
    settings.background.cancellation_polling = 2.0


def make_settings(config: OperatorConfig, namespaces: Sequence[str] = ()) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    configure(settings, config, namespaces)
    return settings
