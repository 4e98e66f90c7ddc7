"""The Redis repository: the Go frontlas key schema, kept consistent by Lua scripts.

| key                                   | type   | content, TTL                                  |
|---------------------------------------|--------|-----------------------------------------------|
| ``frontlas:frontiers:{id}``           | hash   | advertised_sb_addr, advertised_eb_addr,       |
|                                       |        | edge_count, service_count; TTL alive          |
| ``frontlas:alive:frontiers:{id}``     | string | ``<instance>/<connection>``; TTL alive        |
| ``frontlas:edges:{id}``               | string | JSON {frontier_id, addr, update_time};        |
|                                       |        | TTL expiration.edge_meta                      |
| ``frontlas:alive:edges:{id}``         | string | ``1``; TTL alive                              |
| ``frontlas:services:{id}``            | hash   | frontier ID -> JSON {service, addr,           |
|                                       |        | update_time, frontier_id}; TTL service_meta   |
| ``frontlas:alive:services:{id}``      | string | ``1``; TTL alive                              |
| ``frontlas:frontier_edges:{id}``      | zset   | edge ID -> until (ms); ours: the count index   |
| ``frontlas:frontier_services:{id}``   | zset   | service ID -> until (ms); ours                 |

Departures from upstream, all deliberate (frontier-go §16.10): frontier hashes expire with
their alive key, so a dead frontier disappears from every listing; the edge meta TTL is
``edge_meta`` (upstream used ``service_meta``); services are hashes written *and* read as
hashes with JSON values; listings use SCAN (never KEYS) and return only alive entries; a
frontier's ``edge_count``/``service_count`` are not stored in its hash but counted from its
index sets when read, so they are exact at every moment (see `.scripts`). In Redis cluster
mode the prefix is ``{frontlas}:`` so every key shares one hash slot and the scripts stay
atomic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from redis.exceptions import ResponseError

from .protocol import (
    EdgeRecord,
    FrontierInstance,
    Heartbeat,
    HeartbeatAnswer,
    ServiceRecord,
    id_batches,
)
from .scripts import (
    EDGE_HEARTBEAT,
    EDGE_OFFLINE,
    EDGE_ONLINE,
    EDGES_READ,
    FRONTIER_REFRESH,
    FRONTIER_UNREGISTER,
    FRONTIERS_READ,
    PRESENCE_HEARTBEAT,
    SERVICE_HEARTBEAT,
    SERVICE_OFFLINE,
    SERVICE_ONLINE,
    SERVICES_READ,
)

__all__ = ["CLUSTER_PREFIX", "PREFIX", "Page", "Repository", "TTLs"]

PREFIX: Final = "frontlas:"
CLUSTER_PREFIX: Final = "{frontlas}:"

#: IDs per heartbeat script call: big enough to amortise the round trip, small enough that
#: one script does not block Redis for long (about 1 ms per 1000 edges).
K = TypeVar("K")

HEARTBEAT_CHUNK: Final = 2000


@dataclass(frozen=True, slots=True)
class TTLs:
    alive: int = 30
    edge_meta: int = 30
    service_meta: int = 30


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``cursor`` 0 means the listing is complete."""

    items: list[dict[str, Any]]
    cursor: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(_text(value))
    except (TypeError, ValueError):
        return 0


def _frontier(frontier_id: str, flat: list[Any], edges: Any, services: Any) -> dict[str, Any]:
    f = {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}
    return {
        "frontier_id": frontier_id,
        "advertised_sb_addr": _text(f.get("advertised_sb_addr", "")),
        "advertised_eb_addr": _text(f.get("advertised_eb_addr", "")),
        "edge_count": _int(edges),
        "service_count": _int(services),
    }


def _json(value: Any) -> dict[str, Any] | None:
    try:
        obj = json.loads(_text(value))
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _edge(edge_id: int, raw: Any) -> dict[str, Any]:
    obj = _json(raw) or {}
    return {
        "edge_id": edge_id,
        "addr": str(obj.get("addr", "")),
        "update_time": _int(obj.get("update_time", 0)),
        "frontier_id": str(obj.get("frontier_id", "")),
    }


def _services(service_id: int, flat: list[Any]) -> list[dict[str, Any]]:
    """A service hash's current fields (flat): one record per frontier holding the ID."""
    fields = {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}
    records = []
    for frontier_id, raw in sorted(fields.items()):
        obj = _json(raw) or {}
        records.append(
            {
                "service_id": service_id,
                "service": str(obj.get("service", "")),
                "addr": str(obj.get("addr", "")),
                "update_time": _int(obj.get("update_time", 0)),
                "frontier_id": _text(frontier_id),
            }
        )
    return records


def _id_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


class Repository:
    """Cluster state in Redis. Every method is one round trip (a pipeline where several
    independent scripts run); any Redis error propagates (`redis.RedisError`)."""

    def __init__(self, redis: Any, *, ttls: TTLs | None = None, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.ttls = ttls if ttls is not None else TTLs()
        self.prefix = prefix
        self._sources = {
            "frontier_refresh": FRONTIER_REFRESH,
            "frontier_unregister": FRONTIER_UNREGISTER,
            "frontiers_read": FRONTIERS_READ,
            "edges_read": EDGES_READ,
            "services_read": SERVICES_READ,
            "edge_online": EDGE_ONLINE,
            "edge_offline": EDGE_OFFLINE,
            "edge_heartbeat": EDGE_HEARTBEAT,
            "service_online": SERVICE_ONLINE,
            "service_offline": SERVICE_OFFLINE,
            "service_heartbeat": SERVICE_HEARTBEAT,
            "presence_heartbeat": PRESENCE_HEARTBEAT,
        }
        self._scripts = {name: redis.register_script(src) for name, src in self._sources.items()}

    # -- keys -----------------------------------------------------------------------------

    def frontier_key(self, frontier_id: str) -> str:
        return f"{self.prefix}frontiers:{frontier_id}"

    def frontier_alive_key(self, frontier_id: str) -> str:
        return f"{self.prefix}alive:frontiers:{frontier_id}"

    def edge_key(self, edge_id: int) -> str:
        return f"{self.prefix}edges:{edge_id}"

    def edge_alive_key(self, edge_id: int) -> str:
        return f"{self.prefix}alive:edges:{edge_id}"

    def service_key(self, service_id: int) -> str:
        return f"{self.prefix}services:{service_id}"

    def service_alive_key(self, service_id: int) -> str:
        return f"{self.prefix}alive:services:{service_id}"

    def edge_index_key(self, frontier_id: str) -> str:
        """The frontier's edges and until when each is alive (its count, see `.scripts`)."""
        return f"{self.prefix}frontier_edges:{frontier_id}"

    def service_index_key(self, frontier_id: str) -> str:
        return f"{self.prefix}frontier_services:{frontier_id}"

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- frontiers --------------------------------------------------------------------------

    def _frontier_args(self, inst: FrontierInstance, token: str) -> tuple[list[str], list[Any]]:
        keys = [self.frontier_alive_key(inst.frontier_id), self.frontier_key(inst.frontier_id)]
        args: list[Any] = [
            token,
            inst.instance,
            inst.advertised_sb_addr,
            inst.advertised_eb_addr,
            self.ttls.alive,
        ]
        return keys, args

    async def register_frontier(self, inst: FrontierInstance, token: str) -> bool:
        """Claim the frontier ID for the connection `token`; False: another process holds
        it (a duplicate frontier ID)."""
        return await self.refresh_frontier(inst, token)

    async def refresh_frontier(self, inst: FrontierInstance, token: str) -> bool:
        keys, args = self._frontier_args(inst, token)
        return bool(await self._scripts["frontier_refresh"](keys=keys, args=args))

    async def unregister_frontier(self, frontier_id: str, token: str) -> bool:
        keys = [self.frontier_alive_key(frontier_id), self.frontier_key(frontier_id)]
        return bool(await self._scripts["frontier_unregister"](keys=keys, args=[token]))

    async def get_frontier(self, frontier_id: str) -> dict[str, Any] | None:
        """The frontier if it is alive."""
        found = await self._frontiers([frontier_id])
        return found[0] if found else None

    async def list_frontiers(
        self, frontier_ids: Sequence[str] = (), cursor: int | None = None, count: int = 100
    ) -> Page:
        """Alive frontiers: those named, else one SCAN page (``cursor`` None: all)."""
        ids, next_cursor = await self._page_ids(
            frontier_ids, self.frontier_alive_key(""), cursor, count, lambda text: text
        )
        return Page(await self._frontiers(ids), next_cursor)

    async def _frontiers(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The alive ones of `ids`, with their counts, read at one instant (one script)."""
        if not ids:
            return []
        keys = [
            key
            for fid in ids
            for key in (
                self.frontier_alive_key(fid),
                self.frontier_key(fid),
                self.edge_index_key(fid),
                self.service_index_key(fid),
            )
        ]
        found = await self._scripts["frontiers_read"](keys=keys, args=[])
        return [_frontier(fid, *entry) for fid, entry in zip(ids, found, strict=True) if entry]

    async def frontier_by_edge(self, edge_id: int) -> dict[str, Any] | None:
        edge = await self.get_edge(edge_id)
        if edge is None or not edge.get("frontier_id"):
            return None
        return await self.get_frontier(str(edge["frontier_id"]))

    # -- edges ------------------------------------------------------------------------------

    def _edge_keys(self, frontier_id: str, edge_id: int) -> list[str]:
        return [
            self.edge_key(edge_id),
            self.edge_alive_key(edge_id),
            self.edge_index_key(frontier_id),
        ]

    def _edge_args(self, frontier_id: str, edge: EdgeRecord) -> list[Any]:
        record = {"frontier_id": frontier_id, "addr": edge.addr, "update_time": int(time.time())}
        return [
            frontier_id,
            json.dumps(record, separators=(",", ":")),
            self.ttls.edge_meta,
            self.ttls.alive,
            self.edge_index_key(""),
            str(edge.edge_id),
        ]

    async def edge_online(self, frontier_id: str, edge: EdgeRecord) -> None:
        await self._scripts["edge_online"](
            keys=self._edge_keys(frontier_id, edge.edge_id), args=self._edge_args(frontier_id, edge)
        )

    async def edge_offline(self, frontier_id: str, edge_id: int) -> bool:
        """False when the edge is on another frontier now (nothing changed)."""
        return bool(
            await self._scripts["edge_offline"](
                keys=self._edge_keys(frontier_id, edge_id), args=[frontier_id, str(edge_id)]
            )
        )

    async def edge_heartbeat(self, frontier_id: str, edge_id: int) -> bool:
        """Renew the edge; re-create it if Redis lost it (returns False then)."""
        return bool(
            await self._scripts["edge_heartbeat"](
                keys=self._edge_keys(frontier_id, edge_id),
                args=self._edge_args(frontier_id, EdgeRecord(edge_id)),
            )
        )

    async def get_edge(self, edge_id: int) -> dict[str, Any] | None:
        """The edge if it is alive: {edge_id, addr, update_time, frontier_id}."""
        found = (await self.list_edges([edge_id])).items
        return found[0] if found else None

    async def list_edges(
        self, edge_ids: Sequence[int] = (), cursor: int | None = None, count: int = 100
    ) -> Page:
        ids, next_cursor = await self._page_ids(
            edge_ids, self.edge_alive_key(0)[:-1], cursor, count, _id_or_none
        )
        if not ids:
            return Page([], next_cursor)
        keys = [key for i in ids for key in (self.edge_alive_key(i), self.edge_key(i))]
        found = await self._scripts["edges_read"](
            keys=keys, args=[self.edge_index_key(""), *(str(i) for i in ids)]
        )
        return Page(
            [_edge(i, raw) for i, raw in zip(ids, found, strict=True) if raw is not None],
            next_cursor,
        )

    async def count_edges(self) -> int:
        """The sum of the alive frontiers' edge counts (one SCAN of frontiers, not edges)."""
        page = await self.list_frontiers()
        return sum(f["edge_count"] for f in page.items)

    # -- services ---------------------------------------------------------------------------

    def _service_keys(self, frontier_id: str, service_id: int) -> list[str]:
        return [
            self.service_key(service_id),
            self.service_alive_key(service_id),
            self.service_index_key(frontier_id),
        ]

    def _service_args(self, frontier_id: str, service: ServiceRecord) -> list[Any]:
        record = {
            "service": service.service,
            "addr": service.addr,
            "update_time": int(time.time()),
            "frontier_id": frontier_id,
        }
        return [
            frontier_id,
            json.dumps(record, separators=(",", ":")),
            self.ttls.service_meta,
            self.ttls.alive,
            str(service.service_id),
        ]

    async def service_online(self, frontier_id: str, service: ServiceRecord) -> None:
        await self._scripts["service_online"](
            keys=self._service_keys(frontier_id, service.service_id),
            args=self._service_args(frontier_id, service),
        )

    async def service_offline(self, frontier_id: str, service_id: int) -> bool:
        return bool(
            await self._scripts["service_offline"](
                keys=self._service_keys(frontier_id, service_id),
                args=[frontier_id, str(service_id)],
            )
        )

    async def service_heartbeat(self, frontier_id: str, service_id: int) -> bool:
        return bool(
            await self._scripts["service_heartbeat"](
                keys=self._service_keys(frontier_id, service_id),
                args=[frontier_id, self.ttls.service_meta, self.ttls.alive, str(service_id)],
            )
        )

    async def get_services(self, service_id: int) -> list[dict[str, Any]]:
        """One record per frontier holding a service with this ID (alive only)."""
        return (await self.list_services([service_id])).items

    async def list_services(
        self, service_ids: Sequence[int] = (), cursor: int | None = None, count: int = 100
    ) -> Page:
        ids, next_cursor = await self._page_ids(
            service_ids, self.service_alive_key(0)[:-1], cursor, count, _id_or_none
        )
        if not ids:
            return Page([], next_cursor)
        keys = [key for i in ids for key in (self.service_alive_key(i), self.service_key(i))]
        found = await self._scripts["services_read"](
            keys=keys, args=[self.service_index_key(""), *(str(i) for i in ids)]
        )
        services: list[dict[str, Any]] = []
        for service_id, flat in zip(ids, found, strict=True):
            services.extend(_services(service_id, flat))
        return Page(services, next_cursor)

    async def count_services(self) -> int:
        page = await self.list_frontiers()
        return sum(f["service_count"] for f in page.items)

    # -- batches ----------------------------------------------------------------------------

    async def report(
        self,
        frontier_id: str,
        edges_online: Sequence[EdgeRecord] = (),
        edges_offline: Sequence[int] = (),
        services_online: Sequence[ServiceRecord] = (),
        services_offline: Sequence[int] = (),
    ) -> None:
        """Many presence events in one round trip; each event's script is atomic."""
        if not (edges_online or edges_offline or services_online or services_offline):
            return
        await self._pipelined(
            lambda pipe: self._queue_report(
                pipe, frontier_id, edges_online, edges_offline, services_online, services_offline
            )
        )

    async def _queue_report(
        self,
        pipe: Any,
        frontier_id: str,
        edges_online: Sequence[EdgeRecord],
        edges_offline: Sequence[int],
        services_online: Sequence[ServiceRecord],
        services_offline: Sequence[int],
    ) -> None:
        scripts = self._scripts
        for edge in edges_online:
            await scripts["edge_online"](
                keys=self._edge_keys(frontier_id, edge.edge_id),
                args=self._edge_args(frontier_id, edge),
                client=pipe,
            )
        for edge_id in edges_offline:
            await scripts["edge_offline"](
                keys=self._edge_keys(frontier_id, edge_id),
                args=[frontier_id, str(edge_id)],
                client=pipe,
            )
        for service in services_online:
            await scripts["service_online"](
                keys=self._service_keys(frontier_id, service.service_id),
                args=self._service_args(frontier_id, service),
                client=pipe,
            )
        for service_id in services_offline:
            await scripts["service_offline"](
                keys=self._service_keys(frontier_id, service_id),
                args=[frontier_id, str(service_id)],
                client=pipe,
            )

    async def heartbeat(self, beat: Heartbeat) -> HeartbeatAnswer:
        """Renew every ID in `beat` (scripts of `HEARTBEAT_CHUNK` IDs, one pipeline) and
        return those Redis no longer has."""
        chunks = list(id_batches(beat.edge_ids, beat.service_ids, HEARTBEAT_CHUNK))
        ttls = self.ttls

        async def queue(pipe: Any) -> None:
            for take_e, take_s in chunks:
                await self._scripts["presence_heartbeat"](
                    keys=[
                        self.edge_index_key(beat.frontier_id),
                        self.service_index_key(beat.frontier_id),
                    ],
                    args=[
                        self.prefix,
                        beat.frontier_id,
                        ttls.alive,
                        ttls.edge_meta,
                        ttls.service_meta,
                        len(take_e),
                        *take_e,
                        *take_s,
                    ],
                    client=pipe,
                )

        results = await self._pipelined(queue)
        missing_e: list[int] = []
        missing_s: list[int] = []
        for missing_edges, missing_services in results:
            missing_e.extend(_int(i) for i in missing_edges)
            missing_s.extend(_int(i) for i in missing_services)
        return HeartbeatAnswer(tuple(missing_e), tuple(missing_s))

    async def _pipelined(self, queue: Callable[[Any], Awaitable[None]]) -> list[Any]:
        """Run the scripts `queue` puts in a pipeline. A cluster pipeline does not load
        scripts a node has not seen (NOSCRIPT): then they are loaded and it runs again."""
        for attempt in (1, 2):
            async with self.redis.pipeline(transaction=False) as pipe:
                await queue(pipe)
                try:
                    return list(await pipe.execute())
                except ResponseError as exc:
                    text = str(exc)
                    if attempt == 2 or (
                        "NOSCRIPT" not in text and "No matching script" not in text
                    ):
                        raise
            for source in self._sources.values():
                await self.redis.script_load(source)
        raise AssertionError("unreachable")

    # -- reading ---------------------------------------------------------------------------

    async def _page_ids(
        self,
        given: Sequence[K],
        alive_prefix: str,
        cursor: int | None,
        count: int,
        parse: Callable[[str], K | None],
    ) -> tuple[list[K], int]:
        """The IDs to read: those `given` (deduplicated), else one SCAN page of alive keys
        (all of them when `cursor` is None), and the cursor that continues it."""
        if given:
            return list(dict.fromkeys(given)), 0
        keys, next_cursor = await self._scan(f"{alive_prefix}*", cursor, count)
        parsed = (parse(key[len(alive_prefix) :]) for key in keys)
        return [i for i in parsed if i is not None], next_cursor

    async def _scan(self, match: str, cursor: int | None, count: int) -> tuple[list[str], int]:
        """Keys matching `match`: one SCAN page from `cursor`, or all (cursor None)."""
        if cursor is None:
            keys = [_text(k) async for k in self.redis.scan_iter(match=match, count=1000)]
            return sorted(set(keys)), 0
        node_of = getattr(self.redis, "get_node_from_key", None)
        if node_of is not None:  # cluster: every key is in the prefix's slot, on one node
            await self.redis.initialize()  # the slot map (a no-op once known)
            node = node_of(self.prefix)
            cursors, keys = await self.redis.scan(
                cursor=cursor, match=match, count=count, target_nodes=node
            )
            next_cursor = next(iter(cursors.values()), 0)  # {node name: cursor}
        else:
            next_cursor, keys = await self.redis.scan(cursor=cursor, match=match, count=count)
        return sorted({_text(k) for k in keys}), int(next_cursor)
