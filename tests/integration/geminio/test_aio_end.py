"""The asyncio End over real loopback sockets: handshake hooks, messages, RPC, streams,
heartbeats and task ownership, on the default loop and on uvloop. Waits on events only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from frontier.geminio.aio import (
    ConnectionClosedError,
    ConnectRejected,
    End,
    OperationTimeout,
    PublishRejected,
    RemoteError,
    Request,
    RPCError,
    Server,
    ServerHooks,
    StreamClosedError,
    connect,
    serve,
)
from frontier.geminio.conn_config import ConnectionConfig
from frontier.geminio.events import CloseReason
from frontier.timer import get_loop_timer
from frontier.timer.wheel import TimerHandle
from support.loops import LOOPS, LoopFactory, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


class ScaledTimer:
    """The loop's wheel with every delay multiplied by `scale`: heartbeats in milliseconds."""

    def __init__(self, scale: float) -> None:
        self._timer = get_loop_timer()
        self._scale = scale

    def add(self, delay: float, callback: Callable[..., object], *args: Any) -> ScaledHandle:
        return ScaledHandle(self._timer.add(delay * self._scale, callback, *args), self._scale)


class ScaledHandle:
    def __init__(self, handle: TimerHandle, scale: float) -> None:
        self._handle = handle
        self._scale = scale

    def cancel(self) -> bool:
        return self._handle.cancel()

    def reset(self, delay: float) -> None:
        self._handle.reset(delay * self._scale)


class Recorder:
    """Server hooks that record what happened and let the test wait for it."""

    def __init__(self) -> None:
        self.online: asyncio.Queue[End] = asyncio.Queue()
        self.offline: asyncio.Queue[End] = asyncio.Queue()
        self.heartbeats: asyncio.Queue[End] = asyncio.Queue()

    def get_client_id(self, wanted: int, meta: bytes) -> int:
        if meta == b"want-4242":
            return 4242
        if meta == b"bad-id":
            raise ValueError("no id for you")
        return wanted

    async def on_online(self, end: End) -> None:
        if end.meta == b"deny":
            raise PermissionError("denied")
        self.online.put_nowait(end)

    def on_offline(self, end: End) -> None:
        self.offline.put_nowait(end)

    def on_heartbeat(self, end: End) -> None:
        self.heartbeats.put_nowait(end)

    def hooks(self) -> ServerHooks:
        return ServerHooks(
            get_client_id=self.get_client_id,
            on_online=self.on_online,
            on_offline=self.on_offline,
            on_heartbeat=self.on_heartbeat,
        )


async def start(rec: Recorder, **kwargs: Any) -> Server:
    return await serve("127.0.0.1", 0, hooks=rec.hooks(), **kwargs)


def test_handshake_hooks_assign_id_and_reject(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        async with await start(rec) as server:
            client = await connect("127.0.0.1", server.port, meta=b"want-4242")
            served = await rec.online.get()
            assert client.client_id == 4242
            assert served.client_id == 4242
            assert served.meta == b"want-4242"
            assert server.ends == [served]

            with pytest.raises(ConnectRejected) as denied:
                await connect("127.0.0.1", server.port, meta=b"deny")
            assert denied.value.text == "denied"
            with pytest.raises(ConnectRejected) as bad:
                await connect("127.0.0.1", server.port, meta=b"bad-id")
            assert bad.value.text == "no id for you"

            # a wanted ID is kept; 0 gets one from the server's counter
            kept = await connect("127.0.0.1", server.port, client_id=77)
            assert kept.client_id == 77
            fresh = await connect("127.0.0.1", server.port)
            assert fresh.client_id != 0

            await client.close()
            assert await rec.offline.get() is served
            assert client.close_reason is not None
            assert client.close_reason.reason is CloseReason.LOCAL_CLOSE
            await kept.close()
            await fresh.close()
        assert rec.offline.qsize() == 2  # kept and fresh; the rejected ones never came online

    run(loop_factory, main())


def test_publish_ack_nack_and_at_most_once(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        async with await start(rec) as server, await connect("127.0.0.1", server.port) as client:
            served = await rec.online.get()

            async def consume() -> list[tuple[bytes, str, bytes]]:
                seen = []
                for _ in range(3):
                    message = await served.receive()
                    seen.append((message.data, message.topic, message.custom))
                    if message.data == b"bad":
                        assert message.error("not today")
                    else:
                        assert message.done()
                    assert not message.done()  # answered once only
                return seen

            consumer = asyncio.create_task(consume())
            await client.publish(b"hello", topic="t/1", custom=b"\x00\x01", timeout=5)
            with pytest.raises(PublishRejected) as nack:
                await client.publish(b"bad")
            assert nack.value.text == "not today"
            await client.publish(b"fire", at_most_once=True)
            assert await consumer == [
                (b"hello", "t/1", b"\x00\x01"),
                (b"bad", "", b""),
                (b"fire", "", b""),
            ]

            # nobody answers: the publisher's timeout ends the wait
            with pytest.raises(OperationTimeout):
                await client.publish(b"ignored", timeout=0.05)

    run(loop_factory, main())


def test_rpc_register_call_errors_hijack_and_timeout(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        async with await start(rec) as server, await connect("127.0.0.1", server.port) as client:
            served = await rec.online.get()

            async def echo(request: Request) -> bytes:
                assert request.method == "echo"
                return request.data + request.custom

            async def fail(request: Request) -> bytes:
                raise RuntimeError("boom")

            never = asyncio.Event()

            async def stall(request: Request) -> bytes:
                await never.wait()
                return b""

            await served.register("echo", echo)
            await served.register("fail", fail)
            await served.register("stall", stall)
            assert await client.call("echo", b"hi", custom=b"!") == b"hi!"
            with pytest.raises(RPCError) as failed:
                await client.call("fail")
            assert failed.value.text == "boom"
            with pytest.raises(RPCError) as missing:
                await client.call("nope")
            assert missing.value.text == "no such rpc: nope"
            with pytest.raises(OperationTimeout):
                await client.call("stall", timeout=0.05)

            # calls go both ways: the client registers too
            async def whoami(request: Request) -> bytes:
                return str(request.client_id).encode()

            await client.register("whoami", whoami)
            assert await served.call("whoami") == str(client.client_id).encode()

            async def caught(request: Request) -> bytes:
                return b"hijacked:" + request.method.encode()

            served.hijack(caught, pattern=r"^proxy\.")
            assert await client.call("proxy.x") == b"hijacked:proxy.x"
            assert await client.call("echo", b"still") == b"still"  # not caught
            served.hijack(caught)  # no pattern: everything
            assert await client.call("echo") == b"hijacked:echo"

    run(loop_factory, main())


@pytest.mark.parametrize("send_cancel", [False, True])
def test_cancelled_call_sends_request_cancel_only_when_enabled(
    loop_factory: LoopFactory, send_cancel: bool
) -> None:
    async def main() -> None:
        rec = Recorder()
        config = ConnectionConfig(send_request_cancel=send_cancel)
        async with (
            await start(rec) as server,
            await connect("127.0.0.1", server.port, config=config) as client,
        ):
            served = await rec.online.get()
            started = asyncio.Event()
            cancelled = asyncio.Event()
            release = asyncio.Event()

            async def slow(request: Request) -> bytes:
                started.set()
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    cancelled.set()
                    raise
                return b"late"

            await served.register("slow", slow)
            call = asyncio.create_task(client.call("slow"))
            await started.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

            # a later call is answered after anything the cancel produced
            async def ping(request: Request) -> bytes:
                return b"pong"

            await served.register("ping", ping)
            assert await client.call("ping") == b"pong"
            assert cancelled.is_set() is send_cancel
            release.set()

    run(loop_factory, main())


def test_streams_raw_bytes_messages_rpc_and_eof(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        async with await start(rec) as server, await connect("127.0.0.1", server.port) as client:
            served = await rec.online.get()
            opened = await client.open_stream(meta=b"m", peer="svc")
            accepted = await served.accept_stream()
            assert (accepted.meta, accepted.peer) == (b"m", "svc")
            assert accepted.stream_id == opened.stream_id > 1

            big = bytes(range(256)) * 1024 * 3  # 768 KiB: several 64 KiB frames
            opened.write(b"abc")
            opened.write(big)
            await opened.drain()
            assert await accepted.readexactly(3) == b"abc"
            assert await accepted.readexactly(len(big)) == big

            # each stream is a full messenger: RPC and messages stay on it
            async def upper(request: Request) -> bytes:
                return request.data.upper()

            await accepted.register("upper", upper)
            assert await opened.call("upper", b"x") == b"X"
            with pytest.raises(RPCError):
                await client.call("upper", b"x")  # not registered on stream 1
            receiving = asyncio.create_task(accepted.receive())
            await opened.publish(b"on-stream", at_most_once=True)
            assert (await receiving).data == b"on-stream"

            # the server can open streams too
            back = await served.open_stream(meta=b"s2c")
            incoming = await client.accept_stream()
            assert incoming.meta == b"s2c"
            back.write(b"ping")
            assert await incoming.read(100) == b"ping"

            # close: the peer reads what is buffered, then EOF
            opened.write(b"tail")
            await opened.close()
            assert await accepted.read() == b"tail"
            assert accepted.at_eof()
            assert await accepted.read(10) == b""
            with pytest.raises(asyncio.IncompleteReadError):
                await accepted.readexactly(1)
            with pytest.raises(StreamClosedError):
                opened.write(b"x")
            with pytest.raises(StreamClosedError):
                await accepted.receive()
            await incoming.close()
            await back.wait_closed()

    run(loop_factory, main())


def test_stream_reads_of_any_size_return_every_byte_in_order(loop_factory: LoopFactory) -> None:
    """Received chunks are kept as they came (see `Stream`): reads that take whole chunks,
    parts of one, or several at once must still yield exactly the bytes written."""

    async def main() -> None:
        rec = Recorder()
        async with await start(rec) as server, await connect("127.0.0.1", server.port) as client:
            served = await rec.online.get()
            opened = await client.open_stream()
            accepted = await served.accept_stream()
            sizes = [1, 7, 300_000, 2, 65_536, 100_000, 3, 262_144, 262_145, 90]
            sent = b"".join(bytes([index]) * size for index, size in enumerate(sizes))
            position = 0
            for size in sizes:
                opened.write(sent[position : position + size])
                position += size
            await opened.drain()
            received: list[bytes] = []
            got = 0
            # small, odd, chunk-sized and large reads, both kinds, until everything is in
            steps = [1, 5, 70_000, 3, 262_144, 100, 500_000, 9, 131_072]
            step = 0
            while got < len(sent):
                n = min(steps[step % len(steps)], len(sent) - got)
                if step % 2:
                    data = await accepted.readexactly(n)
                    assert len(data) == n
                else:
                    data = await accepted.read(n)
                    assert 0 < len(data) <= n
                    assert type(data) is bytes
                received.append(data)
                got += len(data)
                step += 1
                assert accepted.buffered >= 0
            assert b"".join(received) == sent
            assert accepted.buffered == 0
            opened.write(b"end")
            await opened.close()
            assert await accepted.read() == b"end"
            assert accepted.at_eof()

    run(loop_factory, main())


SLOW_HANDSHAKE = ConnectionConfig(connect_timeout=10_000)
"""Under a 1000x ScaledTimer: a 10 s handshake timeout, as unscaled."""


def test_heartbeat_hook_and_timeout_force_closes(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        # Server timers run 1000x fast: the 2 x 5 s heartbeat timeout is 10 ms, while the
        # client's unscaled heartbeat (5 s) never comes in time. The handshake timeout is
        # scaled too, so it is made long enough (10 s scaled) for a stalled machine.
        async with await start(rec, timer=ScaledTimer(0.001), config=SLOW_HANDSHAKE) as server:
            client = await connect("127.0.0.1", server.port, heartbeat=5)
            served = await rec.online.get()
            assert await rec.offline.get() is served
            assert served.close_reason is not None
            assert served.close_reason.reason is CloseReason.HEARTBEAT_TIMEOUT
            assert served.close_reason.abort
            await client.wait_closed()  # the transport was dropped under it
            assert client.close_reason is not None
            assert client.close_reason.reason is CloseReason.TRANSPORT_CLOSED
            with pytest.raises(ConnectionClosedError):
                await client.call("x")

        # heartbeats that do come keep the connection and reach on_heartbeat
        async with await start(rec) as server:
            client = await connect(
                "127.0.0.1",
                server.port,
                heartbeat=5,
                timer=ScaledTimer(0.001),
                config=SLOW_HANDSHAKE,
            )
            served = await rec.online.get()
            for _ in range(3):
                assert await rec.heartbeats.get() is served
            assert served.online
            await client.close()

    run(loop_factory, main())


def test_idle_end_runs_no_task_and_close_cancels_handlers(loop_factory: LoopFactory) -> None:
    async def main() -> None:
        rec = Recorder()
        baseline = asyncio.all_tasks()  # this test and the runner's wait_for
        async with await start(rec) as server:
            clients = [await connect("127.0.0.1", server.port) for _ in range(5)]
            for _ in clients:
                await rec.online.get()
            assert asyncio.all_tasks() == baseline  # ten idle Ends, no task

            served = server.ends[0]
            started = asyncio.Event()
            handler_cancelled = asyncio.Event()

            async def forever(request: Request) -> bytes:
                started.set()
                try:
                    await asyncio.Event().wait()
                finally:
                    handler_cancelled.set()
                return b""

            await served.register("forever", forever)
            client = next(c for c in clients if c.client_id == served.client_id)
            call = asyncio.create_task(client.call("forever"))
            await started.wait()
            assert len(asyncio.all_tasks() - baseline) == 2  # the call, the handler
            await served.close()
            assert handler_cancelled.is_set()
            with pytest.raises(ConnectionClosedError):
                await call
            for c in clients:
                await c.close()
        assert asyncio.all_tasks() == baseline

    run(loop_factory, main())


def test_methods_given_to_connect_are_served_and_registered(loop_factory: LoopFactory) -> None:
    """`connect(methods=...)`: served from the handshake on, known to the server when
    `connect()` returns (its RegisterAcks awaited), and a refusal is `RemoteError`."""

    async def main() -> None:
        rec = Recorder()

        async def echo(request: Request) -> bytes:
            return request.data

        async def twice(request: Request) -> bytes:
            return request.data * 2

        async with await start(rec, config=ConnectionConfig(max_remote_methods=2)) as server:
            client = await connect("127.0.0.1", server.port, methods={"echo": echo, "twice": twice})
            served = await rec.online.get()
            assert await served.call("echo", b"a") == b"a"
            assert await served.call("twice", b"b") == b"bb"
            with pytest.raises(RemoteError, match="too many registered methods"):
                await connect(
                    "127.0.0.1",
                    server.port,
                    methods=dict.fromkeys(("x", "y", "z"), echo),
                )
            await client.close()

    run(loop_factory, main())
