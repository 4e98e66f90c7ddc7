"""Rebalancing (``frontlas.rebalance``): edges that failed over are asked back, gently.

Edges stay where they connect: after a frontier fails and returns, the survivors keep every
edge that moved to them until something else makes those edges reconnect. With rebalancing
on, every ``interval`` a frontier compares the edges it holds with the mean of the alive
frontiers (frontlas's counts, `cluster_counts`) and, when it holds more than
``(1 + tolerance)`` times the mean and at least ``min_excess`` edges above it, closes the
connections of some of its edges, at most ``rate`` per second and never more than its
excess. A closed edge redials as usual: the SDKs try their next address (so an edge given
every frontier's address moves to another one), behind a load balancer it goes wherever
that sends it. Several frontiers above the mean each shed only their own excess, so the
cluster converges instead of oscillating; an edge that lands back on a busy frontier is
shed again in a later round.

`shed_count` is the whole policy, pure and tested on its own; `Rebalancer` only fetches the
counts and paces the closes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping

from ..geminio.aio import EndError
from .config import Rebalance
from .metrics import GatewayMetrics
from .registry import Registry

__all__ = ["Rebalancer", "shed_count"]

log = logging.getLogger("frontier.rebalance")


def shed_count(own: int, counts: Mapping[str, int], frontier_id: str, settings: Rebalance) -> int:
    """How many edges to ask to leave this round: 0 unless we hold more than (1 +
    tolerance) x the mean of the alive frontiers (`counts`, ours replaced by `own`, the
    exact local number) and at least `min_excess` above it; then the excess over the mean,
    capped at what `rate` allows in one `interval`."""
    counts = {**counts, frontier_id: own}
    if len(counts) < 2:
        return 0
    mean = sum(counts.values()) / len(counts)
    excess = own - mean
    if own <= mean * (1 + settings.tolerance) or excess < settings.min_excess:
        return 0
    budget = max(1, math.floor(settings.rate * settings.interval))
    return min(math.floor(excess), budget)


class Rebalancer:
    """Looks at the cluster every ``interval`` and sheds our excess edges, paced."""

    def __init__(
        self,
        settings: Rebalance,
        registry: Registry,
        *,
        frontier_id: str,
        counts: Callable[[], Awaitable[dict[str, int]]],
        kick: Callable[[int], Awaitable[bool]],
        metrics: GatewayMetrics,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.frontier_id = frontier_id
        self._counts = counts
        self._kick = kick
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval)
            try:
                await self.round()
            except (EndError, OSError, ValueError) as exc:
                log.info("rebalancing: no cluster counts this round: %s", exc)
            except Exception:  # a bug must not end rebalancing for good
                log.exception("rebalancing failed unexpectedly")

    async def round(self) -> int:
        """One look and its closes (paced at `rate`); returns how many edges were asked to
        reconnect."""
        counts = await self._counts()
        own = len(self.registry.edges)
        n = shed_count(own, counts, self.frontier_id, self.settings)
        if n == 0:
            return 0
        mean = (sum(counts.values()) - counts.get(self.frontier_id, 0) + own) / len(
            {**counts, self.frontier_id: own}
        )
        log.info(
            "rebalancing: holding %d edges, the cluster's mean is %.0f: asking %d to "
            "reconnect elsewhere (%g per second)",
            own,
            mean,
            n,
            self.settings.rate,
        )
        chosen = random.sample(list(self.registry.edges), min(n, len(self.registry.edges)))
        pause = 1.0 / self.settings.rate
        shed = 0
        for edge_id in chosen:
            if await self._kick(edge_id):
                shed += 1
                self._metrics.rebalanced.inc()
            await asyncio.sleep(pause)
        return shed
