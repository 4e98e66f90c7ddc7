"""The relay of a real `frontd`, splice and copy: bytes intact both ways, half-close passed
through, resets passed on, the idle timeout, and a side that never reads."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
from collections.abc import Iterator

import pytest

from support.frontd import Backend, FrontdProcess, frontd, line_for, open_client
from support.gateway import until

pytestmark = pytest.mark.integration

CONFIG = {
    "backend": {"allow": ["127.0.0.0/8"]},
    "relay": {"idle_timeout": 1.5, "buffer": 65536},
}


@pytest.fixture(scope="module", params=["splice", "copy"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FrontdProcess]:
    mode = request.param
    with frontd("--relay", mode, config=CONFIG, tmp_path=tmp_path_factory.mktemp(mode)) as proc:
        assert f"({mode} relay)" in proc.wait_for("frontd up")
        yield proc


async def connected(
    gateway: FrontdProcess, backend: Backend
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await open_client(gateway.port, line_for(backend.addr))
    assert await reader.readexactly(4) == b"200\n"
    return reader, writer


async def test_bytes_arrive_intact_both_ways(gateway: FrontdProcess) -> None:
    payload = os.urandom(8 * 1024 * 1024 + 17)
    async with Backend() as backend:  # echo
        reader, writer = await connected(gateway, backend)

        async def send() -> None:
            for i in range(0, len(payload), 100_000):
                writer.write(payload[i : i + 100_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        echoed = await asyncio.wait_for(reader.read(-1), 60)  # until the FIN comes back
        await sender
        writer.close()
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


async def test_half_close_from_the_client_passes_through(gateway: FrontdProcess) -> None:
    got_eof = asyncio.Event()

    async def replies_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(-1)  # everything until the client's FIN
        got_eof.set()
        writer.write(b"you sent %d bytes" % len(data))
        await writer.drain()

    async with Backend(replies_after_eof) as backend:
        reader, writer = await connected(gateway, backend)
        writer.write(b"x" * 1000)
        writer.write_eof()
        await asyncio.wait_for(got_eof.wait(), 20)
        # the other direction still flows after the client's FIN
        assert await asyncio.wait_for(reader.read(-1), 20) == b"you sent 1000 bytes"
        writer.close()


async def test_half_close_from_the_backend_passes_through(gateway: FrontdProcess) -> None:
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def closes_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        writer.write_eof()
        await writer.drain()
        received.set_result(await reader.read(-1))  # its write side is shut, not its read side

    async with Backend(closes_first) as backend:
        reader, writer = await connected(gateway, backend)
        assert await asyncio.wait_for(reader.read(-1), 20) == b"bye"  # FIN seen by the client
        writer.write(b"still here")  # and the client may still send
        writer.write_eof()
        assert await asyncio.wait_for(received, 20) == b"still here"
        writer.close()


async def test_a_reset_is_passed_on(gateway: FrontdProcess) -> None:
    async def resets(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with Backend(resets) as backend:
        reader, writer = await connected(gateway, backend)
        writer.write(b"hello")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(read_to_end(reader), 20)  # a FIN would not raise
        writer.close()


async def test_an_idle_relay_is_closed_after_the_idle_timeout(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        reader, writer = await connected(gateway, backend)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(reader.read(), 20) == b""  # closed by the gateway
        waited = loop.time() - started
        assert waited >= 1.4, waited  # not before the 1.5 s idle timeout
        writer.close()


async def test_traffic_keeps_a_relay_alive_past_the_idle_timeout(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        reader, writer = await connected(gateway, backend)
        for _ in range(8):  # 8 x 0.5 s: well past 1.5 s, never idle for long
            writer.write(b"tick")
            assert await asyncio.wait_for(reader.readexactly(4), 20) == b"tick"
            await asyncio.sleep(0.5)
        writer.close()


async def test_a_client_that_never_reads_holds_bounded_data_and_is_timed_out(
    gateway: FrontdProcess,
) -> None:
    sent = 0
    blocked = asyncio.Event()

    async def floods(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        chunk = b"z" * 65536
        try:
            while True:
                writer.write(chunk)
                try:
                    await asyncio.wait_for(writer.drain(), 1.0)
                except TimeoutError:
                    blocked.set()  # the gateway stopped reading: back-pressure
                    await writer.drain()
                sent += len(chunk)
        except (ConnectionError, OSError):
            pass

    async with Backend(floods) as backend:
        _reader, writer = await connected(gateway, backend)
        sock = writer.get_extra_info("socket")
        writer.transport.pause_reading()
        await asyncio.wait_for(blocked.wait(), 30)
        # what left the backend is held by socket buffers and at most one pipe or buffer
        assert sent < 64 * 1024 * 1024, sent
        # and the stuck relay is closed by the idle timeout, freeing the backend
        await until(lambda: not backend.writers, 30, "the backend's connection to end")
        del sock
        writer.close()


async def read_to_end(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass
