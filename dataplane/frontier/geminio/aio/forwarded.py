"""A relay's call or message in flight: `Stream.forward_call` / `forward_publish`.

What `Stream.call_future`'s future is to a relay, minus the future. The End resolves
operations in flight through three methods, `done`, `set_result` and `set_exception`
(`Pending`: what its table holds), and a `Forwarded` answers them by calling its `finished`
there and then, in the loop iteration that read the response or ack. A future would run its
done callback one iteration later, through a Handle scheduled with `call_soon`; and a
`PendingFuture` is an interpreted subclass of asyncio's C Future (a compiled class cannot
subclass it), built by an interpreted `__init__`. Per forwarded call or message that was a
Future, a done callback, a Handle and a loop step (bench/gateway.py's CPU per forward).

Calling back at once is safe here because of what a relay's `finished` does: it answers its
source connection (another End's `SyncRequest.respond` or `Message.done`), never the End
that is resolving it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from mypy_extensions import mypyc_attr

from ..events import OpKind
from .errors import operation_timed_out

if TYPE_CHECKING:
    from .stream import Stream

__all__ = ["Forwarded", "Pending"]


class Pending(Protocol):
    """An operation in flight as the End resolves it: an asyncio Future or a `Forwarded`."""

    def done(self) -> bool: ...

    def set_result(self, result: Any, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


@mypyc_attr(allow_interpreted_subclasses=True)  # (tests subclass it)
class Forwarded:
    """A call or message sent on by a relay, until its response or ack: subclass it and
    say in `finished` what to do then.

    A subclass, not a callback: the relay's context (its source request, counters, start
    time) lives in the subclass's fields, where a callback would be a closure, and
    compiled, a closure is two objects more per forward (an environment and the function).
    `finished` is called exactly once. Holding its stream makes a cycle (stream, End, the
    End's table, this) only while in flight: the End drops it when it resolves it.
    """

    __slots__ = ("_finished", "_op_id", "_request", "_stream", "data", "data_b64")

    def __init__(self) -> None:
        self._stream: Stream | None = None
        self._op_id = 0
        self._request = False
        self._finished = False
        self.data = b""
        """A call's response data, decoded: only when it came as text that cannot be
        spliced (`data_b64` None); a relay sends it encoded again."""
        self.data_b64: bytes | None = None
        """A call's response data as the base64 text it arrived in, for a relay to splice
        (`SyncRequest.respond(data_b64=...)`); None when it must be encoded again."""

    def finished(self, error: BaseException | None) -> None:
        """Answered (`error` None: the response data in `data`, or as spliceable text in
        `data_b64`), or failed with what `call()` or `publish()` would have raised
        (`RPCError`, `PublishRejected`, `OperationTimeout`, `ConnectionClosedError`,
        `StreamClosedError`), or `asyncio.CancelledError` after `cancel()`."""

    def _sent(self, stream: Stream, op_id: int, request: bool) -> None:
        """`Stream.forward_call`/`forward_publish`: it went out as `op_id` on `stream`."""
        self._stream = stream
        self._op_id = op_id
        self._request = request

    @property
    def op_id(self) -> int:
        """The request or message ID it went out with (0 before)."""
        return self._op_id

    def done(self) -> bool:
        return self._finished

    def set_result(self, result: Any, /) -> None:
        """Answered (the End's side): `result` is the response data, or None for an ack
        or a response whose text the End left in `data_b64`."""
        if self._finished:
            return
        self._finished = True
        if type(result) is bytes:
            self.data = result
        self.finished(None)

    def set_exception(self, exception: BaseException, /) -> None:
        """Failed (the End's side): refused, timed out, or its stream or connection ended."""
        if self._finished:
            return
        self._finished = True
        self.finished(exception)

    def cancel(self) -> bool:
        """Stop waiting and forget it, as cancelling `call()` or `publish()` does (a
        RequestCancel goes out when the connection's config enables it); `finished` gets
        an `asyncio.CancelledError`. False when it was done already (or never sent)."""
        return self._give_up(asyncio.CancelledError(), notify=True)

    def expire(self) -> bool:
        """Give up waiting because its timeout passed, kept by the caller (a relay's one
        queue for all its forwards, gateway/timeouts.py) instead of a timer on the
        connection: it ends as that timer would have ended it, forgotten without a
        RequestCancel, and `finished` gets the `OperationTimeout` that `call()` or
        `publish()` raises. False when it was done already (or never sent)."""
        kind = OpKind.REQUEST if self._request else OpKind.PUBLISH
        return self._give_up(operation_timed_out(kind.value), notify=False)

    def _give_up(self, error: BaseException, *, notify: bool) -> bool:
        """Forget it on its stream (a RequestCancel only if `notify`), then `finished`."""
        stream = self._stream
        if self._finished or stream is None:
            return False
        self._finished = True
        stream._forget(self._op_id, self._request, self, notify=notify)
        self.finished(error)
        return True

    def __repr__(self) -> str:
        state = "done" if self._finished else "pending"
        what = "call" if self._request else "message"
        return f"<{type(self).__name__} {what} {self._op_id} {state}>"
