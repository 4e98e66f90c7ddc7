"""Suite-wide options: the kind suite (tests/e2e/test_kind.py) runs only when asked for.

The local-node e2e suite (tests/e2e/test_local_cluster.py) is not opt-in: it runs wherever
it can (root and containerd) and skips with the reason elsewhere (tests/e2e/conftest.py).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-e2e",
        action="store_true",
        default=False,
        help="run the kind suite (kind cluster + docker engine); skipped otherwise",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-e2e"):
        return
    skip = pytest.mark.skip(reason="kind suite: pass --run-e2e to run it (needs kind and docker)")
    for item in items:
        if item.get_closest_marker("kind") is not None:
            item.add_marker(skip)
