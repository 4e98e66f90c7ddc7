"""The local cluster's clean-up never touches what is not the node's (support.local_cluster).

Its teardown and its sweep of a crashed run kill every process of a mount namespace; pointed
at the host's, that is every process on the machine. These tests run everywhere (no root, no
cluster) with ``os.kill`` replaced by a recorder, so even a broken guard signals nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support import local_cluster
from support.local_cluster import ClusterError, kill_namespace, sweep_leftovers


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    return sent


def _mnt(pid: int | str) -> int:
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino


@pytest.mark.skipif(not Path("/proc/self/ns/mnt").exists(), reason="needs Linux /proc")
def test_kill_namespace_refuses_the_hosts_namespaces(signals: list[tuple[int, int]]) -> None:
    for inode in (_mnt("self"), _mnt(os.getppid()), 0):
        with pytest.raises(ClusterError, match="refusing"):
            kill_namespace(inode)
    if os.access("/proc/1/ns/mnt", os.R_OK):
        with pytest.raises(ClusterError, match="refusing"):
            kill_namespace(_mnt(1))
    assert signals == []


@pytest.mark.skipif(not Path("/proc/self/ns/mnt").exists(), reason="needs Linux /proc")
def test_a_crashed_runs_state_naming_the_host_namespace_kills_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, signals: list[tuple[int, int]]
) -> None:
    """Even when a process in the named namespace carries the run's containerd socket in
    its command line (as the node's containerd and shims do), the host's namespace is
    refused; a state naming anything else of the host's is ignored."""
    state = tmp_path / "state.json"
    monkeypatch.setattr(local_cluster, "STATE_PATH", state)
    monkeypatch.setattr(local_cluster, "CGROUP_MOUNTS", tmp_path / "no-cgroups")
    workdir = tmp_path / "fe2e-crashed"
    decoy = subprocess.Popen(["sh", "-c", "sleep 60", f"{workdir}/containerd.sock"])
    try:
        state.write_text(json.dumps({"holder": 1, "mnt": _mnt("self"), "workdir": str(workdir)}))
        (done,) = sweep_leftovers()
        assert "refusing" in done
        assert not state.exists()  # the bogus state is gone: the next run starts clean
        state.write_text(
            json.dumps({"holder": 1, "mnt": _mnt("self"), "workdir": str(tmp_path / "other")})
        )
        assert sweep_leftovers() == []  # no process of that namespace names that run
        assert not state.exists()
    finally:
        monkeypatch.undo()
        decoy.kill()
        decoy.wait(timeout=10)
    assert signals == []
