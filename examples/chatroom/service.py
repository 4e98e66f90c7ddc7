#!/usr/bin/env python3
"""Chat room service: relays every message an edge publishes on topic "chat" to every other
online edge.

It learns who is online from the gateway's presence hooks (`edge_ready` / `edge_offline`)
and addresses each member by edge ID. The edges' meta is their nickname.

    python examples/chatroom/service.py --addr 127.0.0.1:30011

With several chat services on one gateway, run it with ``exchange.presence_hooks: all``:
by default the gateway tells only one service about each edge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from frontier.sdk import EdgePresence, EndError, Service, ServiceMessage

TOPIC = "chat"

Output = Callable[[str], None]


def say(line: str) -> None:
    print(line, flush=True)


class ChatRoom:
    def __init__(self, service: Service, out: Output) -> None:
        self.service = service
        self.out = out
        self.members: dict[int, str] = {}
        self._relays: set[asyncio.Task[None]] = set()

    def joined(self, presence: EdgePresence) -> None:
        nick = presence.meta.decode(errors="replace") or f"edge-{presence.edge_id}"
        self.members[presence.edge_id] = nick
        self.out(f"{nick} joined (edge {presence.edge_id}), {len(self.members)} online")

    def left(self, presence: EdgePresence) -> None:
        nick = self.members.pop(presence.edge_id, f"edge-{presence.edge_id}")
        self.out(f"{nick} left (edge {presence.edge_id}), {len(self.members)} online")

    def handle(self, message: ServiceMessage) -> None:
        if message.topic != TOPIC:
            message.error(f"this service only relays topic {TOPIC!r}")
            return
        # Ack at once: the sender waits for our ack, not for every member's.
        message.done()
        task = asyncio.create_task(self.relay(message.edge_id, message.data))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    async def relay(self, sender_id: int, data: bytes) -> None:
        sender = self.members.get(sender_id, f"edge-{sender_id}")
        line = f"{sender}: {data.decode(errors='replace')}".encode()
        targets = [edge_id for edge_id in self.members if edge_id != sender_id]
        results = await asyncio.gather(
            *(self.service.publish(t, line, topic=TOPIC, timeout=10) for t in targets),
            return_exceptions=True,
        )
        for edge_id, result in zip(targets, results, strict=True):
            if isinstance(result, EndError):
                self.out(f"could not deliver to edge {edge_id}: {result}")
            elif isinstance(result, BaseException):
                raise result


async def run(addr: str, name: str, out: Output = say) -> None:
    """Serve the chat room until cancelled."""
    service = Service(addr, name=name, topics=[TOPIC], start_retry=30)
    room = ChatRoom(service, out)
    # Hooks registered before start() are in place when the connection comes up, so no
    # edge can join unnoticed.
    await service.on_edge_ready(room.joined)  # routable: a message to it arrives
    await service.on_edge_offline(room.left)
    async with service:
        out(f"chat service {name!r} online (service id {service.service_id})")
        while True:
            room.handle(await service.receive())


async def until_signalled(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro`; SIGINT or SIGTERM cancels it for a clean exit."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--addr", default="127.0.0.1:30011", help="servicebound host:port")
    parser.add_argument("--name", default="chatroom", help="service name")
    args = parser.parse_args(argv)
    try:
        asyncio.run(until_signalled(run(args.addr, args.name)))
    except (OSError, EndError) as exc:
        print(f"chat service: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
