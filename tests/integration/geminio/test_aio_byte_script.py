"""A raw socket plays a Go client frame by frame against our server: exact bytes in and out.

Frames come from the shared reference vectors (geminio-wire.md §G.4) where they fit; the
others are encoded by the codec, whose byte-exactness the vector tests establish.
"""

from __future__ import annotations

import asyncio

import pytest

from frontier.geminio import (
    HEADER_LEN,
    ConnAckPacket,
    DisConnAckPacket,
    DisConnPacket,
    RegisterAckPacket,
    RegisterPacket,
    RequestPacket,
    SessionAckPacket,
    StreamPacket,
    decode_frame,
    encode,
)
from frontier.geminio.aio import End, Request, ServerHooks, serve
from unit.geminio.test_vectors import VECTORS  # the 23 reference vectors, embedded there

pytestmark = pytest.mark.integration


def frame(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name][0])


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    header = await asyncio.wait_for(reader.readexactly(HEADER_LEN), 5)
    body = await reader.readexactly(int.from_bytes(header[10:14], "big"))
    return header + body


async def test_go_client_script_against_our_server() -> None:
    online: asyncio.Queue[End] = asyncio.Queue()
    offline: asyncio.Queue[End] = asyncio.Queue()
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def echo(request: Request) -> bytes:
        return request.data

    async def handler(end: End) -> None:
        await end.register("echo", echo)
        online.put_nowait(end)
        message = await end.receive()
        received.put_nowait(message.data)
        message.done()
        stream = await end.accept_stream()
        received.put_nowait(await stream.readexactly(3))

    hooks = ServerHooks(on_offline=offline.put_nowait)
    async with await serve("127.0.0.1", 0, hooks=hooks, handler=handler) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            # V3: ConnPacket, ID 0x100000003, client ID 42 wanted -> ConnAck echoing both
            writer.write(frame("V3"))
            assert await read_frame(reader) == encode(
                ConnAckPacket(packet_id=0x0000000100000003, ret_code=0, client_id=42)
            )
            # the server registers "echo": answer its Register as Go does
            register = decode_frame(await read_frame(reader))
            assert isinstance(register, RegisterPacket)
            assert (register.session_id, register.method) == (1, b"echo")
            writer.write(encode(RegisterAckPacket(packet_id=register.packet_id, session_id=1)))
            end = await online.get()
            assert end.client_id == 42
            assert end.meta == b'{"service":"svc"}'

            writer.write(frame("V6"))  # Heartbeat 3 -> HeartbeatAck 3
            assert await read_frame(reader) == frame("V7")

            writer.write(frame("V14"))  # Message 13 "hello" on topic t -> MessageAck 13
            assert await read_frame(reader) == frame("V15")
            assert await received.get() == b"hello"

            call = RequestPacket(packet_id=15, session_id=1, key=b"echo", value=b"hi")
            writer.write(encode(call))
            assert await read_frame(reader) == frame("V18")
            unknown = RequestPacket(packet_id=15, session_id=1, key=b"nope")
            writer.write(encode(unknown))
            assert await read_frame(reader) == frame("V19")

            # V10: open with negotiate ID 9 -> SessionAck with session ID 9 (§C.7)
            writer.write(frame("V10"))
            assert await read_frame(reader) == encode(
                SessionAckPacket(packet_id=7, negotiate_id=9, session_id=9)
            )
            writer.write(encode(StreamPacket(packet_id=17, session_id=9, data=b"abc")))
            assert await received.get() == b"abc"

            # V8: DisConn 5 -> DisConnAck 5 (V9), then the server's own DisConn to ack
            writer.write(frame("V8"))
            assert await read_frame(reader) == frame("V9")
            # dismissing session 9 is not part of a disconnect: the next frame is DisConn
            disconn = decode_frame(await read_frame(reader))
            assert isinstance(disconn, DisConnPacket)
            writer.write(encode(DisConnAckPacket(packet_id=disconn.packet_id)))
            assert await offline.get() is end
            assert await reader.read() == b""  # and the server closed the socket
        finally:
            writer.close()
            await writer.wait_closed()
