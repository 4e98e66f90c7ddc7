"""The retrying client across a server restart: it redials, keeps its configured client ID,
re-registers its RPCs and hijack, and reports offline/online. Waits on events only."""

from __future__ import annotations

import asyncio

import pytest

from frontier.geminio.aio import (
    Backoff,
    ConnectionClosedError,
    End,
    Message,
    Request,
    RetryingClient,
    ServerHooks,
    serve,
)
from support.loops import LOOPS, LoopFactory, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


def test_redials_after_server_restart_and_restores_rpcs(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        served: asyncio.Queue[End] = asyncio.Queue()
        wanted: list[int] = []

        def get_client_id(want: int, meta: bytes) -> int:
            wanted.append(want)
            return want or 5000 + len(wanted)  # an ID the client did not ask for, if none

        hooks = ServerHooks(get_client_id=get_client_id, on_online=served.put_nowait)
        server = await serve("127.0.0.1", 0, hooks=hooks)
        port = server.port
        events: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

        async def who(request: Request) -> bytes:
            return b"client-" + request.data

        async def catch_all(request: Request) -> bytes:
            return b"caught " + request.method.encode()

        client = RetryingClient(
            "127.0.0.1",
            port,
            meta=b"edge",
            client_id=99,
            backoff=Backoff(initial=0.02, maximum=0.1),
            on_online=lambda end: events.put_nowait(("online", end.client_id)),
            on_offline=lambda end: events.put_nowait(("offline", end.client_id)),
        )
        async with client:
            await client.register("who", who)
            client.hijack(catch_all, pattern=r"^x\.")
            assert await events.get() == ("online", 99)
            first = await served.get()
            assert await first.call("who", b"1") == b"client-1"

            await server.close()  # the gateway goes away...
            assert await events.get() == ("offline", 99)
            server = await serve("127.0.0.1", port, hooks=hooks)  # ...and comes back
            assert await events.get() == ("online", 99)
            second = await served.get()
            assert second.client_id == 99
            assert wanted == [99, 99]  # the configured ID, every time
            assert await second.call("who", b"2") == b"client-2"
            assert await second.call("x.any") == b"caught x.any"
            assert client.reconnects == 1

            async def ping(request: Request) -> bytes:
                return b"pong"

            await second.register("ping", ping)
            assert await client.call("ping") == b"pong"
        await server.close()

    run(loop_factory, main())


@pytest.mark.timeout(30)
def test_waiting_for_online_right_as_the_connection_drops(loop_factory: LoopFactory) -> None:
    """Regression: asked at the moment the connection ended, wait_online() saw the closed
    End with the online event still set and spun without yielding, freezing the loop."""

    async def main() -> None:
        served: asyncio.Queue[End] = asyncio.Queue()
        server = await serve("127.0.0.1", 0, hooks=ServerHooks(on_online=served.put_nowait))
        client = RetryingClient(
            "127.0.0.1", server.port, backoff=Backoff(initial=0.02, maximum=0.1)
        )
        async with client:
            first = await client.wait_online()
            await served.get()

            async def receive_across_drops() -> Message:
                while True:  # what an application loop does: retry on a dropped connection
                    try:
                        return await client.receive()
                    except ConnectionClosedError:
                        continue

            receiving = asyncio.create_task(receive_across_drops())
            await asyncio.sleep(0)  # it waits in receive() on the first connection
            first.abort()
            await asyncio.wait_for(served.get(), 10)  # the loop ran: the client redialled
            second = await asyncio.wait_for(client.wait_online(), 10)
            assert second is not first
            assert not receiving.done()  # still waiting, now on the new connection
            receiving.cancel()
        await server.close()

    run(loop_factory, main())


def test_fallback_addresses_are_dialled_in_turn(loop_factory: LoopFactory) -> None:
    """The first address refuses; the client moves on to the next one, and after losing
    that server it goes round to the first again, which is back by then."""

    async def main() -> None:
        served: asyncio.Queue[End] = asyncio.Queue()
        hooks = ServerHooks(on_online=served.put_nowait)
        first = await serve("127.0.0.1", 0, hooks=hooks)
        first_port = first.port
        await first.close()  # nothing listens on the first address now
        second = await serve("127.0.0.1", 0, hooks=hooks)
        client = RetryingClient(
            "127.0.0.1",
            first_port,
            fallbacks=[("127.0.0.1", second.port)],
            backoff=Backoff(initial=0.02, maximum=0.1),
        )
        async with client:
            end = await client.wait_online()
            assert end.get_extra_info("peername")[1] == second.port
            await served.get()
            first = await serve("127.0.0.1", first_port, hooks=hooks)
            await second.close()
            await served.get()  # reconnected, to the first address
            end = await client.wait_online()
            assert end.get_extra_info("peername")[1] == first_port
        await first.close()

    run(loop_factory, main())
