"""Peer processes for bench/frontd.py: ``python bench/_frontd_peers.py ROLE ...``.

Each prints ``port N`` on stdout once listening, then serves until killed.

- ``sink``: for each connection, reads to EOF, then answers the byte count (8 bytes, big
  endian) and closes: the receiving end of the throughput cases.
- ``echo``: a uvloop echo server (the backend of the setup-rate and idle-memory cases).
- ``relay TARGET_PORT``: the least an asyncio relay does (a uvloop Protocol per side, each
  forwarding from ``data_received``, pausing the other side while a transport is paused):
  the baseline of the idle-memory case.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import struct
import sys
import threading

import uvloop

HOST = "127.0.0.1"


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def sink() -> None:
    listener = socket.create_server((HOST, 0), backlog=64)
    print(f"port {listener.getsockname()[1]}", flush=True)
    buffer = memoryview(bytearray(1 << 20))

    def serve(conn: socket.socket) -> None:
        total = 0
        with conn:
            while n := conn.recv_into(buffer):
                total += n
            conn.sendall(struct.pack(">Q", total))

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close


class Side(asyncio.Protocol):
    """One side of the baseline relay: forwards to `peer`, with back-pressure."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Side | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


async def serve_echo() -> None:
    server = await asyncio.get_running_loop().create_server(Echo, HOST, 0, backlog=4096)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


async def serve_relay(target: int) -> None:
    loop = asyncio.get_running_loop()
    dialing: set[asyncio.Task[None]] = set()

    def accepted() -> Side:
        client = Side()

        async def dial() -> None:
            _, backend = await loop.create_connection(Side, HOST, target)
            backend.peer, client.peer = client, backend
            assert backend.transport is not None
            for data in client.pending:
                backend.transport.write(data)
            client.pending.clear()

        task = loop.create_task(dial())
        dialing.add(task)
        task.add_done_callback(dialing.discard)
        return client

    server = await loop.create_server(accepted, HOST, 0, backlog=4096)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    raise_nofile()
    role = sys.argv[1]
    if role == "sink":
        sink()
    elif role == "echo":
        uvloop.run(serve_echo())
    elif role == "relay":
        uvloop.run(serve_relay(int(sys.argv[2])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
