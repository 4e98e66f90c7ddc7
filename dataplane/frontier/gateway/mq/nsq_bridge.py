"""NSQ through nsqd's HTTP API (``POST /pub?topic=``): its 200 "OK" is the confirmation.

The HTTP API needs no NSQ client library (aiohttp is a core dependency) and answers each
publish, which is exactly the confirmation an edge's ack waits for. NSQ messages have no
headers: the sender travels only in the opt-in JSON envelope. The addresses are nsqd HTTP
addresses (port 4151), tried in order at each (re)connect; an address on nsqd's TCP port
4150, which upstream's go-nsq client used, is taken to mean the same nsqd's HTTP port.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .addrs import host_port
from .base import Bridge, Rejected
from .config import Nsq as NsqConfig
from .config import Reconnect
from .metrics import BridgeMetrics
from .record import Record

if TYPE_CHECKING:
    import aiohttp

__all__ = ["NsqBridge", "nsqd_url"]

log = logging.getLogger("frontier.mq")

NSQD_TCP_PORT = 4150
NSQD_HTTP_PORT = 4151


def nsqd_url(addr: str) -> str:
    if "://" in addr:
        return addr.rstrip("/")
    host, port = host_port(addr, NSQD_HTTP_PORT, "mqm.nsq.addrs")
    if port == NSQD_TCP_PORT:
        log.warning("mq nsq: %s is nsqd's TCP port; publishing to its HTTP port 4151", addr)
        port = NSQD_HTTP_PORT
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


class NsqBridge(Bridge):
    kind = "nsq"

    def __init__(
        self, config: NsqConfig, metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        super().__init__(config.topics, metrics, timeout, reconnect)
        self.config = config
        self._urls = [nsqd_url(a) for a in config.addrs]
        self._session: aiohttp.ClientSession | None = None
        self._url = ""

    async def _connect(self) -> None:
        import aiohttp

        session = aiohttp.ClientSession()
        self._session = session
        errors = []
        for url in self._urls:
            try:
                async with session.get(f"{url}/ping") as response:
                    body = await response.text()
                    if response.status == 200:
                        self._url = url
                        return
                    errors.append(f"{url}: {response.status} {body.strip()}")
            except aiohttp.ClientError as exc:
                errors.append(f"{url}: {exc}")
        raise ConnectionError("; ".join(errors))

    async def _disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _send(self, record: Record) -> None:
        session = self._session
        if session is None:
            raise ConnectionError("not connected")
        body = record.envelope() if self.config.envelope else record.payload
        async with session.post(
            f"{self._url}/pub", params={"topic": record.topic}, data=body
        ) as response:
            text = (await response.text()).strip()
            if response.status != 200:
                raise Rejected(f"nsqd {response.status}: {text}")
