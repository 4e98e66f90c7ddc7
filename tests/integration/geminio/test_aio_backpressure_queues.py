"""Back-pressure on the End's other bounded queues: messages per stream, the accept backlog
and the running RPC handlers. Each must stop the socket (the peer's operations wait) rather
than grow, and lose nothing once the application catches up.

Showing that something does *not* complete needs a bounded wait: STALL (0.3 s) is far longer
than a loopback round trip (well under 1 ms), so an operation still pending after it is held
back, not slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from frontier.geminio.aio import End, Limits, Request, Stream, connect, serve
from support.gateway import until
from support.loops import LOOPS, LoopFactory, run

STALL = 0.3


pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


async def served_pair(
    limits: Limits, main: Callable[[End, End], Coroutine[Any, Any, None]]
) -> None:
    online: asyncio.Queue[End] = asyncio.Queue()

    async def handler(end: End) -> None:
        online.put_nowait(end)

    async with (
        await serve("127.0.0.1", 0, handler=handler, limits=limits) as server,
        await connect("127.0.0.1", server.port) as client,
    ):
        await main(await online.get(), client)


def reading_paused(end: End) -> bool:
    assert end.protocol is not None
    return end.protocol.reading_paused


def test_unreceived_messages_stall_the_publisher(loop_factory: LoopFactory) -> None:
    count, size, bound = 200, 4096, 4
    # 200 x 4 KiB is ~3 socket reads' worth: without the bound every message would be queued.

    async def main(served: End, client: End) -> None:
        publishes = [
            asyncio.create_task(client.publish(i.to_bytes(4, "big") * (size // 4)))
            for i in range(count)
        ]
        done, _ = await asyncio.wait(publishes, timeout=STALL)
        assert not done  # nobody called receive(): no ack, and no publish completes
        await until(lambda: reading_paused(served), what="the full queue to pause reading")
        queued = len(served._messages)  # the queue itself: bound + at most one socket read
        assert bound <= queued < count, queued
        for i in range(count):
            message = await served.receive()
            assert message.data[:4] == i.to_bytes(4, "big")  # all of them, in order
            message.done()
        await asyncio.gather(*publishes)
        assert not reading_paused(served)

    run(loop_factory, served_pair(Limits(max_messages=bound), main))


def test_full_accept_backlog_makes_more_opens_wait(loop_factory: LoopFactory) -> None:
    bound = 4

    async def main(served: End, client: End) -> None:
        # One at a time: each open is read and answered on its own.
        opened: list[Stream] = [await client.open_stream(meta=b"%d" % i) for i in range(bound)]
        assert reading_paused(served)
        more = [asyncio.create_task(client.open_stream(meta=b"%d" % i)) for i in range(4, 8)]
        done, _ = await asyncio.wait(more, timeout=STALL)
        assert not done  # the backlog is full: the server does not read the new opens
        accepted = [await served.accept_stream() for _ in range(bound)]
        opened.extend(await asyncio.gather(*more))
        accepted.extend([await served.accept_stream() for _ in range(4)])
        assert [s.meta for s in accepted] == [b"%d" % i for i in range(8)]
        assert sorted(s.stream_id for s in accepted) == sorted(s.stream_id for s in opened)

    run(loop_factory, served_pair(Limits(max_accept_backlog=bound), main))


def test_handler_bound_makes_extra_requests_wait(loop_factory: LoopFactory) -> None:
    bound, extra = 2, 3

    async def main(served: End, client: End) -> None:
        gate = asyncio.Event()
        started: list[bytes] = []
        running = asyncio.Event()

        async def slow(request: Request) -> bytes:
            started.append(request.data)
            running.set()
            await gate.wait()
            return b"re:" + request.data

        await served.register("slow", slow)
        await client.wait_remote_methods("slow")
        calls = []
        for i in range(bound):  # one at a time, each seen running before the next is sent
            running.clear()
            calls.append(asyncio.create_task(client.call("slow", b"%d" % i)))
            await running.wait()
        assert reading_paused(served)
        calls.extend(
            asyncio.create_task(client.call("slow", b"%d" % i)) for i in range(bound, bound + extra)
        )
        done, _ = await asyncio.wait(calls, timeout=STALL)
        assert not done
        assert started == [b"0", b"1"]  # the extra requests wait in the socket, not in tasks
        gate.set()
        results = await asyncio.gather(*calls)
        assert results == [b"re:%d" % i for i in range(bound + extra)]  # none lost
        assert sorted(started) == [b"%d" % i for i in range(bound + extra)]

    run(loop_factory, served_pair(Limits(max_handlers=bound), main))
