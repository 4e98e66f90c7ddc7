"""The NATS (core and JetStream) and AMQP bridges against the machine's brokers: an edge's
message through an in-process gateway, consumed with an independent client, headers
checked; and fan-out to several brokers plus a service, acked once all confirmed."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Edge, PublishRejected, Service
from support.brokers import NATS, RABBITMQ, REDIS, nats_consumer, require, unique
from support.gateway import gateway_config

pytestmark = pytest.mark.brokers

AMQP_USER = "guest:guest"


def _check_headers(headers: dict[str, Any], edge: Edge, topic: str, meta: bytes) -> None:
    assert headers["frontier-edge-id"] == str(edge.edge_id)
    assert base64.b64decode(headers["frontier-edge-meta"]) == meta
    assert headers["frontier-topic"] == topic
    assert len(headers["frontier-message-id"]) == 36


# -------------------------------------------------------------------------------- NATS


@pytest.fixture
async def nats_addr() -> str:
    pytest.importorskip("nats")
    return require("NATS", NATS)


async def test_nats_core_and_jetstream(nats_addr: str) -> None:
    core, durable, stream = unique("frontier-core"), unique("frontier-js"), unique("FRONTIER")
    stream = stream.replace("-", "_")
    mqm = {
        "nats": {
            "enable": True,
            "addrs": [nats_addr],
            "producer": {"subjects": [core]},
            "jetstream": {"enable": True, "name": stream, "producer": {"subjects": [durable]}},
        }
    }
    consumer = await nats_consumer(nats_addr)
    js = consumer.jetstream()
    try:
        received: asyncio.Queue[Any] = asyncio.Queue()

        async def on_message(msg: Any) -> None:
            received.put_nowait(msg)

        await consumer.subscribe(core, cb=on_message)
        await consumer.flush()
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"nats-meta") as edge,
        ):
            await edge.publish(core, b"core payload")
            async with asyncio.timeout(10):
                msg = await received.get()
            assert msg.data == b"core payload"
            _check_headers(msg.headers, edge, core, b"nats-meta")

            await edge.publish(durable, b"stored payload")  # acked once the stream stored it
            info = await js.stream_info(stream)
            assert info.state.messages == 1
            stored = await js.get_msg(stream, seq=1)
            assert stored.data == b"stored payload"
            assert stored.headers is not None
            _check_headers(dict(stored.headers), edge, durable, b"nats-meta")
            assert stored.headers["Nats-Msg-Id"] == stored.headers["frontier-message-id"]
    finally:
        try:
            await js.delete_stream(stream)
        finally:
            await consumer.close()


# -------------------------------------------------------------------------------- AMQP


@pytest.fixture
async def amqp_addr() -> str:
    pytest.importorskip("aio_pika")
    return f"{AMQP_USER}@{require('RabbitMQ', RABBITMQ)}"


async def test_amqp_publisher_confirms_headers_and_properties(amqp_addr: str) -> None:
    import aio_pika

    queue_name, exchange_name = unique("frontier-q"), unique("frontier-x")
    unroutable = unique("frontier-nobody")
    mqm = {
        "amqp": {
            "enable": True,
            "addrs": [amqp_addr],
            "exchanges": [{"name": exchange_name, "kind": "direct", "auto_delete": True}],
            "queues": [{"name": queue_name, "auto_delete": True}],
            "queueBindings": [
                {"queue_name": queue_name, "exchange_name": exchange_name, "binding_key": "k1"}
            ],
            "producer": {
                "routing_keys": ["k1", unroutable],
                "exchange": exchange_name,
                "mandatory": True,
                "headers": {"site": "lab"},
                "content_type": "application/octet-stream",
                "delivery_mode": 2,
                "app_id": "frontier-test",
            },
        }
    }
    connection = await aio_pika.connect(f"amqp://{amqp_addr}/")
    try:
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"amqp-meta") as edge,
        ):
            await edge.publish("k1", b"to rabbit")  # acked after the broker's confirm
            channel = await connection.channel()
            queue = await channel.get_queue(queue_name)
            message = await queue.get(timeout=10)
            assert message is not None
            await message.ack()
            assert message.body == b"to rabbit"
            assert message.routing_key == "k1"
            assert message.headers["site"] == "lab"
            headers = {
                k: v.decode() if isinstance(v, bytes) else v for k, v in message.headers.items()
            }
            _check_headers(headers, edge, "k1", b"amqp-meta")
            assert message.message_id == headers["frontier-message-id"]
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert message.app_id == "frontier-test"
            assert message.timestamp is not None

            with pytest.raises(PublishRejected) as caught:  # mandatory: nobody bound
                await edge.publish(unroutable, b"lost?")
            assert caught.value.text.startswith("mq amqp: unroutable")
            assert gw.mq is not None
            assert gw.mq.bridges["amqp"].connected
            await edge.publish("k1", b"still fine")
    finally:
        cleanup = await connection.channel()
        await cleanup.queue_delete(queue_name)
        await cleanup.exchange_delete(exchange_name)
        await connection.close()


# ------------------------------------------------------------------------------ fan-out


async def test_fanout_reaches_every_broker_and_one_service(nats_addr: str, amqp_addr: str) -> None:
    import aio_pika
    import redis.asyncio as redis_asyncio

    redis_addr = require("Redis", REDIS)
    topic = unique("frontier-fan")
    mqm = {
        "fanout": True,
        "redis": {
            "enable": True,
            "addrs": [redis_addr],
            "mode": "stream",
            "producer": {"channels": [topic]},
        },
        "nats": {"enable": True, "addrs": [nats_addr], "producer": {"subjects": [topic]}},
        "amqp": {
            "enable": True,
            "addrs": [amqp_addr],
            "queues": [{"name": topic, "auto_delete": True}],
            "producer": {"routing_keys": [topic]},
        },
    }
    redis_client = redis_asyncio.Redis.from_url(f"redis://{redis_addr}")
    nats_client = await nats_consumer(nats_addr)
    amqp_connection = await aio_pika.connect(f"amqp://{amqp_addr}/")
    try:
        subscription = await nats_client.subscribe(topic)
        await nats_client.flush()
        async with Gateway(gateway_config(mqm=mqm)) as gw:
            sb = f"127.0.0.1:{gw.servicebound_port}"
            async with (
                Service(sb, name="fan", topics=[topic]) as service,
                Edge(f"127.0.0.1:{gw.edgebound_port}") as edge,
            ):
                publish = asyncio.create_task(edge.publish(topic, b"everyone"))
                received = await service.receive()
                assert received.data == b"everyone"
                assert not publish.done()  # the edge's ack waits for the service too
                received.done()
                await publish

                entries = await redis_client.xrange(topic)
                nats_msg = await subscription.next_msg(timeout=10)
                channel = await amqp_connection.channel()
                amqp_msg = await (await channel.get_queue(topic)).get(timeout=10)
                assert amqp_msg is not None
                await amqp_msg.ack()
                ids = {
                    entries[0][1][b"frontier-message-id"].decode(),
                    nats_msg.headers["frontier-message-id"],
                    amqp_msg.headers["frontier-message-id"].decode()
                    if isinstance(amqp_msg.headers["frontier-message-id"], bytes)
                    else amqp_msg.headers["frontier-message-id"],
                }
                assert len(ids) == 1  # one message ID across the copies: consumers can dedupe

                # a service nack fails the edge's publish although the brokers confirmed
                publish = asyncio.create_task(edge.publish(topic, b"second"))
                (await service.receive()).error("service is busy")
                with pytest.raises(PublishRejected) as caught:
                    await publish
                assert caught.value.text == "service is busy"
    finally:
        await redis_client.delete(topic)
        await redis_client.aclose()
        await nats_client.close()
        await (await amqp_connection.channel()).queue_delete(topic)
        await amqp_connection.close()
