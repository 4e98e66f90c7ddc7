"""NATS: core publishes and JetStream publishes, with the sender in NATS headers.

JetStream answers every publish with a PubAck (the stream stored it); that is the edge's
ack. Core NATS has no per-message acknowledgement, so the confirmation is a flush (a
PING/PONG round trip after the publish): the server has received the message, whether or
not anyone was subscribed. The stream is created at start-up, or its subjects extended when
it exists without ours. Every address is given to the client (upstream dropped the last,
so one address became the default URL). nats-py's own reconnect is off: while it
reconnects it would buffer publishes silently; our supervisor reconnects and nacks instead.

The client writes through (``pending_size=1``). By default nats-py queues a PUB in its
pending buffer for a background flusher but writes a flush's PING straight to the socket,
so the PING (and its PONG, our "confirmation") can overtake the PUB it was meant to
confirm; a PONG then proves nothing and a PUB may be lost after the edge was acked. With
a one-byte buffer every command is written before `publish` returns, so the PING follows
the PUB on the wire and the PONG means the server has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Bridge, Rejected, describe
from .config import WILDCARD, Reconnect
from .config import Nats as NatsConfig
from .metrics import BridgeMetrics
from .record import Record

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

__all__ = ["NatsBridge", "nats_url"]

DEDUP_HEADER = "Nats-Msg-Id"
WRITE_THROUGH = 1
"""nats-py's ``pending_size``: any command exceeds it, so each is written at once, in order."""


def nats_url(addr: str) -> str:
    return addr if "://" in addr else f"nats://{addr}"


class NatsBridge(Bridge):
    kind = "nats"

    def __init__(
        self, config: NatsConfig, metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        super().__init__(config.topics, metrics, timeout, reconnect)
        self.config = config
        js = config.jetstream
        self._js_subjects = frozenset(js.producer.subjects) if js.enable else frozenset()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    async def _connect(self) -> None:
        import nats

        report = self.loss_reporter()
        errors: list[str] = []

        async def closed() -> None:
            report(errors[-1] if errors else "connection closed")

        async def disconnected() -> None:
            report(errors[-1] if errors else "disconnected")

        async def error(exc: Exception) -> None:
            errors.append(describe(exc))
            del errors[:-1]

        self._client = await nats.connect(
            servers=[nats_url(a) for a in self.config.addrs],
            allow_reconnect=False,
            pending_size=WRITE_THROUGH,
            connect_timeout=max(1, int(self._connect_timeout)),
            closed_cb=closed,
            disconnected_cb=disconnected,
            error_cb=error,
            name="frontier",
        )
        if self.config.jetstream.enable:
            self._js = self._client.jetstream()
            await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        from nats.js.errors import BadRequestError, NotFoundError

        assert self._client is not None
        manager = self._client.jetstream()
        name = self.config.jetstream.name
        subjects = [s for s in self.config.jetstream.producer.subjects if s != WILDCARD]
        try:
            info = await manager.stream_info(name)
        except NotFoundError:
            if subjects:
                await manager.add_stream(name=name, subjects=subjects)
            return
        present = list(info.config.subjects or [])
        missing = [s for s in subjects if s not in present]
        if missing:
            config = info.config
            config.subjects = present + missing
            try:
                await manager.update_stream(config)
            except BadRequestError as exc:
                raise RuntimeError(
                    f"stream {name!r}: cannot add subjects {missing}: {exc}"
                ) from exc

    async def _disconnect(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()

    async def _send(self, record: Record) -> None:
        from nats.errors import BadSubjectError, MaxPayloadError, NoRespondersError
        from nats.js.errors import APIError

        client = self._client
        if client is None:
            raise ConnectionError("not connected")
        headers = record.headers()
        try:
            js = self._js
            if js is not None and (
                record.topic in self._js_subjects
                or (WILDCARD in self._js_subjects and record.topic not in self.topics)
            ):
                headers[DEDUP_HEADER] = record.message_id
                await js.publish(
                    record.topic, record.payload, timeout=self.timeout, headers=headers
                )
            else:
                await client.publish(record.topic, record.payload, headers=headers)
                await client.flush()
        except NoRespondersError:
            raise Rejected(f"no JetStream stream takes subject {record.topic!r}") from None
        except (APIError, BadSubjectError, MaxPayloadError) as exc:
            raise Rejected(describe(exc)) from None
