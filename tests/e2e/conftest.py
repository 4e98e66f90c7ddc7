"""The local one-node cluster (support.local_cluster) for tests/e2e/test_local_cluster.py.

Where the tier can run (Linux, root, containerd: ``support.local_cluster.availability``) it
must: a missing build, tool, image or a node that does not come up **fails** the tests, with
the reason and the logs. Elsewhere they skip with the reason (``FRONTIER_E2E_REQUIRED=1``
turns that into a failure too; ``FRONTIER_E2E_LOCAL=0`` skips on purpose).

The slow parts run right after collection, outside any test's timeout, and only when a
selected test needs the cluster: the node binaries (``build-control-plane.sh --node``, cached)
and the images (support.e2e_images: docker's layer cache makes unchanged ones instant).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.kube_control_plane import ensure_built
from support.local_cluster import (
    ClusterError,
    LocalCluster,
    availability,
    e2e_cache,
    ensure_node_built,
    missing_tools,
)

FIXTURE = "local_cluster"


@dataclass
class Prepared:
    """What the collection hook built: the binaries and the image archive, or why not."""

    bin_dir: Path | None = None
    node_bin_dir: Path | None = None
    archive: Path | None = None
    problem: str | None = None
    skip: str | None = None
    summary: str = ""


_PREPARED: Prepared | None = None


def _uses_cluster(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ())


def _skip_reason() -> str | None:
    if os.environ.get("FRONTIER_E2E_LOCAL", "") == "0":
        return "FRONTIER_E2E_LOCAL=0"
    return availability()


def _prepare(say: object) -> Prepared:
    assert callable(say)
    reason = _skip_reason()
    if reason is not None:
        return Prepared(skip=reason)
    from support import e2e_images

    missing = missing_tools() + e2e_images.missing_tools()
    if missing:
        return Prepared(problem=f"missing on this machine: {', '.join(missing)}")
    started = time.monotonic()
    say("e2e: local cluster: Kubernetes binaries (built once, cached; a cold build takes minutes)")
    built = ensure_built()
    if isinstance(built, str):
        return Prepared(problem=f"control plane binaries: {built}")
    node = ensure_node_built()
    if isinstance(node, str):
        return Prepared(problem=f"node binaries: {node}")
    binaries = time.monotonic() - started
    say("e2e: local cluster: building the images (docker, debootstrap base on the first run)")
    archive = Path(os.environ.get("TMPDIR", "/tmp")) / f"frontier-e2e-images-{os.getpid()}.tar"
    try:
        with e2e_images.docker_engine(e2e_cache() / "docker") as engine:
            refs = e2e_images.build_images(engine, e2e_cache(), node / "pause", archive)
            summary = e2e_images.summary(engine.timings, refs)
    except ClusterError as exc:
        archive.unlink(missing_ok=True)
        return Prepared(problem=f"building the images failed: {exc}")
    summary = f"binaries {binaries:.0f}s; {summary}"
    say(f"e2e: {summary}")
    return Prepared(built, node, archive, summary=summary)


def pytest_collection_finish(session: pytest.Session) -> None:
    global _PREPARED
    if session.config.option.collectonly or not any(map(_uses_cluster, session.items)):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    _PREPARED = _prepare(say)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _PREPARED is not None and _PREPARED.archive is not None:
        _PREPARED.archive.unlink(missing_ok=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the node's process logs (kubelet, containerd, apiserver...) to a failure."""
    report: pytest.TestReport = yield
    if report.failed and _uses_cluster(item):
        cluster = getattr(item, "funcargs", {}).get(FIXTURE)
        if isinstance(cluster, LocalCluster):
            report.sections.append(("local cluster logs", cluster.log_tails(40)))
    return report


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """A running one-node cluster with the tier's images loaded (session-wide)."""
    prepared = _PREPARED or Prepared(skip=_skip_reason() or "not prepared (collect-only?)")
    required = os.environ.get("FRONTIER_E2E_REQUIRED", "") not in ("", "0")
    if prepared.skip is not None:
        if required:
            pytest.fail(f"local cluster unavailable: {prepared.skip}", pytrace=False)
        print(f"e2e: skipping the local cluster: {prepared.skip}", file=sys.stderr)
        pytest.skip(f"local cluster unavailable: {prepared.skip}")
    if prepared.problem is not None:
        pytest.fail(f"local cluster cannot start here: {prepared.problem}", pytrace=False)
    assert prepared.bin_dir is not None
    assert prepared.node_bin_dir is not None
    assert prepared.archive is not None
    cluster = LocalCluster(
        bin_dir=prepared.bin_dir,
        node_bin_dir=prepared.node_bin_dir,
        containerd_root=e2e_cache() / "containerd",
    )
    started = time.monotonic()
    try:
        cluster.start()
        cluster.load_images(prepared.archive)
    except ClusterError as exc:
        cluster.stop()
        pytest.fail(f"local cluster did not start: {exc}", pytrace=False)
    print(
        f"e2e: local cluster up in {time.monotonic() - started:.0f}s ({prepared.summary})",
        file=sys.stderr,
    )
    try:
        yield cluster
    finally:
        cluster.stop()
