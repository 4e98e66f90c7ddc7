"""A whole small cluster on an event loop in a background thread, for clients that block.

schemathesis (tests/api) sends its requests with `requests`, synchronously; the servers it
tests must therefore run on a loop of their own. `LiveCluster` runs a real frontlas on a
private redis-server (plus a second one with a cluster-API token, reading the same Redis, as
replicas do) and two real gateways in cluster mode (one with a control-API token, one
without), each with edges and services connected through the SDKs. The clients
reconnect at once when kicked (with a new ID), so the listings never run dry however
often a fuzzer kicks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from frontier.frontlas.app import Frontlas
from frontier.gateway import Gateway
from frontier.geminio.aio import Backoff
from frontier.sdk import Edge, Service
from support.frontlas import frontlas_config, get_json, until_async
from support.gateway import gateway_config, until
from support.redis_server import redis_server

T = TypeVar("T")

TOKEN = "api-tier-token"
"""The token of the `guarded` gateway's control API and of `guarded_frontlas`."""

_BACKOFF = Backoff(initial=0.02, maximum=0.2)
EDGE_METAS = (b"room=a;n=1", b"room=b", b"\xffbinary\xfe")
"""Each gateway's edges (one meta is not UTF-8: the API shows U+FFFD for it)."""
SERVICES = (("billing", ("invoices", "payments"), ("charge",)), ("auth", ("*",), ("login",)))
"""Each gateway's services: (name, topics, RPCs)."""


@dataclass
class LiveGateway:
    gateway: Gateway
    token: str
    clients: list[Edge | Service] = field(default_factory=list)

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.controlplane_port}"


@dataclass
class LiveCluster:
    loop: asyncio.AbstractEventLoop
    frontlas: Frontlas
    guarded_frontlas: Frontlas
    open: LiveGateway
    guarded: LiveGateway

    @property
    def frontlas_url(self) -> str:
        return f"http://127.0.0.1:{self.frontlas.cluster_api_port}"

    @property
    def guarded_frontlas_url(self) -> str:
        return f"http://127.0.0.1:{self.guarded_frontlas.cluster_api_port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run `coro` on the cluster's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _gateway(frontier_id: str, frontlas_port: int, token: str) -> Gateway:
    return Gateway(
        gateway_config(
            daemon={"frontier_id": frontier_id},
            frontlas={"enable": True, "dial": {"addrs": [f"127.0.0.1:{frontlas_port}"]}},
            controlplane={"enable": True, "listen": {"addr": "127.0.0.1:0"}, "token": token},
        )
    )


async def _populate(live: LiveGateway) -> None:
    edge_port, service_port = live.gateway.edgebound_port, live.gateway.servicebound_port
    for meta in EDGE_METAS:
        edge = Edge(f"127.0.0.1:{edge_port}", meta=meta, backoff=_BACKOFF)
        await edge.register("echo", lambda request: request.data)
        await edge.register("reboot", lambda request: b"")
        await edge.start()
        live.clients.append(edge)
    for name, topics, rpcs in SERVICES:
        service = Service(f"127.0.0.1:{service_port}", name=name, topics=topics, backoff=_BACKOFF)
        for rpc in rpcs:
            await service.register(rpc, lambda request: b"")
        await service.start()
        live.clients.append(service)


async def _start(frontlas: Frontlas, gateways: list[LiveGateway]) -> None:
    for live in gateways:
        await live.gateway.start()
        link = live.gateway.frontlas
        assert link is not None
        await until(link.registered.is_set, 15, "registration with frontlas")
        await _populate(live)
    expected = len(gateways) * len(EDGE_METAS)

    async def all_edges_listed() -> bool:
        status, body = await get_json(frontlas.cluster_api_port, "/cluster/v1/edges")
        return status == 200 and len(body["edges"]) == expected

    await until_async(all_edges_listed, 15, "frontlas to list every edge")


async def _stop(cluster: LiveCluster) -> None:
    for live in (cluster.open, cluster.guarded):
        for client in live.clients:
            await client.close()
        await live.gateway.close()
    await cluster.guarded_frontlas.close()
    await cluster.frontlas.close()


@contextmanager
def live_cluster() -> Iterator[LiveCluster]:
    """Start everything (a private redis-server, frontlas, two gateways and their clients);
    stop it all on exit."""
    with redis_server() as redis:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="live-cluster", daemon=True)
        thread.start()
        try:

            async def build() -> LiveCluster:
                frontlas = Frontlas(frontlas_config(redis.addr))
                guarded = Frontlas(frontlas_config(redis.addr, control_plane={"token": TOKEN}))
                await frontlas.start()
                await guarded.start()
                plane = frontlas.frontier_plane_port
                return LiveCluster(
                    loop,
                    frontlas,
                    guarded,
                    LiveGateway(_gateway("fr-open", plane, ""), ""),
                    LiveGateway(_gateway("fr-guarded", plane, TOKEN), TOKEN),
                )

            cluster = asyncio.run_coroutine_threadsafe(build(), loop).result(30)
            try:
                cluster.run(_start(cluster.frontlas, [cluster.open, cluster.guarded]))
                yield cluster
            finally:
                cluster.run(_stop(cluster))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
