"""Partitions, as an operator would cause them: every role on its own network namespace
(`support.partition_cluster`), links cut by dropping packets without a reset, 100 edges
spread over two frontiers and a ClusterService calling all of them twice a second.

Each scenario asserts its bounds: how long until every edge is reachable again (failover),
that no call outlives its timeout, that frontlas's counts equal what it lists at every
moment sampled and the true numbers once settled, and that no edge is lost.

Root only (namespaces, iptables); elsewhere the tier skips with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from frontier.sdk.cluster import FrontierInfo
from support.netns import lab_unavailable
from support.partition_cluster import (
    CALL_TIMEOUT,
    CLIENT_PEER_TIMEOUT,
    FrontlasUnavailable,
    partition_cluster,
)

_why = lab_unavailable()
pytestmark = [
    pytest.mark.partition,
    pytest.mark.skipif(_why is not None, reason=f"partition tier: {_why}"),
]

SLACK = 1.5
"""How late a call may end after its own timeout on a loaded 2-core machine."""
FAILOVER_BOUND = 15.0
"""Seconds from a cut until every edge of the silent frontier answers again through the
other: the clients' 3 s peer timeout, a redial (backoff up to 1 s), the new frontier's
report, a call timeout that was under way (2 s), and room for a loaded machine."""


async def test_a_frontier_silent_to_its_clients_is_left_within_the_peer_timeout(
    tmp_path: Path,
) -> None:
    """fa's link to the clients drops every packet (fa and frontlas still talk). Edges,
    a plain Service and the ClusterService notice within their peer timeout; fa's edges
    move to fb; calls never outlive their timeout; afterwards nothing is lost and the
    counts are exact."""
    async with partition_cluster(tmp_path) as c:
        assert c.prober is not None
        assert c.service is not None
        plain = c.plain_service("fa")
        await plain.start()
        on_fa = {edge.edge_id for edge in c.on("fa")}
        assert len(on_fa) == 50

        cut = time.monotonic()
        c.lab.cut("cl", "fa")
        await c.until(_true(lambda: not plain.online), FAILOVER_BOUND, "the Service to give up")
        service_noticed = time.monotonic() - cut
        await c.until(_true(lambda: not c.on("fa")), FAILOVER_BOUND, "the edges to leave fa")
        edges_moved = time.monotonic() - cut
        service = c.service
        await c.until(
            _true(lambda: "fa" not in service.frontiers),
            FAILOVER_BOUND,
            "the ClusterService to give fa up",
        )
        cluster_noticed = time.monotonic() - cut
        await c.prober.all_reachable(FAILOVER_BOUND)
        failover = c.prober.recovered_after(cut)
        print(
            f"silent fa: Service off {service_noticed:.1f} s, edges moved {edges_moved:.1f} s,"
            f" ClusterService off {cluster_noticed:.1f} s, every edge reachable {failover:.1f} s"
            f" after the cut; longest call {c.prober.longest(cut):.2f} s"
        )
        for noticed in (service_noticed, edges_moved, cluster_noticed):
            assert CLIENT_PEER_TIMEOUT * 0.9 <= noticed <= FAILOVER_BOUND
        assert failover <= FAILOVER_BOUND
        assert c.prober.longest(cut) <= CALL_TIMEOUT + SLACK
        assert {edge.edge_id for edge in c.on("fb")} == {edge.edge_id for edge in c.edges}

        healed = time.monotonic()
        c.lab.heal("cl", "fa")
        await c.until(
            _true(lambda: service.frontiers == ["fa", "fb"]), 30, "fa back in the ClusterService"
        )
        await c.until(_true(lambda: plain.online), 30, "the Service back on fa")
        await c.settled_counts({"fa": 0, "fb": 100})  # fa evicted its silent edges
        await c.prober.all_reachable()
        assert c.prober.failures(healed) == []
        await plain.close()


async def test_a_frontier_cut_off_from_frontlas_stays_reachable_through_the_cluster(
    tmp_path: Path,
) -> None:
    """fa loses frontlas (and Redis) only: frontlas stops listing fa and forgets its
    edges after the 3 s TTL, while the ClusterService still reaches fa. Every call to
    fa's edges keeps succeeding, edges that connect to fa during the partition are found
    by probing, and once healed fa re-registers with exact counts."""
    async with partition_cluster(tmp_path) as c:
        assert c.prober is not None
        assert c.service is not None
        cut = time.monotonic()
        c.lab.cut("fa", "lb")

        async def fa_forgotten() -> bool:
            counts = await c.counts()
            status, _ = await c.get("lb", 40011, "/cluster/v1/frontier?edge_id=1")
            return "fa" not in counts and status == 404

        await c.until(fa_forgotten, 20, "frontlas to forget fa and its edges")
        # edges connecting to fa now are unknown to frontlas: the probe finds them
        late = [await c.edge(1000 + i, ("fa",)) for i in range(5)]
        c.extra_edges += late
        c.prober.edge_ids += [edge.edge_id for edge in late]
        await asyncio.sleep(TTL_MARGIN)  # the partition lasts well beyond the TTL
        assert c.service.frontiers == ["fa", "fb"]  # kept: its own connection is fine
        assert c.prober.failures(cut) == [], c.prober.failures(cut)[:5]
        assert c.prober.longest(cut) <= CALL_TIMEOUT + SLACK

        c.lab.heal("fa", "lb")
        await c.settled_counts({"fa": 55, "fb": 50}, timeout=40)
        await c.prober.all_reachable()
        assert c.prober.failures(cut) == []
        listed = await c.listed()
        assert listed["fa"] == {e.edge_id for e in c.on("fa")}


TTL_MARGIN = 5.0


async def test_redis_restarted_empty_loses_no_route_and_counts_stay_exact(
    tmp_path: Path,
) -> None:
    """Redis is killed and started empty. Until each frontier's next heartbeat registers
    it again, frontlas's listings lack it: the ClusterService (refreshing every 0.1 s
    here, so that it sees such a listing) keeps both healthy connections, no call fails,
    and counts equal what is listed throughout, converging to the truth."""
    async with partition_cluster(tmp_path, refresh_interval=0.1) as c:
        assert c.prober is not None
        service = c.service
        assert service is not None
        listings: list[list[str]] = []
        list_frontiers = service._list_frontiers

        async def recording() -> list[FrontierInfo]:
            listing = await list_frontiers()
            listings.append(sorted(info.frontier_id for info in listing))
            return listing

        service._list_frontiers = recording  # type: ignore[method-assign]
        kept: list[list[str]] = []

        async def recovered() -> bool:
            kept.append(service.frontiers)
            try:
                return await c.counts() == {"fa": 50, "fb": 50}
            except FrontlasUnavailable:  # frontlas has not reconnected to Redis yet
                return False

        restarted = time.monotonic()
        attempts = 0
        while attempts < 5:  # until a refresh fell between the restart and the heartbeats
            attempts += 1
            seen = len(listings)
            c.kill_redis()
            c.start_redis()
            took = await c.until(recovered, 30, "counts back to 50/50")
            await asyncio.sleep(0.5)  # a few more refreshes
            incomplete = [lst for lst in listings[seen:] if lst != ["fa", "fb"]]
            if incomplete:
                break
        print(
            f"Redis restarted empty ({attempts} times): counts exact again after {took:.1f} s;"
            f" listings lacking a frontier: {incomplete}"
        )
        assert incomplete, "no refresh saw an incomplete listing"
        assert all(frontiers == ["fa", "fb"] for frontiers in kept)
        assert service.frontiers == ["fa", "fb"]
        assert c.prober.failures(restarted) == []
        assert c.prober.longest(restarted) <= CALL_TIMEOUT + SLACK


async def test_a_drained_frontier_is_a_quiet_failover_and_rebalancing_brings_edges_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM drains fa: its edges move to fb without an ERROR in the ClusterService's
    log. When fa returns, rebalancing (1 s interval, 50 edges/s) moves about half of
    them back, and no edge is lost on the way."""
    caplog.set_level(logging.INFO, logger="frontier.sdk")
    async with partition_cluster(tmp_path, rebalance=True) as c:
        assert c.prober is not None
        assert c.service is not None
        drained = time.monotonic()
        c.signal("fa", signal.SIGTERM)
        assert await c.wait_exit("fa") == 0
        await c.until(_true(lambda: not c.on("fa")), FAILOVER_BOUND, "the edges to leave fa")
        await c.prober.all_reachable(FAILOVER_BOUND)
        print(f"drain: every edge reachable {c.prober.recovered_after(drained):.1f} s after")
        assert c.prober.longest(drained) <= CALL_TIMEOUT + SLACK
        noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        assert noisy == [], [r.getMessage() for r in noisy]

        returned = time.monotonic()
        c.start_frontier("fa")
        await c.ready("fa", 9091)

        async def balanced() -> bool:
            counts = await c.counts()
            return sum(counts.values()) == 100 and abs(counts.get("fa", 0) - 50) <= 10

        took = await c.until(balanced, 40, "rebalancing to bring edges back to fa")
        print(f"rebalanced {await c.counts()} {took:.1f} s after fa returned")
        await c.prober.all_reachable()
        held = {e.edge_id for e in c.on("fa")} | {e.edge_id for e in c.on("fb")}
        assert held == {edge.edge_id for edge in c.edges}
        await c.settled_counts({"fa": len(c.on("fa")), "fb": len(c.on("fb"))})
        assert c.prober.longest(returned) <= CALL_TIMEOUT + SLACK


def _true(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check
