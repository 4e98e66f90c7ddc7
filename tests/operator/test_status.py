"""Status computation (frontier_operator.status)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier_operator.status import (
    Failure,
    Transition,
    component_state,
    compute_status,
    deployment_ready,
    format_time,
    transitions,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(minutes=10)


def dep(
    desired: int = 1,
    ready: int | None = None,
    *,
    updated: int | None = None,
    replicas: int | None = None,
    generation: int = 1,
    observed: int | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Deployment as the API returns it; by default fully rolled out."""
    ready = desired if ready is None else ready
    status: dict[str, Any] = {
        "observedGeneration": generation if observed is None else observed,
        "replicas": desired if replicas is None else replicas,
        "updatedReplicas": desired if updated is None else updated,
        "conditions": conditions or [],
    }
    if ready:  # the API omits zero counts
        status["readyReplicas"] = ready
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": desired},
        "status": status,
    }


def status(
    frontlas: dict[str, Any] | None,
    frontier: dict[str, Any] | None,
    *,
    previous: dict[str, Any] | None = None,
    now: datetime = T0,
    generation: int = 3,
    failure: Failure | None = None,
    desired: tuple[int | None, int | None] = (None, None),
) -> dict[str, Any]:
    return compute_status(
        generation=generation,
        frontlas=frontlas,
        frontier=frontier,
        previous=previous,
        now=now,
        desired_frontlas=desired[0],
        desired_frontier=desired[1],
        failure=failure,
    )


def cond(st_: dict[str, Any], ctype: str) -> dict[str, Any]:
    found = [c for c in st_["conditions"] if c["type"] == ctype]
    assert len(found) == 1
    result: dict[str, Any] = found[0]
    return result


def summary(st_: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in st_["conditions"]}


def test_nothing_exists_yet() -> None:
    s = status(None, None, desired=(1, 2))
    assert s["phase"] == "Pending"
    assert summary(s) == {
        "Available": ("False", "ComponentsNotReady"),
        "Progressing": ("True", "WaitingForFrontlas"),
        "Degraded": ("False", "AsExpected"),
    }
    assert (s["frontlasReadyReplicas"], s["frontierReadyReplicas"]) == (0, 0)
    assert s["observedGeneration"] == 3
    assert "frontier 0/2 ready" in s["message"]
    for c in s["conditions"]:
        assert c["lastTransitionTime"] == "2024-05-01T12:00:00Z"
        assert c["observedGeneration"] == 3
        assert set(c) == {
            "type",
            "status",
            "reason",
            "message",
            "lastTransitionTime",
            "observedGeneration",
        }


def test_waiting_for_frontlas_before_frontier_exists() -> None:
    s = status(dep(1), None, desired=(1, 1))
    assert summary(s)["Progressing"] == ("True", "WaitingForFrontlas")
    assert s["frontlasReadyReplicas"] == 1
    assert "waiting for frontlas" in s["message"]


def test_all_ready_is_running() -> None:
    s = status(dep(2), dep(3), desired=(2, 3))
    assert s["phase"] == "Running"
    assert summary(s) == {
        "Available": ("True", "AllComponentsReady"),
        "Progressing": ("False", "ReconcileSucceeded"),
        "Degraded": ("False", "AsExpected"),
    }
    assert (s["frontlasReadyReplicas"], s["frontierReadyReplicas"]) == (2, 3)
    assert s["message"] == "frontlas 2/2 ready, frontier 3/3 ready"


def test_serving_during_a_rollout_is_available_and_progressing() -> None:
    # Deployment controller has not seen the new template yet.
    s = status(dep(1), dep(2, generation=5, observed=4), desired=(1, 2))
    assert summary(s)["Available"] == ("True", "MinimumReplicasAvailable")
    assert summary(s)["Progressing"] == ("True", "RollingOut")
    assert s["phase"] == "Pending"


@pytest.mark.parametrize(
    "frontier",
    [
        dep(3, ready=2),  # one pod not ready
        dep(3, updated=2),  # one pod still on the old template
        dep(3, replicas=4),  # a surplus old pod still running
    ],
)
def test_partially_rolled_out_is_not_settled(frontier: dict[str, Any]) -> None:
    s = status(dep(1), frontier, desired=(1, 3))
    assert summary(s)["Progressing"] == ("True", "RollingOut")
    assert s["phase"] == "Pending"


def test_stale_deployment_spec_is_not_settled() -> None:
    # The spec asks for 4; the Deployment (not yet patched) still says 2 and has 2 ready.
    s = status(dep(1), dep(2), desired=(1, 4))
    assert summary(s)["Progressing"] == ("True", "RollingOut")
    assert "frontier 2/4 ready" in s["message"]


def test_desired_defaults_to_the_deployments_own_replicas() -> None:
    s = status(dep(2), dep(5))
    assert summary(s)["Available"] == ("True", "AllComponentsReady")
    assert "frontier 5/5" in s["message"]


def test_scaled_to_zero() -> None:
    s = status(dep(1), dep(0), desired=(1, 0))
    assert summary(s)["Available"] == ("False", "ScaledToZero")
    assert summary(s)["Progressing"] == ("False", "ReconcileSucceeded")
    assert s["frontierReadyReplicas"] == 0


def test_no_ready_pods_is_unavailable() -> None:
    s = status(dep(1), dep(2, ready=0), desired=(1, 2))
    assert summary(s)["Available"] == ("False", "ComponentsNotReady")


def test_invalid_spec_degrades_without_hiding_what_still_runs() -> None:
    failure = Failure("InvalidSpec", "spec.frontier.replicas: must be >= 0, got -1")
    s = status(dep(1), dep(2), failure=failure)
    assert s["phase"] == "Failed"
    assert s["message"] == failure.message
    assert summary(s) == {
        "Available": ("True", "AllComponentsReady"),
        "Progressing": ("False", "InvalidSpec"),
        "Degraded": ("True", "InvalidSpec"),
    }
    assert cond(s, "Degraded")["message"] == failure.message


def test_reconcile_failure_degrades_but_keeps_progress_state() -> None:
    s = status(dep(1), None, failure=Failure("ReconcileFailed", "409 Conflict"))
    assert summary(s)["Degraded"] == ("True", "ReconcileFailed")
    assert summary(s)["Progressing"] == ("True", "WaitingForFrontlas")
    assert s["phase"] == "Failed"


def test_progress_deadline_exceeded() -> None:
    stuck = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "demo-frontier-abc" has timed out progressing.',
    }
    s = status(dep(1), dep(2, ready=1, conditions=[stuck]), desired=(1, 2))
    assert summary(s)["Degraded"] == ("True", "ProgressDeadlineExceeded")
    assert summary(s)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    assert "frontier Deployment ProgressDeadlineExceeded" in s["message"]
    assert "timed out progressing" in s["message"]
    assert summary(s)["Available"] == ("True", "MinimumReplicasAvailable")


def test_replica_failure() -> None:
    failure = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": 'pods "x" is forbidden: exceeded quota',
    }
    s = status(dep(1, ready=0, conditions=[failure]), None, desired=(1, 1))
    assert summary(s)["Degraded"] == ("True", "ReplicaFailure")
    assert "frontlas Deployment ReplicaFailure: pods" in cond(s, "Degraded")["message"]


def test_healthy_deployment_conditions_are_not_stuck() -> None:
    ok = [
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "ReplicaFailure", "status": "False"},
    ]
    s = status(dep(1, conditions=ok), dep(1, conditions=ok))
    assert summary(s)["Degraded"] == ("False", "AsExpected")


def test_last_transition_time_moves_only_when_status_changes() -> None:
    first = status(dep(1), dep(2, ready=1), desired=(1, 2), now=T0)
    assert summary(first)["Available"] == ("True", "MinimumReplicasAvailable")
    # Reason and message change (fully ready now) but Available stays True: time kept.
    second = status(dep(1), dep(2), desired=(1, 2), previous=first, now=T1)
    assert summary(second)["Available"] == ("True", "AllComponentsReady")
    assert cond(second, "Available")["lastTransitionTime"] == format_time(T0)
    assert cond(second, "Available")["message"] != cond(first, "Available")["message"]
    # Progressing flipped True -> False: its time moves.
    assert cond(second, "Progressing")["lastTransitionTime"] == format_time(T1)
    assert cond(second, "Degraded")["lastTransitionTime"] == format_time(T0)
    # Everything goes away: Available flips, at T2.
    third = status(dep(1), dep(2, ready=0), desired=(1, 2), previous=second, now=T2)
    assert cond(third, "Available")["lastTransitionTime"] == format_time(T2)
    assert cond(third, "Degraded")["lastTransitionTime"] == format_time(T0)


def test_condition_observed_generation_follows_the_cr() -> None:
    first = status(dep(1), dep(1), generation=3)
    second = status(dep(1), dep(1), generation=4, previous=first, now=T1)
    assert {c["observedGeneration"] for c in second["conditions"]} == {4}
    assert second["observedGeneration"] == 4
    assert cond(second, "Available")["lastTransitionTime"] == format_time(T0)


def test_foreign_conditions_are_kept() -> None:
    foreign = {"type": "Audited", "status": "True", "reason": "Ok", "message": ""}
    s = status(dep(1), dep(1), previous={"conditions": [foreign]})
    assert [c["type"] for c in s["conditions"]] == [
        "Available",
        "Progressing",
        "Degraded",
        "Audited",
    ]
    assert cond(s, "Audited") == foreign


def test_previous_without_times_gets_now() -> None:
    prev = {"conditions": [{"type": "Available", "status": "True"}]}
    s = status(dep(1), dep(1), previous=prev, now=T1)
    assert cond(s, "Available")["lastTransitionTime"] == format_time(T1)


def test_transitions_list_changed_conditions() -> None:
    first = status(None, None, desired=(1, 1))
    assert [t.type for t in transitions(None, first)] == ["Available", "Progressing", "Degraded"]
    assert transitions(first, first) == []
    second = status(dep(1), dep(1), previous=first, now=T1)
    assert transitions(first, second) == [
        Transition("Available", "False", "True", "AllComponentsReady", second["message"]),
        Transition("Progressing", "True", "False", "ReconcileSucceeded", second["message"]),
    ]


def test_deployment_ready() -> None:
    assert deployment_ready(dep(2))
    assert deployment_ready(dep(0))
    assert not deployment_ready(None)
    assert not deployment_ready(dep(2, ready=1))
    assert not deployment_ready(dep(2, generation=2, observed=1))
    assert not deployment_ready(dep(2), desired=3)
    # A Deployment from the builders (no status, no generation yet) is not ready.
    assert not deployment_ready({"spec": {"replicas": 1}})


def test_component_state_tolerates_sparse_objects() -> None:
    state = component_state({"spec": {}, "status": {"readyReplicas": "x"}}, None)
    assert (state.exists, state.desired, state.ready, state.rolled_out) == (True, 1, 0, False)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),
        (
            datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05Z",
        ),
    ],
)
def test_format_time(when: datetime, text: str) -> None:
    assert format_time(when) == text


deployments = st.one_of(
    st.none(),
    st.builds(
        dep,
        st.integers(0, 5),
        st.integers(0, 5),
        updated=st.integers(0, 5),
        replicas=st.integers(0, 6),
        generation=st.integers(1, 3),
        observed=st.integers(0, 3),
    ),
)
failures = st.one_of(
    st.none(),
    st.builds(Failure, st.sampled_from(["InvalidSpec", "ReconcileFailed"]), st.text(max_size=10)),
)


@settings(max_examples=300, deadline=None)
@given(deployments, deployments, failures, st.integers(1, 10))
def test_status_is_a_fixed_point_of_an_unchanged_world(
    frontlas: dict[str, Any] | None,
    frontier: dict[str, Any] | None,
    failure: Failure | None,
    generation: int,
) -> None:
    first = status(frontlas, frontier, failure=failure, generation=generation, now=T0)
    again = status(
        frontlas, frontier, failure=failure, generation=generation, now=T2, previous=first
    )
    # Re-observing the same world later writes nothing new: no status patch, no event.
    assert again == first
    assert transitions(first, again) == []
    assert first["phase"] in {"Pending", "Running", "Failed"}
    assert (first["phase"] == "Failed") == (cond(first, "Degraded")["status"] == "True")
    if first["phase"] == "Running":
        assert cond(first, "Available")["status"] == "True"
        assert cond(first, "Progressing")["status"] == "False"
