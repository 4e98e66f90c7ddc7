"""Print the directory of this source's compiled build, compiling it first when not cached.

``./dev test`` puts that directory first on ``PYTHONPATH`` to run the suite against the
compiled build (setup.py `compiled_tree`: a copy of ``frontier/`` with the hot path compiled
by mypyc, cached under ``~/.cache/frontier-py/compiled/`` by a digest of the source). Exits
1 with the compiler's complaint when the compile fails.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    spec = importlib.util.spec_from_file_location("_frontier_setup", ROOT / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    try:
        tree = setup.compiled_tree(log=lambda line: print(f"[dev] {line}", file=sys.stderr))
    except setup.CompileError as exc:
        print(f"[dev] the compiled build failed: {exc}", file=sys.stderr)
        return 1
    print(tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
