"""Redis: PUBLISH on the topic's channel (upstream), or XADD to a stream named after it.

Pub/sub has no headers and no persistence: the confirmation is Redis accepting the PUBLISH
(whether anyone was subscribed or not), and the sender travels only in the opt-in JSON
envelope. A stream entry is persistent and carries the sender as fields beside ``payload``;
the confirmation is the entry ID. The addresses are tried in order at each (re)connect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .addrs import host_port
from .base import Bridge, Rejected
from .config import Reconnect
from .config import Redis as RedisConfig
from .metrics import BridgeMetrics
from .record import Record

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisBridge"]

PAYLOAD_FIELD = "payload"


class RedisBridge(Bridge):
    kind = "redis"

    def __init__(
        self, config: RedisConfig, metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        super().__init__(config.topics, metrics, timeout, reconnect)
        self.config = config
        self._addrs = [host_port(a, 6379, "mqm.redis.addrs") for a in config.addrs]
        self._client: redis.asyncio.Redis | None = None

    async def _connect(self) -> None:
        import redis.asyncio

        errors = []
        for host, port in self._addrs:
            client = redis.asyncio.Redis(
                host=host,
                port=port,
                db=self.config.db,
                password=self.config.password or None,
                socket_connect_timeout=self._connect_timeout,
            )
            try:
                await client.ping()
            except (redis.RedisError, OSError) as exc:
                errors.append(f"{host}:{port}: {exc}")
                await client.aclose()
                continue
            self._client = client
            return
        raise ConnectionError("; ".join(errors))

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _send(self, record: Record) -> None:
        import redis

        client = self._client
        if client is None:
            raise ConnectionError("not connected")
        try:
            if self.config.mode == "stream":
                fields: dict[Any, Any] = {PAYLOAD_FIELD: record.payload, **record.headers()}
                stream = self.config.stream
                await client.xadd(
                    record.topic,
                    fields,
                    maxlen=stream.maxlen or None,
                    approximate=stream.approximate,
                )
            else:
                body = record.envelope() if self.config.envelope else record.payload
                await client.publish(record.topic, body)
        except redis.ResponseError as exc:  # e.g. WRONGTYPE: the key is not a stream
            raise Rejected(str(exc)) from None
