"""A geminio peer made of a bare socket and hand-built frames: what an attacker uses.

The SDK is polite (it reads, it waits for writability, it answers heartbeats). The tests
that check the gateway's defences need a peer that is not: one that picks its source
address, writes without reading, never acks, or stops mid-frame. `RawPeer` does only what
the test says, with frames from the project's own encoder.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from frontier.geminio import decode_frame, encode
from frontier.geminio.packets import HEADER_LEN, ConnAckPacket, ConnPacket, Packet

__all__ = ["RawPeer", "read_until_closed"]


async def read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bool:  # noqa: ASYNC109
    """Read (and drop) until EOF; True if the other side closed within `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


@dataclass
class RawPeer:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(
        cls, port: int, *, host: str = "127.0.0.1", source: str | None = None
    ) -> RawPeer:
        """A TCP connection, from `source` (e.g. another loopback address such as
        127.0.0.2, to play a second host) when given."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            sock.bind((source, 0))
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock)
        return cls(reader, writer)

    @classmethod
    async def hello(
        cls,
        port: int,
        *,
        client_id: int = 0,
        meta: bytes = b"",
        heartbeat: int = 20,
        source: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test's bound on the answer
    ) -> tuple[RawPeer, ConnAckPacket]:
        """Connect and say hello; the gateway's ConnAck (accepted or not)."""
        peer = await cls.connect(port, source=source)
        peer.send(ConnPacket(packet_id=1, client_id=client_id, heartbeat=heartbeat, meta=meta))
        ack = await peer.read_packet(timeout)
        assert isinstance(ack, ConnAckPacket), ack
        return peer, ack

    def send(self, *packets: Packet) -> None:
        self.writer.write(b"".join(encode(p) for p in packets))

    async def read_packet(self, timeout: float = 10.0) -> Packet:  # noqa: ASYNC109
        header = await asyncio.wait_for(self.reader.readexactly(HEADER_LEN), timeout)
        length = int.from_bytes(header[10:14], "big")
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return decode_frame(header + body)

    async def closed_by_peer(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Read (and drop) until EOF; True if the other side closed within `timeout`."""
        return await read_until_closed(self.reader, timeout)

    def close(self) -> None:
        self.writer.transport.abort()
