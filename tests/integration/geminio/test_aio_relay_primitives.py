"""Task-free relay primitives: `call_future`, `publish_future`, their future-free
forms for relays (`forward_call`, `forward_publish`) and `hijack_sync`.

The gateway's forwarding path chains callbacks instead of running a task per forwarded
call: these check that each primitive resolves, fails, times out, cancels and ends with
the connection exactly as the awaitable `call()`/`publish()`/`hijack()` do, and that
sync-hijacked requests still count against `Limits.max_handlers`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from frontier.geminio.aio import (
    ConnectionClosedError,
    End,
    Limits,
    Message,
    OperationTimeout,
    PublishRejected,
    Request,
    RPCError,
    StreamClosedError,
    SyncRequest,
    connect,
    serve,
)
from frontier.geminio.aio.forwarded import Forwarded
from frontier.geminio.conn_config import ConnectionConfig
from support.gateway import until
from support.loops import LOOPS, LoopFactory, run

STALL = 0.3
"""Far longer than a loopback round trip: what is still pending after it is held back."""

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]

Main = Callable[[End, End], Coroutine[Any, Any, None]]


async def served_pair(
    main: Main, *, limits: Limits | None = None, config: ConnectionConfig | None = None
) -> None:
    """`main(served, client)` over loopback: `served` is the server's End."""
    online: asyncio.Queue[End] = asyncio.Queue()

    async with (
        await serve("127.0.0.1", 0, handler=_put(online), limits=limits) as server,
        await connect("127.0.0.1", server.port, config=config) as client,
    ):
        await main(await online.get(), client)


def _put(queue: asyncio.Queue[End]) -> Callable[[End], Coroutine[Any, Any, None]]:
    async def handler(end: End) -> None:
        queue.put_nowait(end)

    return handler


async def echo(request: Request) -> bytes:
    if request.data == b"fail":
        raise RuntimeError("it failed")
    return b"re:" + request.data


# ------------------------------------------------------------------------- call_future


def test_call_future_resolves_to_the_response(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        await served.register("echo", echo)
        await client.wait_remote_methods("echo")
        futures = [client.call_future("echo", b"%d" % i) for i in range(64)]
        assert all(isinstance(future, asyncio.Future) for future in futures)
        assert await asyncio.gather(*futures) == [b"re:%d" % i for i in range(64)]
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.call_future("echo", b"cb").add_done_callback(
            lambda future: done.set_result(future.result())
        )
        assert await done == b"re:cb"
        assert not client._pending  # nothing left behind

    run(loop_factory, served_pair(main))


def test_a_relay_forwards_a_payload_as_its_base64_text_both_ways(
    loop_factory: LoopFactory,
) -> None:
    """What the gateway does: a hijacked call's payload goes on as the text it came in
    (`data_b64`), the response comes back as text (`forward_call`) and is answered with
    it; neither end sees a difference, and the relay decodes neither payload."""
    payload = bytes(range(256)) * 40

    async def main(served: End, client: End) -> None:
        await served.register("echo", echo)
        await client.wait_remote_methods("echo")
        relayed: list[tuple[bytes | None, bytes, bytes | None]] = []

        class Answer(Forwarded):
            def __init__(self, request: SyncRequest) -> None:
                super().__init__()
                self.request = request

            def finished(self, error: BaseException | None) -> None:
                assert error is None
                request = self.request
                relayed.append((request.data_b64, self.data, self.data_b64))
                request.respond(self.data, data_b64=self.data_b64)

        def relay(request: SyncRequest) -> None:
            # the client relays the server's "relay" calls back to the server's "echo"
            client.forward_call(
                Answer(request), "echo", b"", custom=b"", timeout=5, data_b64=request.data_b64
            )

        client.hijack_sync(relay, "^relay$")
        result = await served.call("relay", payload, timeout=5)
        assert result == b"re:" + payload
        [(request_text, forwarded_data, response_text)] = relayed
        assert request_text == base64.b64encode(payload)
        assert forwarded_data == b""  # a forwarded response is not decoded...
        assert response_text == base64.b64encode(b"re:" + payload)  # ...but spliced
        # a call_future resolves to the data, decoded
        assert await client.call_future("echo", b"x", timeout=5) == b"re:x"

    run(loop_factory, served_pair(main))


def test_call_future_errors(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        await served.register("echo", echo)
        await client.wait_remote_methods("echo")
        with pytest.raises(RPCError, match="it failed"):
            await client.call_future("echo", b"fail")
        with pytest.raises(RPCError, match="no such rpc: nothing"):
            await client.call_future("nothing")

    run(loop_factory, served_pair(main))


def test_call_future_times_out(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        async def never(request: Request) -> bytes:
            await asyncio.Event().wait()
            return b""

        await served.register("never", never)
        await client.wait_remote_methods("never")
        future = client.call_future("never", timeout=0.05)
        with pytest.raises(OperationTimeout):
            await future
        assert not client._pending

    run(loop_factory, served_pair(main))


@pytest.mark.parametrize("send_cancel", [False, True])
def test_cancelling_call_future_forgets_the_call(
    loop_factory: LoopFactory, send_cancel: bool
) -> None:
    async def main(served: End, client: End) -> None:
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
        await client.wait_remote_methods("slow")
        future = client.call_future("slow")
        await started.wait()
        assert future.cancel()
        assert not client._pending
        assert client.connection.session(1).requests == {}  # type: ignore[union-attr]
        if send_cancel:  # RequestCancel reached the callee: its handler was cancelled
            await asyncio.wait_for(cancelled.wait(), 10)
        else:
            await asyncio.sleep(STALL)
            assert not cancelled.is_set()
        release.set()
        assert await client.call_future("slow", timeout=5) == b"late"  # still usable

    run(loop_factory, served_pair(main, config=ConnectionConfig(send_request_cancel=send_cancel)))


def test_call_future_when_the_connection_closes(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        started = asyncio.Event()

        async def slow(request: Request) -> bytes:
            started.set()
            await asyncio.Event().wait()
            return b""

        await served.register("slow", slow)
        await client.wait_remote_methods("slow")
        future = client.call_future("slow")
        await started.wait()
        served.abort()
        with pytest.raises(ConnectionClosedError):
            await future
        with pytest.raises(ConnectionClosedError):  # raised at once, no future
            client.call_future("slow")

    run(loop_factory, served_pair(main))


def test_call_future_on_a_closed_stream_raises_at_once(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        accepted: asyncio.Future[Any] = asyncio.ensure_future(served.accept_stream())
        stream = await client.open_stream()
        await accepted
        await stream.close()
        with pytest.raises(StreamClosedError):
            stream.call_future("x")
        with pytest.raises(StreamClosedError):
            stream.publish_future(b"x")

    run(loop_factory, served_pair(main))


# ---------------------------------------------------------------------- publish_future


def test_publish_future_acks_and_nacks(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        def sink(message: Message) -> None:
            if message.data == b"no":
                message.error("refused")
            else:
                message.done()

        served.set_message_sink(sink)
        futures = [client.publish_future(b"%d" % i, topic="t") for i in range(32)]
        assert await asyncio.gather(*futures) == [None] * 32
        with pytest.raises(PublishRejected, match="refused"):
            await client.publish_future(b"no")
        assert not client._pending

    run(loop_factory, served_pair(main))


def test_publish_future_timeout_cancel_and_close(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        held: list[Message] = []
        served.set_message_sink(held.append)  # never acked
        with pytest.raises(OperationTimeout):
            await client.publish_future(b"a", timeout=0.05)
        future = client.publish_future(b"b")
        await until(lambda: len(held) == 2)  # "b" is with the server, unacked
        assert future.cancel()
        assert not client._pending
        assert client.connection.session(1).publishes == {}  # type: ignore[union-attr]
        assert held[1].done() is True  # a late ack is dropped quietly
        pending = client.publish_future(b"c")
        await until(lambda: len(held) == 3)
        served.abort()
        with pytest.raises(ConnectionClosedError):
            await pending

    run(loop_factory, served_pair(main))


# -------------------------------------------------------- forward_call, forward_publish


class Outcomes:
    """What each `Forwarded.finished` was called with: exactly once each."""

    def __init__(self) -> None:
        self.seen: list[tuple[Forwarded, BaseException | None]] = []
        self.changed = asyncio.Event()

    def record(self, forwarded: Forwarded, error: BaseException | None) -> None:
        assert forwarded.done()
        assert all(seen is not forwarded for seen, _ in self.seen), "finished twice"
        self.seen.append((forwarded, error))
        self.changed.set()

    async def count(self, n: int) -> None:
        while len(self.seen) < n:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)
        assert len(self.seen) == n

    def error_of(self, forwarded: Forwarded) -> BaseException | None:
        [error] = [error for seen, error in self.seen if seen is forwarded]
        return error


class Recorded(Forwarded):
    def __init__(self, outcomes: Outcomes) -> None:
        super().__init__()
        self.outcomes = outcomes

    def finished(self, error: BaseException | None) -> None:
        self.outcomes.record(self, error)


def _call(client: End, outcomes: Outcomes, method: str, data: bytes, **kw: Any) -> Forwarded:
    options: dict[str, Any] = {"custom": b"", "timeout": None, "data_b64": None, **kw}
    forwarded = Recorded(outcomes)
    client.forward_call(forwarded, method, data, **options)
    assert forwarded.op_id
    assert not forwarded.done()
    return forwarded


def test_forward_call_answers_errors_and_times_out(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        async def never(request: Request) -> bytes:
            await asyncio.Event().wait()
            return b""

        await served.register("echo", echo)
        await served.register("never", never)
        await client.wait_remote_methods("echo", "never")
        outcomes = Outcomes()
        answered = [_call(client, outcomes, "echo", b"%d" % i) for i in range(16)]
        failed = _call(client, outcomes, "echo", b"fail")
        unknown = _call(client, outcomes, "nothing", b"")
        late = _call(client, outcomes, "never", b"", timeout=0.05)
        await outcomes.count(19)
        for i, forwarded in enumerate(answered):
            assert outcomes.error_of(forwarded) is None
            # a response encoded as Go encodes it comes as text to splice
            assert forwarded.data_b64 == base64.b64encode(b"re:%d" % i)
        assert isinstance(error := outcomes.error_of(failed), RPCError)
        assert "it failed" in str(error)
        assert isinstance(error := outcomes.error_of(unknown), RPCError)
        assert "no such rpc: nothing" in str(error)
        assert isinstance(outcomes.error_of(late), OperationTimeout)
        assert not client._pending  # nothing left behind
        assert not late.cancel()  # done: nothing to cancel

    run(loop_factory, served_pair(main))


@pytest.mark.parametrize("send_cancel", [False, True])
def test_cancelling_forward_call_forgets_the_call(
    loop_factory: LoopFactory, send_cancel: bool
) -> None:
    async def main(served: End, client: End) -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def slow(request: Request) -> bytes:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return b""

        await served.register("slow", slow)
        await client.wait_remote_methods("slow")
        outcomes = Outcomes()
        forwarded = _call(client, outcomes, "slow", b"")
        await started.wait()
        assert forwarded.cancel()
        assert isinstance(outcomes.error_of(forwarded), asyncio.CancelledError)  # at once
        assert not forwarded.cancel()
        assert not client._pending
        assert client.connection.session(1).requests == {}  # type: ignore[union-attr]
        if send_cancel:  # RequestCancel reached the callee: its handler was cancelled
            await asyncio.wait_for(cancelled.wait(), 10)
        await outcomes.count(1)

    run(loop_factory, served_pair(main, config=ConnectionConfig(send_request_cancel=send_cancel)))


def test_forward_publish_acks_nacks_and_ends_with_the_connection(
    loop_factory: LoopFactory,
) -> None:
    async def main(served: End, client: End) -> None:
        held: list[Message] = []

        def sink(message: Message) -> None:
            if message.data == b"no":
                message.error("refused")
            elif message.data == b"hold":
                held.append(message)
            else:
                message.done()

        served.set_message_sink(sink)
        outcomes = Outcomes()

        def publish(data: bytes, **kw: Any) -> Forwarded:
            options: dict[str, Any] = {"topic": "t", "custom": b"", "timeout": None, **kw}
            forwarded = Recorded(outcomes)
            client.forward_publish(forwarded, data, data_b64=None, **options)
            return forwarded

        acked = [publish(b"%d" % i) for i in range(8)]
        nacked = publish(b"no")
        timed_out = publish(b"hold", timeout=0.05)
        await outcomes.count(10)
        assert all(outcomes.error_of(forwarded) is None for forwarded in acked)
        assert isinstance(error := outcomes.error_of(nacked), PublishRejected)
        assert "refused" in str(error)
        assert isinstance(outcomes.error_of(timed_out), OperationTimeout)
        cut_off = publish(b"hold")
        await until(lambda: len(held) == 2)
        served.abort()
        await outcomes.count(11)
        assert isinstance(outcomes.error_of(cut_off), ConnectionClosedError)
        with pytest.raises(ConnectionClosedError):  # raised at once, never finished
            publish(b"x")
        assert len(outcomes.seen) == 11

    run(loop_factory, served_pair(main))


# ------------------------------------------------------------------------- hijack_sync


def test_hijack_sync_answers_synchronously_and_later(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        held: list[SyncRequest] = []

        def relay(request: SyncRequest) -> None:
            assert request.hijacked
            if request.method == "now":
                assert request.respond(b"now:" + request.data)
                assert not request.respond(b"again")  # first answer wins
                assert not request.fail("too late")
            elif request.method == "fail":
                assert request.fail("nope")
            elif request.method == "raise":
                raise ValueError("boom")
            else:
                held.append(request)

        await served.register("echo", echo)
        served.hijack_sync(relay, "^(now|fail|raise|later)$")
        assert await client.call("now", b"x") == b"now:x"
        with pytest.raises(RPCError, match="nope"):
            await client.call("fail")
        with pytest.raises(RPCError, match="boom"):
            await client.call("raise")
        assert await client.call("echo", b"y") == b"re:y"  # not caught: registered handler
        later = asyncio.ensure_future(client.call("later", b"z"))
        await until(lambda: bool(held))
        assert held[0].answered is False
        assert held[0].respond(bytearray(b"done"))
        assert held[0].answered
        assert await later == b"done"
        assert served._handlers_running() == 0
        served.unhijack()
        with pytest.raises(RPCError, match="no such rpc: now"):
            await client.call("now")

    run(loop_factory, served_pair(main))


def test_hijack_sync_replaces_hijack_and_back(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        async def handler(request: Request) -> bytes:
            return b"task"

        served.hijack(handler)

        def answer(request: SyncRequest) -> None:
            request.respond(b"sync")

        served.hijack_sync(answer)
        assert await client.call("m") == b"sync"
        served.hijack(handler)
        assert await client.call("m") == b"task"

    run(loop_factory, served_pair(main))


def test_hijack_sync_cancel_marks_the_request(loop_factory: LoopFactory) -> None:
    async def main(served: End, client: End) -> None:
        held: list[SyncRequest] = []
        cancelled: list[SyncRequest] = []

        def relay(request: SyncRequest) -> None:
            request.on_cancel = cancelled.append
            held.append(request)

        served.hijack_sync(relay)
        call = asyncio.ensure_future(client.call("m"))
        await until(lambda: bool(held))
        call.cancel()
        await until(lambda: bool(cancelled))
        request = held[0]
        assert cancelled == [request]
        assert request.cancelled
        assert served._handlers_running() == 1  # counted until answered
        assert request.fail("context canceled")
        assert served._handlers_running() == 0

    run(
        loop_factory,
        served_pair(main, config=ConnectionConfig(send_request_cancel=True)),
    )


def test_hijack_sync_requests_are_dropped_when_the_connection_closes(
    loop_factory: LoopFactory,
) -> None:
    async def main(served: End, client: End) -> None:
        held: list[SyncRequest] = []
        served.hijack_sync(held.append)
        call = asyncio.ensure_future(client.call("m"))
        await until(lambda: bool(held))
        client.abort()
        await served.wait_closed()
        with pytest.raises(ConnectionClosedError):
            await call
        assert held[0].answered  # dropped: answering does nothing
        assert not held[0].cancelled
        assert not held[0].respond(b"late")
        assert served._handlers_running() == 0

    run(loop_factory, served_pair(main))


def test_hijack_sync_counts_against_max_handlers(loop_factory: LoopFactory) -> None:
    bound, extra = 2, 3

    async def main(served: End, client: End) -> None:
        held: list[SyncRequest] = []
        served.hijack_sync(held.append)
        assert served.protocol is not None
        calls = []
        for i in range(bound):
            calls.append(asyncio.ensure_future(client.call("m", b"%d" % i)))
            await until(lambda n=i: len(held) > n)  # type: ignore[misc]
        assert served.protocol.reading_paused  # the bound is reached: stop reading
        calls.extend(
            asyncio.ensure_future(client.call("m", b"%d" % i)) for i in range(bound, bound + extra)
        )
        done, _ = await asyncio.wait(calls, timeout=STALL)
        assert not done
        assert len(held) == bound  # the extra calls wait in the socket
        answered = 0
        while answered < bound + extra:
            await until(lambda n=answered: len(held) > n)  # type: ignore[misc]
            request = held[answered]
            assert request.respond(b"re:" + request.data)
            answered += 1
        assert await asyncio.gather(*calls) == [b"re:%d" % i for i in range(bound + extra)]
        assert not served.protocol.reading_paused
        assert served._handlers_running() == 0

    run(loop_factory, served_pair(main, limits=Limits(max_handlers=bound)))
