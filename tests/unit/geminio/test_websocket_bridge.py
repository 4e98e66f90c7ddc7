"""`WebSocketBridge` fed bytes in memory: whatever the split, geminio's bytes go through
unchanged both ways; text, oversized and unmasked frames end only that WebSocket, with
their close codes; the upgrade refuses wrong paths and subprotocols.

The real sockets (TLS, proxies, a real gateway process) are in the integration and
adversarial tiers; here hypothesis drives the splits, which needs thousands of cases.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from frontier.geminio.aio.websocket import SEND_CHUNK, WebSocketBridge, WebSocketOptions


class Wire(asyncio.Transport):
    """One side's socket: what was written, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.reading = True

    def write(self, data: Any) -> None:
        assert not self.closed
        self.out += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


class Inner(asyncio.Protocol):
    """The geminio protocol's place: records what the bridge hands it."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.received = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def pair(
    path: str = "/", options: WebSocketOptions | None = None, subprotocol: str | None = "geminio"
) -> tuple[WebSocketBridge, Inner, Wire, WebSocketBridge, Inner, Wire]:
    """A client and a server bridge, upgraded (the caller checks the server's answer)."""
    options = options or WebSocketOptions()
    server_inner, client_inner = Inner(), Inner()
    server_ws = ServerProtocol(
        origins=options.origins, subprotocols=options.subprotocols, max_size=options.max_message
    )
    server = WebSocketBridge(server_ws, lambda: server_inner, options=options)
    client_ws = ClientProtocol(
        parse_uri(f"ws://gw.example{path}"),
        subprotocols=[subprotocol] if subprotocol is not None else None,  # type: ignore[list-item]
        max_size=None,
    )
    client = WebSocketBridge(client_ws, lambda: client_inner)
    server_wire, client_wire = Wire(), Wire()
    server.connection_made(server_wire)
    client.connection_made(client_wire)
    server.data_received(client_wire.take())  # the upgrade request
    client.data_received(server_wire.take())  # its answer
    return client, client_inner, client_wire, server, server_inner, server_wire


def deliver(data: bytes, to: WebSocketBridge, cuts: list[int]) -> None:
    """`data` to `to` in pieces cut at `cuts` (any TCP segmentation)."""
    edges = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for start, end in itertools.pairwise(edges):
        to.data_received(data[start:end])


writes = st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=20)
cuts = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30)


@settings(max_examples=300, deadline=None)
@given(writes=writes, up_cuts=cuts, down_cuts=cuts)
def test_geminio_bytes_pass_unchanged_in_any_split(
    writes: list[bytes], up_cuts: list[int], down_cuts: list[int]
) -> None:
    client, client_inner, client_wire, server, server_inner, server_wire = pair()
    assert server_inner.transport is server
    assert client_inner.transport is client
    for data in writes:
        client.write(data)
    deliver(client_wire.take(), server, up_cuts)
    assert bytes(server_inner.received) == b"".join(writes)
    server.writelines(writes)  # what GeminioProtocol does with held frames
    deliver(server_wire.take(), client, down_cuts)
    assert bytes(client_inner.received) == b"".join(writes)
    assert not server_wire.closed
    assert not client_wire.closed


def test_large_writes_become_messages_of_at_most_a_chunk() -> None:
    client, _, client_wire, server, server_inner, _ = pair(
        options=WebSocketOptions(max_message=SEND_CHUNK)
    )
    data = bytes(range(256)) * (3 * SEND_CHUNK // 256 + 7)
    client.write(data)
    deliver(client_wire.take(), server, [])
    assert bytes(server_inner.received) == data  # accepted under the smallest max_message
    assert not server.ws.close_sent


def test_a_text_message_closes_with_1003() -> None:
    client, _, client_wire, server, server_inner, server_wire = pair()
    client.ws.send_text(b"hello")
    client._send()
    deliver(client_wire.take(), server, [])
    assert server.ws.close_sent is not None
    assert server.ws.close_sent.code == 1003
    assert server_wire.closed  # the server ends the TCP connection
    assert server_inner.received == b""


def test_an_oversized_message_closes_with_1009() -> None:
    client, _, client_wire, server, _, server_wire = pair(
        options=WebSocketOptions(max_message=SEND_CHUNK)
    )
    client.ws.send_binary(b"x" * (SEND_CHUNK + 1))
    client._send()
    deliver(client_wire.take(), server, [])
    assert server.ws.close_sent is not None
    assert server.ws.close_sent.code == 1009
    assert server_wire.closed


def test_an_unmasked_client_frame_closes_with_1002() -> None:
    _, _, _, server, server_inner, server_wire = pair()
    server.data_received(b"\x82\x05hello")
    assert server.ws.close_sent is not None
    assert server.ws.close_sent.code == 1002
    assert server_wire.closed
    assert server_inner.received == b""


def test_the_upgrade_checks_path_and_subprotocol() -> None:
    _, client_inner, _, _, server_inner, server_wire = pair(path="/other")
    assert server_inner.transport is None  # no geminio connection was started
    assert client_inner.transport is None
    assert server_wire.closed
    _, client_inner, _, _, server_inner, server_wire = pair(subprotocol="mqtt")
    assert server_inner.transport is None
    assert server_wire.closed
    options = WebSocketOptions(path="/geminio", subprotocol="")
    _, client_inner, _, _, server_inner, _ = pair("/geminio?token=x", options, subprotocol=None)
    assert server_inner.transport is not None  # no subprotocol required; query ignored


def test_closing_sends_a_close_frame_then_closes_the_socket() -> None:
    client, client_inner, _, server, server_inner, server_wire = pair()
    server.write(b"last words")
    server.close()
    assert server_wire.closed
    assert server.is_closing()
    server.write(b"too late")  # dropped, not an error (as asyncio transports do)
    deliver(server_wire.take(), client, [])
    assert client_inner.received == b"last words"
    assert client.ws.close_rcvd is not None
    assert client.ws.close_rcvd.code == 1000
    server.connection_lost(None)
    assert server_inner.lost


def test_flow_control_passes_through() -> None:
    _, _, _, server, _, server_wire = pair()
    server.pause_reading()
    assert not server_wire.reading
    server.resume_reading()
    assert server_wire.reading
    assert server.get_extra_info("geminio_transport") == "websocket"


def test_nothing_after_a_failure_reaches_geminio() -> None:
    """A text message and binary ones behind it in the same read: the connection is being
    closed for the text, so the binary data is not handed on."""
    client, _, client_wire, server, server_inner, _ = pair()
    client.ws.send_text(b"first")
    client.ws.send_binary(b"then this")
    client._send()
    server.data_received(client_wire.take())  # one read holding both
    assert server_inner.received == b""
    assert server.ws.close_sent is not None
