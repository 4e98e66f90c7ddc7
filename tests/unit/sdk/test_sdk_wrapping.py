"""The SDK's conventions without a network: addresses, the edge-ID trailer on what a service
sends and receives, handler adaptation, hook payloads, and what is refused before start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from frontier.conventions import EdgePresence, ServiceMeta, encode_edge_id
from frontier.geminio.aio import Request, Stream
from frontier.geminio.packets import RequestPacket
from frontier.sdk import (
    ERR_DRAINING,
    ConnectionClosedError,
    Edge,
    OperationTimeout,
    PublishRejected,
    RPCError,
    Service,
    ServiceMessage,
    ServiceRequest,
    parse_address,
    stream_edge_id,
    strip_edge_id,
)
from frontier.sdk._base import parse_addresses
from frontier.sdk.edge import edge_handler
from frontier.sdk.service import get_edge_id_handler, presence_handler, service_handler

# ------------------------------------------------------------------------------- fakes


@dataclass
class FakeStream:
    """What the SDK reads of a stream it is handed: its peer and client ID."""

    peer: str = ""
    client_id: int = 1


def request(custom: bytes, data: bytes = b"arg", method: str = "m") -> Request:
    """A Request as the End builds it, on a stream of no End (what these tests read of it
    needs none; Request is compiled: its stream must be a real one)."""
    packet = RequestPacket(
        packet_id=7, session_id=1, key=method.encode(), value=data, custom=custom
    )
    return Request(Stream(None, 1, b"", ""), packet, method, False)


@dataclass
class AnsweredMessage:
    """What `ServiceMessage` wraps, answering as a received `Message` does (once) and
    recording the answers: acking a real one needs a connection (tests/integration/gateway/
    test_sdk_paths.py acks and nacks through a gateway)."""

    custom: bytes
    data: bytes = b"payload"
    topic: str = "t"
    answers: list[str] = field(default_factory=list)

    def done(self) -> bool:
        return self.error("")

    def error(self, text: str) -> bool:
        if self.answers:
            return False
        self.answers.append(text)
        return True


class FakeEnd:
    """Records what the SDK hands to the End (for the trailer and the stream peer)."""

    online = True
    closed = False
    closing = False
    client_id = 77

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def call(self, *args: Any, **kwargs: Any) -> bytes:
        self.calls.append(("call", args, kwargs))
        return b"result"

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("publish", args, kwargs))

    async def open_stream(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("open_stream", args, kwargs))
        return FakeStream(peer=args[1])


def attach(client: Service | Edge, end: FakeEnd) -> None:
    """Pretend the client is online on `end` (no socket)."""
    client._started = True
    client._went_online(end)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("127.0.0.1:30011", ("127.0.0.1", 30011)),
        ("gateway.local:30012", ("gateway.local", 30012)),
        ("[::1]:30012", ("::1", 30012)),
        (":30012", ("127.0.0.1", 30012)),
        (("10.0.0.1", 1), ("10.0.0.1", 1)),
    ],
)
def test_parse_address(addr: Any, expected: tuple[str, int]) -> None:
    assert parse_address(addr) == expected


@pytest.mark.parametrize(
    "addr", ["nohost", "host:", "host:http", "::1:30012", "h:0", "h:70000", ("h", "1")]
)
def test_parse_address_rejects(addr: Any) -> None:
    with pytest.raises(ValueError, match="bad address"):
        parse_address(addr)


def test_parse_addresses_tells_one_pair_from_a_list() -> None:
    assert parse_addresses(("h", 1)) == [("h", 1)]
    assert parse_addresses(("a:1", "b:2")) == [("a", 1), ("b", 2)]
    assert parse_addresses(["a:1", ("b", 2)]) == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError, match="no address"):
        parse_addresses([])


# ----------------------------------------------------------------------------- trailer


def test_strip_edge_id() -> None:
    assert strip_edge_id(b"abc" + encode_edge_id(2**64 - 1)) == (b"abc", 2**64 - 1)
    assert strip_edge_id(encode_edge_id(5)) == (b"", 5)
    # no trailer (not from a gateway): custom kept, edge 0, as Go's service SDK
    assert strip_edge_id(b"short") == (b"short", 0)
    assert strip_edge_id(b"") == (b"", 0)


def test_service_request_strips_the_trailer() -> None:
    raw = request(b"side" + encode_edge_id(0x0102030405060708), data=b"x", method="echo")
    req = ServiceRequest(raw)
    assert req.edge_id == 0x0102030405060708
    assert req.custom == b"side"
    assert (req.method, req.data) == ("echo", b"x")
    assert req.raw is raw
    assert "from edge" in repr(req)


def test_service_message_strips_the_trailer_and_answers_through_the_raw_message() -> None:
    raw = AnsweredMessage(b"c" + encode_edge_id(42))
    msg = ServiceMessage(raw)  # type: ignore[arg-type]
    assert (msg.edge_id, msg.custom, msg.topic, msg.data) == (42, b"c", "t", b"payload")
    assert msg.done() is True
    assert msg.error("late") is False  # answered once only
    assert raw.answers == [""]

    raw = AnsweredMessage(encode_edge_id(1))
    nacked = ServiceMessage(raw)  # type: ignore[arg-type]
    assert nacked.error("busy") is True
    assert raw.answers == ["busy"]


def test_stream_edge_id() -> None:
    assert stream_edge_id(FakeStream(peer="1795329493421")) == 1795329493421  # type: ignore[arg-type]
    assert stream_edge_id(FakeStream(peer=str(2**64 - 1))) == 2**64 - 1  # type: ignore[arg-type]
    for peer in ("", "chat", "-1", "1.5", str(2**64), "\u0663"):  # U+0663: a non-ASCII digit
        assert stream_edge_id(FakeStream(peer=peer)) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- handlers


async def test_service_handler_plain_and_async() -> None:
    seen: list[ServiceRequest] = []

    def plain(req: ServiceRequest) -> bytes:
        seen.append(req)
        return b"plain"

    async def coro(req: ServiceRequest) -> bytearray:
        return bytearray(b"async")

    raw = request(b"x" + encode_edge_id(3))
    assert await service_handler(plain)(raw) == b"plain"
    assert seen[0].edge_id == 3
    assert seen[0].custom == b"x"
    assert await service_handler(coro)(raw) == b"async"
    assert await service_handler(lambda req: None)(raw) == b""
    assert await service_handler(lambda req: memoryview(b"mv"))(raw) == b"mv"
    with pytest.raises(TypeError, match="bytes or None"):
        await service_handler(lambda req: "text")(raw)  # type: ignore[arg-type, return-value]


async def test_edge_handler_gets_the_raw_request() -> None:
    raw = request(b"custom", data=b"d")
    assert await edge_handler(lambda req: req.data + req.custom)(raw) == b"dcustom"

    async def fails(req: Request) -> bytes:
        raise RuntimeError("sensor offline")

    with pytest.raises(RuntimeError, match="sensor offline"):
        await edge_handler(fails)(raw)


async def test_get_edge_id_handler_answers_8_bytes_big_endian() -> None:
    metas: list[bytes] = []

    def from_meta(meta: bytes) -> int:
        metas.append(meta)
        return int(meta)

    async def zero(meta: bytes) -> int:
        return 0

    assert await get_edge_id_handler(from_meta)(request(b"", data=b"258")) == bytes.fromhex(
        "0000000000000102"
    )
    assert metas == [b"258"]
    assert await get_edge_id_handler(zero)(request(b"")) == bytes(8)
    with pytest.raises(TypeError, match="not int"):
        await get_edge_id_handler(lambda meta: True)(request(b""))
    with pytest.raises(ValueError, match="64 bits"):
        await get_edge_id_handler(lambda meta: 2**64)(request(b""))


async def test_presence_handler_decodes_and_rejects_by_raising() -> None:
    event = EdgePresence(edge_id=12, meta=b"\x00token", net="tcp", addr="10.0.0.9:5555")
    got: list[EdgePresence] = []
    assert await presence_handler(got.append)(request(b"", data=event.encode())) == b""
    assert got == [event]

    async def deny(presence: EdgePresence) -> None:
        raise PermissionError(f"edge {presence.edge_id} denied")

    with pytest.raises(PermissionError, match="edge 12 denied"):
        await presence_handler(deny)(request(b"", data=event.encode()))


# ------------------------------------------------------------------- client objects


def test_service_meta_and_ids_before_connecting() -> None:
    service = Service("127.0.0.1:30011", name="chat", topics=["chat", "chat", "*"], service_id=9)
    assert ServiceMeta.decode(service._meta) == ServiceMeta("chat", ("chat", "*"))
    assert service.service_id == 9
    assert not service.online
    assert service.streams() == []
    edge = Edge(["a:1", "b:2"], meta=b"dev")
    assert edge.edge_id == 0
    assert edge.meta == b"dev"
    with pytest.raises(TypeError, match="not a string"):
        Service("127.0.0.1:30011", topics="chat")


async def test_operations_before_start_raise() -> None:
    service = Service("127.0.0.1:1")
    with pytest.raises(ConnectionClosedError, match="not started"):
        await service.call(1, "m")
    edge = Edge("127.0.0.1:1")
    with pytest.raises(ConnectionClosedError, match="not started"):
        await edge.receive()


async def test_register_before_start_is_remembered() -> None:
    edge = Edge("127.0.0.1:1")
    await edge.register("read", lambda req: b"")
    assert list(edge._methods) == ["read"]


async def test_service_sends_the_trailer_and_the_decimal_peer() -> None:
    service = Service("127.0.0.1:1")
    end = FakeEnd()
    attach(service, end)
    assert service.online
    assert service.service_id == 77
    assert await service.call(5, "ping", b"d", custom=b"c", timeout=3) == b"result"
    await service.publish(2**64 - 1, b"m", topic="t")
    stream = await service.open_stream(1234)
    assert stream_edge_id(stream) == 1234
    (_, call_args, call_kwargs), (_, pub_args, pub_kwargs), (_, open_args, _) = end.calls
    assert call_args == ("ping", b"d")
    assert call_kwargs["custom"] == b"c" + encode_edge_id(5)
    assert 0 < call_kwargs["timeout"] <= 3
    assert pub_args == (b"m",)
    assert pub_kwargs["custom"] == encode_edge_id(2**64 - 1)
    assert pub_kwargs["topic"] == "t"
    assert open_args == (b"", "1234")
    with pytest.raises(ValueError, match="64 bits"):
        await service.call(-1, "m")
    with pytest.raises(ValueError, match="64 bits"):
        await service.open_stream(2**64)


async def test_edge_sends_no_trailer() -> None:
    edge = Edge("127.0.0.1:1")
    end = FakeEnd()
    attach(edge, end)
    assert edge.edge_id == 77
    await edge.call("m", b"x")
    await edge.publish("topic", b"y", custom=b"z")
    await edge.open_stream("svc", meta=b"hello")
    (_, call_args, call_kwargs), (_, pub_args, pub_kwargs), (_, open_args, _) = end.calls
    assert call_args == ("m", b"x")
    assert call_kwargs["custom"] == b""
    assert pub_args == (b"y",)
    assert pub_kwargs == {"topic": "topic", "custom": b"z", "timeout": None}
    assert open_args == (b"hello", "svc")


class DrainingEnd(FakeEnd):
    """A connection whose gateway refuses everything unforwarded (`ERR_DRAINING`)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = asyncio.Event()

    async def call(self, *args: Any, **kwargs: Any) -> bytes:
        self.calls.append(("call", args, kwargs))
        self.refused.set()
        raise RPCError(ERR_DRAINING)

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("publish", args, kwargs))
        self.refused.set()
        raise PublishRejected(ERR_DRAINING)


@pytest.mark.parametrize("operation", ["call", "publish"])
async def test_what_a_draining_gateway_refused_is_sent_again_on_the_next_connection(
    operation: str,
) -> None:
    """Refused unforwarded, so not delivered: the SDK waits for its next connection (within
    the operation's timeout) and sends it there; the caller sees no error."""
    edge = Edge("127.0.0.1:1")
    old, new = DrainingEnd(), FakeEnd()
    attach(edge, old)
    if operation == "call":
        pending = asyncio.ensure_future(edge.call("m", b"d", timeout=5))
    else:
        pending = asyncio.ensure_future(edge.publish("t", b"d", timeout=5))
    await asyncio.wait_for(old.refused.wait(), 5)
    assert not pending.done()  # waiting for the next connection, not failed
    assert not edge.online  # and not sending on `old` again
    edge._went_offline(old)  # type: ignore[arg-type]
    edge._went_online(new)  # type: ignore[arg-type]
    await asyncio.wait_for(pending, 5)
    assert len(old.calls) == len(new.calls) == 1
    assert 0 < new.calls[0][2]["timeout"] <= 5


async def test_a_refusal_without_a_next_connection_ends_at_the_timeout() -> None:
    edge = Edge("127.0.0.1:1")
    attach(edge, DrainingEnd())
    with pytest.raises(OperationTimeout):
        await edge.call("m", timeout=0.05)


async def test_a_closing_connection_is_not_used_for_new_operations() -> None:
    edge = Edge("127.0.0.1:1")
    end = FakeEnd()
    end.closing = True  # its gateway said goodbye: stream 1 is being dismissed
    attach(edge, end)
    assert not edge.online
    with pytest.raises(OperationTimeout):
        await edge.call("m", timeout=0.05)
    assert end.calls == []
