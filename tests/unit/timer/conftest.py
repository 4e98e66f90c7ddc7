from __future__ import annotations

import pytest

from frontier.timer import TimingWheel
from support.timers import Recorder, VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def wheel(clock: VirtualClock) -> TimingWheel:
    return TimingWheel(tick=0.01, clock=clock)


@pytest.fixture
def rec(clock: VirtualClock) -> Recorder:
    return Recorder(clock)
