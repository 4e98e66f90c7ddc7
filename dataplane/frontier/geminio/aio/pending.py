"""The future of `Stream.call_future`/`publish_future`.

A module of its own because it subclasses asyncio's C `Future`, which a module compiled with
mypyc (`frontier.buildinfo.COMPILED_MODULES`, stream.py among them) cannot do: this one stays
Python in every build.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .stream import Stream

__all__ = ["PendingFuture"]

_T = TypeVar("_T")


class PendingFuture(asyncio.Future[_T]):
    """Cancelling it also forgets the operation in the End and the connection, as
    cancelling `call()`/`publish()` does."""

    __slots__ = ("_op_id", "_op_stream", "_request")

    def __init__(
        self, stream: Stream, op_id: int, request: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(loop=loop)
        self._op_stream = stream
        self._op_id = op_id
        self._request = request

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self._op_stream._forget(self._op_id, self._request, self)
        return True
