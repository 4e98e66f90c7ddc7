"""Control hooks through a real gateway: get_edge_id, edge_online (auth), edge_offline.

Services here are plain geminio Ends speaking the Go SDK's conventions (meta JSON, control
RPC names, Go JSON presence payloads), so these tests also pin what a Go service sees.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from frontier.conventions import CONTROL_RPCS, EdgePresence, encode_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import ConnectRejected, End, Request
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration


async def test_get_edge_id_service_chooses_the_id_from_meta() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)
        seen: list[bytes] = []

        async def get_edge_id(request: Request) -> bytes:
            seen.append(request.data)
            return encode_edge_id(int(request.data.decode().split("-")[1]))

        await service.register("get_edge_id", get_edge_id)
        edge = await connect_edge(gw.edgebound_port, meta=b"device-4242", client_id=7)
        assert edge.client_id == 4242  # the ID service wins over the wanted ID
        assert seen == [b"device-4242"]
        assert gw.registry.edges[4242].meta == b"device-4242"
        await edge.close()
        await service.close()


@pytest.mark.parametrize(
    ("answer", "text"),
    [(b"\x00\x01\x02", "illegal edgeID"), (None, "no ids for you")],
)
async def test_get_edge_id_failure_rejects_the_edge(answer: bytes | None, text: str) -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)

        async def get_edge_id(request: Request) -> bytes:
            if answer is None:
                raise RuntimeError(text)
            return answer

        await service.register("get_edge_id", get_edge_id)
        with pytest.raises(ConnectRejected) as caught:
            await connect_edge(gw.edgebound_port)
        assert caught.value.text == text
        assert not gw.registry.edges
        await service.close()


async def test_a_wanted_id_is_ignored_by_default_as_upstream_does() -> None:
    """A client that picks its own ID could pick any device's: allocate instead."""
    async with Gateway(gateway_config()) as gw:
        edge = await connect_edge(gw.edgebound_port, client_id=99)
        assert edge.client_id not in (0, 99)
        await edge.close()


async def test_a_wanted_id_is_honoured_when_clients_are_trusted() -> None:
    config = gateway_config(edgebound={"listen": {"addr": "127.0.0.1:0"}, "honor_wanted_id": True})
    async with Gateway(config) as gw:
        edge = await connect_edge(gw.edgebound_port, client_id=99)
        assert edge.client_id == 99
        other = await connect_edge(gw.edgebound_port)
        assert other.client_id not in (0, 99)  # allocated
        await edge.close()
        await other.close()


async def test_without_id_service_or_allocation_edges_are_refused() -> None:
    config = gateway_config(edgebound={"edgeid_alloc_when_no_idservice_on": False})
    async with Gateway(config) as gw:
        with pytest.raises(ConnectRejected) as caught:
            await connect_edge(gw.edgebound_port)
        assert caught.value.text == "service not online"


async def test_edge_online_error_rejects_with_its_text_and_sees_go_json() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)
        events: list[dict[str, object]] = []

        async def edge_online(request: Request) -> bytes:
            doc = json.loads(request.data)
            events.append(doc)
            if EdgePresence.decode(request.data).meta == b"bad-token":
                raise RuntimeError("auth failed: bad token")
            return b""

        await service.register("edge_online", edge_online)
        with pytest.raises(ConnectRejected) as caught:
            await connect_edge(gw.edgebound_port, meta=b"bad-token")
        assert caught.value.text == "auth failed: bad token"
        edge = await connect_edge(gw.edgebound_port, meta=b"good")
        assert sorted(events[1]) == ["EdgeID", "Meta", "Net", "Str"]
        assert events[1]["EdgeID"] == edge.client_id
        assert events[1]["Meta"] == "Z29vZA=="  # Go marshals []byte as base64
        assert events[1]["Net"] == "tcp"
        host, port = edge.get_extra_info("sockname")[:2]
        assert events[1]["Str"] == f"{host}:{port}"
        assert list(gw.registry.edges) == [edge.client_id]
        await edge.close()
        await service.close()


async def test_edge_offline_reaches_the_service_when_an_edge_leaves() -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)
        offline: asyncio.Queue[EdgePresence] = asyncio.Queue()

        async def edge_offline(request: Request) -> bytes:
            offline.put_nowait(EdgePresence.decode(request.data))
            return b""

        await service.register("edge_offline", edge_offline)
        edge = await connect_edge(gw.edgebound_port, meta=b"m")
        edge_id = edge.client_id
        edge.abort()  # not even a goodbye
        event = await asyncio.wait_for(offline.get(), 10)
        assert (event.edge_id, event.meta) == (edge_id, b"m")
        assert edge_id not in gw.registry.edges
        await service.close()


@pytest.mark.parametrize("hook", ["edge_online", "edge_ready"])
@pytest.mark.parametrize(("mode", "expected_calls"), [("one", 1), ("all", 3)])
async def test_presence_hooks_go_to_one_service_or_all(
    hook: str, mode: str, expected_calls: int
) -> None:
    async with Gateway(gateway_config(exchange={"presence_hooks": mode})) as gw:
        calls: list[int] = []
        services: list[End] = []
        for index in range(3):
            service = await connect_service(gw.servicebound_port, name=f"s{index}")

            async def presence(request: Request, index: int = index) -> bytes:
                calls.append(index)
                return b""

            await service.register(hook, presence)
            services.append(service)
        services.append(await connect_service(gw.servicebound_port, name="without-hooks"))
        edge = await connect_edge(gw.edgebound_port)
        # edge_online is part of the handshake; edge_ready follows it
        await until(lambda: len(calls) >= expected_calls, what=f"{hook} calls")
        await edge.close()
        await until(lambda: edge.client_id not in gw.registry.edges, what="the edge gone")
        assert len(calls) == expected_calls  # and no more came
        for service in services:
            await service.close()


@pytest.mark.parametrize("method", sorted(CONTROL_RPCS))
async def test_edges_cannot_call_control_rpcs(method: str) -> None:
    async with Gateway(gateway_config()) as gw:
        service = await connect_service(gw.servicebound_port)

        async def handler(request: Request) -> bytes:
            # get_edge_id must answer an ID (0: the gateway picks one)
            return encode_edge_id(0) if method == "get_edge_id" else b""

        await service.register(method, handler)
        edge = await connect_edge(gw.edgebound_port)
        with pytest.raises(Exception, match="rpc not online"):
            await edge.call(method, b"{}")
        await edge.close()
        await service.close()


async def test_service_meta_that_is_not_json_is_refused() -> None:
    async with Gateway(gateway_config()) as gw:
        from frontier.geminio.aio import connect

        with pytest.raises(ConnectRejected) as caught:
            await connect("127.0.0.1", gw.servicebound_port, meta=b"{not json")
        assert caught.value.text.startswith("illegal service meta")
        await until(lambda: not gw.registry.services)
