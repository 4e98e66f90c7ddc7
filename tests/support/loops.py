"""Run asyncio tests on both event loops the project supports: asyncio's and uvloop.

Test modules use ``pytestmark = [pytest.mark.parametrize("loop_factory", LOOPS)]`` and call
``run(loop_factory, main())``; uvloop is skipped with a reason where it is not installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
    uvloop = None  # type: ignore[assignment]

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

LOOPS: list[Any] = [
    pytest.param(asyncio.new_event_loop, id="asyncio"),
    pytest.param(uvloop.new_event_loop, id="uvloop")
    if uvloop is not None
    else pytest.param(None, id="uvloop", marks=pytest.mark.skip(reason="uvloop not installed")),
]


def run(
    loop_factory: LoopFactory, coro: Coroutine[Any, Any, None], *, timeout: float = 10.0
) -> None:
    """Run ``coro`` on a fresh loop from ``loop_factory``, failing it after ``timeout`` s."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(asyncio.wait_for(coro, timeout=timeout))
