"""Suite-wide options: the kind suite (tests/e2e/test_kind.py) runs only when asked for.

The local-node e2e suite (tests/e2e/test_local_cluster.py) is not opt-in: it runs wherever
it can (root and containerd) and skips with the reason elsewhere (tests/e2e/conftest.py).

Property tests have no deadline: they check what a function returns, and a per-example time
limit only fails them when the machine is busy (2 cores shared by the compiled run's other
work made a 20,000-lookup example exceed hypothesis's default 200 ms). A failure prints its
reproduction blob.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("frontier", deadline=None, print_blob=True)
settings.load_profile("frontier")


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
