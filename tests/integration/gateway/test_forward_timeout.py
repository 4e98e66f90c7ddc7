"""`exchange.forward_timeout` through a real gateway: a forward nobody answers is answered
with the timeout's text when it falls due, never earlier, and nothing else is disturbed.

The gateway keeps this deadline in one queue for all its forwards (gateway/timeouts.py),
not a timer per forward on the target connection; these are the behaviours that timer had.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from frontier.conventions import append_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import End, EndError, Request
from support.gateway import connect_edge, connect_service, gateway_config

pytestmark = pytest.mark.integration

FORWARD_TIMEOUT = 0.4
"""Short, so the test is quick; the callers' own timeouts are far longer."""


def _config() -> object:
    return gateway_config(exchange={"forward_timeout": FORWARD_TIMEOUT})


async def _failure_text(operation: asyncio.Future[object] | object) -> tuple[str, float]:
    """(the error text the operation failed with, seconds it took)."""
    start = time.monotonic()
    with pytest.raises(EndError) as failed:
        await operation  # type: ignore[misc]
    return str(failed.value), time.monotonic() - start


async def test_an_unanswered_call_to_a_service_times_out_and_a_late_answer_is_dropped() -> None:
    release = asyncio.Event()

    async def late(request: Request) -> bytes:
        await release.wait()
        return b"too late"

    async def ping(request: Request) -> bytes:
        return b"pong"

    async with Gateway(_config()) as gw:  # type: ignore[arg-type]
        service = await connect_service(gw.servicebound_port)
        await service.register("late", late)
        await service.register("ping", ping)
        edge = await connect_edge(gw.edgebound_port)
        text, took = await _failure_text(edge.call("late", b"x", timeout=30))
        assert "request timed out" in text
        assert took >= FORWARD_TIMEOUT
        assert took < FORWARD_TIMEOUT + 5  # (the gateway's deadline, not the caller's 30 s)
        release.set()  # the service answers now: the gateway has forgotten the call
        for _ in range(3):
            assert await edge.call("ping", b"", timeout=10) == b"pong"
        assert gw.exchange.relay.timeouts.live == 0
        await edge.close()
        await service.close()


async def test_an_unanswered_call_to_an_edge_times_out() -> None:
    async def never(request: Request) -> bytes:
        await asyncio.Event().wait()
        return b""

    async with Gateway(_config()) as gw:  # type: ignore[arg-type]
        service = await connect_service(gw.servicebound_port)
        edge = await connect_edge(gw.edgebound_port)
        await edge.register("never", never)
        trailer = append_edge_id(b"", edge.client_id)
        text, took = await _failure_text(service.call("never", b"", custom=trailer, timeout=30))
        assert "request timed out" in text
        assert took >= FORWARD_TIMEOUT
        assert took < FORWARD_TIMEOUT + 5  # (the gateway's deadline, not the caller's 30 s)
        await edge.close()
        await service.close()


async def test_an_unacked_message_is_nacked_with_the_timeout() -> None:
    async with Gateway(_config()) as gw:  # type: ignore[arg-type]
        service = await connect_service(gw.servicebound_port, topics=("t",))
        edge = await connect_edge(gw.edgebound_port)
        received: asyncio.Queue[object] = asyncio.Queue()
        keeper = asyncio.ensure_future(_receive_without_acking(service, received))
        try:
            text, took = await _failure_text(edge.publish(b"m", topic="t", timeout=30))
            assert "publish timed out" in text
            assert took >= FORWARD_TIMEOUT
            assert took < FORWARD_TIMEOUT + 5
            assert received.qsize() == 1  # it was delivered, just never acked
        finally:
            keeper.cancel()
        await edge.close()
        await service.close()


async def _receive_without_acking(end: End, into: asyncio.Queue[object]) -> None:
    while True:
        into.put_nowait(await end.receive())


async def test_answered_forwards_never_expire_and_the_queue_stays_small() -> None:
    async def echo(request: Request) -> bytes:
        return request.data

    async with Gateway(_config()) as gw:  # type: ignore[arg-type]
        service = await connect_service(gw.servicebound_port)
        await service.register("echo", echo)
        edge = await connect_edge(gw.edgebound_port)
        timeouts = gw.exchange.relay.timeouts
        most = 0

        async def caller() -> None:
            nonlocal most
            for index in range(150):
                assert await edge.call("echo", b"%d" % index, timeout=10) == b"%d" % index
                most = max(most, timeouts.queued)

        await asyncio.gather(*(caller() for _ in range(8)))
        assert timeouts.live == 0
        assert most <= 2 * 8 + 64 + 1  # (1: the add that triggers the rebuild)
        # past the timeout, what was answered long ago is not answered again
        await asyncio.sleep(FORWARD_TIMEOUT * 1.5)
        assert await edge.call("echo", b"after", timeout=10) == b"after"
        await edge.close()
        await service.close()
