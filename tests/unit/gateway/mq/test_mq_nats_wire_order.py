"""The NATS bridge's core-publish confirmation is a PING/PONG round trip, which proves
the server has the message only if the PING follows the PUB on the wire. nats-py writes a
flush's PING straight to the socket while a PUB may still wait in its pending buffer; the
bridge writes through so the order holds. A recording NATS server on loopback shows the
order the server actually received (a real nats-server cannot be asked)."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry

from frontier.gateway.mq import Record
from frontier.gateway.mq.config import Nats, NatsProducer, Reconnect
from frontier.gateway.mq.metrics import MqMetrics

INFO = {
    "server_id": "recorder",
    "version": "2.9.10",
    "host": "127.0.0.1",
    "port": 4222,
    "headers": True,
    "max_payload": 1048576,
    "proto": 1,
}


class RecordingNatsServer:
    """Speaks just enough NATS for a client to connect and publish; keeps the verb of every
    command in arrival order."""

    def __init__(self) -> None:
        self.verbs: list[str] = []
        self.payloads: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RecordingNatsServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def addr(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"INFO " + json.dumps(INFO).encode() + b"\r\n")
        try:
            while line := await reader.readline():
                verb, *args = line.rstrip(b"\r\n").split(b" ")
                self.verbs.append(verb.decode())
                if verb in (b"PUB", b"HPUB"):
                    total = int(args[-1])
                    headers = int(args[-2]) if verb == b"HPUB" else 0
                    body = await reader.readexactly(total + 2)
                    self.payloads.append(body[headers:total])
                elif verb == b"PING":
                    writer.write(b"PONG\r\n")
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def test_core_publish_is_confirmed_by_a_ping_that_follows_it() -> None:
    pytest.importorskip("nats")
    from frontier.gateway.mq.nats_bridge import NatsBridge

    async with RecordingNatsServer() as server:
        config = Nats(enable=True, addrs=(server.addr,), producer=NatsProducer(subjects=("t",)))
        bridge = NatsBridge(config, MqMetrics(CollectorRegistry()).bridge("nats"), 5.0, Reconnect())
        await bridge.start()
        try:
            assert bridge.connected
            for n in range(3):
                server.verbs.clear()
                await bridge.publish(Record("t", f"m{n}".encode(), 7))
                # Everything the server saw for this publish: the PUB first, then the PING
                # whose PONG returned the publish.
                assert server.verbs == ["HPUB", "PING"], server.verbs
            assert server.payloads[-3:] == [b"m0", b"m1", b"m2"]
        finally:
            await bridge.close()
