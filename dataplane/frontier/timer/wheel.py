"""A hierarchical timing wheel: O(1) add, cancel and re-arm for 10^5-10^6 pending timeouts.

Why not ``loop.call_later``: every packet of every connection re-arms a heartbeat timeout.
A heap pays O(log n) per re-arm, allocates a new handle each time, and keeps cancelled
handles in the heap until they surface. Here a timer is filed in a slot (a dict) by its expiry
tick, so add and cancel are one dict insert and delete, and :meth:`TimerHandle.reset` re-arms
the same handle without allocating.

The structure is pure: no asyncio, no threads. Time comes from an injected clock (read by
``add`` and ``reset``) and from the ``now`` passed to :meth:`TimingWheel.advance`, so tests run
it on a virtual clock. :mod:`frontier.timer.loop` drives it from an event loop.

Layout (see docs/architecture.md): ``levels`` levels of ``slots`` slots (a power of two).
Ticks are integers counted from ``origin``. A timer due at ``when`` expires at tick
``e = floor((when - origin) / tick) + 1``, the first tick boundary strictly after ``when``.
Unlike ``ceil`` this is exact under float rounding: ``advance(now)`` processes the ticks
``t <= floor((now - origin) / tick)``, both quotients are computed the same way and are
monotonic in their input, so no ``now < when`` ever reaches tick ``e``.

With ``n`` the next tick still to process, a timer is filed in the lowest level ``k`` with
``e - n < slots ** (k + 1)``, at slot ``(e >> (k * bits)) & mask``. A level-``k`` slot is
processed (its timers re-filed lower, by their exact expiry) at the tick whose low ``k * bits``
bits are zero and whose digit ``k`` is that slot; level-0 slots fire. An int bitmap per level
marks non-empty slots, so :meth:`TimingWheel.advance` jumps to the next tick with work and never
steps through empty ones.

New timers go to an *incoming* dict and are filed into the levels only when the wheel is next
advanced (as in Netty's ``HashedWheelTimer``): a timer cancelled before then, such as the
deadline of an RPC answered within the tick, costs a dict insert and delete and nothing else.

:meth:`TimerHandle.reset` to a later deadline is lazy: it only updates the deadline and leaves
the handle where it is, because a slot may hold a timer *earlier* than its expiry (never later).
When that slot comes up the handle is re-filed instead of fired. A heartbeat timeout re-armed on
every packet thus costs a clock read and a store per packet, and one re-file per period.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final, cast

__all__ = ["MAX_DELAY", "TimerHandle", "TimingWheel"]

_log = logging.getLogger("frontier.timer")

# Longest accepted delay (about 31 million years): keeps tick arithmetic finite.
MAX_DELAY: Final = 1e15

# Armed wake-up sentinels: "no driver listening" never triggers a wake-up request; "driver
# idle" makes the next add trigger one.
_NO_DRIVER: Final = -math.inf
_IDLE: Final = math.inf
_INF: Final = math.inf

_by_deadline = attrgetter("_when")

# A slot is a dict used as an insertion-ordered set: O(1) insert and delete, and timers with
# equal deadlines fire in insertion order (sorted() is stable).
_Slot = dict["TimerHandle", None]


def _check_delay(delay: float) -> None:
    if not 0.0 <= delay <= MAX_DELAY:  # also rejects NaN, which fails every comparison
        raise ValueError(
            f"timer delay must be a number of seconds in [0, {MAX_DELAY:g}], got {delay!r}"
        )


def _check_period(delay: float) -> None:
    if delay <= 0.0:
        raise ValueError(f"a cyclic timer needs a period > 0, got {delay!r}")


class TimerHandle:
    """One scheduled callback, from :meth:`TimingWheel.add`; never built directly.

    ``_slot`` is the dict the handle is filed in while pending (or the detached batch being
    fired), and ``None`` once fired or cancelled: it is the whole state machine.
    """

    __slots__ = ("_args", "_callback", "_period", "_slot", "_wheel", "_when")

    def __init__(
        self,
        wheel: TimingWheel,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        period: float | None,
        when: float,
    ) -> None:
        self._wheel = wheel
        self._callback = callback
        self._args = args
        self._period = period
        self._when = when
        self._slot: _Slot | None = None

    @property
    def when(self) -> float:
        """The clock time of the next expiry."""
        return self._when

    @property
    def pending(self) -> bool:
        """True until the timer fires (one-shot) or is cancelled."""
        return self._slot is not None

    @property
    def cyclic(self) -> bool:
        return self._period is not None

    @property
    def period(self) -> float | None:
        """The period of a cyclic timer, ``None`` for a one-shot timer."""
        return self._period

    def cancel(self) -> bool:
        """Stop the timer. Returns True if it was pending, False if it had fired or was cancelled.

        Safe from inside any timer callback, including its own and that of a timer due in the
        same advance (which then does not fire).
        """
        slot = self._slot
        if slot is None:
            return False
        del slot[self]
        self._slot = None
        return True

    def reset(self, delay: float) -> None:
        """Re-arm to expire ``delay`` seconds from now, whether pending, fired or cancelled.

        This is the heartbeat path: no allocation, and a later deadline is recorded lazily.
        For a cyclic timer ``delay`` also becomes the new period.
        """
        _check_delay(delay)
        wheel = self._wheel
        start = wheel._clock()
        when = start + delay
        if self._period is not None:
            _check_period(delay)
            cyclic = cast(_CyclicHandle, self)
            cyclic._period = delay
            cyclic._anchor = start
            cyclic._count = 1
        slot = self._slot
        if slot is not None and delay:
            if slot is wheel._incoming:
                self._when = when  # not filed yet: it will be, by this deadline
                if when < wheel._armed_when:
                    wheel._request_wakeup(when)
                return
            if when >= self._when and slot is not wheel._due and slot is not wheel._firing:
                self._when = when  # re-filed when its current slot comes up
                return
        if slot is not None:
            del slot[self]
        self._when = when
        wheel._enqueue(self, when, delay)

    def __repr__(self) -> str:
        state = "pending" if self._slot is not None else "done"
        kind = f" every {self._period}s" if self._period is not None else ""
        return f"<TimerHandle {state} when={self._when:.6f}{kind} {self._callback!r}>"


class _CyclicHandle(TimerHandle):
    """A cyclic timer: expiry k is ``anchor + k * period``, computed afresh each time so that
    float rounding never accumulates (adding the period to the last expiry would drift)."""

    __slots__ = ("_anchor", "_count")

    def __init__(
        self,
        wheel: TimingWheel,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        period: float,
        anchor: float,
    ) -> None:
        super().__init__(wheel, callback, args, period, anchor + period)
        self._anchor = anchor
        self._count = 1

    def _next_expiry(self, now: float) -> float:
        """The first expiry after ``now``: periods missed while the loop stalled are skipped."""
        anchor = self._anchor
        period = cast(float, self._period)
        k = self._count + 1
        if anchor + k * period <= now:
            k = max(k, math.floor((now - anchor) / period))
            while anchor + k * period <= now:  # at most a step or two: floor() may round
                k += 1
        self._count = k
        return anchor + k * period


class TimingWheel:
    """Hierarchical timing wheel. See the module docstring for the layout.

    ``clock`` is read by :meth:`add` and :meth:`TimerHandle.reset`; :meth:`advance` takes
    ``now`` (defaulting to the clock) so that a driver or a test decides when time moves.
    Callbacks run inside :meth:`advance`, synchronously.
    """

    __slots__ = (
        "_armed_when",
        "_bits",
        "_clock",
        "_due",
        "_firing",
        "_incoming",
        "_level0",
        "_level1",
        "_levels",
        "_mask",
        "_next_tick",
        "_origin",
        "_running",
        "_shift",
        "_slots",
        "_span1",
        "_spans",
        "_tick",
        "_wakeup",
    )

    def __init__(
        self,
        tick: float = 0.01,
        slots: int = 256,
        levels: int = 4,
        *,
        clock: Callable[[], float] = time.monotonic,
        origin: float | None = None,
    ) -> None:
        if not 0.0 < tick < math.inf:
            raise ValueError(f"tick must be a finite number of seconds > 0, got {tick!r}")
        if slots < 2 or slots & (slots - 1):
            raise ValueError(f"slots must be a power of two >= 2, got {slots!r}")
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels!r}")
        self._tick = float(tick)
        self._slots = slots
        self._mask = slots - 1
        self._shift = slots.bit_length() - 1
        self._clock = clock
        self._origin = clock() if origin is None else float(origin)
        self._levels: list[list[_Slot]] = [[{} for _ in range(slots)] for _ in range(levels)]
        self._bits = [0] * levels
        # _spans[k] = slots ** (k + 1): a timer less than that many ticks away fits level k.
        self._spans: list[int] = [slots ** (k + 1) for k in range(levels)]
        # Shortcuts for the inlined path of _file (with one level, everything goes "upper").
        self._level0 = self._levels[0]
        self._level1 = self._levels[1] if levels > 1 else self._levels[0]
        self._span1 = self._spans[1] if levels > 1 else slots
        self._next_tick = 0
        self._incoming: _Slot = {}
        self._due: _Slot = {}
        self._firing: _Slot = {}
        self._running = False
        self._armed_when = _NO_DRIVER
        self._wakeup: Callable[[float], None] | None = None

    # -- public API -------------------------------------------------------------------------

    @property
    def tick(self) -> float:
        return self._tick

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def horizon(self) -> float:
        """Seconds the levels span; longer delays work but wait at the top level, re-filed."""
        return self._spans[-1] * self._tick

    def add(
        self, delay: float, callback: Callable[..., object], *args: Any, cyclic: bool = False
    ) -> TimerHandle:
        """Call ``callback(*args)`` once ``delay`` seconds have passed (every ``delay`` if cyclic).

        ``delay`` 0 fires on the next :meth:`advance`, before the timers that advance finds
        due (like ``call_soon`` before ``call_later`` in asyncio). Raises ValueError for a
        negative, NaN or infinite delay, and for a cyclic timer with a period of 0.
        """
        if not 0.0 <= delay <= MAX_DELAY:
            _check_delay(delay)
        if cyclic:
            return self._add_cyclic(delay, callback, args)
        when = self._clock() + delay
        handle = TimerHandle(self, callback, args, None, when)
        if delay:
            incoming = self._incoming
            incoming[handle] = None
            handle._slot = incoming
            if when < self._armed_when:
                self._request_wakeup(when)
        else:
            self._file_due(handle)
        return handle

    def _add_cyclic(
        self, period: float, callback: Callable[..., object], args: tuple[Any, ...]
    ) -> TimerHandle:
        _check_period(period)
        handle = _CyclicHandle(self, callback, args, period, self._clock())
        self._enqueue(handle, handle._when, period)
        return handle

    def advance(self, now: float | None = None) -> int:
        """Fire every timer due at ``now``; return how many callbacks ran.

        Timers added by a callback with delay 0 fire on the next call, so a callback that
        re-adds itself cannot spin this one forever.
        """
        if self._running:
            raise RuntimeError("TimingWheel.advance() called from inside a timer callback")
        if now is None:
            now = self._clock()
        self._running = True
        fired = 0
        try:
            if self._incoming:
                self._file_incoming()
            if self._due:
                batch = self._due
                self._due = {}
                fired += self._run(batch, now, None)
            target = math.floor((now - self._origin) / self._tick)
            while True:
                if self._incoming:  # added by callbacks, maybe due in this advance
                    self._file_incoming()
                t = self._next_event_tick()
                if t is None or t > target:
                    break
                fired += self._process_tick(t, now)
            if self._next_tick <= target:
                self._next_tick = target + 1
        finally:
            self._running = False
        return fired

    def next_wakeup(self) -> float | None:
        """Clock time at which :meth:`advance` next has work, or None if the wheel is empty.

        The time may be in the past (timers added with delay 0). It can be a cascade time
        rather than an expiry, which costs a driver at most one extra wake-up per level.
        With a wake-up callback registered, calling this also arms it: the wheel calls back
        only for adds that land earlier than the time returned.
        """
        tick = self._peek_tick()
        if tick is None:
            if self._wakeup is not None:
                self._armed_when = _IDLE
            return None
        when = self._origin + tick * self._tick
        if self._wakeup is not None:
            self._armed_when = when
        return when

    def _peek_tick(self) -> int | None:
        if self._incoming:
            self._file_incoming()
        if self._due:
            return self._next_tick - 1
        return self._next_event_tick()

    def set_wakeup_callback(self, callback: Callable[[float], None] | None) -> None:
        """Register the driver: ``callback(when)`` is called when an add needs an earlier wake-up.

        After the callback, the wheel assumes the driver will call :meth:`advance` at
        ``when`` and then :meth:`next_wakeup` again. Registering on a wheel that already has
        timers calls back at once with the first wake-up time.
        """
        self._wakeup = callback
        self._armed_when = _IDLE if callback is not None else _NO_DRIVER
        if callback is not None:
            when = self.next_wakeup()
            if when is not None:
                callback(when)

    def clear(self) -> None:
        """Cancel every pending timer (including the rest of a batch being fired)."""
        for slot in self._all_slots():
            for handle in slot:
                handle._slot = None
            slot.clear()
        self._bits = [0] * len(self._bits)

    def __len__(self) -> int:
        """Pending timers. O(levels x slots): for metrics, not for hot paths."""
        firing = self._firing
        pending = sum(1 for handle in firing if handle._slot is firing)
        return pending + sum(len(slot) for slot in self._all_slots() if slot is not firing)

    def __repr__(self) -> str:
        return (
            f"<TimingWheel tick={self._tick} slots={self._slots} levels={len(self._levels)} "
            f"pending={len(self)}>"
        )

    # -- filing ----------------------------------------------------------------------------

    def _enqueue(self, handle: TimerHandle, when: float, delay: float) -> None:
        if delay:
            self._incoming[handle] = None
            handle._slot = self._incoming
            if when < self._armed_when:
                self._request_wakeup(when)
        else:
            self._file_due(handle)

    def _file_incoming(self) -> None:
        incoming = self._incoming
        self._incoming = {}
        file = self._file
        for handle in incoming:
            file(handle, handle._when)

    def _file(self, handle: TimerHandle, when: float) -> None:
        # Levels 0 and 1 (expiries up to slots**2 ticks away, 655 s by default) are inlined:
        # this is the path of every timer that lives past one tick, and of cascades.
        e = math.floor((when - self._origin) / self._tick) + 1
        delta = e - self._next_tick
        if delta < self._slots:
            if delta < 0:
                slot = self._due
            else:
                idx = e & self._mask
                slot = self._level0[idx]
                if not slot:
                    self._bits[0] |= 1 << idx
        elif delta < self._span1:
            idx = (e >> self._shift) & self._mask
            slot = self._level1[idx]
            if not slot:
                self._bits[1] |= 1 << idx
        else:
            slot = self._upper_slot(e, delta)
        slot[handle] = None
        handle._slot = slot

    def _file_due(self, handle: TimerHandle) -> None:
        """File for the next advance(), whatever its ``now``: the rule for delay 0."""
        self._due[handle] = None
        handle._slot = self._due
        tick = self._next_tick - 1
        if self._armed_when > self._origin + tick * self._tick:
            self._arm_driver(tick)

    def _upper_slot(self, e: int, delta: int) -> _Slot:
        spans = self._spans
        top = len(spans) - 1
        level = min(2, top)
        while level < top and delta >= spans[level]:
            level += 1
        if delta >= spans[level]:
            # Beyond the horizon: wait in the top level's furthest slot, then be re-filed.
            e = self._next_tick + spans[level] - 1
        idx = (e >> (level * self._shift)) & self._mask
        slot = self._levels[level][idx]
        if not slot:
            self._bits[level] |= 1 << idx
        return slot

    def _request_wakeup(self, when: float) -> None:
        """Ask the driver for an advance() at the start of the tick where ``when`` fires."""
        self._arm_driver(
            max(math.floor((when - self._origin) / self._tick) + 1, self._next_tick - 1)
        )

    def _arm_driver(self, tick: int) -> None:
        wakeup = self._wakeup
        if wakeup is None:
            return
        at = self._origin + tick * self._tick
        self._armed_when = at
        wakeup(at)

    # -- advancing -------------------------------------------------------------------------

    def _next_event_tick(self) -> int | None:
        """The first tick >= the next unprocessed one at which some slot has timers."""
        n = self._next_tick
        mask = self._mask
        best: int | None = None
        for level, slots in enumerate(self._levels):
            bits = self._bits[level]
            lshift = level * self._shift
            # Level-k slots are processed at multiples of slots**k; the first one >= n:
            first = -((-n) >> lshift)
            while bits:
                i = first & mask
                above = bits >> i
                if above:
                    d = (above & -above).bit_length() - 1
                else:
                    d = self._slots - i + (bits & -bits).bit_length() - 1
                idx = (i + d) & mask
                if slots[idx]:
                    t = (first + d) << lshift
                    if best is None or t < best:
                        best = t
                    break
                # A stale bit: cancels emptied this slot. Clear it and look further.
                bits &= ~(1 << idx)
                self._bits[level] = bits
        return best

    def _process_tick(self, t: int, now: float) -> int:
        self._next_tick = t
        shift = self._shift
        mask = self._mask
        levels = self._levels
        # Cascade the levels whose slot time has come. Order does not matter: a timer less
        # than `slots` ticks away always goes to level 0, so none lands in a slot being
        # cascaded in this same tick.
        for level in range(len(levels) - 1, 0, -1):
            lshift = level * shift
            if t & ((1 << lshift) - 1):
                continue
            idx = (t >> lshift) & mask
            batch = levels[level][idx]
            if not batch:
                continue
            levels[level][idx] = {}
            self._bits[level] &= ~(1 << idx)
            for handle in batch:
                self._file(handle, handle._when)
        idx = t & mask
        batch = self._level0[idx]
        # Callbacks of tick t see it as processed: their delay-0 adds go to the due list.
        self._next_tick = t + 1
        self._bits[0] &= ~(1 << idx)
        if not batch:
            return 0
        self._level0[idx] = {}
        return self._run(batch, now, t)

    def _run(self, batch: _Slot, now: float, tick: int | None) -> int:
        """Fire a detached batch in deadline order.

        The batch dict stays the handles' slot until each fires (fired ones get ``_slot =
        None``; they are not deleted one by one), so cancel and reset from earlier callbacks
        take effect. ``tick`` is the tick being fired (None for the due list): a handle lazily
        reset past it is re-filed instead.
        """
        order = sorted(batch, key=_by_deadline) if len(batch) > 1 else list(batch)
        self._firing = batch
        limit = _INF if tick is None else self._first_time_of_tick(tick)
        fired = 0
        try:
            for handle in order:
                if handle._slot is not batch:
                    continue  # cancelled or reset by an earlier callback
                if handle._when >= limit:
                    # Lazily reset past this tick (sorted last): re-file the rest and stop.
                    self._refile_from(order, batch)
                    break
                if handle._period is None:
                    handle._slot = None
                else:  # re-filed before its callback runs, so the callback may cancel it
                    nxt = handle._when = cast(_CyclicHandle, handle)._next_expiry(now)
                    self._file(handle, nxt)
                fired += 1
                try:
                    handle._callback(*handle._args)
                except Exception:
                    _log.exception("timer callback %r raised", handle._callback)
        except BaseException:
            # KeyboardInterrupt and the like: do not lose the rest of the batch.
            due = self._due
            for handle in order:
                if handle._slot is batch:
                    due[handle] = None
                    handle._slot = due
            raise
        finally:
            self._firing = {}
        return fired

    def _refile_from(self, order: list[TimerHandle], batch: _Slot) -> None:
        for handle in order:
            if handle._slot is batch:
                self._file(handle, handle._when)

    def _first_time_of_tick(self, tick: int) -> float:
        """The smallest float ``w`` with ``floor((w - origin) / tick_len) >= tick``.

        A handle in the slot of ``tick`` fires iff its deadline is below this. Computed once
        per tick so the per-timer test is one float comparison, exact whatever the rounding.
        """
        origin = self._origin
        tick_len = self._tick
        w = origin + tick * tick_len
        while math.floor((w - origin) / tick_len) < tick:
            w = math.nextafter(w, _INF)
        while True:
            lower = math.nextafter(w, -_INF)
            if math.floor((lower - origin) / tick_len) < tick:
                return w
            w = lower

    def _all_slots(self) -> list[_Slot]:
        return [
            self._incoming,
            self._due,
            self._firing,
            *(slot for level in self._levels for slot in level),
        ]
