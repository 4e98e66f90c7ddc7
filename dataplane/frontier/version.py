"""What ``--version`` prints for every command of the project (frontier, frontlas,
frontier-operator, and the daemons that come later).

The version comes from the installed distribution's metadata, so a wheel, an editable
install and an image all report what pip installed, not a constant someone forgot to bump.
`build_flavour()` is where a compiled build (the hot path compiled with mypyc from this
source) or a pure one reports itself, so that a bug report says which code ran.
"""

from __future__ import annotations

import platform
from importlib import metadata

from . import buildinfo

__all__ = ["DISTRIBUTION", "build_flavour", "package_version", "version_line"]

DISTRIBUTION = "frontier-py"


def package_version() -> str:
    """The installed ``frontier-py`` version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_flavour() -> str:
    """Which implementation of the hot paths this process runs: "compiled with mypyc: N
    modules", or "pure Python: why" (`frontier.buildinfo`)."""
    return buildinfo.build_flavour()


def version_line(prog: str) -> str:
    """``frontier 0.1.0 (compiled with mypyc: 22 modules; CPython 3.11.7)``: one line, for
    ``--version`` and the start-up log."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{prog} {package_version()} ({build_flavour()}; {python})"
