"""AMQP 0-9-1 (RabbitMQ): publisher confirms, the sender in the message headers.

The channel runs in confirm mode, so a publish returns when the broker has taken
responsibility for the message (Basic.Ack); a Basic.Nack, or with ``mandatory`` an
unroutable message, is a nack to the edge. The routing key is the topic, as upstream.
Exchanges, queues and bindings are declared at every (re)connect; a declaration the broker
refuses fails the connection (retried with backoff, publishes nacked with the reason) where
upstream only logged it. Addresses are tried in order. ``channel_max``, ``frame_size`` and
``locale`` are accepted and left to the server (the client has no setting for them).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from .base import Bridge, Rejected, describe
from .config import Amqp as AmqpConfig
from .config import Reconnect
from .metrics import BridgeMetrics
from .record import Record

if TYPE_CHECKING:
    import aio_pika.abc

__all__ = ["AmqpBridge", "amqp_url"]


def amqp_url(addr: str, heartbeat: float) -> str:
    """``[user:pass@]host[:port]`` (upstream prefixed ``amqp://``) or a full URL."""
    url = addr if "://" in addr else f"amqp://{addr}"
    if heartbeat > 0 and "heartbeat=" not in url:
        url += ("&" if "?" in url else "?") + f"heartbeat={max(1, round(heartbeat))}"
    return url


class AmqpBridge(Bridge):
    kind = "amqp"

    def __init__(
        self, config: AmqpConfig, metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        super().__init__(config.topics, metrics, timeout, reconnect)
        self.config = config
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        producer = config.producer
        self._properties: dict[str, Any] = {
            key: value
            for key, value in (
                ("content_type", producer.content_type),
                ("content_encoding", producer.content_encoding),
                ("delivery_mode", producer.delivery_mode),
                ("priority", producer.priority),
                ("reply_to", producer.reply_to),
                ("type", producer.type),
                ("user_id", producer.user_id),
                ("app_id", producer.app_id),
            )
            if value
        }
        if producer.expiration:
            self._properties["expiration"] = int(producer.expiration) / 1000
        self._static_headers = dict(producer.headers)

    async def _connect(self) -> None:
        import aio_pika

        config = self.config
        errors = []
        connection = None
        for addr in config.addrs:
            kwargs: dict[str, Any] = {}
            if config.vhost:
                kwargs["virtualhost"] = config.vhost
            try:
                connection = await aio_pika.connect(amqp_url(addr, config.heartbeat), **kwargs)
            except Exception as exc:
                errors.append(f"{addr}: {describe(exc)}")
                continue
            break
        if connection is None:
            raise ConnectionError("; ".join(errors))
        self._connection = connection
        report = self.loss_reporter()

        def closed(_: object, exc: BaseException | None = None) -> None:
            report(describe(exc) if exc is not None else "connection closed")

        connection.close_callbacks.add(closed)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        channel.close_callbacks.add(closed)
        await self._declare(channel)
        if config.producer.exchange:
            self._exchange = await channel.get_exchange(config.producer.exchange, ensure=False)
        else:
            self._exchange = channel.default_exchange

    async def _declare(self, channel: aio_pika.abc.AbstractChannel) -> None:
        import aio_pika

        config = self.config
        for exchange in config.exchanges:
            await channel.declare_exchange(
                exchange.name,
                aio_pika.ExchangeType(exchange.kind or "direct"),
                durable=exchange.durable,
                auto_delete=exchange.auto_delete,
                internal=exchange.internal,
            )
        for queue in config.queues:
            await channel.declare_queue(
                queue.name,
                durable=queue.durable,
                auto_delete=queue.auto_delete,
                exclusive=queue.exclusive,
            )
        for binding in config.queue_bindings:
            queue_obj = await channel.get_queue(binding.queue_name, ensure=False)
            await queue_obj.bind(binding.exchange_name, routing_key=binding.binding_key)

    async def _disconnect(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def _send(self, record: Record) -> None:
        import aio_pika
        from aio_pika.exceptions import DeliveryError, PublishError

        exchange = self._exchange
        if exchange is None:
            raise ConnectionError("not connected")
        message = aio_pika.Message(
            record.payload,
            headers={**self._static_headers, **record.headers()},
            message_id=record.message_id,
            timestamp=datetime.datetime.now(datetime.UTC),
            **self._properties,
        )
        try:
            await exchange.publish(
                message, routing_key=record.topic, mandatory=self.config.producer.mandatory
            )
        except PublishError:
            raise Rejected(f"unroutable: no queue bound for {record.topic!r}") from None
        except DeliveryError as exc:
            raise Rejected(f"the broker refused the message: {describe(exc)}") from None
