"""A bridge to one broker: a connection kept up in the background, and confirmed publishes.

Upstream connected once at start-up (a broker down then meant no gateway) and never again.
Here a supervisor task connects, waits until the connection is lost, and reconnects with
exponential backoff and jitter, for as long as the gateway runs. While it is not connected
every publish is nacked at once with the reason: an edge learns that its message did not
reach the broker, rather than waiting for a timeout or having it dropped.

A subclass implements `_connect`, `_send` (returns only once the broker confirmed) and
`_disconnect`; it raises `Rejected` when the broker refused one message over a healthy
connection. Any other exception from `_send` counts as a lost connection.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import ClassVar

from ...geminio.aio import Backoff
from .config import Reconnect
from .metrics import BridgeMetrics
from .record import Record

__all__ = ["Bridge", "BridgeError", "Rejected", "describe"]

log = logging.getLogger("frontier.mq")


class BridgeError(Exception):
    """A publish that did not reach the broker; its text is the edge's nack."""


class Rejected(Exception):
    """The broker refused this message; the connection itself is fine."""


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Bridge(abc.ABC):
    kind: ClassVar[str]
    """The ``mqm`` key (kafka, amqp, nats, nsq, redis); also the metrics' ``bridge`` label."""

    def __init__(
        self, topics: tuple[str, ...], metrics: BridgeMetrics, timeout: float, reconnect: Reconnect
    ) -> None:
        self.name = self.kind
        self.topics = topics
        self.timeout = timeout
        self._metrics = metrics
        self._backoff = Backoff(initial=reconnect.initial, maximum=reconnect.max)
        self._connect_timeout = reconnect.connect_timeout
        self.connected = False
        self._last_error = "not connected yet"
        self._lost = asyncio.Event()
        self._generation = 0
        self._attempted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else f"down ({self._last_error})"
        return f"<{type(self).__name__} {state}>"

    # ------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start connecting in the background; return after the first attempt (bounded by
        the connect timeout), connected or not. A broker down is not a start-up failure."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mq-{self.name}")
        await self._attempted.wait()

    async def close(self) -> None:
        self._generation += 1  # closing fires the client's callbacks: not a lost connection
        self._set_connected(False)
        self._last_error = "closed"
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect_quietly()

    # ----------------------------------------------------------------------- supervision

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._metrics.connected.set(1 if connected else 0)

    def connection_lost(self, reason: str) -> None:
        """Called by the subclass's client callbacks, or on a failed publish: nack from now
        on and let the supervisor reconnect."""
        if self.connected:
            log.warning("mq %s: connection lost: %s", self.name, reason)
            self._last_error = reason
            self._set_connected(False)
        self._lost.set()

    def loss_reporter(self) -> Callable[[str], None]:
        """`connection_lost` for the client callbacks of the connection being made now:
        a late callback from an earlier connection (closing it fires them too) is ignored
        rather than dropping its successor."""
        generation = self._generation

        def report(reason: str) -> None:
            if generation == self._generation:
                self.connection_lost(reason)

        return report

    async def _supervise(self) -> None:
        delays = self._backoff.delays()
        while True:
            self._lost.clear()
            self._generation += 1
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._connect()
            except Exception as exc:
                self._last_error = describe(exc)
                if isinstance(exc, TimeoutError):
                    self._last_error = f"no connection within {self._connect_timeout:g} s"
                log.warning("mq %s: cannot connect: %s", self.name, self._last_error)
                self._attempted.set()
                await self._disconnect_quietly()
                await asyncio.sleep(delays.next())
                continue
            delays.reset()
            if not self._lost.is_set():
                self._set_connected(True)
                log.info("mq %s: connected", self.name)
            self._attempted.set()
            await self._lost.wait()
            self._metrics.reconnects.inc()
            await self._disconnect_quietly()
            await asyncio.sleep(delays.next())

    async def _disconnect_quietly(self) -> None:
        try:
            await self._disconnect()
        except Exception as exc:  # closing a broken connection may fail; nothing to do
            log.debug("mq %s: while disconnecting: %s", self.name, describe(exc))

    # -------------------------------------------------------------------------- publish

    async def publish(self, record: Record) -> None:
        """Hand `record` to the broker and return once it confirmed; `BridgeError` (the
        edge's nack text) otherwise."""
        metrics = self._metrics
        if not self.connected:
            metrics.failed["unavailable"].inc()
            raise BridgeError(f"mq {self.name} unavailable: {self._last_error}")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                await self._send(record)
        except Rejected as exc:
            metrics.failed["rejected"].inc()
            raise BridgeError(f"mq {self.name}: {exc}") from None
        except TimeoutError:
            metrics.failed["timeout"].inc()
            raise BridgeError(
                f"mq {self.name}: no confirmation within {self.timeout:g} s"
            ) from None
        except Exception as exc:
            metrics.failed["error"].inc()
            self.connection_lost(describe(exc))
            raise BridgeError(f"mq {self.name}: {describe(exc)}") from None
        metrics.published.inc()
        metrics.latency.observe(time.perf_counter() - started)

    # ------------------------------------------------------------------ broker specifics

    @abc.abstractmethod
    async def _connect(self) -> None:
        """Connect (and declare what the broker needs); raise if that fails."""

    @abc.abstractmethod
    async def _send(self, record: Record) -> None:
        """Publish and wait for the broker's confirmation."""

    @abc.abstractmethod
    async def _disconnect(self) -> None:
        """Drop the connection (maybe half-open, maybe never made); idempotent."""
