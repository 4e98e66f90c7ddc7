"""A far half that closes before the gateway has joined it to the opener's half.

The service accepts a stream, writes and closes at once; the gateway may only then finish
splicing. What the service wrote must still reach the edge, followed by the close, and the
gateway must not fail the splice (it used to raise on the closing half and leave the edge's
stream open for good)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from frontier.gateway import Gateway
from support.gateway import connect_edge, connect_service, gateway_config
from support.loops import LOOPS, LoopFactory, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


def test_a_far_half_closing_at_once_still_delivers_then_closes(
    loop_factory: LoopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with Gateway(gateway_config()) as gw:
            service = await connect_service(gw.servicebound_port, name="svc")

            async def accept() -> None:
                while True:
                    stream = await service.accept_stream()
                    stream.write(b"bye")
                    await stream.close()

            accepting = asyncio.create_task(accept())
            edge = await connect_edge(gw.edgebound_port)
            for _ in range(50):
                stream = await edge.open_stream(peer="svc")
                assert await asyncio.wait_for(stream.readexactly(3), 5) == b"bye"
                assert await asyncio.wait_for(stream.read(), 5) == b""
            accepting.cancel()
            await asyncio.gather(accepting, return_exceptions=True)
            await edge.close()
            await service.close()

    with caplog.at_level(logging.ERROR):
        run(loop_factory, main(), timeout=60)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
