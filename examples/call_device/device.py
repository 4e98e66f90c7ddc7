#!/usr/bin/env python3
"""A device (an edge) that serves the RPC ``read_sensor``: a JSON reading of its sensors.

Its name travels as the edge's meta, which is how backends tell devices apart.

    python examples/call_device/device.py --addr 127.0.0.1:30012 --name greenhouse-1

Runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections.abc import Callable

from frontier.sdk import Edge, EndError, Request

Output = Callable[[str], None]


def say(line: str) -> None:
    print(line, flush=True)


def sensor_reader(name: str) -> Callable[[Request], bytes]:
    """The `read_sensor` handler. The request data may name the sensors wanted (comma
    separated); empty means all of them."""
    rng = random.Random(name)

    def read_sensor(request: Request) -> bytes:
        readings = {
            "temperature_c": round(21.0 + rng.uniform(-3, 3), 2),
            "humidity_pct": round(55.0 + rng.uniform(-10, 10), 1),
        }
        wanted = [w for w in request.data.decode().split(",") if w]
        unknown = [w for w in wanted if w not in readings]
        if unknown:
            raise ValueError(f"no such sensor: {', '.join(unknown)}")  # the caller sees this text
        if wanted:
            readings = {key: readings[key] for key in wanted}
        return json.dumps({"device": name, "time": time.time(), **readings}).encode()

    return read_sensor


async def run(addr: str, name: str, out: Output = say) -> None:
    """Serve `read_sensor` until cancelled."""
    edge = Edge(addr, meta=name.encode(), start_retry=30)
    # Registered before start(): part of connecting, and kept across reconnects.
    await edge.register("read_sensor", sensor_reader(name))
    async with edge:
        out(f"device {name!r} online as edge {edge.edge_id}")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--addr", default="127.0.0.1:30012", help="edgebound host:port")
    parser.add_argument("--name", default="device-1", help="device name (sent as edge meta)")
    args = parser.parse_args(argv)

    async def serve() -> None:
        task = asyncio.ensure_future(run(args.addr, args.name))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(serve())
    except (OSError, EndError) as exc:
        print(f"device: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
