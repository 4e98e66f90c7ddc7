"""Which build runs, and how a build falls back to pure Python (setup.py, frontier.buildinfo).

``./dev test`` runs the suite twice, against the compiled build and the pure-Python one, and
says which in ``FRONTIER_EXPECT_BUILD``: the first tests check that the modules imported are
really that build (a compiled run that silently imported ``.py`` files would prove nothing).
The wheel tests build real wheels from this checkout with pip, without a compiler.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from frontier import buildinfo
from frontier.version import version_line

REPO = Path(__file__).resolve().parents[2]
EXPECTED = os.environ.get("FRONTIER_EXPECT_BUILD")


def _is_compiled(name: str) -> bool:
    try:
        origin = importlib.import_module(name).__file__ or ""
    except ImportError:  # a Cython module has no pure twin (buildinfo.CYTHON_MODULES)
        assert name in buildinfo.CYTHON_MODULES
        return False
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


@pytest.mark.skipif(EXPECTED != "compiled", reason="not the compiled run of ./dev test")
def test_compiled_run_imports_compiled_modules() -> None:
    assert [m for m in buildinfo.COMPILED_MODULES if not _is_compiled(m)] == []
    assert buildinfo.build_flavour() == (
        f"compiled with mypyc and Cython: {len(buildinfo.COMPILED_MODULES)} modules"
    )
    assert "compiled with mypyc and Cython" in version_line("frontier")


@pytest.mark.skipif(EXPECTED != "pure", reason="not the pure-Python run of ./dev test")
def test_pure_run_imports_python_modules() -> None:
    assert [m for m in buildinfo.COMPILED_MODULES if _is_compiled(m)] == []
    assert buildinfo.build_flavour().startswith("pure Python: ")


def test_every_listed_module_exists() -> None:
    package = Path(buildinfo.__file__).parent
    for name in buildinfo.MYPYC_MODULES:
        assert package.joinpath(*name.split(".")[1:]).with_suffix(".py").is_file(), name
    for name in buildinfo.CYTHON_MODULES:
        source = package.joinpath(*name.split(".")[1:])
        assert source.with_suffix(".pyx").is_file(), name
        assert source.with_suffix(".pyi").is_file(), name  # (its types, for mypy)
        assert not source.with_suffix(".py").exists(), name  # (it would shadow nothing)
    assert buildinfo.COMPILED_MODULES == buildinfo.MYPYC_MODULES + buildinfo.CYTHON_MODULES


def test_digest_changes_with_any_source_byte(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text("x = 1\n")
    before = buildinfo.source_digest(tmp_path, "mypy 1")
    assert buildinfo.source_digest(tmp_path, "mypy 1") == before
    assert buildinfo.source_digest(tmp_path, "mypy 2") != before
    (tmp_path / "a" / "m.py").write_text("x = 2\n")
    assert buildinfo.source_digest(tmp_path, "mypy 1") != before


def test_pruning_keeps_the_builds_used_last_and_those_in_use(tmp_path: Path) -> None:
    now = 1_000_000.0
    hour = buildinfo.IN_USE_SECONDS

    def build(name: str, used: float, *, complete: bool = True) -> Path:
        entry = tmp_path / name
        (entry / "frontier").mkdir(parents=True)
        stamp = entry / (".complete" if complete else "frontier/partial.c")
        stamp.write_text("x")
        os.utime(stamp, (used, used))
        os.utime(entry, (used, used))
        return entry

    keep = buildinfo.KEEP_BUILDS
    recent = [build(f"recent{i}", now - 60 * (i + 1)) for i in range(keep)]
    in_use = build("beyond_the_count_but_in_use", now - hour + 60)
    old = build("old", now - 3 * hour)
    older = build("older", now - 30 * hour)
    dead_work = build(".build-dead", now - 2 * hour, complete=False)
    live_work = build(".build-live", now - 60, complete=False)
    (tmp_path / "a-file").write_text("not a build")

    removed = buildinfo.prune_builds(tmp_path, now=now, complete_marker=".complete")

    assert sorted(removed) == sorted([old, older, dead_work])
    left = {entry.name for entry in tmp_path.iterdir()}
    assert left == {e.name for e in (*recent, in_use, live_work)} | {"a-file"}
    # an hour later, the one beyond the count goes (and the build that never finished); the
    # newest four stay
    later = buildinfo.prune_builds(tmp_path, now=now + hour, complete_marker=".complete")
    assert sorted(later) == sorted([in_use, live_work])
    assert buildinfo.prune_builds(tmp_path / "absent", now=now, complete_marker=".c") == []


def _wheel(tmp_path: Path, env: dict[str, str]) -> zipfile.ZipFile:
    """A wheel of this checkout built by pip (the venv's setuptools and mypy, no network)."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "tests", "charts", "bench", "__pycache__", "*.egg-info", "build"
        ),
    )
    out = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, src],
        env={**os.environ, **env, "FRONTIER_BUILD_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("frontier_py-*.whl")
    return zipfile.ZipFile(wheel)


def _record(wheel: zipfile.ZipFile) -> dict[str, object]:
    record: dict[str, object] = json.loads(wheel.read("frontier/_build.json"))
    return record


# The wheel tests check setup.py, not the build this process runs: once per ./dev test.
wheels = pytest.mark.skipif(EXPECTED == "compiled", reason="run once, in the pure-Python run")


@wheels
@pytest.mark.integration
def test_wheel_without_a_compiler_is_pure_and_says_why(tmp_path: Path) -> None:
    # No C compiler: mypyc generates C, the compiler cannot be run, the build goes on pure.
    wheel = _wheel(tmp_path, {"FRONTIER_COMPILE": "auto", "CC": "/nonexistent/cc"})
    assert not [n for n in wheel.namelist() if n.endswith(".so")]
    assert wheel.getinfo("frontier/geminio/codec.py")
    record = _record(wheel)
    assert record["build"] == "pure"
    assert record["reason"] == "the compile failed, no C compiler (/nonexistent/cc)"


@wheels
@pytest.mark.integration
def test_wheel_with_compile_off_is_pure(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, {"FRONTIER_COMPILE": "0"})
    assert not [n for n in wheel.namelist() if n.endswith(".so")]
    assert _record(wheel) == {"build": "pure", "reason": "not compiled, FRONTIER_COMPILE=0"}
    assert wheel.filename.endswith("-py3-none-any.whl")
