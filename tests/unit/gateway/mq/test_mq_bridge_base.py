"""The bridge supervisor with an in-memory broker stand-in: nacks while down with the
reason, reconnects after a loss, a broker rejection is not a lost connection, timeouts,
late close callbacks of an old connection are ignored, and the record's headers."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from prometheus_client import CollectorRegistry

from frontier.gateway.mq import Bridge, BridgeError, Record, Rejected
from frontier.gateway.mq.config import Reconnect
from frontier.gateway.mq.metrics import MqMetrics
from support.gateway import until

FAST = Reconnect(initial=0.001, max=0.01, connect_timeout=1.0)


class Broker:
    def __init__(self) -> None:
        self.up = True
        self.stored: list[Record] = []
        self.reject_next = False
        self.hang = False


class StandIn(Bridge):
    kind = "standin"

    def __init__(self, broker: Broker, registry: CollectorRegistry, timeout: float = 1.0) -> None:
        super().__init__(("t",), MqMetrics(registry).bridge("standin"), timeout, FAST)
        self.broker = broker
        self.connects = 0
        self.reporters: list[object] = []

    async def _connect(self) -> None:
        if not self.broker.up:
            raise ConnectionRefusedError("broker down")
        self.connects += 1
        self.reporters.append(self.loss_reporter())

    async def _send(self, record: Record) -> None:
        if self.broker.hang:
            await asyncio.Event().wait()
        if not self.broker.up:
            raise ConnectionResetError("reset by peer")
        if self.broker.reject_next:
            self.broker.reject_next = False
            raise Rejected("too big")
        self.broker.stored.append(record)

    async def _disconnect(self) -> None:
        pass


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"bridge": "standin", **labels}) or 0.0


async def test_outage_nacks_then_recovers() -> None:
    registry, broker = CollectorRegistry(), Broker()
    bridge = StandIn(broker, registry)
    await bridge.start()
    try:
        assert bridge.connected
        await bridge.publish(Record("t", b"1", 7))
        broker.up = False
        with pytest.raises(BridgeError, match="mq standin: ConnectionResetError: reset by peer"):
            await bridge.publish(Record("t", b"2", 7))
        assert not bridge.connected
        with pytest.raises(BridgeError, match="mq standin unavailable: "):
            await bridge.publish(Record("t", b"3", 7))
        broker.up = True
        await until(lambda: bridge.connected, what="reconnect")
        await bridge.publish(Record("t", b"4", 7))
        assert [r.payload for r in broker.stored] == [b"1", b"4"]
        assert sample(registry, "frontier_mq_published_total") == 2
        assert sample(registry, "frontier_mq_failed_total", reason="error") == 1
        assert sample(registry, "frontier_mq_failed_total", reason="unavailable") == 1
        assert sample(registry, "frontier_mq_reconnects_total") == 1
        assert sample(registry, "frontier_mq_connected") == 1
        assert (
            registry.get_sample_value(
                "frontier_mq_publish_latency_seconds_count", {"bridge": "standin"}
            )
            == 2
        )
    finally:
        await bridge.close()
    assert sample(registry, "frontier_mq_connected") == 0


async def test_start_with_broker_down_returns_and_retries() -> None:
    broker = Broker()
    broker.up = False
    bridge = StandIn(broker, CollectorRegistry())
    await bridge.start()  # returns after the first failed attempt
    try:
        assert not bridge.connected
        with pytest.raises(BridgeError, match="unavailable: ConnectionRefusedError: broker down"):
            await bridge.publish(Record("t", b"x", 1))
        broker.up = True
        await until(lambda: bridge.connected, what="connect")
    finally:
        await bridge.close()


async def test_rejection_keeps_the_connection() -> None:
    registry, broker = CollectorRegistry(), Broker()
    bridge = StandIn(broker, registry)
    await bridge.start()
    try:
        broker.reject_next = True
        with pytest.raises(BridgeError, match=r"^mq standin: too big$"):
            await bridge.publish(Record("t", b"x", 1))
        assert bridge.connected
        assert bridge.connects == 1
        assert sample(registry, "frontier_mq_failed_total", reason="rejected") == 1
    finally:
        await bridge.close()


async def test_no_confirmation_in_time_is_a_nack() -> None:
    registry, broker = CollectorRegistry(), Broker()
    bridge = StandIn(broker, registry, timeout=0.05)
    await bridge.start()
    try:
        broker.hang = True
        with pytest.raises(BridgeError, match=r"no confirmation within 0\.05 s"):
            await bridge.publish(Record("t", b"x", 1))
        assert sample(registry, "frontier_mq_failed_total", reason="timeout") == 1
    finally:
        await bridge.close()


async def test_a_late_callback_of_an_old_connection_is_ignored() -> None:
    broker = Broker()
    bridge = StandIn(broker, CollectorRegistry())
    await bridge.start()
    try:
        bridge.reporters[0]("first connection closed")  # type: ignore[operator]
        await until(lambda: bridge.connects == 2 and bridge.connected, what="reconnect")
        bridge.reporters[0]("first connection closed, again")  # type: ignore[operator]
        assert bridge.connected
    finally:
        await bridge.close()


def test_record_headers_and_envelope() -> None:
    record = Record("news", b"\x00payload", 42, b"\xffmeta", message_id="id-1")
    assert record.headers() == {
        "frontier-edge-id": "42",
        "frontier-edge-meta": base64.b64encode(b"\xffmeta").decode(),
        "frontier-topic": "news",
        "frontier-message-id": "id-1",
    }
    assert json.loads(record.envelope()) == {
        "edge_id": 42,
        "meta": base64.b64encode(b"\xffmeta").decode(),
        "topic": "news",
        "message_id": "id-1",
        "payload": base64.b64encode(b"\x00payload").decode(),
    }
    assert Record("t", b"", 1).message_id != Record("t", b"", 1).message_id
