"""The forward timeout: one queue for every call and message a relay forwards, not a timer each.

A relay gives every forward the same timeout (`exchange.forward_timeout`), so the order
forwards are sent in is the order they fall due: a FIFO, with one loop timer for its head,
is all the bookkeeping a deadline needs. Before, each forward armed a timer of its own on
its target connection and cancelled it when answered: a key built, a set and two dicts
updated on the connection, a table entry and a timing-wheel slot in the adapter, twice
(about a tenth of the gateway's CPU per forwarded call, bench/gateway.py under perf).

Answered forwards are not removed one by one: they stay queued until the head reaches them,
or until the queue holds more than twice the forwards in flight (plus `_SLACK`), when it is
rebuilt with the live ones only. So the queue stays within a small multiple of what is in
flight (already bounded by each source's `Flow` and max_streams), and each forward costs an
append, a counter, and its share of the rebuilds (amortized constant).

Still a real deadline: the head's timer fires when it falls due, and an unanswered forward
then ends exactly as its own timer ended it (`Forwarded.expire`: the call or message is
forgotten on its connection, no RequestCancel is sent, and the relay answers the source with
the timeout's text).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Final

from ..geminio.aio.forwarded import Forwarded
from ..timer.loop import loop_delay

__all__ = ["ForwardTimeouts"]

_perf_counter: Final = time.perf_counter

_SLACK: Final = 64
"""Answered forwards the queue may hold beyond twice those in flight before a rebuild."""


class ForwardTimeouts:
    __slots__ = ("_handle", "_live", "_queue", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._queue: deque[tuple[float, Forwarded]] = deque()
        self._live = 0
        self._handle: asyncio.TimerHandle | None = None

    @property
    def live(self) -> int:
        """Forwards added and not yet answered."""
        return self._live

    @property
    def queued(self) -> int:
        """Entries in the queue, answered ones included (at most 2 x `live` + 64 after an
        add)."""
        return len(self._queue)

    def add(self, forwarded: Forwarded, sent: float) -> None:
        """`forwarded` went out at `sent` (`time.perf_counter`): it falls due `timeout`
        later. Its `finished` must call `answered()`, once, however it ends."""
        due = sent + self.timeout
        queue = self._queue
        queue.append((due, forwarded))
        self._live += 1
        if self._handle is None:
            self._arm(due)
        elif len(queue) > 2 * self._live + _SLACK:
            self._queue = deque([entry for entry in queue if not entry[1].done()])

    def answered(self) -> None:
        """A forward added here has finished (answered, failed, cancelled or expired)."""
        self._live -= 1

    def close(self) -> None:
        """Stop the timer (the gateway is stopping; its connections abort what is left)."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()

    def _arm(self, due: float) -> None:
        handle = self._handle
        if handle is not None:  # (only if an expiry added a forward while sweeping)
            handle.cancel()
        delay = loop_delay(due - _perf_counter())
        self._handle = asyncio.get_running_loop().call_later(delay, self._sweep)

    def _sweep(self) -> None:
        """The head fell due: drop what was answered, expire what was not and is due, and
        wait for the next one still in flight."""
        self._handle = None
        now = _perf_counter()
        while True:
            queue = self._queue  # (read again: an add while expiring may rebuild it)
            if not queue:
                return
            due, forwarded = queue[0]
            if forwarded.done():
                queue.popleft()
            elif due > now:
                self._arm(due)
                return
            else:
                queue.popleft()
                forwarded.expire()
