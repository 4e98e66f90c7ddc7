"""Hostile clients against a real `frontd`: they never send the newline, send garbage, hold
connections open, never read. Each is answered or bounded, and the worker keeps serving
honest clients throughout (a crash would fail the last check of every test)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Iterator

import pytest

from support.frontd import Backend, FrontdProcess, frontd, line_for, open_client, status_of

pytestmark = pytest.mark.integration

CONFIG = {
    "handshake": {"timeout": 1.0, "max_line": 256, "max_header": 2048},
    "backend": {"timeout": 1.0, "retry": 0, "allow": ["127.0.0.0/8"]},
    "listen": {"max_connections": 40},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontdProcess]:
    with frontd(config=CONFIG, tmp_path=tmp_path_factory.mktemp("frontd")) as process:
        yield process
        assert process.process is not None
        assert process.process.poll() is None, process.log()  # never died
        assert not any("Traceback" in line or "ERROR" in line for line in process.lines), (
            process.log()
        )


async def still_serves(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        reader, writer = await open_client(gateway.port, line_for(backend.addr) + b"ok?")
        try:
            assert await asyncio.wait_for(reader.readexactly(7), 20) == b"200\nok?"
        finally:
            writer.close()


async def test_clients_that_never_send_the_newline(gateway: FrontdProcess) -> None:
    clients = [await open_client(gateway.port, b"U2FsdGVk") for _ in range(20)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(*(asyncio.wait_for(r.read(), 20) for r, _ in clients))
    assert answers == [b"400\n"] * 20
    assert loop.time() - started < 10  # the 1 s deadline, not forever
    for _, writer in clients:
        writer.close()
    await still_serves(gateway)


async def test_a_slow_trickle_is_cut_at_the_deadline(gateway: FrontdProcess) -> None:
    reader, writer = await open_client(gateway.port)

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in line_for("127.0.0.1:1")[:-1]:  # a byte per 100 ms: too slow for 1 s
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)

    sender = asyncio.create_task(trickle())
    try:
        assert await asyncio.wait_for(reader.read(), 20) == b"400\n"
        assert not sender.done()  # cut off mid-request, not answered after it
    finally:
        sender.cancel()
        writer.close()
    await still_serves(gateway)


@pytest.mark.parametrize("seed", range(6))
async def test_garbage(gateway: FrontdProcess, seed: int) -> None:
    rng = random.Random(seed)
    junk = [
        os.urandom(rng.randint(1, 4000)),
        b"\0" + os.urandom(rng.randint(0, 300)),
        b"GET / HTTP/1.1\r\n" + os.urandom(rng.randint(0, 3000)),
        b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * rng.randint(0, 600),
        bytes(rng.choice(b"ABCabc+/=\r\n ") for _ in range(rng.randint(0, 600))),
        b"U2FsdGVkX1" + bytes(rng.choice(b"ABCDEFGHIJKLMNOP") for _ in range(32)) + b"==\n",
    ]
    for data in junk:
        reader, writer = await open_client(gateway.port)
        try:
            writer.write(data)
            writer.write_eof()
            await writer.drain()
        except ConnectionError:
            pass
        try:
            answer = await asyncio.wait_for(reader.read(), 20)
        except ConnectionResetError:
            answer = b"reset"  # acceptable: closed while junk was still arriving
        finally:
            writer.close()
        assert answer in (b"400\n", b"401\n", b"reset") or answer.startswith(b"HTTP/1.1 400 "), (
            data[:80],
            answer,
        )
    await still_serves(gateway)


async def test_held_connections_are_capped_and_the_rest_wait(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        held = []
        for _ in range(40):  # max_connections: every slot taken by an idle relay
            reader, writer = await open_client(gateway.port, line_for(backend.addr))
            assert await asyncio.wait_for(reader.readexactly(4), 20) == b"200\n"
            held.append(writer)
        # the 41st waits in the kernel's backlog: connected, but not answered
        reader, writer = await open_client(gateway.port, line_for(backend.addr))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 1.0)
        held.pop().close()  # a slot frees: it is served
        assert await asyncio.wait_for(reader.readexactly(4), 20) == b"200\n"
        writer.close()
        for other in held:
            other.close()
    await still_serves(gateway)


async def test_a_client_that_never_reads_its_error_answer(gateway: FrontdProcess) -> None:
    _reader, writer = await open_client(gateway.port)
    writer.transport.pause_reading()
    with contextlib.suppress(ConnectionError):
        for _ in range(64):  # 4 MiB without a newline, never reading the 400
            writer.write(b"x" * 65536)
        # the gateway reads a bounded amount after answering, then closes: the write ends
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(writer.drain(), 5)
    writer.close()
    await still_serves(gateway)


async def test_an_error_answer_survives_a_client_that_keeps_sending(
    gateway: FrontdProcess,
) -> None:
    assert await status_of(gateway.port, b"!!\n" + b"trailing" * 1000, length=0) == b"400\n"
