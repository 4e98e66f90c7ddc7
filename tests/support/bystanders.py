"""An unrelated edge/service pair that keeps calling while the gateway is attacked.

What an attack must not do is hurt everyone else: the pair measures it from the outside,
as its users would, with a call every few milliseconds and the latency of each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from frontier.geminio.aio import Backoff
from frontier.sdk import Edge, Service

__all__ = ["Bystanders", "bystanders"]


@dataclass
class Bystanders:
    service: Service
    edge: Edge
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def summary(self) -> str:
        return (
            f"{len(self.latencies)} calls, p99 {self.p99() * 1000:.1f} ms, "
            f"max {max(self.latencies, default=0) * 1000:.1f} ms, errors {self.errors[:3]}"
        )

    async def call_once(self, timeout: float = 5.0) -> bytes:  # noqa: ASYNC109
        return await self.edge.call("echo", b"ping", timeout=timeout)


@asynccontextmanager
async def bystanders(
    servicebound: int,
    edgebound: int,
    *,
    interval: float = 0.002,
    name: str = "bystander",
    token: str = "",
    edge_address: str | None = None,
) -> AsyncIterator[Bystanders]:
    """A service named `name` serving ``echo`` and an edge calling it every `interval`
    seconds until the block ends; failures are recorded, never raised. The edge dials
    `edge_address` when given (a ``ws://`` URL: a WebSocket bystander), else the
    edgebound port."""
    fast = Backoff(initial=0.05, maximum=0.5)
    service = Service(f"127.0.0.1:{servicebound}", name=name, backoff=fast, token=token)
    await service.register("echo", lambda request: request.data)
    await service.start()
    edge = Edge(edge_address or f"127.0.0.1:{edgebound}", meta=b"bystander", backoff=fast)
    await edge.start()
    pair = Bystanders(service, edge)
    assert await pair.call_once() == b"ping"
    stop = asyncio.Event()

    async def keep_calling() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await pair.call_once()
            except Exception as exc:  # every failure is a finding, not a crash
                pair.errors.append(f"{type(exc).__name__}: {exc}")
            pair.latencies.append(time.monotonic() - started)
            await asyncio.sleep(interval)

    caller = asyncio.create_task(keep_calling())
    try:
        yield pair
    finally:
        stop.set()
        await caller
        await edge.close()
        await service.close()
