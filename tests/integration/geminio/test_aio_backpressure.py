"""Back-pressure: a stream whose reader does not read stops the socket, not the memory.

The issue's slow-reader test, at its size: the peer tries to write 1 GiB on a stream nobody
reads. The receiving End must pause reading its transport, the writer must end up blocked in
`drain()` (TCP back-pressure), and the process's memory growth must stay under RSS_BOUND.
Then the reader consumes everything: the whole GiB arrives intact and in order (each 1 MiB
write carries its sequence number, and a running CRC-32 of everything written must equal
that of everything read), within DRAIN_LIMIT seconds and still under the same bound.

Both Ends live in this process, so the bound covers the sender's buffers as well as the
receiver's: stricter than the issue's "receiving process".

Memory is measured as RSS, not with tracemalloc: the buffers that would grow without
back-pressure include the transports' (uvloop keeps them in C, outside Python's allocator,
which tracemalloc cannot see), and RSS is what an operator sees. Its peak is the kernel's
high-water mark (VmHWM, reset through /proc/self/clear_refs before the transfer), so a
transient spike between two samples cannot escape; where the reset is not allowed, RSS
sampled every 16 MiB stands in for it.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Coroutine, Hashable
from typing import Any

import pytest

from frontier.geminio.aio import End, Limits, connect, serve
from support.gateway import until
from support.loops import LOOPS, LoopFactory
from support.loops import run as run_on

TOTAL = 1024 * 1024 * 1024
WRITE = 1024 * 1024
RSS_BOUND = 32 * 1024 * 1024
"""Stated bound on the process's RSS growth, for both ends of the transfer, stalled or
draining. What may legitimately be held: the receiver's stream buffer (the 1 MiB bound, up to
twice that, see `Limits`), one socket read (256 KiB) and one partial frame (a 256 KiB chunk),
the sender's transport buffer (one 1 MiB write plus the 64 KiB high-water mark), the test's
own 1 MiB blocks, and allocator slack (freed blocks an allocator keeps): about 8 MiB.
Measured: 3 to 5.5 MiB while stalled, 5.4 to 7 MiB peak over the whole transfer. Without
back-pressure the growth approaches TOTAL (checked with a 4 GiB stream bound: reading never
paused and RSS grew by 1033 MiB)."""
DRAIN_LIMIT = 40.0
"""Seconds allowed for reading the whole GiB once the reader starts. Measured on 2 cores, both
Ends in this process, CRC-32 on both sides included: 1.4 s (uvloop) to 1.9 s (asyncio)."""


pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


def run(loop_factory: LoopFactory, coro: Coroutine[Any, Any, None]) -> None:
    run_on(loop_factory, coro, timeout=60)


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """VmHWM: the largest RSS since the last `reset_peak()`."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def watch_pauses(end: End) -> asyncio.Event:
    """An event set whenever the End's protocol stops reading its socket."""
    paused = asyncio.Event()
    proto = end.protocol
    assert proto is not None

    # The protocol has slots (no per-instance override): swap in a subclass instead.
    class Watched(type(proto)):  # type: ignore[misc]
        __slots__ = ()

        def block(self, token: Hashable) -> None:
            super().block(token)
            paused.set()

    proto.__class__ = Watched
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
            body = bytes(range(256)) * ((WRITE - 8) // 256) + bytes(range((WRITE - 8) % 256))
            written = 0
            sent_crc = 0
            finished = asyncio.Event()

            async def write_all() -> None:
                nonlocal written, sent_crc
                sequence = 0
                while written < TOTAL:
                    block = sequence.to_bytes(8, "big") + body
                    writer_stream.write(block)
                    sent_crc = zlib.crc32(block, sent_crc)
                    written += len(block)
                    sequence += 1
                    await writer_stream.drain()
                finished.set()

            before = rss()
            exact_peak = reset_peak()
            sampled_peak = 0

            def growth() -> int:
                nonlocal sampled_peak
                sampled_peak = max(sampled_peak, rss() - before)
                return max(sampled_peak, peak_rss() - before) if exact_peak else sampled_peak

            writer = asyncio.create_task(write_all())
            try:
                await asyncio.wait_for(reader_paused.wait(), 20)
            except TimeoutError:
                pytest.fail(
                    f"reading never paused: {written / WRITE:.0f} MiB written, RSS growth "
                    f"{growth() / 2**20:.0f} MiB"
                )
            client_proto = client.protocol
            assert client_proto is not None
            # Nobody reads: the writer must get stuck in drain() long before TOTAL. A bounded
            # wait is the only way to show that something does *not* happen.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(finished.wait(), 0.5)
            # The writer stops once the socket buffers are full: wait for that (a loaded
            # machine may take a while to fill them), then check that it stays stopped.
            await until(lambda: client_proto.writing_paused, 20, "the writer to stall")
            stalled_at = written
            await asyncio.sleep(0.2)
            assert written == stalled_at  # blocked, not merely slow
            assert served.protocol is not None
            assert served.protocol.reading_paused
            assert client_proto.writing_paused
            assert stalled_at < 64 * WRITE, stalled_at
            assert reader_stream.buffered < 2 * limits.max_buffered_bytes
            stalled_growth = growth()
            assert stalled_growth < RSS_BOUND, stalled_growth

            # Now read everything: all of it arrives, intact and in order, within the bound.
            started = time.perf_counter()
            received = 0
            received_crc = 0
            sequence = 0
            while received < TOTAL:
                chunk = await reader_stream.readexactly(WRITE)
                assert int.from_bytes(chunk[:8], "big") == sequence
                received_crc = zlib.crc32(chunk, received_crc)
                received += len(chunk)
                sequence += 1
                if received % (16 * WRITE) == 0:
                    growth()
            drain_seconds = time.perf_counter() - started
            await writer
            assert received == written == TOTAL
            assert received_crc == sent_crc
            assert reader_stream.buffered == 0
            peak = growth()
            assert peak < RSS_BOUND, peak
            assert drain_seconds < DRAIN_LIMIT, drain_seconds
            print(
                f"\nwriter stalled after {stalled_at / WRITE:.0f} MiB; RSS growth while stalled "
                f"{stalled_growth / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB "
                f"({'VmHWM' if exact_peak else 'sampled'}); 1 GiB read in {drain_seconds:.1f} s "
                f"({TOTAL / drain_seconds / 1e6:.0f} MB/s)"
            )

    run(loop_factory, main())
