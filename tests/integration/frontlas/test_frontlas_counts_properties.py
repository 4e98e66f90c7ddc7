"""frontlas's counts against the true set, over any interleaving of presence reports,
batched and Go heartbeats, edges moving between frontiers, re-registrations and a Redis that
loses everything, on a real redis-server.

The model plays two frontiers the way `gateway.frontlas_link` drives them: each holds a set
of edges and services (the truth), queues one pending event per ID (a newer event for an ID
replaces the older), sends some of its queue as a ``presence_report`` whenever hypothesis
says so, and re-reports what a heartbeat says frontlas lost. After every step a frontier's
``edge_count`` and ``service_count`` (what the cluster API serves) must equal the number of
edges and services frontlas lists on it; after `settle` (every queue sent, heartbeats until
nothing is missing) the lists must equal the frontiers' own sets. A second test checks the
same equality while records expire by their TTL, at many instants.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from frontier.frontlas.config import RedisConfig, RedisStandalone
from frontier.frontlas.protocol import EdgeRecord, FrontierInstance, Heartbeat, ServiceRecord
from frontier.frontlas.redis_conn import make_redis
from frontier.frontlas.repo import Repository, TTLs
from support.frontlas import until_async
from support.redis_server import RedisServer, require_redis_server

pytestmark = pytest.mark.integration

FRONTIERS = ("f1", "f2")
EDGE_IDS = st.integers(min_value=1, max_value=8)
SERVICE_IDS = st.integers(min_value=1, max_value=3)
frontier_ids = st.sampled_from(FRONTIERS)


def _repo(server: RedisServer, ttls: TTLs | None = None) -> Repository:
    client = make_redis(RedisConfig(standalone=RedisStandalone(addr=server.addr)))
    return Repository(client, ttls=ttls)


def _instance(fid: str) -> FrontierInstance:
    return FrontierInstance(fid, f"10.0.0.1:{fid[-1]}", "10.0.0.1:30012", f"proc-{fid}")


class _Frontier:
    """One frontier as the link sees it: its truth and its queue of unsent events."""

    def __init__(self) -> None:
        self.edges: set[int] = set()
        self.services: set[int] = set()
        self.pending_edges: dict[int, bool] = {}  # ID -> online (latest event wins)
        self.pending_services: dict[int, bool] = {}


class CountsMachine(RuleBasedStateMachine):
    redis_server: RedisServer  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.repo: Repository = self.run(self._open())
        self.frontiers = {fid: _Frontier() for fid in FRONTIERS}
        for fid in FRONTIERS:
            assert self.run(self.repo.register_frontier(_instance(fid), f"proc-{fid}/1"))

    async def _open(self) -> Repository:
        repo = _repo(self.redis_server)
        await repo.redis.flushdb()
        return repo

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.repo.redis.aclose())
        self.loop.close()

    def holder(self, edge_id: int) -> str | None:
        return next((fid for fid, f in self.frontiers.items() if edge_id in f.edges), None)

    # -- the world --------------------------------------------------------------------------

    @rule(fid=frontier_ids, edge_id=EDGE_IDS)
    def edge_connects(self, fid: str, edge_id: int) -> None:
        """An edge connects to `fid`; if another frontier held it, that one sees it leave
        (a failover, or a duplicate ID replaced)."""
        was = self.holder(edge_id)
        if was is not None:
            self.frontiers[was].edges.discard(edge_id)
            self.frontiers[was].pending_edges[edge_id] = False
        frontier = self.frontiers[fid]
        frontier.edges.add(edge_id)
        frontier.pending_edges[edge_id] = True

    @rule(edge_id=EDGE_IDS)
    def edge_leaves(self, edge_id: int) -> None:
        was = self.holder(edge_id)
        if was is not None:
            self.frontiers[was].edges.discard(edge_id)
            self.frontiers[was].pending_edges[edge_id] = False

    @rule(fid=frontier_ids, service_id=SERVICE_IDS, online=st.booleans())
    def service_changes(self, fid: str, service_id: int, online: bool) -> None:
        """Service IDs are per frontier: the same ID may be online on both."""
        frontier = self.frontiers[fid]
        if online:
            frontier.services.add(service_id)
        else:
            frontier.services.discard(service_id)
        frontier.pending_services[service_id] = online

    # -- what reaches frontlas ------------------------------------------------------------

    @rule(fid=frontier_ids, n=st.integers(min_value=1, max_value=6))
    def report(self, fid: str, n: int) -> None:
        frontier = self.frontiers[fid]
        edges = [_pop(frontier.pending_edges) for _ in range(min(n, len(frontier.pending_edges)))]
        services = [
            _pop(frontier.pending_services) for _ in range(min(n, len(frontier.pending_services)))
        ]
        self.run(
            self.repo.report(
                fid,
                edges_online=[EdgeRecord(i, "a:1") for i, online in edges if online],
                edges_offline=[i for i, online in edges if not online],
                services_online=[
                    ServiceRecord(i, "svc", "s:1") for i, online in services if online
                ],
                services_offline=[i for i, online in services if not online],
            )
        )

    @rule(fid=frontier_ids)
    def heartbeat(self, fid: str) -> None:
        """The batched heartbeat (with counts, which frontlas must not trust) and the
        re-reports of what it says is missing, queued as the link does."""
        frontier = self.frontiers[fid]
        beat = Heartbeat(
            fid,
            tuple(sorted(frontier.edges)),
            tuple(sorted(frontier.services)),
            edge_count=len(frontier.edges),
            service_count=len(frontier.services),
        )
        answer = self.run(self.repo.heartbeat(beat))
        for edge_id in answer.missing_edge_ids:
            assert edge_id in frontier.edges
            frontier.pending_edges.setdefault(edge_id, True)
        for service_id in answer.missing_service_ids:
            frontier.pending_services.setdefault(service_id, True)

    @rule(fid=frontier_ids, data=st.data())
    def go_heartbeats(self, fid: str, data: st.DataObject) -> None:
        """A Go frontier's per-ID heartbeats, which re-create what Redis lost."""
        frontier = self.frontiers[fid]
        if frontier.edges:
            edge_id = data.draw(st.sampled_from(sorted(frontier.edges)))
            self.run(self.repo.edge_heartbeat(fid, edge_id))
        if frontier.services:
            service_id = data.draw(st.sampled_from(sorted(frontier.services)))
            if not self.run(self.repo.service_heartbeat(fid, service_id)):
                self.run(self.repo.service_online(fid, ServiceRecord(service_id, "svc", "s:1")))

    @rule(fid=frontier_ids)
    def reregisters(self, fid: str) -> None:
        """The frontier's connection to frontlas ended and it registered again."""
        self.run(self.repo.unregister_frontier(fid, f"proc-{fid}/1"))
        assert self.run(self.repo.register_frontier(_instance(fid), f"proc-{fid}/1"))

    @rule()
    def redis_loses_everything(self) -> None:
        """Redis restarted without persistence; the frontiers' next geminio heartbeats
        register them again (FRONTIER_REFRESH)."""
        self.run(self.repo.redis.flushdb())
        for fid in FRONTIERS:
            assert self.run(self.repo.refresh_frontier(_instance(fid), f"proc-{fid}/1"))

    # -- what clients read ------------------------------------------------------------------

    def listed(self) -> tuple[dict[str, tuple[int, int]], dict[str, set[int]], dict[str, set[int]]]:
        """(counts per frontier, listed edges per frontier, listed services per frontier)."""
        frontiers = self.run(self.repo.list_frontiers()).items
        counts = {f["frontier_id"]: (f["edge_count"], f["service_count"]) for f in frontiers}
        edges: dict[str, set[int]] = {fid: set() for fid in FRONTIERS}
        for edge in self.run(self.repo.list_edges()).items:
            edges[edge["frontier_id"]].add(edge["edge_id"])
        services: dict[str, set[int]] = {fid: set() for fid in FRONTIERS}
        for service in self.run(self.repo.list_services()).items:
            services[service["frontier_id"]].add(service["service_id"])
        return counts, edges, services

    @invariant()
    def counts_equal_what_is_listed(self) -> None:
        counts, edges, services = self.listed()
        assert counts == {fid: (len(edges[fid]), len(services[fid])) for fid in counts}
        assert self.run(self.repo.count_edges()) == sum(len(edges[fid]) for fid in counts)
        for fid, (edge_count, _) in counts.items():
            # nothing is listed that its frontier does not hold or has not yet said it left
            frontier = self.frontiers[fid]
            assert edges[fid] <= frontier.edges | set(frontier.pending_edges), fid
            assert edge_count >= 0

    @rule()
    def settle(self) -> None:
        """Everything delivered, heartbeats until nothing is missing: frontlas lists each
        frontier's own set, and counts it exactly."""
        for _ in range(4):
            for fid in FRONTIERS:
                while self.frontiers[fid].pending_edges or self.frontiers[fid].pending_services:
                    self.report(fid, 6)
            for fid in FRONTIERS:
                self.heartbeat(fid)
            if not any(f.pending_edges or f.pending_services for f in self.frontiers.values()):
                break
        counts, edges, services = self.listed()
        for fid, frontier in self.frontiers.items():
            assert edges[fid] == frontier.edges, fid
            assert services[fid] == frontier.services, fid
            assert counts[fid] == (len(frontier.edges), len(frontier.services)), fid


def _pop(pending: dict[int, bool]) -> tuple[int, bool]:
    """The oldest pending event (as the link's `_take`)."""
    key = next(iter(pending))
    return key, pending.pop(key)


def test_counts_are_exact_under_any_interleaving(redis_server: RedisServer) -> None:
    require_redis_server()
    CountsMachine.redis_server = redis_server
    run_state_machine_as_test(
        CountsMachine,
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


async def test_counts_equal_the_listing_at_every_instant_while_records_expire(
    redis_server: RedisServer, redis_client: Any
) -> None:
    """Edges and services whose TTL runs out leave the counts in the same instant as they
    leave the listings: sampled continuously while half of them expire and half are kept
    alive by heartbeats (and one is reported again after expiring)."""
    repo = _repo(redis_server, TTLs(alive=2, edge_meta=2, service_meta=2))
    try:
        assert await repo.register_frontier(_instance("f1"), "proc-f1/1")
        edges = list(range(1, 41))
        kept = edges[::2]
        await repo.report("f1", services_online=[ServiceRecord(i, "svc", "s:1") for i in (1, 2)])
        for batch in (edges[i : i + 8] for i in range(0, len(edges), 8)):
            # spread over ~0.5 s, so that the expiries are too and samples fall between
            await repo.report("f1", edges_online=[EdgeRecord(i, "a:1") for i in batch])
            await asyncio.sleep(0.1)
        samples = 0
        checked_while_expiring = False
        started = time.monotonic()

        async def only_kept_left() -> bool:
            listed = {e["edge_id"] for e in (await repo.list_edges()).items}
            return listed == set(kept)

        while not await only_kept_left():
            assert time.monotonic() - started < 30, "the unkept edges never expired"
            # keep the frontier, half the edges and one service alive
            assert await repo.refresh_frontier(_instance("f1"), "proc-f1/1")
            await repo.heartbeat(Heartbeat("f1", tuple(kept), (1,)))
            for _ in range(20):
                read = await _read(repo)
                if read is None:
                    continue  # something expired between the reads: no instant to compare
                counts, listed_edges, listed_services = read
                assert counts == (len(listed_edges), len(listed_services))
                checked_while_expiring |= set(kept) < listed_edges < set(edges)
                samples += 1
        assert checked_while_expiring, "no sample fell between the first and last expiry"
        assert samples > 100
        await until_async(lambda: _services_are(repo, {1}), timeout=10, what="service 2 to expire")
        # an expired edge reported again counts again, once
        await repo.report("f1", edges_online=[EdgeRecord(edges[1], "a:1")] * 2)
        read = await _read(repo)
        assert read is not None
        counts, listed_edges, _ = read
        assert counts[0] == len(listed_edges) == len(kept) + 1
    finally:
        await repo.redis.aclose()


async def _read(repo: Repository) -> tuple[tuple[int, int], set[int], set[int]] | None:
    """The counts and the listings at one instant, or None. The listings are read between
    two readings of the counts; nothing but expiry changes them meanwhile, so counts only
    fall: equal readings mean the counts held throughout, at the listings' instant too."""

    async def counts() -> tuple[int, int]:
        frontier = (await repo.list_frontiers()).items[0]
        return frontier["edge_count"], frontier["service_count"]

    before = await counts()
    edges = {e["edge_id"] for e in (await repo.list_edges()).items}
    services = {s["service_id"] for s in (await repo.list_services()).items}
    if await counts() != before:
        return None
    return before, edges, services


async def _services_are(repo: Repository, expected: set[int]) -> bool:
    return {s["service_id"] for s in (await repo.list_services()).items} == expected
