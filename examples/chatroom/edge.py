#!/usr/bin/env python3
"""Chat client (an edge): publishes each line of stdin on topic "chat" and prints what the
chat service relays from the others. Its nickname travels as the edge's meta.

    python examples/chatroom/edge.py --addr 127.0.0.1:30012 --nick alice

End with EOF (Ctrl-D) or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable

from frontier.sdk import Edge, EndError, RemoteError

TOPIC = "chat"

Output = Callable[[str], None]


def say(line: str) -> None:
    print(line, flush=True)


async def stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin without blocking the event loop. A daemon thread reads them: unlike
    a pipe transport it works for terminals, pipes and files alike, and never keeps the
    process alive on Ctrl-C."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is closed: we are exiting
            pass

    threading.Thread(target=read, name="stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def print_incoming(edge: Edge, out: Output) -> None:
    while True:
        message = await edge.receive()
        out(message.data.decode(errors="replace"))
        message.done()


async def run(addr: str, nick: str, lines: AsyncIterator[str], out: Output = say) -> None:
    """Chat until `lines` ends."""
    async with Edge(addr, meta=nick.encode(), start_retry=30) as edge:
        out(f"connected as {nick} (edge {edge.edge_id})")
        printer = asyncio.create_task(print_incoming(edge, out))
        try:
            async for line in lines:
                if not line.strip():
                    continue
                try:
                    await edge.publish(TOPIC, line.encode(), timeout=10)
                except RemoteError as exc:  # e.g. "topic not online": no chat service
                    out(f"! not sent: {exc.text}")
        finally:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError, EndError):
                await printer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--addr", default="127.0.0.1:30012", help="edgebound host:port")
    parser.add_argument("--nick", required=True, help="your nickname (sent as edge meta)")
    args = parser.parse_args(argv)

    async def chat() -> None:
        task = asyncio.ensure_future(run(args.addr, args.nick, stdin_lines()))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(chat())
    except (OSError, EndError) as exc:
        print(f"chat client: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
