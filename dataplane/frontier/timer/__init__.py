"""Hierarchical timing wheel (:mod:`.wheel`, pure) and its asyncio driver (:mod:`.loop`)."""

from frontier.timer.loop import LoopTimer, get_loop_timer
from frontier.timer.wheel import MAX_DELAY, TimerHandle, TimingWheel

__all__ = ["MAX_DELAY", "LoopTimer", "TimerHandle", "TimingWheel", "get_loop_timer"]
