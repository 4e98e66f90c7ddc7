"""Back-pressure on the End's other bounded queues: messages per stream and the running RPC
handlers must stop the socket (the peer's operations wait) rather than grow, and lose
nothing once the application catches up. The accept backlog is bounded by refusal instead:
an open beyond it fails at once and the connection keeps being read.

Showing that something does *not* complete needs a bounded wait: STALL (0.3 s) is far longer
than a loopback round trip (well under 1 ms), so an operation still pending after it is held
back, not slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from frontier.geminio.aio import End, Limits, OpenRejected, Request, connect, serve
from support.gateway import until
from support.loops import LOOPS, LoopFactory, run

STALL = 0.3
WAIT = 10.0
"""A bound for what must happen, generous for a loaded machine."""


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


def test_full_accept_backlog_refuses_more_opens_at_once_and_keeps_reading(
    loop_factory: LoopFactory,
) -> None:
    bound = 4

    async def main(served: End, client: End) -> None:
        async def echo(request: Request) -> bytes:
            return request.data

        await served.register("echo", echo)
        await client.wait_remote_methods("echo")
        opened = [await client.open_stream(meta=b"%d" % i) for i in range(bound)]
        # Over the bound: refused at once with the reason, never queued or left waiting.
        for i in range(bound, bound + 3):
            with pytest.raises(OpenRejected, match="accept backlog is full"):
                await asyncio.wait_for(client.open_stream(meta=b"%d" % i), WAIT)
        # The connection is still read: a full backlog stops nothing else.
        assert not reading_paused(served)
        assert await asyncio.wait_for(client.call("echo", b"still here"), WAIT) == b"still here"
        accepted = [await served.accept_stream()]
        opened.append(await asyncio.wait_for(client.open_stream(meta=b"late"), WAIT))
        accepted.extend([await served.accept_stream() for _ in range(bound)])
        assert [s.meta for s in accepted] == [b"0", b"1", b"2", b"3", b"late"]
        assert sorted(s.stream_id for s in accepted) == sorted(s.stream_id for s in opened)

    run(loop_factory, served_pair(Limits(max_accept_backlog=bound), main))


def test_zero_accept_backlog_refuses_every_stream(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        for _ in range(3):
            with pytest.raises(OpenRejected, match="does not accept streams"):
                await asyncio.wait_for(client.open_stream(), WAIT)
        served.set_accept_backlog(2)  # opting in later takes effect at once
        opened = await asyncio.wait_for(client.open_stream(meta=b"now"), WAIT)
        accepted = await asyncio.wait_for(served.accept_stream(), WAIT)
        assert (accepted.meta, accepted.stream_id) == (b"now", opened.stream_id)

    run(loop_factory, served_pair(Limits(max_accept_backlog=0), main))


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
