"""The API tier: one live cluster (redis-server, frontlas, two gateways, their clients) for
the whole tier, on a loop in a background thread (schemathesis's client blocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.live_cluster import LiveCluster, live_cluster


@pytest.fixture(scope="session")
def live() -> Iterator[LiveCluster]:
    with live_cluster() as cluster:
        yield cluster
