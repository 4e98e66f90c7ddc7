"""A closed connection is freed by reference counting, not left to the cyclic collector.

Each closed connection used to be a reference cycle (transport <-> protocol <-> End, End
<-> itself as stream 1, connection <-> multiplexer, spliced streams <-> their relay
callbacks). CPython frees cycles only when a full collection happens to run, so under
churn a gateway kept every closed TLS connection's OpenSSL state and the loop's 256 KiB
read buffer for a while and grew by tens of KB per churned edge. These tests close
connections with the cyclic collector off and then ask it what it would have had to free:
none of it may be ours (or the transports' and TLS objects we hold).
"""

from __future__ import annotations

import asyncio
import collections
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from frontier.conventions import append_edge_id
from frontier.gateway import Gateway
from frontier.geminio.aio import Request, connect, serve
from support.gateway import connect_edge, connect_service, gateway_config
from support.loops import LOOPS, LoopFactory, run
from support.pki import client_context, make_pki, server_context

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]

ROUNDS = 20


ACCEPTED_SOCKET = "frontier.geminio.aio.accepted.AcceptedSocket"


@contextmanager
def garbage_watch() -> Iterator[list[str]]:
    """Collects what the cyclic collector finds after the block (as type names), with the
    collector off during it, so that only cycles made inside are reported."""
    found: list[str] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def ours(found: list[str], loop_factory: LoopFactory) -> collections.Counter[str]:
    """Garbage that is a connection's: our objects, uvloop's transports, TLS state. (The
    pure-asyncio loop's own socket transport is a cycle by itself in CPython 3.11, a bound
    method stored on the instance, and takes the socket it was handed with it: the
    listener's accepted socket is asyncio's garbage there; production runs on uvloop.)"""
    keep = ("frontier.", "uvloop.", "_ssl.", "ssl.")
    asyncios = {ACCEPTED_SOCKET} if loop_factory is asyncio.new_event_loop else set()
    return collections.Counter(
        name for name in found if name.startswith(keep) and name not in asyncios
    )


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_closed_geminio_connections_leave_no_cycles(
    loop_factory: LoopFactory, tls: bool, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)

    async def main() -> None:
        sctx = server_context(pki, require_client_cert=False) if tls else None
        cctx = client_context(pki, with_cert=False) if tls else None

        async def echo(request: Request) -> bytes:
            return request.data

        async def handler(end: object) -> None:
            await end.register("echo", echo)  # type: ignore[attr-defined]

        server = await serve("127.0.0.1", 0, ssl=sctx, handler=handler)
        with garbage_watch() as found:
            for _ in range(ROUNDS):
                end = await connect("127.0.0.1", server.port, ssl=cctx)
                await end.wait_remote_methods("echo")
                assert await end.call("echo", b"x") == b"x"
                stream = await end.open_stream()
                await stream.close()
                await end.close()
                del end, stream
            await asyncio.sleep(0.2)  # the server side's offline and transport callbacks
        await server.close()
        assert not ours(found, loop_factory), ours(found, loop_factory).most_common(10)

    run(loop_factory, main(), timeout=60)


def test_closed_gateway_connections_leave_no_cycles(loop_factory: LoopFactory) -> None:
    """Every data path, spliced streams included, then the edge leaves."""

    async def main() -> None:
        async with Gateway(gateway_config()) as gw:
            service = await connect_service(gw.servicebound_port, name="svc", topics=("t",))

            async def echo(request: Request) -> bytes:
                return request.data

            await service.register("echo", echo)

            async def serve_service() -> None:
                async def messages() -> None:
                    while True:
                        (await service.receive()).done()

                async def streams() -> None:
                    while True:
                        stream = await service.accept_stream()
                        stream.write(b"s")
                        await stream.close()

                await asyncio.gather(messages(), streams())

            serving = asyncio.create_task(serve_service())
            with garbage_watch() as found:
                for _ in range(ROUNDS):
                    edge = await connect_edge(gw.edgebound_port)
                    await edge.register("ping", echo)
                    assert await edge.call("echo", b"a") == b"a"
                    await edge.publish(b"m", topic="t")
                    to_edge = append_edge_id(b"", edge.client_id)
                    assert await service.call("ping", b"p", custom=to_edge) == b"p"
                    stream = await edge.open_stream(peer="svc")
                    assert await stream.read(1) == b"s"
                    await stream.close()
                    await edge.close()
                    del edge, stream
                await asyncio.sleep(0.3)
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            await service.close()
        assert not ours(found, loop_factory), ours(found, loop_factory).most_common(10)

    run(loop_factory, main(), timeout=60)
