"""Claiming someone else's identity: an edge ID, or a place among the services.

Edges: by default the ID an edge asks for is ignored (IDs come from a `get_edge_id` service
or the gateway's allocator), and a newcomer that `edge_online` refuses changes nothing, so
nobody can knock a device offline by claiming its ID. Services: with `servicebound.token`,
a process that merely reaches the port cannot register and answer `edge_online` for a
share of the edges.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from frontier.conventions import EdgePresence, encode_edge_id
from frontier.geminio.aio import ConnectRejected
from frontier.sdk import Edge, Service
from support.bystanders import bystanders
from support.frontier_process import frontier_process, sample
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.adversarial


async def test_an_edge_cannot_take_a_devices_id_by_asking(tmp_path: Path) -> None:
    async with (
        frontier_process(tmp_path) as gateway,
        bystanders(gateway.servicebound, gateway.edgebound) as pair,
    ):
        victim = pair.edge.edge_id
        for _ in range(10):
            impostor, ack = await RawPeer.hello(gateway.edgebound, client_id=victim)
            assert ack.error == ""
            assert ack.client_id != victim  # allocated, not the one asked for
            impostor.close()
        assert pair.edge.online
        assert pair.edge.edge_id == victim
        assert pair.edge.reconnects == 0
        assert not pair.errors, pair.summary()
        kicks = 'frontier_duplicate_kicks_total{side="edge"}'
        assert await gateway.metric(kicks) == 0


async def test_a_refused_claimant_cannot_knock_the_device_offline(tmp_path: Path) -> None:
    """IDs from meta (``device:<id>:<secret>``) and authentication in `edge_online`: an
    impostor that knows a device's ID but not its secret gets the ID's lock, is refused,
    and the device's connection is never touched."""
    secrets = {42: b"right"}

    def edge_id(meta: bytes) -> int:
        return int(meta.split(b":")[1])

    def authorise(presence: EdgePresence) -> None:
        _, number, secret = presence.meta.split(b":")
        if secrets.get(int(number)) != secret:
            raise PermissionError("bad credentials")

    async with frontier_process(tmp_path) as gateway:
        auth = Service(f"127.0.0.1:{gateway.servicebound}", name="auth")
        await auth.on_get_edge_id(edge_id)
        await auth.on_edge_online(authorise)
        await auth.start()
        device = Edge(f"127.0.0.1:{gateway.edgebound}", meta=b"device:42:right")
        await device.start()
        assert device.edge_id == 42
        try:
            for _ in range(10):
                impostor = Edge(
                    f"127.0.0.1:{gateway.edgebound}", meta=b"device:42:guess", reconnect=False
                )
                with pytest.raises(ConnectRejected, match="bad credentials"):
                    await impostor.start()
            assert device.online
            assert device.reconnects == 0
            kicks = 'frontier_duplicate_kicks_total{side="edge"}'
            assert await gateway.metric(kicks) == 0
            rejected = sample(
                "frontier_connections_total",
                reason="edge_online",
                result="rejected",
                side="edge",
                transport="tcp",
            )
            assert await gateway.metric(rejected) == 10
            assert encode_edge_id(42)  # (the ID a get_edge_id answer carries)
        finally:
            await device.close()
            await auth.close()


async def test_without_the_token_a_process_cannot_become_a_service(tmp_path: Path) -> None:
    async with frontier_process(tmp_path, servicebound={"token": "s3cret"}) as gateway:
        for token in ("", "wrong"):
            rogue = Service(
                f"127.0.0.1:{gateway.servicebound}", name="rogue", token=token, reconnect=False
            )
            await rogue.on_edge_online(lambda presence: None)
            with pytest.raises(ConnectRejected, match="service authentication failed"):
                await rogue.start()
        rejected = sample(
            "frontier_connections_total",
            reason="token",
            result="rejected",
            side="service",
            transport="tcp",
        )
        assert await gateway.metric(rejected) == 2
        # The real one, with the token, serves edges as usual.
        async with bystanders(gateway.servicebound, gateway.edgebound, token="s3cret") as pair:
            assert await pair.call_once() == b"ping"
        assert "wrong or missing token" in gateway.log()
        assert "s3cret" not in gateway.log()
