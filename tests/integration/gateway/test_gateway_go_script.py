"""A raw socket plays a Go SDK service frame by frame against the gateway.

It sends exactly what `service.NewService` puts on the wire (the meta JSON Go's
encoding/json produces, a Register on session 1, Responses) and checks what the gateway
sends it: the 8-byte big-endian edge-ID trailer on `custom`, the decimal edge ID as stream
`peer`, the edge's topic kept on forwarded messages.
"""

from __future__ import annotations

import asyncio

import pytest

from frontier.gateway import Gateway
from frontier.geminio import decode_frame, encode
from frontier.geminio.packets import (
    HEADER_LEN,
    ConnAckPacket,
    ConnPacket,
    MessageAckPacket,
    MessagePacket,
    Packet,
    RegisterAckPacket,
    RegisterPacket,
    RequestPacket,
    ResponsePacket,
    SessionPacket,
)
from support.gateway import connect_edge, gateway_config

pytestmark = pytest.mark.integration

GO_SERVICE_META = b'{"service":"gosvc","topics":["telemetry"]}'


async def read_packet(reader: asyncio.StreamReader) -> Packet:
    header = await asyncio.wait_for(reader.readexactly(HEADER_LEN), 5)
    body = await reader.readexactly(int.from_bytes(header[10:14], "big"))
    packet = decode_frame(header + body)
    return packet


async def test_go_service_script() -> None:
    async with Gateway(gateway_config()) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.servicebound_port)
        writer.write(encode(ConnPacket(packet_id=1, meta=GO_SERVICE_META)))
        ack = await read_packet(reader)
        assert isinstance(ack, ConnAckPacket)
        assert ack.error == ""
        service_id = ack.client_id
        assert gw.registry.services[service_id].service == "gosvc"
        writer.write(encode(RegisterPacket(packet_id=2, session_id=1, method=b"echo")))
        assert isinstance(await read_packet(reader), RegisterAckPacket)

        edge = await connect_edge(gw.edgebound_port)
        trailer = edge.client_id.to_bytes(8, "big")

        call = asyncio.create_task(edge.call("echo", b"ping", custom=b"c"))
        request = await read_packet(reader)
        assert isinstance(request, RequestPacket)
        assert (request.key, request.value, request.custom) == (b"echo", b"ping", b"c" + trailer)
        writer.write(
            encode(
                ResponsePacket(
                    packet_id=request.packet_id, session_id=1, key=b"echo", value=b"pong"
                )
            )
        )
        assert await call == b"pong"

        publish = asyncio.create_task(edge.publish(b"42C", topic="telemetry"))
        message = await read_packet(reader)
        assert isinstance(message, MessagePacket)
        assert (message.value, message.topic, message.custom) == (b"42C", "telemetry", trailer)
        writer.write(encode(MessageAckPacket(packet_id=message.packet_id, session_id=1)))
        await publish

        opening = asyncio.create_task(edge.open_stream(peer="gosvc"))
        session = await read_packet(reader)
        assert isinstance(session, SessionPacket)
        assert session.peer == str(edge.client_id)
        opening.cancel()
        writer.close()
        await edge.close()
