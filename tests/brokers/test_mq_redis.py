"""The Redis bridge against a real Redis: an edge's message through an in-process gateway,
read back with an independent client (streams: payload and sender fields; pub/sub: the
payload, or the JSON envelope)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Edge
from support.brokers import REDIS, require, unique
from support.gateway import gateway_config

pytestmark = pytest.mark.brokers

redis_asyncio = pytest.importorskip("redis.asyncio")


@pytest.fixture
async def redis_addr() -> str:
    return require("Redis", REDIS)


def redis_bridge(addr: str, topic: str, **extra: object) -> dict[str, object]:
    return {"redis": {"enable": True, "addrs": [addr], "producer": {"channels": [topic]}, **extra}}


async def test_stream_entry_has_payload_and_sender(redis_addr: str) -> None:
    topic = unique("frontier-test-stream")
    client = redis_asyncio.Redis.from_url(f"redis://{redis_addr}")
    config = gateway_config(mqm=redis_bridge(redis_addr, topic, mode="stream"))
    try:
        async with (
            Gateway(config) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"\x00m") as edge,
        ):
            await edge.publish(topic, b"reading 42")  # returns once XADD answered
            entries = await client.xrange(topic)
            assert len(entries) == 1
            fields = entries[0][1]
            assert fields[b"payload"] == b"reading 42"
            assert fields[b"frontier-edge-id"] == str(edge.edge_id).encode()
            assert base64.b64decode(fields[b"frontier-edge-meta"]) == b"\x00m"
            assert fields[b"frontier-topic"] == topic.encode()
            assert len(fields[b"frontier-message-id"]) == 36
            published = gw.metrics.registry.get_sample_value(
                "frontier_mq_published_total", {"bridge": "redis"}
            )
            assert published == 1.0
    finally:
        await client.delete(topic)
        await client.aclose()


async def test_pubsub_payload_and_envelope(redis_addr: str) -> None:
    plain, wrapped = unique("frontier-test-ps"), unique("frontier-test-env")
    client = redis_asyncio.Redis.from_url(f"redis://{redis_addr}")
    pubsub = client.pubsub()
    await pubsub.subscribe(plain, wrapped)
    await _subscribed(pubsub, 2)
    mqm = {
        "redis": {
            "enable": True,
            "addrs": [redis_addr],
            "producer": {"channels": [plain, wrapped]},
        }
    }
    try:
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"dev") as edge,
        ):
            await edge.publish(plain, b"raw")
            message = await _next_message(pubsub)
            assert (message["channel"], message["data"]) == (plain.encode(), b"raw")

        mqm["redis"]["envelope"] = True  # type: ignore[index]
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"dev") as edge,
        ):
            await edge.publish(wrapped, b"\xffbinary")
            message = await _next_message(pubsub)
            envelope = json.loads(message["data"])
            assert envelope["edge_id"] == edge.edge_id
            assert base64.b64decode(envelope["meta"]) == b"dev"
            assert envelope["topic"] == wrapped
            assert base64.b64decode(envelope["payload"]) == b"\xffbinary"
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _subscribed(pubsub: object, channels: int) -> None:
    """Wait for Redis to confirm each subscription: `subscribe()` only sends the command."""
    async with asyncio.timeout(10):
        confirmed = 0
        while confirmed < channels:
            message = await pubsub.get_message(timeout=1.0)  # type: ignore[attr-defined]
            if message is not None:
                assert message["type"] == "subscribe", message
                confirmed += 1


async def _next_message(pubsub: object) -> dict[str, object]:
    async with asyncio.timeout(10):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)  # type: ignore[attr-defined]
            if message is not None:
                return message  # type: ignore[no-any-return]


async def test_wrong_type_is_a_nack_not_a_reconnect(redis_addr: str) -> None:
    topic = unique("frontier-test-wrongtype")
    client = redis_asyncio.Redis.from_url(f"redis://{redis_addr}")
    await client.set(topic, "a string, not a stream")
    from frontier.sdk import PublishRejected

    try:
        config = gateway_config(mqm=redis_bridge(redis_addr, topic, mode="stream"))
        async with Gateway(config) as gw, Edge(f"127.0.0.1:{gw.edgebound_port}") as edge:
            with pytest.raises(PublishRejected) as caught:
                await edge.publish(topic, b"x")
            assert caught.value.text.startswith("mq redis: WRONGTYPE")
            assert gw.mq is not None
            assert gw.mq.bridges["redis"].connected
    finally:
        await client.delete(topic)
        await client.aclose()
