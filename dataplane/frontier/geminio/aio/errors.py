"""Exceptions of the asyncio End.

geminio carries errors as bare text (§G.6 #8), so every error that came from the peer is a
`RemoteError` holding that text verbatim: callers can match on it, and the gateway can pass
it on unchanged. Local conditions (closed, timed out) get their own types so that nobody has
to parse text to tell "the peer said no" from "the connection went away".
"""

from __future__ import annotations

from ..errors import GeminioError

__all__ = [
    "ConnectRejected",
    "ConnectionClosedError",
    "EndError",
    "OpenRejected",
    "OperationTimeout",
    "PublishRejected",
    "RPCError",
    "RemoteError",
    "StreamClosedError",
    "operation_timed_out",
]


class EndError(GeminioError):
    """Base of everything the asyncio End raises."""


class ConnectionClosedError(EndError):
    """The connection is closed or closing; the operation did not (or may not) complete."""


class StreamClosedError(EndError):
    """The stream was dismissed (by either side) before or during the operation."""


class OperationTimeout(EndError, TimeoutError):
    """The peer did not answer within the operation's timeout."""


def operation_timed_out(what: str) -> OperationTimeout:
    """What an operation (`OpKind.value`: "request", "publish", ...) whose timeout passed
    raises: one text, whether the connection's timer or a relay's queue kept the time."""
    return OperationTimeout(f"{what} timed out")


class RemoteError(EndError):
    """The peer answered with an error text, kept verbatim in `text`."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class PublishRejected(RemoteError):
    """The receiver nacked the message (`Message.error(text)` on its side)."""


class RPCError(RemoteError):
    """The callee's handler failed, or it has no such method ("no such rpc: <method>")."""


class ConnectRejected(RemoteError):
    """The server refused the connection (the ConnAck carried this error text)."""


class OpenRejected(RemoteError):
    """The peer refused to open the stream."""
