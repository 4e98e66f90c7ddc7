"""Kafka via aiokafka: each message is sent and its produce acknowledged before the edge's ack.

Upstream's sarama keys map onto aiokafka's producer settings where one exists
(``max_message_bytes`` -> max_request_size, ``required_acks`` -> acks, ``timeout`` ->
request_timeout_ms, ``compression``, ``idepotent``/``idempotent`` -> enable_idempotence,
``flush.bytes`` -> max_batch_size, ``flush.frequency`` -> linger_ms, ``retry.backoff`` ->
retry_backoff_ms); ``async``, ``compression_level``, ``flush.messages``,
``flush.max_messages`` and ``retry.max`` have none and are accepted without effect. The
sender goes in Kafka headers and, by default, the edge ID is the message key (so one edge's
messages keep their order in one partition); upstream sent no key and no headers. Every
address is a bootstrap server.
"""

from __future__ import annotations

from typing import Any

from .base import Bridge, Rejected, describe
from .config import Kafka as KafkaConfig
from .config import Reconnect
from .metrics import BridgeMetrics
from .record import Record

__all__ = ["KafkaBridge", "producer_settings"]

_CONNECTION_ERRORS = ("KafkaConnectionError", "NodeNotReadyError", "KafkaTimeoutError")


def producer_settings(config: KafkaConfig) -> dict[str, Any]:
    producer = config.producer
    settings: dict[str, Any] = {
        "bootstrap_servers": list(config.addrs),
        "client_id": "frontier",
        "acks": "all" if producer.required_acks == -1 else producer.required_acks,
        "enable_idempotence": producer.idempotent,
    }
    if producer.idempotent:
        settings["acks"] = "all"  # the client requires it for idempotence
    if producer.compression != "none":
        settings["compression_type"] = producer.compression
    if producer.max_message_bytes:
        settings["max_request_size"] = producer.max_message_bytes
    if producer.timeout:
        settings["request_timeout_ms"] = int(producer.timeout * 1000)
    if producer.flush.bytes:
        settings["max_batch_size"] = producer.flush.bytes
    if producer.flush.frequency:
        settings["linger_ms"] = int(producer.flush.frequency * 1000)
    if producer.retry.backoff:
        settings["retry_backoff_ms"] = int(producer.retry.backoff * 1000)
    return settings


class KafkaBridge(Bridge):
    kind = "kafka"

    def __init__(
        self, config: KafkaConfig, metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        super().__init__(config.topics, metrics, timeout, reconnect)
        self.config = config
        self._settings = producer_settings(config)
        self._producer: Any = None

    def _key(self, record: Record) -> bytes | None:
        key = self.config.producer.key
        if key == "edgeid":
            return str(record.edge_id).encode()
        if key == "topic":
            return record.topic.encode()
        if key == "message_id":
            return record.message_id.encode()
        return None

    async def _connect(self) -> None:
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

        producer = AIOKafkaProducer(**self._settings)
        self._producer = producer
        await producer.start()

    async def _disconnect(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _send(self, record: Record) -> None:
        from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

        producer = self._producer
        if producer is None:
            raise ConnectionError("not connected")
        headers = [(name, value.encode()) for name, value in record.headers().items()]
        try:
            await producer.send_and_wait(
                record.topic, record.payload, key=self._key(record), headers=headers
            )
        except KafkaError as exc:
            if type(exc).__name__ in _CONNECTION_ERRORS:
                raise
            raise Rejected(describe(exc)) from None
