"""Duplicate IDs: a newcomer is admitted (ID, then `edge_online`) before it may replace the
connection holding its ID; a refused newcomer changes nothing; presence never says offline
after the newer online; two hosts claiming one ID cannot flap faster than `replace_hold`."""

from __future__ import annotations

import asyncio

import pytest

from frontier.conventions import EdgePresence, append_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import ConnectRejected, End, Request
from support.gateway import connect_edge, connect_service, gateway_config, until
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.integration

TRUSTING = {"edgebound": {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}}
"""Edges choose their own IDs: how a test makes two connections claim one ID."""


class PresenceLog:
    """A service's `edge_online` (refusing metas listed in `refuse`) and `edge_offline`."""

    def __init__(self, refuse: tuple[bytes, ...] = ()) -> None:
        self.events: list[tuple[str, int, bytes]] = []
        self.refuse = refuse
        self.gate: asyncio.Event | None = None
        self.deciding = asyncio.Event()

    async def install(self, service: End) -> None:
        await service.register("edge_online", self.online)
        await service.register("edge_offline", self.offline)

    async def online(self, request: Request) -> bytes:
        event = EdgePresence.decode(request.data)
        self.deciding.set()
        if self.gate is not None:
            await self.gate.wait()
        if event.meta in self.refuse:
            self.events.append(("refused", event.edge_id, event.meta))
            raise ValueError("not you")
        self.events.append(("online", event.edge_id, event.meta))
        return b""

    async def offline(self, request: Request) -> bytes:
        event = EdgePresence.decode(request.data)
        self.events.append(("offline", event.edge_id, event.meta))
        return b""


async def test_an_admitted_newcomer_replaces_the_older_connection_without_an_offline() -> None:
    async with Gateway(gateway_config(**TRUSTING)) as gw:
        service = await connect_service(gw.servicebound_port)
        presence = PresenceLog()
        await presence.install(service)
        old = await connect_edge(gw.edgebound_port, client_id=5, meta=b"first")
        new = await connect_edge(gw.edgebound_port, client_id=5, meta=b"second")
        await asyncio.wait_for(old.wait_closed(), 5)
        assert gw.registry.edges[5].end.meta == b"second"

        async def ping(request: Request) -> bytes:
            return b"new"

        await new.register("ping", ping)
        assert await service.call("ping", custom=append_edge_id(b"", 5)) == b"new"
        assert gw.metrics.duplicate_kicks.labels("edge")._value.get() == 1
        await new.close()
        await until(lambda: len(presence.events) == 3, what="the newer one's offline")
        # The edge never went offline while one of its connections was online.
        assert presence.events == [
            ("online", 5, b"first"),
            ("online", 5, b"second"),
            ("offline", 5, b"second"),
        ]
        await service.close()


async def test_a_refused_claimant_knocks_nobody_offline() -> None:
    async with Gateway(gateway_config(**TRUSTING)) as gw:
        service = await connect_service(gw.servicebound_port)
        presence = PresenceLog(refuse=(b"impostor",))
        await presence.install(service)
        device = await connect_edge(gw.edgebound_port, client_id=7, meta=b"device")
        for _ in range(10):
            with pytest.raises(ConnectRejected, match="not you"):
                await connect_edge(gw.edgebound_port, client_id=7, meta=b"impostor")
        assert not device.closed
        assert gw.registry.edges[7].end is not None
        assert gw.registry.edges[7].end.meta == b"device"
        assert gw.metrics.duplicate_kicks.labels("edge")._value.get() == 0
        assert [e for e in presence.events if e[0] != "refused"] == [("online", 7, b"device")]

        async def ping(request: Request) -> bytes:
            return b"still me"

        await device.register("ping", ping)
        assert await service.call("ping", custom=append_edge_id(b"", 7)) == b"still me"
        await device.close()
        await service.close()


@pytest.mark.parametrize("admitted", [True, False])
async def test_an_older_connection_dying_during_admission_reports_only_if_needed(
    admitted: bool,
) -> None:
    """The old connection dies while the newcomer's `edge_online` is pending. Its offline
    waits for the verdict: none if the newcomer got the ID, else after the refusal."""
    async with Gateway(gateway_config(**TRUSTING)) as gw:
        service = await connect_service(gw.servicebound_port)
        presence = PresenceLog(refuse=() if admitted else (b"second",))
        await presence.install(service)
        old = await connect_edge(gw.edgebound_port, client_id=9, meta=b"first")
        presence.gate = asyncio.Event()
        presence.deciding.clear()
        newcomer = asyncio.create_task(connect_edge(gw.edgebound_port, client_id=9, meta=b"second"))
        await presence.deciding.wait()
        old.abort()  # dies on its own while the verdict is pending
        # Its offline cleanup has started (and waits for the verdict, on the ID's lock).
        await until(lambda: bool(gw.edgebound._departures._cleaned), what="cleanup begun")
        assert presence.events == [("online", 9, b"first")]
        presence.gate.set()
        if admitted:
            new = await newcomer
            await until(lambda: 9 in gw.registry.edges, what="the newcomer registered")
            assert presence.events == [("online", 9, b"first"), ("online", 9, b"second")]
            await new.close()
        else:
            with pytest.raises(ConnectRejected):
                await newcomer
            await until(lambda: len(presence.events) == 3, what="the old one's offline")
            assert presence.events == [
                ("online", 9, b"first"),
                ("refused", 9, b"second"),
                ("offline", 9, b"first"),
            ]
        await service.close()


async def test_concurrent_duplicates_leave_exactly_one_registered() -> None:
    async with Gateway(gateway_config(**TRUSTING)) as gw:
        ends = await asyncio.gather(
            *(connect_edge(gw.edgebound_port, client_id=8) for _ in range(5)),
            return_exceptions=True,
        )
        survivors: list[End] = [e for e in ends if isinstance(e, End)]
        await until(lambda: sum(not e.closed for e in survivors) == 1, what="one survivor")
        alive = next(e for e in survivors if not e.closed)
        await until(lambda: gw.registry.edges.get(8) is not None)
        assert gw.registry.edges[8].end.meta == alive.meta
        assert len(gw.registry.edges) == 1
        # no stale state: once it leaves, the ID is free and clean
        await alive.close()
        await until(lambda: not gw.registry.edges, what="registry empty")
        again = await connect_edge(gw.edgebound_port, client_id=8)
        assert again.client_id == 8
        await again.close()


async def test_two_hosts_claiming_one_id_cannot_flap() -> None:
    """Host B replaces host A; A may not take the ID back for `replace_hold` seconds, so two
    admitted claimants alternate at most once per hold instead of kicking each other in a
    loop. Reconnects from B itself (the current holder's host) are not held back."""
    config = {**TRUSTING, "edgebound": {**TRUSTING["edgebound"], "replace_hold": 30}}
    async with Gateway(gateway_config(**config)) as gw:
        port = gw.edgebound_port
        a, ack = await RawPeer.hello(port, client_id=11, source="127.0.0.1")
        assert ack.error == ""
        b, ack = await RawPeer.hello(port, client_id=11, source="127.0.0.2")
        assert ack.error == ""
        assert await a.closed_by_peer()
        for _ in range(3):
            again, ack = await RawPeer.hello(port, client_id=11, source="127.0.0.1")
            assert "retry later" in ack.error
            again.close()
        assert gw.registry.edges[11].addr.startswith("127.0.0.2:")
        conflicts = gw.metrics.edge_id_conflicts
        assert conflicts.labels("replaced")._value.get() == 1
        assert conflicts.labels("held")._value.get() == 3
        b2, ack = await RawPeer.hello(port, client_id=11, source="127.0.0.2")
        assert ack.error == ""  # the holder's own host reconnecting is not damped
        assert await b.closed_by_peer()
        b2.close()


async def test_duplicate_service_id_replaces_the_older_service() -> None:
    async with Gateway(gateway_config()) as gw:
        old = await connect_service(gw.servicebound_port, name="a", topics=("t",), client_id=3)
        new = await connect_service(gw.servicebound_port, name="b", topics=("u",), client_id=3)
        await asyncio.wait_for(old.wait_closed(), 5)
        entry = gw.registry.services[3]
        assert (entry.service, entry.topics) == ("b", ("u",))
        assert gw.registry.services_for_topic("t") == []
        assert gw.registry.services_named("a") == []
        await new.close()
        await until(lambda: not gw.registry.services)
