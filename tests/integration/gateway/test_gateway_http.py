"""The gateway's HTTP sides on a real gateway: readiness through a drain, metrics after a
known workload, and the control API's kick actually disconnecting."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from frontier.conventions import append_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import Message, PublishRejected, Request
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration

HTTP = {
    "observability": {"enable": True, "addr": "127.0.0.1:0"},
    "controlplane": {"enable": True, "listen": {"addr": "127.0.0.1:0"}, "token": "s3cret"},
}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_readiness_turns_off_during_drain_and_connections_are_closed() -> None:
    gw = Gateway(gateway_config(**HTTP))
    async with aiohttp.ClientSession() as http:
        base = None
        await gw.start()
        base = f"http://127.0.0.1:{gw.observability_port}"
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200
        async with http.get(f"{base}/healthz") as response:
            assert (response.status, await response.text()) == (200, "ok")
        service = await connect_service(gw.servicebound_port)
        entered, release = asyncio.Event(), asyncio.Event()

        async def slow(request: Request) -> bytes:
            entered.set()
            await release.wait()
            return b"done"

        await service.register("slow", slow)
        edge = await connect_edge(gw.edgebound_port)
        call = asyncio.create_task(edge.call("slow", b""))
        await asyncio.wait_for(entered.wait(), 5)  # a call in flight holds the drain
        # the observability listener stays up while draining, so the probe can be watched
        drain = asyncio.create_task(gw.drain(30))
        await until(lambda: not gw.ready, what="not ready")
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
        with pytest.raises(ConnectionRefusedError):
            await connect_edge(gw.edgebound_port)  # no longer accepting
        release.set()  # the last call is answered: the gateway closes both, the drain ends
        assert await asyncio.wait_for(call, 5) == b"done"
        await asyncio.wait_for(drain, 10)
        assert gw.registry.edges == {}
        assert gw.registry.services == {}
        await asyncio.wait_for(edge.wait_closed(), 5)
        await asyncio.wait_for(service.wait_closed(), 5)


async def test_metrics_count_a_known_workload() -> None:
    async with Gateway(gateway_config(**HTTP)) as gw:
        service = await connect_service(gw.servicebound_port, topics=("t",))
        edge = await connect_edge(gw.edgebound_port)

        async def echo(request: Request) -> bytes:
            return request.data

        await service.register("echo", echo)
        for _ in range(3):
            await edge.call("echo", b"x")
        with pytest.raises(Exception, match="rpc not online"):
            await edge.call("nope")

        async def ack_all() -> None:
            while True:
                message: Message = await service.receive()
                message.done()

        acker = asyncio.create_task(ack_all())
        for _ in range(5):
            await edge.publish(b"m", topic="t")
        with pytest.raises(PublishRejected, match="edge not online"):
            await service.publish(b"m", custom=append_edge_id(b"", 12345))
        stream = await edge.open_stream(peer="svc")
        accepted = await service.accept_stream()
        stream.write(b"0123456789")
        assert await accepted.readexactly(10) == b"0123456789"

        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{gw.observability_port}/metrics"
            async with http.get(url) as response:
                samples = _samples(await response.text())
        acker.cancel()

        def value(name: str, **labels: str) -> float:
            return samples[(name, tuple(sorted(labels.items())))]

        assert value("frontier_edges_online") == 1
        assert value("frontier_services_online") == 1
        accepted = {"side": "edge", "result": "accepted", "reason": "", "transport": "tcp"}
        assert value("frontier_connections_total", **accepted) == 1
        ok_rpc = value("frontier_forwarded_total", kind="rpc", direction="to_service", result="ok")
        assert ok_rpc == 3
        offline_rpc = value(
            "frontier_forwarded_total", kind="rpc", direction="to_service", result="offline"
        )
        assert offline_rpc == 1
        ok_msg = value(
            "frontier_forwarded_total", kind="message", direction="to_service", result="ok"
        )
        assert ok_msg == 5
        edge_offline = value(
            "frontier_forwarded_total", kind="message", direction="to_edge", result="offline"
        )
        assert edge_offline == 1
        assert value("frontier_relayed_bytes_total", direction="to_service") == 10
        count = value("frontier_forward_latency_seconds_count", kind="rpc", direction="to_service")
        assert count == 3
        await edge.close()
        await service.close()


async def test_control_api_kick_disconnects_and_auth_is_enforced() -> None:
    async with Gateway(gateway_config(**HTTP)) as gw:
        edge = await connect_edge(gw.edgebound_port, meta=b"kick-me")
        base = f"http://127.0.0.1:{gw.controlplane_port}"
        auth = {"Authorization": "Bearer s3cret"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/v1/edges") as response:
                assert response.status == 401
            async with http.get(f"{base}/v1/edges", headers=auth) as response:
                body = await response.json()
                assert body["count"] == 1
                assert body["edges"][0]["edge_id"] == edge.client_id
                assert body["edges"][0]["meta"] == "kick-me"
            async with http.delete(f"{base}/v1/edges/{edge.client_id}", headers=auth) as response:
                assert response.status in (200, 204)
            await asyncio.wait_for(edge.wait_closed(), 5)
            assert gw.registry.edges == {}
            async with http.delete(f"{base}/v1/edges/{edge.client_id}", headers=auth) as response:
                assert response.status == 404
