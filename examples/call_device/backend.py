#!/usr/bin/env python3
"""A backend (a service) that keeps a list of online devices from the gateway's presence
hooks and calls ``read_sensor`` on one of them by edge ID, printing each reading.

    python examples/call_device/backend.py --addr 127.0.0.1:30011 [--device greenhouse-1]

Start it before the devices: presence hooks report connections as they happen, not who is
already connected, so a device that connected earlier stays unknown until it reconnects.
A device joins the list on ``edge_ready`` (the gateway routes to it from then on; an
``edge_online`` hook runs while the gateway still decides, too early to call the device)
and leaves it on ``edge_offline``. ``--count N`` stops after N readings; by default it
reads forever, every ``--interval`` seconds. An error from the device (say, ``--sensors
bogus``: "no such sensor: bogus") ends the backend with exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable

from frontier.sdk import ERR_EDGE_NOT_ONLINE, EdgePresence, EndError, RPCError, Service

Output = Callable[[str], None]

TRANSIENT = frozenset({ERR_EDGE_NOT_ONLINE})
"""Worth retrying: the device just left (its edge_offline is on the way)."""


class DeviceError(Exception):
    """The device answered with an error: retrying would not help."""


def say(line: str) -> None:
    print(line, flush=True)


class Devices:
    """Online devices by edge ID, fed by the presence hooks."""

    def __init__(self, out: Output) -> None:
        self.online: dict[int, str] = {}
        self.out = out
        self._changed = asyncio.Event()

    def ready(self, presence: EdgePresence) -> None:
        name = presence.meta.decode(errors="replace")
        self.online[presence.edge_id] = name
        self.out(f"device {name!r} online as edge {presence.edge_id} from {presence.addr}")
        self._changed.set()

    def went_offline(self, presence: EdgePresence) -> None:
        name = self.online.pop(presence.edge_id, "?")
        self.out(f"device {name!r} (edge {presence.edge_id}) offline")
        self._changed.set()

    async def pick(self, name: str | None) -> tuple[int, str]:
        """An online device (the one called `name`, if given); waits for one."""
        while True:
            for edge_id, device in self.online.items():
                if name is None or device == name:
                    return edge_id, device
            self._changed.clear()
            await self._changed.wait()


async def run(
    addr: str,
    *,
    device: str | None = None,
    count: int = 0,
    interval: float = 5.0,
    sensors: str = "",
    out: Output = say,
) -> None:
    """Read `count` times (0: forever) from a device, then return."""
    service = Service(addr, name="backend", start_retry=30)
    devices = Devices(out)
    # Registered before connecting: part of the connection, so no device is missed.
    await service.on_edge_ready(devices.ready)
    await service.on_edge_offline(devices.went_offline)
    async with service:
        out(f"backend online (service id {service.service_id}), waiting for devices")
        done = 0
        while count <= 0 or done < count:
            edge_id, name = await devices.pick(device)
            out(f"online devices: {sorted(devices.online.items())}")
            try:
                raw = await service.call(edge_id, "read_sensor", sensors.encode(), timeout=10)
            except RPCError as exc:
                out(f"calling {name!r} (edge {edge_id}) failed: {exc.text}")
                if exc.text not in TRANSIENT:
                    raise DeviceError(f"{name!r} (edge {edge_id}): {exc.text}") from None
                await asyncio.sleep(min(interval, 0.2))
                continue
            else:
                reading = json.loads(raw)
                text = json.dumps(reading, sort_keys=True)
                out(f"reading from {name!r} (edge {edge_id}): {text}")
            done += 1
            if count <= 0 or done < count:
                await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--addr", default="127.0.0.1:30011", help="servicebound host:port")
    parser.add_argument("--device", default=None, help="device name to read (default: any)")
    parser.add_argument("--count", type=int, default=0, help="readings before exiting (0: no end)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    parser.add_argument("--sensors", default="", help="comma separated sensors (default: all)")
    args = parser.parse_args(argv)

    async def serve() -> None:
        task = asyncio.ensure_future(
            run(
                args.addr,
                device=args.device,
                count=args.count,
                interval=args.interval,
                sensors=args.sensors,
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(serve())
    except (OSError, EndError, DeviceError) as exc:
        print(f"backend: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
