"""Back-pressure: a stream whose reader does not read stops the socket, not the memory.

The peer tries to write 256 MiB (the issue asks for 1 GiB; 256 MiB keeps the suite fast and
is far beyond every bound involved). While nobody reads, the receiving End must pause
reading its transport, the writer must end up waiting in `drain()`, and the process's RSS
must grow by less than RSS_BOUND. Then the reader consumes everything and every byte
arrives, in order, with RSS still under the bound.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Hashable
from typing import Any

import pytest

from frontier.geminio.aio import End, Limits, connect, serve
from support.loops import LOOPS, LoopFactory
from support.loops import run as run_on

TOTAL = 256 * 1024 * 1024
WRITE = 1024 * 1024
RSS_BOUND = 64 * 1024 * 1024
"""Stated bound on RSS growth for both ends of the transfer in this process: the receiver's
1 MiB stream buffer plus one socket read, the sender's transport buffer plus one 1 MiB
write, allocator slack. Without back-pressure the growth would approach TOTAL."""


pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


def run(loop_factory: LoopFactory, coro: Coroutine[Any, Any, None]) -> None:
    run_on(loop_factory, coro, timeout=60)


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def watch_pauses(end: End) -> asyncio.Event:
    """An event set whenever the End's protocol stops reading its socket."""
    paused = asyncio.Event()
    proto = end.protocol
    assert proto is not None
    original = proto.block

    def block(token: Hashable) -> None:
        original(token)
        paused.set()

    proto.block = block  # type: ignore[method-assign]
    return paused


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_unread_stream_pauses_the_socket_and_bounds_memory(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        online: asyncio.Queue[End] = asyncio.Queue()

        async def handler(end: End) -> None:
            online.put_nowait(end)

        limits = Limits(max_buffered_bytes=1024 * 1024)
        async with (
            await serve("127.0.0.1", 0, handler=handler, limits=limits) as server,
            await connect("127.0.0.1", server.port) as client,
        ):
            served = await online.get()
            reader_paused = watch_pauses(served)
            writer_stream = await client.open_stream()
            reader_stream = await served.accept_stream()
            block = bytes(range(256)) * (WRITE // 256)
            written = 0
            finished = asyncio.Event()

            async def write_all() -> None:
                nonlocal written
                while written < TOTAL:
                    writer_stream.write(block)
                    written += WRITE
                    await writer_stream.drain()
                finished.set()

            before = rss()
            writer = asyncio.create_task(write_all())
            await reader_paused.wait()
            client_proto = client.protocol
            assert client_proto is not None
            # Nobody reads: the writer must get stuck in drain() long before TOTAL. A bounded
            # wait is the only way to show that something does *not* happen.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(finished.wait(), 0.5)
            assert served.protocol is not None
            assert served.protocol.reading_paused
            assert client_proto.writing_paused
            stalled_at = written
            assert stalled_at < 64 * WRITE, stalled_at
            assert reader_stream.buffered < 2 * limits.max_buffered_bytes
            stalled_growth = rss() - before
            assert stalled_growth < RSS_BOUND, stalled_growth

            # Now read everything: all of it arrives, intact, within the same bound.
            peak = stalled_growth
            received = 0
            while received < TOTAL:
                chunk = await reader_stream.readexactly(WRITE)
                assert chunk[:256] == block[:256]
                assert chunk[-1] == 255
                received += len(chunk)
                if received % (16 * WRITE) == 0:
                    peak = max(peak, rss() - before)
            await writer
            assert received == TOTAL
            assert peak < RSS_BOUND, peak
            print(
                f"\nwriter stalled after {stalled_at / WRITE:.0f} MiB; RSS growth while stalled "
                f"{stalled_growth / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB"
            )

    run(loop_factory, main())
