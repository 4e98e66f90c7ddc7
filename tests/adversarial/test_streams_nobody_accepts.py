"""Streams opened to a service that never accepts them must not jam it.

An edge opens 10,000 streams to a service that registered RPCs but never calls
`accept_stream()`. Each is refused at once (the service's SDK refuses streams until the
application asks for them, and the gateway closes the edge's half), the service's
connection keeps being read, and other edges' calls to it keep working throughout and
afterwards. The attacker's own sessions are bounded by `edgebound.max_streams`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from frontier.conventions import EdgePresence
from frontier.geminio.packets import SessionPacket
from support.bystanders import bystanders
from support.frontier_process import frontier_process
from support.gateway import until
from support.raw_geminio import RawPeer

pytestmark = pytest.mark.adversarial

OPENS = 10_000
RSS_GROWTH_BOUND = 64 * 1024 * 1024


async def test_ten_thousand_unaccepted_streams_jam_nothing(tmp_path: Path) -> None:
    async with (
        frontier_process(tmp_path) as gateway,
        bystanders(gateway.servicebound, gateway.edgebound, name="victim") as pair,
    ):
        gone: list[EdgePresence] = []
        await pair.service.on_edge_offline(gone.append)
        baseline = gateway.rss_bytes()
        attacker, ack = await RawPeer.hello(gateway.edgebound, meta=b"attacker")
        assert ack.error == ""
        attacker_id = ack.client_id
        pair.latencies.clear()
        batch = 250  # 10,000 opens over about 2 s, so the bystanders call during the attack
        for first in range(0, OPENS, batch):
            attacker.send(
                *(
                    SessionPacket(
                        packet_id=first + i + 2,
                        negotiate_id=(1 << 62) + first + i,
                        session_id_acquire=True,
                        peer="victim",
                    )
                    for i in range(batch)
                )
            )
            await attacker.writer.drain()
            await asyncio.sleep(0.05)
        refused = 'frontier_streams_refused_total{direction="to_service",reason="refused"}'
        limited = 'frontier_streams_refused_total{direction="to_service",reason="max_streams"}'

        async def all_answered() -> bool:
            samples = await gateway.metrics()
            return samples.get(refused, 0) + samples.get(limited, 0) >= OPENS

        deadline = asyncio.get_running_loop().time() + 60
        while not await all_answered():
            assert asyncio.get_running_loop().time() < deadline, await gateway.metrics()
            await asyncio.sleep(0.1)
        samples = await gateway.metrics()
        assert samples.get(refused, 0) > 0  # the service refused them itself, at once
        assert gateway.rss_bytes() - baseline < RSS_GROWTH_BOUND
        assert not pair.errors, pair.summary()
        assert len(pair.latencies) > 10, pair.summary()  # they kept calling throughout
        # The victim service refuses up to `max_streams` (1024) opens in this process, the
        # bystanders' own, which delays a call by that work (~0.2 s here); before, calls
        # timed out for good.
        assert pair.p99() < 1.0, pair.summary()
        assert await pair.call_once() == b"ping"  # and afterwards
        # The attacker cannot flood the log either: one line per kind per 10 s.
        assert gateway.log().count("opening the far half") <= 3
        attacker.close()
        await until(lambda: any(p.edge_id == attacker_id for p in gone), 10, "edge_offline")
        assert await pair.call_once() == b"ping"
