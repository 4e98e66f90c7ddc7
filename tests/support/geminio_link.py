"""Test harness: sans-I/O geminio connections driven by a virtual clock, wired in memory.

`Driver` plays the asyncio adapter for one connection: after every call it drains bytes,
events and timer requests, keeping armed timers as absolute deadlines on a shared
`VirtualClock`. `Link` joins a client and a server driver with two byte pipes that the test
can hold back, cut or deliver in arbitrary splits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from frontier.geminio import decode_frame, encode
from frontier.geminio.conn_client import ClientConnection
from frontier.geminio.conn_server import ServerConnection
from frontier.geminio.connection import Connection
from frontier.geminio.events import ConnectionClosed, ConnectRequested, Event
from frontier.geminio.packets import HEADER_LEN, Packet
from frontier.geminio.timer_requests import SetTimer, TimerKey

E = TypeVar("E")


class VirtualClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now


class Driver:
    """Adapter stand-in for one connection."""

    def __init__(self, conn: Connection, clock: VirtualClock | None = None) -> None:
        self.conn = conn
        self.clock = clock if clock is not None else VirtualClock()
        self.events: list[Event] = []
        self.timers: dict[TimerKey, float] = {}
        self.timer_log: list[Any] = []
        self.wire = bytearray()
        """Bytes written and not yet taken by the other side."""
        self.sent = bytearray()
        """Every byte ever written."""

    # -- the adapter contract: drain after every call ------------------------------------

    def drain(self) -> None:
        for frame in self.conn.data_to_send():
            self.wire += frame
            self.sent += frame
        for request in self.conn.timer_requests():
            self.timer_log.append(request)
            if isinstance(request, SetTimer):
                self.timers[request.key] = self.clock.now + request.delay
            else:
                self.timers.pop(request.key, None)
        self.events.extend(self.conn.events_received())

    def call(self, fn: Callable[..., E], *args: Any, **kwargs: Any) -> E:
        try:
            return fn(*args, **kwargs)
        finally:
            self.drain()

    def feed(self, data: bytes) -> None:
        self.call(self.conn.receive_data, data)

    def feed_packets(self, *packets: Packet) -> None:
        self.feed(b"".join(encode(p) for p in packets))

    def fire_due(self) -> bool:
        """Fire the earliest due timer; False if none is due."""
        due = [(when, key) for key, when in self.timers.items() if when <= self.clock.now]
        if not due:
            return False
        _, key = min(due, key=lambda item: item[0])
        del self.timers[key]
        self.call(self.conn.timer_expired, key)
        return True

    # -- inspection ----------------------------------------------------------------------

    def take_wire(self) -> bytes:
        data = bytes(self.wire)
        self.wire.clear()
        return data

    def take_packets(self) -> list[Packet]:
        return split_frames(self.take_wire())

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def pop(self, kind: type[E]) -> list[E]:
        found = [e for e in self.events if isinstance(e, kind)]
        self.events = [e for e in self.events if not isinstance(e, kind)]
        return found

    @property
    def closed_event(self) -> ConnectionClosed | None:
        found = self.of(ConnectionClosed)
        assert len(found) <= 1, found
        return found[0] if found else None


def split_frames(data: bytes) -> list[Packet]:
    packets: list[Packet] = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 10 : pos + 14], "big")
        end = pos + HEADER_LEN + length
        packets.append(decode_frame(data[pos:end]))
        pos = end
    return packets


class Link:
    """A client and a server joined by two in-memory pipes."""

    def __init__(
        self,
        client: ClientConnection | None = None,
        server: ServerConnection | None = None,
        *,
        now: float = 0.0,
    ) -> None:
        self.clock = VirtualClock(now)
        self.client = Driver(client if client is not None else ClientConnection(), self.clock)
        self.server = Driver(server if server is not None else ServerConnection(), self.clock)
        self.cut_client_to_server = False
        self.cut_server_to_client = False

    def pump(self, *, limit: int = 10_000) -> int:
        """Deliver bytes both ways until both pipes are empty; returns rounds taken."""
        for rounds in range(limit):
            c2s = self.client.take_wire()
            s2c = self.server.take_wire()
            if not c2s and not s2c:
                return rounds
            if c2s and not self.cut_client_to_server:
                self.server.feed(c2s)
            if s2c and not self.cut_server_to_client:
                self.client.feed(s2c)
        raise AssertionError("the two peers never went quiet")

    def advance(self, seconds: float, *, step: float | None = None) -> None:
        """Move the clock, firing timers in deadline order and pumping after each."""
        target = self.clock.now + seconds
        while True:
            deadlines = [
                when
                for driver in (self.client, self.server)
                for when in driver.timers.values()
                if when <= target
            ]
            if not deadlines:
                break
            self.clock.now = max(self.clock.now, min(deadlines))
            for driver in (self.client, self.server):
                while driver.fire_due():
                    pass
            self.pump()
        self.clock.now = target

    def connect(
        self,
        decide: Callable[[ConnectRequested], int | str] = lambda _request: 7,
    ) -> None:
        """Run the handshake; `decide` returns a client ID to accept or a text to reject."""
        self.server.call(self.server.conn.start)
        self.client.call(self.client.conn.start)
        self.pump()
        requests = self.server.pop(ConnectRequested)
        assert len(requests) == 1, requests
        verdict = decide(requests[0])
        server = self.server.conn
        assert isinstance(server, ServerConnection)
        if isinstance(verdict, int):
            self.server.call(server.accept, verdict)
        else:
            self.server.call(server.reject, verdict)
        self.pump()


def connected_link(**kwargs: Any) -> Link:
    link = Link(**kwargs)
    link.connect()
    link.client.events.clear()
    link.server.events.clear()
    return link


def frames(packets: Iterable[Packet]) -> bytes:
    return b"".join(encode(p) for p in packets)
