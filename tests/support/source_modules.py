"""Loading a Python file as a module of its own, by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_source(name: str, path: Path) -> ModuleType:
    """`path` executed as module `name` (registered in sys.modules, as an import would):
    for a script that is not in a package (bench/), or a module's interpreted source when
    the compiled build is what `import` finds."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
