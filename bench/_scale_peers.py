"""The processes bench/scale.py measures: one role per subprocess (not a benchmark itself).

Run as ``python bench/_scale_peers.py ROLE ARGS...``. Each role raises RLIMIT_NOFILE to its
hard limit, prints one line once ready, then answers command lines on stdin with one JSON
line each, until stdin closes.

- ``server KIND PORT CERT KEY``: KIND ``gateway`` (`frontier.gateway.Gateway` in process,
  edgebound on PORT, everything else off or on port 0) or ``bare`` (a uvloop Protocol server
  that answers every read with as many bytes as a geminio ConnAck or HeartbeatAck: the
  least a server can do for the same traffic). CERT and KEY (or ``-``) turn TLS on. Prints
  the port. ``stats``: ``{"connections": ...}``.
- ``clients PORT N HEARTBEAT CA RECONNECT``: N raw geminio clients (a ConnPacket, then a
  Heartbeat every HEARTBEAT seconds from a random phase), 128 dialing at a time, TLS when
  CA is not ``-``. With RECONNECT 1, a client whose connection is lost redials with the
  SDK's default backoff (`frontier.geminio.aio.Backoff`) until it gets an answer again.
  Prints ``{"connected": ..., "failed": ..., "seconds": ..., "error": ...}`` once the
  first round is done. ``stats``: ``{"online": ..., "beats": ..., "dials": ...}``.
- ``churn PORT RATE SECONDS CA``: RATE connections per second for SECONDS: each connects,
  says hello, waits for the answer and closes. Prints ``{"done": ..., "failed": ...}``
  when finished.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import ssl
import sys
import time
from typing import Any

import uvloop

from frontier.geminio.aio import Backoff
from frontier.geminio.encoder import encode
from frontier.geminio.packets import ConnAckPacket, ConnPacket, HeartbeatPacket

HOST = "127.0.0.1"
HELLO = encode(ConnPacket(packet_id=1, heartbeat=20))
BEAT = encode(HeartbeatPacket(packet_id=2))
ACK = encode(ConnAckPacket(packet_id=1, client_id=7))


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def say(obj: object) -> None:
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()


async def commands(answer: Any) -> None:
    """Answer stdin lines until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        say(answer(line.decode().strip()))


# -- servers ----------------------------------------------------------------------------


class _Bare(asyncio.Protocol):
    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        _Bare.count += 1

    def data_received(self, data: bytes) -> None:
        self.transport.write(ACK if len(data) > 14 else data)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        _Bare.count -= 1


async def run_server(kind: str, port: int, cert: str, key: str) -> None:
    raise_nofile()
    context = None
    if cert != "-":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    if kind == "gateway":
        from frontier.daemon import freeze_startup_objects, tune_gc
        from frontier.gateway import Gateway, parse_config
        from frontier.memory import trim_periodically

        tune_gc()
        tls = {"enable": True, "certs": [{"cert": cert, "key": key}]} if context else {}
        gateway = Gateway(
            parse_config(
                {
                    "servicebound": {"listen": {"addr": f"{HOST}:0"}},
                    "edgebound": {"listen": {"addr": f"{HOST}:{port}", "tls": tls}},
                    "observability": {"enable": False},
                }
            )
        )
        await gateway.start()
        # as the `frontier` command does (with tune_gc, above)
        freeze_startup_objects()
        trimming = asyncio.get_running_loop().create_task(trim_periodically())
        say(str(gateway.edgebound_port))
        await commands(lambda _: {"connections": len(gateway.registry.edges)})
        trimming.cancel()
        os._exit(0)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Bare, HOST, port, ssl=context, backlog=65535)
    say(str(server.sockets[0].getsockname()[1]))
    await commands(lambda _: {"connections": _Bare.count})
    os._exit(0)


# -- clients ------------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    def __init__(self, answered: asyncio.Future[None], lost: asyncio.Future[None]) -> None:
        self.answered = answered
        self.lost = lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(HELLO)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.answered.done():
            self.answered.set_exception(ConnectionResetError("lost before the answer"))


class Fleet:
    def __init__(self, port: int, heartbeat: float, context: ssl.SSLContext | None) -> None:
        self.port = port
        self.heartbeat = heartbeat
        self.context = context
        self.online = 0
        self.beats = 0
        self.dials = 0

    async def dial(self) -> tuple[_Client, asyncio.BaseTransport]:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        lost: asyncio.Future[None] = loop.create_future()
        self.dials += 1
        transport, client = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Client(answered, lost), HOST, self.port, ssl=self.context,
                server_hostname="localhost" if self.context else None,
            ),
            30,
        )  # fmt: skip
        try:
            await asyncio.wait_for(answered, 30)
        except BaseException:
            transport.abort()
            raise
        return client, transport

    async def live(self, first: tuple[_Client, asyncio.BaseTransport], reconnect: bool) -> None:
        """Heartbeat until lost; with `reconnect`, redial with the SDK's backoff."""
        client, transport = first
        while True:
            self.online += 1
            beating = asyncio.ensure_future(self._beat(transport))
            await client.lost
            beating.cancel()
            self.online -= 1
            if not reconnect:
                return
            delays = _backoff().delays()
            while True:
                await asyncio.sleep(delays.next())
                try:
                    client, transport = await self.dial()
                    break
                except (OSError, TimeoutError):
                    continue

    async def _beat(self, transport: asyncio.BaseTransport) -> None:
        await asyncio.sleep(random.uniform(0, self.heartbeat))
        while not transport.is_closing():
            transport.write(BEAT)  # type: ignore[attr-defined]
            self.beats += 1
            await asyncio.sleep(self.heartbeat)


def _backoff() -> Backoff:
    """The SDK's default, or ``BACKOFF=initial,jitter`` from the environment (to compare)."""
    if spec := os.environ.get("BACKOFF"):
        initial, jitter = map(float, spec.split(","))
        return Backoff(initial=initial, jitter=jitter)
    return Backoff()


def _client_context(ca: str) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=ca) if ca != "-" else None


async def run_clients(port: int, count: int, heartbeat: float, ca: str, reconnect: bool) -> None:
    raise_nofile()
    fleet = Fleet(port, heartbeat, _client_context(ca))
    pending = iter(range(count))
    first: list[tuple[_Client, asyncio.BaseTransport]] = []
    failed = 0
    error = ""

    async def worker() -> None:
        nonlocal failed, error
        for _ in pending:
            try:
                first.append(await fleet.dial())
            except (OSError, TimeoutError) as exc:
                failed += 1
                error = error or f"{type(exc).__name__}: {exc}"

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(128)))
    seconds = time.perf_counter() - started
    lives = [asyncio.ensure_future(fleet.live(one, reconnect)) for one in first]
    say({"connected": len(first), "failed": failed, "seconds": seconds, "error": error})
    await commands(lambda _: {"online": fleet.online, "beats": fleet.beats, "dials": fleet.dials})
    for life in lives:
        life.cancel()
    os._exit(0)


async def run_churn(port: int, rate: float, seconds: float, ca: str) -> None:
    raise_nofile()
    fleet = Fleet(port, 3600, _client_context(ca))
    done = failed = 0

    async def once() -> None:
        nonlocal done, failed
        try:
            _client, transport = await fleet.dial()
        except (OSError, TimeoutError):
            failed += 1
            return
        transport.close()
        done += 1

    tasks: list[asyncio.Future[None]] = []
    started = time.monotonic()
    sent = 0
    while (now := time.monotonic() - started) < seconds:
        due = int(now * rate)
        tasks.extend(asyncio.ensure_future(once()) for _ in range(due - sent))
        sent = due
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    say({"done": done, "failed": failed})
    await commands(lambda _: {"done": done})
    os._exit(0)


def main(argv: list[str]) -> None:
    role, args = argv[0], argv[1:]
    if role == "server":
        uvloop.run(run_server(args[0], int(args[1]), args[2], args[3]))
    elif role == "clients":
        uvloop.run(run_clients(int(args[0]), int(args[1]), float(args[2]), args[3], args[4] == "1"))
    elif role == "churn":
        uvloop.run(run_churn(int(args[0]), float(args[1]), float(args[2]), args[3]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
