"""The processes bench/gateway.py measures: one role per subprocess (not a benchmark itself).

Run as ``python bench/_gateway_peers.py ROLE [ARGS...]``. Every role raises RLIMIT_NOFILE to
its hard limit, prints one line once it is ready (its ports, or a JSON summary), then runs
until its stdin closes, so that the parent ending, even abnormally, ends it too. Roles with a
debug hook answer command lines on stdin (``stats``) with one JSON line on stdout; the
command pipe is read by a protocol, not a task or a thread, so it adds nothing to an idle
process.

- ``gateway [tcp|websocket]``: `frontier.gateway.Gateway` in process, its listeners (the
  WebSocket one included) on 127.0.0.1 port 0, observability off; the listener named gets
  the descriptors, the other 64. Prints ``SERVICEBOUND_PORT
  EDGEBOUND_PORT WEBSOCKET_PORT``. ``stats`` answers
  ``{"tasks": len(asyncio.all_tasks()), "heartbeats": ..., "edges": ..., "gc_collections":
  [per generation], "gc_seconds": [per generation]}``; heartbeats are counted by an
  ``on_heartbeat`` hook on both edgebound servers (one Python call each), the garbage
  collector's time by a `gc.callbacks` entry (two calls per collection).
- ``direct``: a geminio server without a gateway: RPC ``echo`` and an ack for every message
  (the same server as bench/protocol.py's). Prints its port.
- ``relay``: a plain asyncio TCP relay: connections are joined in pairs as they arrive and
  bytes are forwarded both ways from ``data_received``; when one side's transport pauses
  writing, the other side stops reading until it resumes. Prints its port.
- ``plain``: a uvloop `asyncio.Protocol` server that writes back whatever it receives (a
  geminio Heartbeat here, answered with as many bytes as a HeartbeatAck). Prints its port;
  ``stats`` answers ``{"tasks": ..., "packets": ..., "conns": ...}``.
- ``edges HOST PORT N HEARTBEAT``: N geminio clients (edge IDs 1..N) advertising HEARTBEAT
  seconds, then idle; a ``ws://`` URL as HOST (PORT 0) makes them WebSocket edges.
  Prints ``{"connected": ..., "failed": ..., "seconds": ..., "error": ...}``.
- ``sockets HOST PORT N HEARTBEAT``: N plain sockets, each writing the bytes of a geminio
  Heartbeat packet every HEARTBEAT seconds (first one at a random phase). Prints the same
  summary as ``edges``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import cast

import uvloop

from frontier.gateway import Gateway, parse_config
from frontier.geminio.aio import End, EndError, Request, connect, serve
from frontier.geminio.encoder import encode
from frontier.geminio.packets import HeartbeatPacket

CONNECT_CONCURRENCY = 128
Answer = Callable[[str], dict[str, object]]


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one; returns the new soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Commands(asyncio.Protocol):
    """Reads command lines from stdin, answers each with one JSON line; EOF ends the role."""

    def __init__(self, answer: Answer, done: asyncio.Future[None]) -> None:
        self._answer = answer
        self._done = done
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
            say(json.dumps(self._answer(line.decode().strip())))

    def eof_received(self) -> bool | None:
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


async def serve_commands(answer: Answer) -> None:
    """Answer stdin commands until stdin closes."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.connect_read_pipe(lambda: _Commands(answer, done), sys.stdin)
    try:
        await done
    finally:
        transport.close()


def _no_commands(command: str) -> dict[str, object]:
    return {"error": f"unknown command {command!r}"}


# -- gateway ------------------------------------------------------------------------------------


async def run_gateway(transport: str) -> None:
    raise_nofile()
    # The listener the edges come to gets (nearly) every descriptor; the other one a few.
    websocket = transport == "websocket"
    gateway = Gateway(
        parse_config(
            {
                "servicebound": {"listen": {"addr": "127.0.0.1:0"}},
                "edgebound": {
                    "listen": {"addr": "127.0.0.1:0"},
                    "max_connections": 64 if websocket else 0,
                    "websocket": {
                        "enable": True,
                        "listen": {"addr": "127.0.0.1:0"},
                        "max_connections": 0 if websocket else 64,
                    },
                },
                "observability": {"enable": False},
            }
        )
    )
    heartbeats = 0

    def count(end: End) -> None:
        nonlocal heartbeats
        heartbeats += 1

    for edge_server in (gateway._edge_server, gateway._websocket_server):
        assert edge_server is not None  # the debug hook: count what the edges send
        edge_server.hooks = dataclasses.replace(edge_server.hooks, on_heartbeat=count)
    gc_seconds = [0.0, 0.0, 0.0]  # time spent in the collector, by generation
    gc_started = 0.0

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        nonlocal gc_started
        if phase == "start":
            gc_started = time.perf_counter()
        else:
            gc_seconds[info["generation"]] += time.perf_counter() - gc_started

    gc.callbacks.append(gc_timer)
    await gateway.start()

    def answer(command: str) -> dict[str, object]:
        if command != "stats":
            return _no_commands(command)
        return {
            "tasks": len(asyncio.all_tasks()),
            "heartbeats": heartbeats,
            "edges": len(gateway.registry.edges),
            "gc_collections": [gen["collections"] for gen in gc.get_stats()],
            "gc_seconds": gc_seconds,
        }

    say(f"{gateway.servicebound_port} {gateway.edgebound_port} {gateway.websocket_port}")
    await serve_commands(answer)
    # No graceful close: with 10^4 edges it would only measure the shutdown.


# -- direct geminio server ----------------------------------------------------------------------


async def _echo(request: Request) -> bytes:
    return request.data


async def _serve_end(end: End) -> None:
    with contextlib.suppress(EndError):  # the client went away
        await end.register("echo", _echo)
        while True:
            (await end.receive()).done()


async def run_direct() -> None:
    raise_nofile()
    server = await serve("127.0.0.1", 0, handler=_serve_end)
    say(str(server.port))
    await serve_commands(_no_commands)
    await server.close()


# -- plain TCP relay ----------------------------------------------------------------------------


class _RelaySide(asyncio.Protocol):
    def __init__(self, waiting: list[_RelaySide]) -> None:
        self._waiting = waiting
        self.transport: asyncio.Transport | None = None
        self.peer: _RelaySide | None = None
        self._early: list[bytes] = []  # what arrived before the pair was complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        if self._waiting:
            other = self._waiting.pop()
            self.peer, other.peer = other, self
            if other._early:
                self.transport.writelines(other._early)
                other._early.clear()
            assert other.transport is not None
            other.transport.resume_reading()
        else:
            self.transport.pause_reading()  # nowhere to send to yet
            self._waiting.append(self)

    def data_received(self, data: bytes) -> None:
        if self.peer is None or self.peer.transport is None:
            self._early.append(data)  # pause_reading() from connection_made may come late
            return
        self.peer.transport.write(data)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def eof_received(self) -> bool | None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self._waiting:
            self._waiting.remove(self)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


async def run_relay() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    waiting: list[_RelaySide] = []
    server = await loop.create_server(lambda: _RelaySide(waiting), "127.0.0.1", 0)
    say(str(server.sockets[0].getsockname()[1]))
    await serve_commands(_no_commands)
    server.close()


# -- plain idle-socket server -------------------------------------------------------------------


class _PlainEcho(asyncio.Protocol):
    packets = 0
    conns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        _PlainEcho.conns += 1

    def data_received(self, data: bytes) -> None:
        _PlainEcho.packets += 1
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        _PlainEcho.conns -= 1


async def run_plain() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_PlainEcho, "127.0.0.1", 0, backlog=4096)

    def answer(command: str) -> dict[str, object]:
        if command != "stats":
            return _no_commands(command)
        return {
            "tasks": len(asyncio.all_tasks()),
            "packets": _PlainEcho.packets,
            "conns": _PlainEcho.conns,
        }

    say(str(server.sockets[0].getsockname()[1]))
    await serve_commands(answer)


# -- idle clients -------------------------------------------------------------------------------


class _IdleSocket(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass


async def _connect_all(
    count: int, connect_one: Callable[[int], Awaitable[None]]
) -> dict[str, object]:
    """Run `connect_one(i)` (a coroutine function) for i in 1..count, 128 at a time."""
    ids = iter(range(1, count + 1))
    connected = failed = 0
    first_error = ""

    async def worker() -> None:
        nonlocal connected, failed, first_error
        for i in ids:
            try:
                await connect_one(i)
            except (OSError, EndError) as exc:
                failed += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
            else:
                connected += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECT_CONCURRENCY)))
    return {
        "connected": connected,
        "failed": failed,
        "seconds": time.perf_counter() - started,
        "error": first_error,
    }


async def run_edges(host: str, port: int, count: int, heartbeat: int) -> None:
    raise_nofile()
    ends: list[End] = []

    async def one(i: int) -> None:
        ends.append(await connect(host, port, client_id=i, heartbeat=heartbeat))

    say(json.dumps(await _connect_all(count, one)))
    await serve_commands(_no_commands)
    os._exit(0)  # dropping 10^4 connections at once; a graceful close would take a while


async def run_sockets(host: str, port: int, count: int, heartbeat: int) -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    beat = encode(HeartbeatPacket(packet_id=1))
    transports: list[asyncio.Transport] = []

    def tick(transport: asyncio.Transport) -> None:
        if not transport.is_closing():
            transport.write(beat)
            loop.call_later(heartbeat, tick, transport)

    async def one(i: int) -> None:
        transport, _ = await loop.create_connection(_IdleSocket, host, port)
        transports.append(transport)
        loop.call_later(random.uniform(0, heartbeat), tick, transport)

    say(json.dumps(await _connect_all(count, one)))
    await serve_commands(_no_commands)
    os._exit(0)


def main(argv: list[str]) -> None:
    role, args = argv[0], argv[1:]
    if role == "gateway":
        uvloop.run(run_gateway(args[0] if args else "tcp"))
    elif role == "direct":
        uvloop.run(run_direct())
    elif role == "relay":
        uvloop.run(run_relay())
    elif role == "plain":
        uvloop.run(run_plain())
    elif role == "edges":
        uvloop.run(run_edges(args[0], int(args[1]), int(args[2]), int(args[3])))
    elif role == "sockets":
        uvloop.run(run_sockets(args[0], int(args[1]), int(args[2]), int(args[3])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
