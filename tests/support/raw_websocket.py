"""A WebSocket peer made of a bare socket: `RawPeer`'s counterpart for the WebSocket
listener.

The upgrade and the frames are `websockets`' sans-I/O client (so they are what a real
client sends), but the peer does only what the test says: it can stop half-way through the
upgrade, send text or oversized messages, write frames by hand (an unmasked one), and
write without ever reading.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from frontier.geminio import decode_frame, encode
from frontier.geminio.packets import HEADER_LEN, ConnAckPacket, ConnPacket, Packet
from support.raw_geminio import read_until_closed

__all__ = ["RawWebSocket", "upgrade_request"]


def upgrade_request(
    path: str = "/", *, origin: str | None = None, subprotocol: str | None = "geminio"
) -> bytes:
    """The HTTP upgrade request a client sends (what a test can cut short or alter)."""
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class RawWebSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ws: ClientProtocol
    response: Response | None = None
    _inbound: bytearray = field(default_factory=bytearray)

    @classmethod
    async def open(
        cls,
        port: int,
        path: str = "/",
        *,
        subprotocol: str | None = "geminio",
        origin: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test's bound on the answer
    ) -> RawWebSocket:
        """Connect and upgrade; `response` holds the server's answer (101 or an error)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ws = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}{path}"),
            subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
            origin=origin,  # type: ignore[arg-type]
            max_size=None,
        )
        peer = cls(reader, writer, ws)
        ws.send_request(ws.connect())
        peer._flush()
        async with asyncio.timeout(timeout):
            while peer.response is None:
                data = await reader.read(65536)
                if not data:
                    ws.receive_eof()
                else:
                    ws.receive_data(data)
                for event in ws.events_received():
                    if isinstance(event, Response):
                        peer.response = event
                    elif isinstance(event, Frame):
                        peer._take(event)
                if not data:
                    break
        return peer

    @classmethod
    async def hello(
        cls,
        port: int,
        path: str = "/",
        *,
        client_id: int = 0,
        meta: bytes = b"",
        heartbeat: int = 20,
    ) -> tuple[RawWebSocket, ConnAckPacket]:
        """Upgrade and say the geminio hello; the gateway's ConnAck."""
        peer = await cls.open(port, path)
        assert peer.status == 101, peer.response
        peer.send(ConnPacket(packet_id=1, client_id=client_id, heartbeat=heartbeat, meta=meta))
        ack = await peer.read_packet()
        assert isinstance(ack, ConnAckPacket), ack
        return peer, ack

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else 0

    def send(self, *packets: Packet) -> None:
        """geminio packets in one binary message."""
        self.send_binary(b"".join(encode(p) for p in packets))

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)
        self._flush()

    def send_text(self, text: str) -> None:
        self.ws.send_text(text.encode())
        self._flush()

    def send_raw(self, data: bytes) -> None:
        """Bytes on the socket as they are (a hand-made frame)."""
        self.writer.write(data)

    async def read_packet(self, timeout: float = 10.0) -> Packet:  # noqa: ASYNC109
        """The next geminio packet from the binary messages received."""
        async with asyncio.timeout(timeout):
            while True:
                if len(self._inbound) >= HEADER_LEN:
                    length = int.from_bytes(self._inbound[10:14], "big")
                    if len(self._inbound) >= HEADER_LEN + length:
                        frame = bytes(self._inbound[: HEADER_LEN + length])
                        del self._inbound[: HEADER_LEN + length]
                        return decode_frame(frame)
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionResetError("the gateway closed the connection")
                self.ws.receive_data(data)
                for event in self.ws.events_received():
                    if isinstance(event, Frame):
                        self._take(event)
                self._flush()

    async def close_code(self, timeout: float = 10.0) -> int | None:  # noqa: ASYNC109
        """Read until the connection ends; the close code the gateway sent (None: the
        TCP connection ended without a close frame). Raises TimeoutError if it stays."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    data = b""
                if not data:
                    self.ws.receive_eof()
                    break
                self.ws.receive_data(data)
                self.ws.events_received()
        close = self.ws.close_rcvd
        return close.code if close is not None else None

    async def closed_by_peer(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Read (and drop) until EOF; True if the other side closed within `timeout`."""
        return await read_until_closed(self.reader, timeout)

    def stop_reading(self) -> None:
        """Read nothing from now on, with a small receive buffer: a peer that never reads."""
        sock: socket.socket = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.writer.transport.pause_reading()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.transport.abort()

    def _take(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.BINARY, Opcode.CONT):
            self._inbound += frame.data

    def _flush(self) -> None:
        for chunk in self.ws.data_to_send():
            if chunk:
                self.writer.write(chunk)
