"""Pure computation of a FrontierCluster's ``status`` from what the operator observed.

Inputs are the two Deployments as the API returned them (or ``None`` when absent), the
previous status, the CR's generation, an optional failure, and the current time as a
parameter; the output is the complete new ``status``. Being pure, it can be tested for every
transition, and an unchanged world yields an unchanged status (no write, no event storm):
``lastTransitionTime`` moves only when a condition's ``status`` changes.

Conditions (the source of truth; ``phase`` is kept for upstream's printer column):

* ``Available``: the cluster serves, i.e. frontlas and frontier each have a ready pod.
  ``AllComponentsReady`` once both are fully rolled out, ``MinimumReplicasAvailable`` while
  serving during a rollout, ``False`` with ``ComponentsNotReady`` or ``ScaledToZero``.
* ``Progressing``: ``True`` while a Deployment is not at its desired state
  (``WaitingForFrontlas``, ``RollingOut``); ``False`` once settled (``ReconcileSucceeded``) or
  when progress is impossible (``InvalidSpec``, ``ProgressDeadlineExceeded``).
* ``Degraded``: ``True`` for an invalid spec, a failed reconcile, or a stuck Deployment
  (``ProgressDeadlineExceeded``, ``ReplicaFailure``); else ``False`` / ``AsExpected``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .spec import JSONDict

AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
DEGRADED: Final = "Degraded"
CONDITION_TYPES: Final = (AVAILABLE, PROGRESSING, DEGRADED)

PHASE_RUNNING: Final = "Running"
PHASE_PENDING: Final = "Pending"
PHASE_FAILED: Final = "Failed"

#: Reasons for :class:`Failure`.
REASON_INVALID_SPEC: Final = "InvalidSpec"
REASON_RECONCILE_FAILED: Final = "ReconcileFailed"


@dataclass(frozen=True)
class Failure:
    """Why the last reconcile did not complete: ``InvalidSpec`` (a user error; no retry until
    the spec changes) or ``ReconcileFailed`` (an API error; retried)."""

    reason: str
    message: str


@dataclass(frozen=True)
class ComponentState:
    """One Deployment as seen by the status logic."""

    exists: bool
    desired: int
    ready: int
    #: The Deployment controller has seen the latest spec and every pod is updated and ready,
    #: with no old pods left.
    rolled_out: bool
    #: Why the Deployment cannot make progress (its own conditions say so), else ``None``.
    stuck_reason: str | None = None
    stuck_message: str | None = None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def component_state(deployment: Mapping[str, Any] | None, desired: int | None) -> ComponentState:
    """``desired`` comes from the spec; ``None`` means "take the Deployment's own", which is
    what status reports while the spec is invalid (the children keep the last valid one)."""
    if deployment is None:
        return ComponentState(exists=False, desired=1 if desired is None else desired, ready=0,
                              rolled_out=False)  # fmt: skip
    spec = deployment.get("spec") or {}
    st = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    if desired is None:
        desired = _int(spec.get("replicas", 1))
    ready = _int(st.get("readyReplicas"))
    generation = meta.get("generation")
    observed = st.get("observedGeneration")
    current = generation is None or (isinstance(observed, int) and observed >= generation)
    rolled_out = (
        current
        and _int(spec.get("replicas", desired)) == desired
        and _int(st.get("updatedReplicas")) == desired
        and _int(st.get("replicas")) == desired
        and ready == desired
    )
    stuck_reason = stuck_message = None
    for cond in st.get("conditions") or ():
        ctype, cstatus, creason = cond.get("type"), cond.get("status"), cond.get("reason")
        if ctype == "Progressing" and cstatus == "False" and creason == "ProgressDeadlineExceeded":
            stuck_reason, stuck_message = "ProgressDeadlineExceeded", cond.get("message")
        elif ctype == "ReplicaFailure" and cstatus == "True":
            stuck_reason, stuck_message = "ReplicaFailure", cond.get("message")
    return ComponentState(
        exists=True,
        desired=desired,
        ready=ready,
        rolled_out=rolled_out,
        stuck_reason=stuck_reason,
        stuck_message=stuck_message,
    )


def deployment_ready(deployment: Mapping[str, Any] | None, desired: int | None = None) -> bool:
    """Whether a Deployment is fully rolled out; the handlers create the frontier Deployment
    only once this holds for frontlas (frontier registers with frontlas on start)."""
    return component_state(deployment, desired).rolled_out


def format_time(now: datetime) -> str:
    """RFC 3339 UTC with seconds, as Kubernetes writes ``metav1.Time``; naive means UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    ctype: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Mapping[str, Any]],
    now: str,
) -> JSONDict:
    status_str = "True" if status else "False"
    prev = previous.get(ctype)
    if prev is not None and prev.get("status") == status_str and prev.get("lastTransitionTime"):
        since = str(prev["lastTransitionTime"])
    else:
        since = now
    return {
        "type": ctype,
        "status": status_str,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def compute_status(
    *,
    generation: int,
    frontlas: Mapping[str, Any] | None,
    frontier: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
    now: datetime,
    desired_frontlas: int | None = None,
    desired_frontier: int | None = None,
    failure: Failure | None = None,
    frontd: Mapping[str, Any] | None = None,
    desired_frontd: int | None = None,
) -> JSONDict:
    """The complete new ``status`` of a FrontierCluster.

    ``generation`` is the CR's ``metadata.generation`` this reconcile acted on. ``frontlas``
    and ``frontier`` are the observed Deployments (``None``: absent). ``desired_*`` are the
    spec's replica counts (``None``: use the Deployment's). ``previous`` is the current
    ``status`` (may be ``None`` or empty). Conditions of other types in ``previous`` are kept.
    ``desired_frontd`` is given when the spec has a ``frontd`` section (then ``frontd`` is
    its observed Deployment): it counts towards every condition like the other two.
    """
    fl = component_state(frontlas, desired_frontlas)
    fr = component_state(frontier, desired_frontier)
    components = [("frontlas", fl), ("frontier", fr)]
    if desired_frontd is not None:
        components.append(("frontd", component_state(frontd, desired_frontd)))
    prev_status = previous or {}
    prev_conditions: dict[str, Mapping[str, Any]] = {}
    others: list[JSONDict] = []
    for cond in prev_status.get("conditions") or ():
        if not isinstance(cond, Mapping):
            continue
        if cond.get("type") in CONDITION_TYPES:
            prev_conditions[str(cond["type"])] = cond
        else:
            others.append(dict(cond))
    stamp = format_time(now)

    summary = ", ".join(f"{n} {c.ready}/{c.desired} ready" for n, c in components)
    settled = all(c.rolled_out for _, c in components)
    serving = all(c.ready > 0 or (n == "frontd" and c.desired == 0) for n, c in components)
    stuck = next(((name, c) for name, c in components if c.stuck_reason), None)

    # Available
    if serving and settled:
        available = (True, "AllComponentsReady", summary)
    elif serving:
        available = (True, "MinimumReplicasAvailable", summary)
    elif fl.desired == 0 or fr.desired == 0:
        available = (False, "ScaledToZero", summary)
    else:
        available = (False, "ComponentsNotReady", summary)

    # Progressing
    if failure is not None and failure.reason == REASON_INVALID_SPEC:
        progressing = (False, REASON_INVALID_SPEC, failure.message)
    elif stuck is not None:
        progressing = (False, "ProgressDeadlineExceeded", _stuck_message(*stuck))
    elif settled:
        progressing = (False, "ReconcileSucceeded", summary)
    elif not fr.exists:
        progressing = (True, "WaitingForFrontlas", f"{summary}; waiting for frontlas")
    else:
        progressing = (True, "RollingOut", summary)

    # Degraded
    if failure is not None:
        degraded = (True, failure.reason, failure.message)
    elif stuck is not None:
        degraded = (True, str(stuck[1].stuck_reason), _stuck_message(*stuck))
    else:
        degraded = (False, "AsExpected", summary)

    conditions = [
        _condition(t, s, r, m, generation, prev_conditions, stamp)
        for t, (s, r, m) in (
            (AVAILABLE, available),
            (PROGRESSING, progressing),
            (DEGRADED, degraded),
        )
    ]

    if degraded[0]:
        phase, message = PHASE_FAILED, degraded[2]
    elif available[1] == "AllComponentsReady":
        phase, message = PHASE_RUNNING, summary
    else:
        phase, message = PHASE_PENDING, progressing[2] if progressing[0] else summary
    status: JSONDict = {
        "phase": phase,
        "message": message,
        "observedGeneration": generation,
        "frontlasReadyReplicas": fl.ready,
        "frontierReadyReplicas": fr.ready,
    }
    if desired_frontd is not None:
        status["frontdReadyReplicas"] = components[2][1].ready
    status["conditions"] = conditions + others
    return status


def _stuck_message(component: str, state: ComponentState) -> str:
    detail = f": {state.stuck_message}" if state.stuck_message else ""
    return f"{component} Deployment {state.stuck_reason}{detail}"


@dataclass(frozen=True)
class Transition:
    """A condition whose ``status`` changed between two statuses (``old`` is ``None`` when
    the condition is new); the handlers turn these into Events."""

    type: str
    old: str | None
    new: str
    reason: str
    message: str


def transitions(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[Transition]:
    """Condition status changes from ``previous`` to ``current``, in ``current``'s order."""
    before: dict[str, str] = {}
    for cond in (previous or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and "type" in cond:
            before[str(cond["type"])] = str(cond.get("status"))
    out: list[Transition] = []
    conditions: Sequence[Mapping[str, Any]] = current.get("conditions") or ()
    for cond in conditions:
        ctype, status = str(cond["type"]), str(cond["status"])
        if before.get(ctype) != status:
            out.append(
                Transition(
                    ctype,
                    before.get(ctype),
                    status,
                    str(cond.get("reason", "")),
                    str(cond.get("message", "")),
                )
            )
    return out
