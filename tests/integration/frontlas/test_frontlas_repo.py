"""The Redis repository against a real redis-server: key schema, TTLs, counts, atomicity."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from redis.crc import key_slot

from frontier.frontlas.config import RedisConfig, RedisStandalone
from frontier.frontlas.protocol import EdgeRecord, FrontierInstance, Heartbeat, ServiceRecord
from frontier.frontlas.redis_conn import make_redis
from frontier.frontlas.repo import CLUSTER_PREFIX, HEARTBEAT_CHUNK, Repository, TTLs
from support.frontlas import until_async
from support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def _repo(server: RedisServer, ttls: TTLs | None = None, prefix: str = "frontlas:") -> Repository:
    client = make_redis(RedisConfig(standalone=RedisStandalone(addr=server.addr)))
    return Repository(client, ttls=ttls, prefix=prefix)


@pytest.fixture
async def repo(redis_server: RedisServer, redis_client: Any) -> Any:
    repository = _repo(redis_server)
    yield repository
    await repository.redis.aclose()


def _inst(fid: str, instance: str = "") -> FrontierInstance:
    return FrontierInstance(fid, f"10.0.0.1:{len(fid)}", "10.0.0.1:30012", instance)


async def test_key_schema_and_types_match_upstream(repo: Repository, redis_client: Any) -> None:
    assert await repo.register_frontier(_inst("f1"), "-/a")
    await repo.edge_online("f1", EdgeRecord(7, "1.2.3.4:5"))
    await repo.service_online("f1", ServiceRecord(3, "svc", "1.2.3.4:6"))
    types = {key: await redis_client.type(key) for key in await redis_client.keys("*")}
    assert types == {
        "frontlas:frontiers:f1": "hash",
        "frontlas:alive:frontiers:f1": "string",
        "frontlas:edges:7": "string",
        "frontlas:alive:edges:7": "string",
        "frontlas:services:3": "hash",
        "frontlas:alive:services:3": "string",
        # ours: the count indexes (edge/service ID -> until when it is alive, in ms)
        "frontlas:frontier_edges:f1": "zset",
        "frontlas:frontier_services:f1": "zset",
    }
    frontier = await redis_client.hgetall("frontlas:frontiers:f1")
    assert frontier == {"advertised_sb_addr": "10.0.0.1:2", "advertised_eb_addr": "10.0.0.1:30012"}
    listed = (await repo.list_frontiers()).items
    assert [(f["edge_count"], f["service_count"]) for f in listed] == [(1, 1)]
    edges_until = await redis_client.zrange("frontlas:frontier_edges:f1", 0, -1, withscores=True)
    assert [member for member, _ in edges_until] == ["7"]
    # the score is exactly when the alive key expires (both TTLs are 30 s here)
    assert edges_until[0][1] == await redis_client.pexpiretime("frontlas:alive:edges:7")
    assert await redis_client.get("frontlas:alive:edges:7") == "1"
    for key in types:  # nothing lives forever (upstream's frontier hashes did)
        assert 0 < await redis_client.ttl(key) <= 30, key
    edge = await repo.get_edge(7)
    assert edge is not None
    assert edge["frontier_id"] == "f1"
    assert edge["addr"] == "1.2.3.4:5"
    assert await repo.get_services(3) == [
        {
            "service_id": 3,
            "service": "svc",
            "addr": "1.2.3.4:6",
            "update_time": (await repo.get_services(3))[0]["update_time"],
            "frontier_id": "f1",
        }
    ]


async def test_duplicate_frontier_ids_are_rejected_but_the_same_process_may_return(
    repo: Repository,
) -> None:
    assert await repo.register_frontier(_inst("f1", "proc-a"), "proc-a/1")
    assert not await repo.register_frontier(_inst("f1", "proc-b"), "proc-b/1")
    assert not await repo.register_frontier(_inst("f1"), "-/x")  # a Go frontier: no instance
    # the same process on a new connection (e.g. after a frontlas restart) takes over
    assert await repo.register_frontier(_inst("f1", "proc-a"), "proc-a/2")
    # the old connection's late cleanup does not remove the new registration
    assert not await repo.unregister_frontier("f1", "proc-a/1")
    assert (await repo.list_frontiers()).items[0]["frontier_id"] == "f1"
    assert await repo.unregister_frontier("f1", "proc-a/2")
    assert (await repo.list_frontiers()).items == []
    assert await repo.register_frontier(_inst("f1", "proc-b"), "proc-b/1")


async def test_dead_frontiers_and_stale_edges_expire(
    redis_server: RedisServer, redis_client: Any
) -> None:
    # 2 s: room for a stalled machine between registering and the first listing
    repo = _repo(redis_server, TTLs(alive=2, edge_meta=2, service_meta=2))
    try:
        assert await repo.register_frontier(_inst("f1"), "-/a")
        assert (await repo.list_frontiers()).items
        await repo.edge_online("f1", EdgeRecord(1, "a:1"))
        await repo.service_online("f1", ServiceRecord(2, "svc", "a:2"))

        async def all_gone() -> bool:
            return await redis_client.dbsize() == 0

        # a frontier that stops heartbeating disappears with everything it reported
        await until_async(all_gone, timeout=10, what="every key to expire")
        assert (await repo.list_frontiers()).items == []
        assert await repo.frontier_by_edge(1) is None
    finally:
        await repo.redis.aclose()


async def test_counts_follow_real_changes_only(repo: Repository) -> None:
    for fid in ("f1", "f2"):
        assert await repo.register_frontier(_inst(fid), f"-/{fid}")

    async def counts() -> dict[str, tuple[int, int]]:
        return {
            f["frontier_id"]: (f["edge_count"], f["service_count"])
            for f in (await repo.list_frontiers()).items
        }

    for edge_id in (1, 2, 3):
        await repo.edge_online("f1", EdgeRecord(edge_id, "x:1"))
    await repo.edge_online("f1", EdgeRecord(1, "x:2"))  # a re-report: not a new edge
    assert await counts() == {"f1": (3, 0), "f2": (0, 0)}
    await repo.edge_online("f2", EdgeRecord(3, "y:1"))  # edge 3 moved to f2
    assert await counts() == {"f1": (2, 0), "f2": (1, 0)}
    assert not await repo.edge_offline("f1", 3)  # f1's late offline: not its edge any more
    assert (await repo.frontier_by_edge(3) or {})["frontier_id"] == "f2"
    assert await repo.edge_offline("f1", 2)
    assert await repo.edge_offline("f1", 2)  # twice: counted once
    assert await counts() == {"f1": (1, 0), "f2": (1, 0)}
    assert await repo.count_edges() == 2
    assert await repo.get_edge(2) is None

    await repo.service_online("f1", ServiceRecord(9, "svc", "s:1"))
    await repo.service_online("f1", ServiceRecord(9, "svc", "s:1"))
    await repo.service_online("f2", ServiceRecord(9, "other", "s:2"))  # same ID, other frontier
    assert await counts() == {"f1": (1, 1), "f2": (1, 1)}
    assert len(await repo.get_services(9)) == 2
    assert await repo.service_offline("f1", 9)
    assert not await repo.service_offline("f1", 9)
    assert [s["frontier_id"] for s in await repo.get_services(9)] == ["f2"]
    assert await repo.service_offline("f2", 9)
    assert await repo.get_services(9) == []
    assert await repo.count_services() == 0


async def test_events_never_create_a_frontier_hash(repo: Repository, redis_client: Any) -> None:
    """Reports for an unregistered (dead) frontier must not re-create its hash."""
    await repo.edge_online("ghost", EdgeRecord(1, "a:1"))
    await repo.service_online("ghost", ServiceRecord(1, "s", "a:1"))
    assert not await redis_client.exists("frontlas:frontiers:ghost")
    assert await repo.frontier_by_edge(1) is None


async def test_concurrent_changes_keep_counts_consistent(
    redis_server: RedisServer, redis_client: Any
) -> None:
    """Two frontiers racing over the same edge IDs, on separate connections: whatever
    interleaving Redis sees, each frontier's count equals the edges alive on it."""
    repos = [_repo(redis_server) for _ in range(4)]
    try:
        for fid in ("f1", "f2"):
            assert await repos[0].register_frontier(_inst(fid), f"-/{fid}")
        rng = random.Random(5)
        ops = []
        for _ in range(600):
            repo = rng.choice(repos)
            fid = rng.choice(("f1", "f2"))
            edge_id = rng.randrange(40)
            if rng.random() < 0.6:
                ops.append(repo.edge_online(fid, EdgeRecord(edge_id, "a:1")))
            else:
                ops.append(repo.edge_offline(fid, edge_id))
        await asyncio.gather(*ops)
        edges = (await repos[0].list_edges()).items
        actual = {"f1": 0, "f2": 0}
        for edge in edges:
            actual[edge["frontier_id"]] += 1
        counted = {
            f["frontier_id"]: f["edge_count"] for f in (await repos[0].list_frontiers()).items
        }
        assert counted == actual
    finally:
        for repo in repos:
            await repo.redis.aclose()


async def test_batched_heartbeat_renews_and_reports_missing_ids(
    repo: Repository, redis_client: Any
) -> None:
    assert await repo.register_frontier(_inst("f1"), "-/a")
    ids = list(range(1, HEARTBEAT_CHUNK * 2 + 500))  # several script calls
    await repo.report("f1", edges_online=[EdgeRecord(i, "a:1") for i in ids[:-10]])
    await repo.service_online("f1", ServiceRecord(5, "svc", "s:1"))
    for key in ("frontlas:alive:edges:1", f"frontlas:edges:{ids[-11]}"):
        await redis_client.expire(key, 3)
    answer = await repo.heartbeat(Heartbeat("f1", tuple(ids), (5, 6)))
    assert answer.missing_edge_ids == tuple(ids[-10:])
    assert answer.missing_service_ids == (6,)
    for key in ("frontlas:alive:edges:1", f"frontlas:edges:{ids[-11]}", "frontlas:services:5"):
        assert await redis_client.ttl(key) > 3, key


async def test_listings_page_with_scan_and_never_use_keys(
    repo: Repository, redis_client: Any
) -> None:
    await redis_client.config_resetstat()
    assert await repo.register_frontier(_inst("f1"), "-/a")
    await repo.report("f1", edges_online=[EdgeRecord(i, "a:1") for i in range(250)])
    seen: set[int] = set()
    cursor = 0
    for _ in range(1000):
        page = await repo.list_edges(cursor=cursor, count=50)
        seen.update(e["edge_id"] for e in page.items)
        cursor = page.cursor
        if cursor == 0:
            break
    assert seen == set(range(250))
    assert {e["edge_id"] for e in (await repo.list_edges([3, 4, 999])).items} == {3, 4}
    assert await repo.count_edges() == 250
    stats = await redis_client.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert "cmdstat_scan" in stats


async def test_cluster_mode_prefix_keeps_every_key_in_one_slot(
    redis_server: RedisServer, redis_client: Any
) -> None:
    repo = _repo(redis_server, prefix=CLUSTER_PREFIX)
    try:
        assert await repo.register_frontier(_inst("f1"), "-/a")
        await repo.edge_online("f1", EdgeRecord(1, "a:1"))
        keys = sorted(await redis_client.keys("*"))
        assert keys
        assert all(k.startswith("{frontlas}:") for k in keys)
        slots = {key_slot(k.encode()) for k in keys}
        assert len(slots) == 1
        assert (await repo.frontier_by_edge(1) or {})["frontier_id"] == "f1"
    finally:
        await repo.redis.aclose()
