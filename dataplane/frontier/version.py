"""What ``--version`` prints for every command of the project (frontier, frontlas,
frontier-operator, and the daemons that come later).

The version comes from the installed distribution's metadata, so a wheel, an editable
install and an image all report what pip installed, not a constant someone forgot to bump.
`build_flavour()` is where a compiled build (a codec compiled from this source, when there
is one) reports itself, so that a bug report says which code ran.
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["DISTRIBUTION", "build_flavour", "package_version", "version_line"]

DISTRIBUTION = "frontier-py"


def package_version() -> str:
    """The installed ``frontier-py`` version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_flavour() -> str:
    """Which implementation of the hot paths this process runs.

    Everything is pure Python today. A compiled build will answer here (e.g. "compiled
    codec" when the compiled geminio codec imported, "pure Python" when it fell back), and
    every command's ``--version`` reports it without further change."""
    return "pure Python"


def version_line(prog: str) -> str:
    """``frontier 0.1.0 (pure Python; CPython 3.11.7)``: one line, for ``--version`` and the
    start-up log."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{prog} {package_version()} ({build_flavour()}; {python})"
