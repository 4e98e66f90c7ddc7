"""The Kafka and NSQ bridges, run when a broker is named: FRONTIER_TEST_KAFKA=host:port (a
Kafka bootstrap server) and FRONTIER_TEST_NSQD=host:port (an nsqd HTTP address; its TCP
port is taken as HTTP port - 1, the nsqd default layout). Skipped with the reason otherwise."""

from __future__ import annotations

import asyncio
import base64
import json
import struct

import pytest

from frontier.gateway import Gateway
from frontier.sdk import Edge
from support.brokers import require_env, unique
from support.gateway import gateway_config

pytestmark = pytest.mark.brokers


async def test_kafka_key_headers_and_ack() -> None:
    addr = require_env("FRONTIER_TEST_KAFKA", "Kafka")
    pytest.importorskip("aiokafka")
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = unique("frontier-test")
    admin = AIOKafkaAdminClient(bootstrap_servers=addr)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        mqm = {
            "kafka": {
                "enable": True,
                "addrs": [addr],
                "producer": {"topics": [topic], "required_acks": -1, "idepotent": False},
            }
        }
        async with (
            Gateway(gateway_config(mqm=mqm)) as gw,
            Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"k") as edge,
        ):
            await edge.publish(topic, b"to kafka")
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=addr, auto_offset_reset="earliest")
            await consumer.start()
            try:
                async with asyncio.timeout(30):
                    record = await consumer.getone()
            finally:
                await consumer.stop()
            assert record.value == b"to kafka"
            assert record.key == str(edge.edge_id).encode()
            headers = {name: value.decode() for name, value in record.headers}
            assert headers["frontier-edge-id"] == str(edge.edge_id)
            assert base64.b64decode(headers["frontier-edge-meta"]) == b"k"
            assert headers["frontier-topic"] == topic
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def _nsq_read_one(host: str, port: int, topic: str, channel: str) -> bytes:
    """A minimal NSQ TCP consumer (protocol V2): subscribe, read one message, FIN it."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"  V2" + f"SUB {topic} {channel}\n".encode() + b"RDY 1\n")
        await writer.drain()
        while True:
            size, frame_type = struct.unpack(">ii", await reader.readexactly(8))
            data = await reader.readexactly(size - 4)
            if frame_type == 0 and data == b"_heartbeat_":
                writer.write(b"NOP\n")
            elif frame_type == 1:
                raise AssertionError(f"nsqd error: {data!r}")
            elif frame_type == 2:
                message_id, body = data[10:26], data[26:]
                writer.write(b"FIN " + message_id + b"\n")
                await writer.drain()
                return body
    finally:
        writer.close()


async def test_nsq_envelope_through_http_publish() -> None:
    addr = require_env("FRONTIER_TEST_NSQD", "nsqd")
    import aiohttp

    topic = unique("frontier-test")
    host, _, port = addr.rpartition(":")
    async with aiohttp.ClientSession() as session:
        # the channel first, so nsqd keeps the message for it
        async with session.post(
            f"http://{addr}/channel/create", params={"topic": topic, "channel": "t"}
        ) as response:
            assert response.status == 200
        try:
            mqm = {
                "nsq": {
                    "enable": True,
                    "addrs": [addr],
                    "envelope": True,
                    "producer": {"topics": [topic]},
                }
            }
            async with (
                Gateway(gateway_config(mqm=mqm)) as gw,
                Edge(f"127.0.0.1:{gw.edgebound_port}", meta=b"n") as edge,
            ):
                await edge.publish(topic, b"to nsq")
                async with asyncio.timeout(30):
                    body = await _nsq_read_one(host, int(port) - 1, topic, "t")
            envelope = json.loads(body)
            assert base64.b64decode(envelope["payload"]) == b"to nsq"
            assert envelope["edge_id"] == edge.edge_id
            assert base64.b64decode(envelope["meta"]) == b"n"
            assert envelope["topic"] == topic
        finally:
            async with session.post(
                f"http://{addr}/topic/delete", params={"topic": topic}
            ) as response:
                await response.read()
