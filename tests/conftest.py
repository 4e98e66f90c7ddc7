"""Suite-wide options: the e2e tier (a kind cluster) runs only when asked for."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-e2e",
        action="store_true",
        default=False,
        help="run the e2e tier (kind cluster + docker engine); skipped otherwise",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-e2e"):
        return
    skip = pytest.mark.skip(reason="e2e tier: pass --run-e2e to run it (needs kind and docker)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)
