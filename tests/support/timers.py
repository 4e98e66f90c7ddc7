"""Helpers for timer tests: a hand-moved clock and a recording callback."""

from __future__ import annotations


class VirtualClock:
    """A clock the test moves by hand; the wheel reads it on add/reset."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A callback that records (label, clock time at firing)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[object, float]] = []

    def __call__(self, label: object = None) -> None:
        self.calls.append((label, self.clock.now))

    @property
    def labels(self) -> list[object]:
        return [label for label, _ in self.calls]
