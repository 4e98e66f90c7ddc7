"""The server's accept loop and connection bounds, with raw sockets on loopback.

Each test plays a peer the gateway must survive: one that holds connections (capacity,
per-address limit), one that never finishes a (TLS) handshake, one that sends without
reading (the server stops reading it and drops it as a slow consumer), and a server that
stops reading while the client calls it with a deadline.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
from pathlib import Path

import pytest

from frontier.geminio.aio import End, OperationTimeout, connect, serve
from frontier.geminio.aio.listener import ListenerLimits, ListenerObserver, system_backlog
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.encoder import encode
from frontier.geminio.events import CloseReason
from frontier.geminio.packets import ConnAckPacket, ConnPacket, HeartbeatPacket
from support.gateway import until
from support.loops import LOOPS, LoopFactory, run
from support.pki import make_pki, server_context

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]

STALL = 0.3
"""How long something that must not happen is given to happen anyway."""

HELLO = encode(ConnPacket(packet_id=1, heartbeat=20))


class Recorder(ListenerObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def paused(self, paused: bool) -> None:
        self.events.append(("paused", paused))

    def refused(self, reason: str) -> None:
        self.events.append(("refused", reason))

    def accept_failed(self, error: str) -> None:
        self.events.append(("accept_failed", error))

    def tls_failed(self, reason: str) -> None:
        self.events.append(("tls_failed", reason))


async def raw_hello(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HELLO)
    await writer.drain()
    return reader, writer


async def gets_conn_ack(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        header = await asyncio.wait_for(reader.readexactly(14), within)
    except (TimeoutError, asyncio.IncompleteReadError):
        return False
    return header[1] == 0x02


def test_at_capacity_accepting_pauses_and_resumes_when_a_connection_ends(
    loop_factory: LoopFactory,
) -> None:
    async def main() -> None:
        observer = Recorder()
        server = await serve(
            "127.0.0.1", 0, listener_limits=ListenerLimits(max_connections=3), observer=observer
        )
        async with server:
            held = [await raw_hello(server.port) for _ in range(3)]
            for reader, _ in held:
                assert await gets_conn_ack(reader, 10)
            # The fourth connects at TCP level (the kernel's backlog) but is not accepted.
            reader, writer = await raw_hello(server.port)
            assert not await gets_conn_ack(reader, STALL)
            assert server.listener.connections == 3
            assert ("paused", True) in observer.events
            held[0][1].close()
            assert await gets_conn_ack(reader, 10)  # accepted as soon as one left
            assert ("paused", False) in observer.events
            writer.close()
            for _, other in held[1:]:
                other.close()

    run(loop_factory, main())


def test_connections_beyond_the_per_address_limit_are_closed_at_once(
    loop_factory: LoopFactory,
) -> None:
    async def main() -> None:
        observer = Recorder()
        limits = ListenerLimits(max_connections_per_ip=2)
        async with await serve("127.0.0.1", 0, listener_limits=limits, observer=observer) as server:
            kept = [await raw_hello(server.port) for _ in range(2)]
            for reader, _ in kept:
                assert await gets_conn_ack(reader, 10)
            reader, writer = await raw_hello(server.port)
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, no handshake
            assert observer.events == [("refused", "per_ip")]
            kept[0][1].close()
            await until(lambda: server.listener.connections == 1, 10)
            reader, writer = await raw_hello(server.port)
            assert await gets_conn_ack(reader, 10)  # room again
            for _, other in [*kept[1:], (reader, writer)]:
                other.close()

    run(loop_factory, main())


def test_a_silent_plaintext_client_is_dropped_at_the_handshake_deadline(
    loop_factory: LoopFactory,
) -> None:
    async def main() -> None:
        limits = ListenerLimits(handshake_timeout=0.5)
        async with await serve("127.0.0.1", 0, listener_limits=limits) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 10) == b""
            assert 0.4 < time.monotonic() - started < 5
            writer.close()
            await until(lambda: server.listener.connections == 0, 10)

    run(loop_factory, main())


def test_the_handshake_deadline_covers_the_tls_handshake(
    loop_factory: LoopFactory, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)

    async def main() -> None:
        observer = Recorder()
        limits = ListenerLimits(handshake_timeout=0.5)
        server = await serve(
            "127.0.0.1",
            0,
            ssl=server_context(pki, require_client_cert=False),
            listener_limits=limits,
            observer=observer,
        )
        async with server:
            # Connects and never says a TLS word (what a slowloris does on a TLS port).
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(), 10) == b""
            assert time.monotonic() - started < 5
            await until(lambda: ("tls_failed", "timeout") in observer.events, 10)
            writer.close()
            # Garbage instead of a ClientHello is a protocol failure, counted too.
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await asyncio.wait_for(reader.read(), 10)
            await until(lambda: ("tls_failed", "protocol") in observer.events, 10)
            writer.close()
            await until(lambda: server.listener.connections == 0, 10)

    run(loop_factory, main())


def test_the_listen_backlog_is_the_systems_somaxconn(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        async with await serve("127.0.0.1", 0) as server:
            try:
                ss = await asyncio.create_subprocess_exec(
                    "ss", "-Hltn", f"sport = :{server.port}", stdout=asyncio.subprocess.PIPE
                )
            except FileNotFoundError:
                pytest.skip("ss (iproute2) is not installed: cannot read the backlog")
            out = (await ss.communicate())[0].decode().split()
            if not out:
                pytest.skip("ss (iproute2) is not available to read the backlog")
            assert int(out[2]) == system_backlog()  # Send-Q of a listener is its backlog

    run(loop_factory, main())


def test_a_client_that_sends_without_reading_is_paused_then_evicted(
    loop_factory: LoopFactory,
) -> None:
    async def main() -> None:
        ended: list[End] = []
        config = ConnectionConfig(write_timeout=0.5)

        async def handler(end: End) -> None:
            end.close_callbacks.append(ended.append)

        async with await serve("127.0.0.1", 0, handler=handler, config=config) as server:
            reader, writer = await raw_hello(server.port)
            assert await gets_conn_ack(reader, 10)
            writer.transport.pause_reading()  # and never reads again
            await until(lambda: len(server.ends) == 1, 10)
            end = server.ends[0]
            proto = end.protocol
            assert proto is not None
            beats = b"".join(encode(HeartbeatPacket(packet_id=i)) for i in range(2, 4098))
            paused_seen = False
            deadline = time.monotonic() + 30
            while not ended and time.monotonic() < deadline:
                writer.write(beats)  # every one is answered with a HeartbeatAck
                await asyncio.sleep(0)
                paused_seen = paused_seen or proto.reading_paused
                if writer.transport.get_write_buffer_size() > 1 << 20:
                    await asyncio.sleep(0.01)  # the server stopped reading us: wait for it
            assert ended, "the slow consumer was not evicted"
            assert paused_seen, "the server kept reading a peer that does not read"
            reason = ended[0].close_reason
            assert reason is not None
            assert reason.reason is CloseReason.SLOW_CONSUMER
            writer.transport.abort()

    run(loop_factory, main(), timeout=60)


def test_a_call_deadline_includes_waiting_for_a_full_transport(loop_factory: LoopFactory) -> None:
    """The peer accepts the handshake, then stops reading: `call(timeout=...)` must fail
    with `OperationTimeout` in time instead of waiting for the transport for ever."""

    async def main() -> None:
        accepted = asyncio.Event()
        peers: list[asyncio.Protocol] = []

        class Stalled(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport
                peers.append(self)

            def data_received(self, data: bytes) -> None:
                if not accepted.is_set():
                    accepted.set()
                    ack = ConnAckPacket(packet_id=1, ret_code=0, client_id=5)
                    self.transport.write(encode(ack))  # type: ignore[attr-defined]
                    self.transport.pause_reading()  # type: ignore[attr-defined]

        loop = asyncio.get_running_loop()
        stalled = await loop.create_server(Stalled, "127.0.0.1", 0)
        port = stalled.sockets[0].getsockname()[1]
        end = await connect("127.0.0.1", port)
        proto = end.protocol
        assert proto is not None
        chunk = b"x" * (1 << 20)
        pending = []
        while not proto.writing_paused:  # fill the socket buffers and the transport
            pending.append(end.publish_future(chunk))
            await asyncio.sleep(0)
        # The stalled peer's transport and protocol refer only to each other once it stops
        # reading (the loop lets go of a transport that waits for nothing): `peers` holds
        # them, else a collection here closes the socket and the call sees the connection
        # end instead of its deadline (a flake under load, when collections are frequent).
        gc.collect()
        started = time.monotonic()
        with pytest.raises(OperationTimeout):
            await end.call("anything", b"", timeout=0.5)
        with pytest.raises(OperationTimeout):
            await end.publish(b"m", timeout=0.5)
        assert time.monotonic() - started < 5
        for future in pending:
            future.cancel()
        end.abort()
        stalled.close()

    run(loop_factory, main(), timeout=60)


def test_tls_client_context_is_unaffected(loop_factory: LoopFactory, tmp_path: Path) -> None:
    """The listener's own accept path still completes a real TLS handshake end to end."""
    pki = make_pki(tmp_path)

    async def main() -> None:
        context = server_context(pki, require_client_cert=False)
        async with await serve("127.0.0.1", 0, ssl=context) as server:
            client = ssl.create_default_context(cafile=str(pki.ca))
            end = await connect("127.0.0.1", server.port, ssl=client)
            assert end.online
            await end.close()
            await until(lambda: server.listener.connections == 0, 10)

    run(loop_factory, main())


def test_handshakes_in_progress_are_bounded(loop_factory: LoopFactory, tmp_path: Path) -> None:
    """Two silent TCP clients hold both TLS handshake slots: a real client waits in the
    backlog until their deadline frees the slots, then gets through."""
    pki = make_pki(tmp_path)

    async def main() -> None:
        limits = ListenerLimits(max_handshakes=2, handshake_timeout=1.5)
        server = await serve(
            "127.0.0.1",
            0,
            ssl=server_context(pki, require_client_cert=False),
            listener_limits=limits,
        )
        async with server:
            silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
            await until(lambda: server.listener.handshaking == 2, 10)
            started = time.monotonic()
            client = ssl.create_default_context(cafile=str(pki.ca))
            end = await asyncio.wait_for(connect("127.0.0.1", server.port, ssl=client), 15)
            waited = time.monotonic() - started
            assert waited > 0.5, waited  # it waited for the silent ones' deadline
            assert end.online
            await end.close()
            for _, writer in silent:
                writer.close()

    run(loop_factory, main(), timeout=60)


def test_closing_abandons_handshakes_in_progress(loop_factory: LoopFactory, tmp_path: Path) -> None:
    """A server closed while TLS handshakes are pending closes those sockets at once and
    gives their admissions back: nothing is left counted, and the clients see the close
    long before the handshake deadline."""
    pki = make_pki(tmp_path)

    async def main() -> None:
        server = await serve(
            "127.0.0.1",
            0,
            ssl=server_context(pki, require_client_cert=False),
            listener_limits=ListenerLimits(handshake_timeout=60),
        )
        silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        listener = server.listener
        await until(lambda: listener.handshaking == 3, 10)
        await server.close()
        assert (listener.handshaking, listener.connections) == (0, 0)
        for reader, writer in silent:
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()

    run(loop_factory, main(), timeout=30)
