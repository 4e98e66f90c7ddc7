"""Fixtures for the operator tests.

Tier 3 (a real kube-apiserver): the session fixture ``kube_control_plane`` starts etcd,
kube-apiserver and kube-controller-manager on loopback (see
``tests/support/kube_control_plane.py``). The binaries come from
``scripts/k8s/build-control-plane.sh``, built once into a cache outside the repo; when a
selected test needs them and they are missing, the build runs right after collection (outside
any per-test timeout; a cold build takes minutes). When the build is impossible here, those
tests skip with the reason printed. Tests using the fixture get the ``k8s`` marker.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from support.kube_control_plane import (
    ControlPlane,
    ControlPlaneError,
    ensure_built,
    find_built,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

FIXTURE = "kube_control_plane"


def _uses_control_plane(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before `-m` deselection, so `-m k8s` / `-m "not k8s"` work
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_control_plane(item):
            item.add_marker(pytest.mark.k8s)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the control plane now (not inside a test's timeout) if a selected test needs it."""
    if session.config.option.collectonly or not any(map(_uses_control_plane, session.items)):
        return
    if find_built() is not None:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    say(
        "k8s: building kube-apiserver/kube-controller-manager/etcd from Debian sources "
        "(first run only, several minutes) via scripts/k8s/build-control-plane.sh ..."
    )
    result = ensure_built()
    if isinstance(result, str):
        say(f"k8s: control plane unavailable, k8s tests will skip: {result}")
    else:
        say(f"k8s: control plane binaries ready in {result}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the control plane's log tails to the report of a failed k8s test."""
    report: pytest.TestReport = yield
    if report.failed and _uses_control_plane(item):
        plane = getattr(item, "funcargs", {}).get(FIXTURE)
        if isinstance(plane, ControlPlane):
            report.sections.append(("kube control plane logs", plane.log_tails(30)))
    return report


@pytest.fixture(scope="session")
def kube_control_plane() -> Iterator[ControlPlane]:
    """A running etcd + kube-apiserver + kube-controller-manager (session-wide).

    Skips when the binaries cannot be built here (reason printed; ``FRONTIER_K8S_REQUIRED=1``
    turns that into a failure); fails, with each process's log tail, when they are there but
    do not start.
    """
    built = ensure_built()
    if isinstance(built, str):
        if os.environ.get("FRONTIER_K8S_REQUIRED", "") not in ("", "0"):
            pytest.fail(f"kube control plane unavailable: {built}", pytrace=False)
        print(f"k8s: skipping, control plane unavailable: {built}", file=sys.stderr)
        pytest.skip(f"kube control plane unavailable: {built}")
    plane = ControlPlane(bin_dir=built)
    try:
        plane.start()
    except ControlPlaneError as exc:
        pytest.fail(f"kube control plane did not start: {exc}", pytrace=False)
    try:
        yield plane
    finally:
        try:
            plane.check_alive()
        except ControlPlaneError as exc:
            print(f"k8s: {exc}\n{plane.log_tails()}", file=sys.stderr)
        plane.stop()


@pytest.fixture
def kube_api(kube_control_plane: ControlPlane) -> Iterator[ApiClient]:
    """A ``kubernetes`` ApiClient (admin token) for the session's control plane."""
    client = kube_control_plane.api_client()
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]
