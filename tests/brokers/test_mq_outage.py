"""Broker outages: a private broker process that the test stops and starts. During the
outage every edge message is nacked with the reason (never dropped silently, never acked);
afterwards the bridge reconnects on its own and messages flow again. A gateway also starts
with its broker down."""

from __future__ import annotations

import asyncio

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Edge, PublishRejected
from support.brokers import nats_consumer, private_server, unique
from support.gateway import gateway_config, until

pytestmark = pytest.mark.brokers

FAST_RECONNECT = {"initial": 0.05, "max": 0.2, "connect_timeout": 2}


async def _publish_outcomes(edge: Edge, topic: str, count: int) -> list[str]:
    """'ok' or the nack text of each of `count` publishes."""
    outcomes = []
    for i in range(count):
        try:
            await edge.publish(topic, f"m{i}".encode(), timeout=10)
            outcomes.append("ok")
        except PublishRejected as exc:
            outcomes.append(exc.text)
    return outcomes


async def test_redis_restart_nacks_during_outage_then_recovers() -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    topic = unique("frontier-test-outage")
    with private_server("redis") as server:
        mqm = {
            "reconnect": FAST_RECONNECT,
            "redis": {
                "enable": True,
                "addrs": [server.addr],
                "mode": "stream",
                "producer": {"channels": [topic]},
            },
        }
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}") as edge,
        ):
            assert gw.mq is not None
            bridge = gw.mq.bridges["redis"]
            assert await _publish_outcomes(edge, topic, 3) == ["ok"] * 3

            server.stop()
            during = await _publish_outcomes(edge, topic, 5)
            assert "ok" not in during
            assert all(text.startswith("mq redis") for text in during)
            assert not bridge.connected
            assert any("unavailable" in text for text in during)

            server.start()  # a fresh Redis: nothing persisted
            await until(lambda: bridge.connected, timeout=20, what="the bridge reconnecting")
            assert await _publish_outcomes(edge, topic, 4) == ["ok"] * 4
            client = redis_asyncio.Redis.from_url(f"redis://{server.addr}")
            try:
                entries = await client.xrange(topic)
            finally:
                await client.aclose()
            assert [fields[b"payload"] for _, fields in entries] == [b"m0", b"m1", b"m2", b"m3"]

            registry = gw.metrics.registry
            failed = sum(
                registry.get_sample_value(
                    "frontier_mq_failed_total", {"bridge": "redis", "reason": reason}
                )
                or 0
                for reason in ("unavailable", "error", "timeout", "rejected")
            )
            assert failed == 5
            assert (
                registry.get_sample_value("frontier_mq_published_total", {"bridge": "redis"}) == 7
            )
            assert (
                registry.get_sample_value("frontier_mq_reconnects_total", {"bridge": "redis"}) or 0
            ) >= 1


async def test_gateway_starts_with_its_broker_down() -> None:
    topic = unique("frontier-test-down")
    with private_server("redis") as server:
        server.stop()
        mqm = {
            "reconnect": FAST_RECONNECT,
            "redis": {"enable": True, "addrs": [server.addr], "producer": {"channels": [topic]}},
        }
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}") as edge,
        ):
            assert gw.ready
            with pytest.raises(PublishRejected) as caught:
                await edge.publish(topic, b"early")
            assert caught.value.text.startswith("mq redis unavailable: ")
            server.start()
            assert gw.mq is not None
            bridge = gw.mq.bridges["redis"]
            await until(lambda: bridge.connected, timeout=20, what="the bridge connecting")
            await edge.publish(topic, b"later")


async def test_nats_restart_nacks_during_outage_then_recovers() -> None:
    pytest.importorskip("nats")
    import nats

    subject = unique("frontier-test-outage")
    with private_server("nats") as server:
        mqm = {
            "reconnect": FAST_RECONNECT,
            "nats": {"enable": True, "addrs": [server.addr], "producer": {"subjects": [subject]}},
        }
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}") as edge,
        ):
            assert gw.mq is not None
            bridge = gw.mq.bridges["nats"]
            assert await _publish_outcomes(edge, subject, 2) == ["ok", "ok"]

            server.stop()
            await until(lambda: not bridge.connected, timeout=20, what="the bridge noticing")
            during = await _publish_outcomes(edge, subject, 3)
            assert all(text.startswith("mq nats unavailable") for text in during), during

            server.start()
            await until(lambda: bridge.connected, timeout=20, what="the bridge reconnecting")
            consumer = await nats_consumer(server.addr)
            try:
                received: asyncio.Queue[bytes] = asyncio.Queue()

                async def on_message(msg: nats.aio.msg.Msg) -> None:
                    received.put_nowait(msg.data)

                await consumer.subscribe(subject, cb=on_message)
                await consumer.flush()
                assert await _publish_outcomes(edge, subject, 3) == ["ok"] * 3
                async with asyncio.timeout(10):
                    got = [await received.get() for _ in range(3)]
                assert got == [b"m0", b"m1", b"m2"]
            finally:
                await consumer.close()
