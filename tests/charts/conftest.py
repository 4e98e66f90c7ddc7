"""The chart tests' API server, when one is available.

The server-side dry run needs the tier-3 control plane of the operator tests
(``tests/support/kube_control_plane.py``). It is only *used* here, never built: in a full run
the operator tests' conftest builds it right after collection (this fixture is named like
theirs so that hook sees it). The plane is started for this module only (without the
controller-manager) and stopped before the operator tests start theirs, so two never run at
once; that costs one start, about 5 s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from support.kube_control_plane import ControlPlane, ControlPlaneError, find_built


@pytest.fixture(scope="module")
def kube_control_plane() -> Iterator[ControlPlane]:
    built = find_built()
    if built is None:
        reason = (
            "kube control plane not built (scripts/k8s/build-control-plane.sh; a run that "
            "includes tests/operator builds it)"
        )
        if os.environ.get("FRONTIER_K8S_REQUIRED", "") not in ("", "0"):
            pytest.fail(reason, pytrace=False)
        print(f"charts: skipping the server-side dry run: {reason}", file=sys.stderr)
        pytest.skip(reason)
    plane = ControlPlane(bin_dir=built, controller_manager=False)
    try:
        plane.start()
    except ControlPlaneError as exc:
        pytest.fail(f"kube control plane did not start: {exc}", pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()
