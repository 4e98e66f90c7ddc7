"""Build hook: the hot path compiled (mypyc, Cython) where that works, else pure Python.

Everything else about the package is in pyproject.toml. ``FRONTIER_COMPILE`` chooses:

* ``auto`` (the default): compile `frontier.buildinfo.COMPILED_MODULES` (`MYPYC_MODULES` with
  mypyc, `CYTHON_MODULES` with Cython); when that fails (no C compiler, no Python headers, no
  mypyc or Cython), build the pure-Python package instead and record
  why in ``frontier/_build.json``, which ``frontier --version`` reports;
* ``1``: compile or fail the build (the images: they must ship the compiled build);
* ``0``: pure Python.

An editable install (``pip install -e``, what ``./dev`` uses) is always pure: compiled
modules in the source tree would shadow the ``.py`` files being edited. ``./dev test`` runs
the suite against a compiled copy from `compiled_tree()` as well.

Compiled builds are cached outside the clone (``~/.cache/frontier-py/compiled/<key>``, the
key a digest of every source file, the mypy and Python versions): a rebuild of unchanged
source, a wheel after ``./dev test`` or the image tests, copies instead of compiling.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "dataplane" / "frontier"
COMPLETE = ".complete"

# mypy's settings for the compile: not strict (the source is strict-clean where all the
# dependencies are installed; in an isolated build they are missing and count as Any).
MYPY_INI = """\
[mypy]
python_version = 3.11
ignore_missing_imports = True
follow_imports = normal
"""

# Run in a fresh interpreter in the build directory, so that a crash in the compiler cannot
# take the build down with it and its output lands in one log.
COMPILE = """\
import sys
from setuptools import setup
from mypyc.build import mypycify
from Cython.Build import cythonize
split = sys.argv.index("--cython")
mypyc_paths = [m.replace(".", "/") + ".py" for m in sys.argv[1:split]]
cython_paths = [m.replace(".", "/") + ".pyx" for m in sys.argv[split + 1:]]
setup(
    name="frontier-compiled",
    ext_modules=mypycify(["--config-file", "mypy.ini", *mypyc_paths], opt_level="3",
                         group_name="frontier_native")
    + cythonize(cython_paths, compiler_directives={"language_level": 3}),
    script_args=["build_ext", "--inplace"],
)
"""


class CompileError(RuntimeError):
    """mypyc or the C compiler failed; the message is the end of the log."""


def _buildinfo() -> ModuleType:
    """frontier/buildinfo.py, loaded by path: the package's dependencies are not installed."""
    spec = importlib.util.spec_from_file_location("_frontier_buildinfo", PACKAGE / "buildinfo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mypy_version() -> str:
    try:
        from mypy.version import __version__
    except ImportError as exc:
        raise CompileError(f"mypyc is not installed ({exc})") from exc
    return str(__version__)


def _cython_version() -> str:
    try:
        from Cython import __version__
    except ImportError as exc:
        raise CompileError(f"Cython is not installed ({exc})") from exc
    return str(__version__)


def _check_toolchain() -> None:
    """Fail early, with the reason, where compiling cannot work (mypyc takes a minute
    before it gets to the C compiler)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(cc)
    if not words or shutil.which(words[0]) is None:
        raise CompileError(f"no C compiler ({cc})")
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.is_file():
        raise CompileError(f"no Python headers ({header})")


def compiled_tree(log: Any = None) -> Path:
    """A directory holding ``frontier/`` (this source) with its hot path compiled, and the
    shared library they use: the cached one when this source was compiled before, else
    compiled now (1-3 minutes). Raises CompileError."""
    info = _buildinfo()
    key = info.source_digest(
        PACKAGE,
        Path(__file__).read_bytes().decode(),
        _mypy_version(),
        _cython_version(),
        sys.version,
        sysconfig.get_config_var("EXT_SUFFIX") or "",
        platform.machine(),
    )
    cache = info.cache_root() / "compiled"
    dest = cache / key
    if (dest / COMPLETE).is_file():
        with contextlib.suppress(OSError):  # (a read-only cache still serves)
            os.utime(dest / COMPLETE)  # used now: what `buildinfo.prune_builds` keeps
        return Path(dest)
    _check_toolchain()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        shutil.copytree(
            PACKAGE, work / "frontier", ignore=shutil.ignore_patterns("__pycache__", "*.so")
        )
        (work / "mypy.ini").write_text(MYPY_INI)
        build_log = work / "build.log"
        if log:
            log(
                f"compiling {len(info.COMPILED_MODULES)} modules with mypyc and Cython"
                f" (log: {build_log})"
            )
        with build_log.open("w") as out:
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    COMPILE,
                    *info.MYPYC_MODULES,
                    "--cython",
                    *info.CYTHON_MODULES,
                ],
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            tail = build_log.read_text(errors="replace").splitlines()[-15:]
            raise CompileError("the compile failed:\n" + "\n".join(tail))
        for leftover in ("build", ".mypy_cache", "mypy.ini"):
            shutil.rmtree(work / leftover, ignore_errors=True)
        for generated in (work / "frontier").rglob("*.c"):  # (Cython's C, beside its .pyx)
            generated.unlink()
        (work / "mypy.ini").unlink(missing_ok=True)
        record = {"build": "compiled", "modules": list(info.COMPILED_MODULES)}
        (work / "frontier" / info.BUILD_RECORD).write_text(json.dumps(record) + "\n")
        (work / COMPLETE).write_text(key + "\n")
        try:
            work.rename(dest)
        except OSError:  # another build finished first: use it
            if not (dest / COMPLETE).is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    for old in info.prune_builds(cache, now=time.time(), complete_marker=COMPLETE):
        if log:
            log(f"removed the unused compiled build {old}")
    return Path(dest)


def _mode() -> str:
    mode = os.environ.get("FRONTIER_COMPILE", "auto").strip().lower() or "auto"
    if mode not in ("auto", "1", "0"):
        raise SystemExit(f"FRONTIER_COMPILE={mode!r}: expected auto, 1 or 0")
    return mode


_OUTCOME: dict[str, Any] = {}


def outcome() -> tuple[Path | None, str]:
    """(compiled tree, "") or (None, why pure); decided once per build."""
    if not _OUTCOME:
        mode = _mode()
        if mode == "0":
            _OUTCOME.update(tree=None, reason="not compiled, FRONTIER_COMPILE=0")
        elif "editable_wheel" in sys.argv:
            _OUTCOME.update(tree=None, reason="editable install, not compiled")
        else:
            try:
                _OUTCOME.update(tree=compiled_tree(log=print), reason="")
            except (CompileError, OSError) as exc:
                if mode == "1":
                    raise SystemExit(f"FRONTIER_COMPILE=1 and the compile failed: {exc}") from exc
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                print(f"frontier: building pure Python, the compile failed: {exc}")
                _OUTCOME.update(tree=None, reason=f"the compile failed, {first}")
    return _OUTCOME["tree"], _OUTCOME["reason"]


def _main() -> None:
    from setuptools import Distribution, setup
    from setuptools.command.build_py import build_py

    class BuildPy(build_py):
        """The pure modules as always, plus the compiled ones and the build record."""

        def run(self) -> None:
            super().run()
            if getattr(self, "editable_mode", False):
                return
            tree, reason = outcome()
            target = Path(self.build_lib)
            record: dict[str, Any] = {"build": "pure", "reason": reason}
            if tree is not None:
                for lib in tree.rglob("*.so"):
                    dest = target / lib.relative_to(tree)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(lib, dest)
                record = {"build": "compiled", "modules": list(_buildinfo().COMPILED_MODULES)}
            (target / "frontier" / "_build.json").write_text(json.dumps(record) + "\n")

    class FrontierDistribution(Distribution):
        def has_ext_modules(self) -> bool:
            # A wheel with compiled modules is tagged for this Python and platform.
            return outcome()[0] is not None

    setup(cmdclass={"build_py": BuildPy}, distclass=FrontierDistribution)


if __name__ == "__main__":
    _main()
