"""asyncio End for geminio: `connect()`, `serve()`, `End`, `Stream`, and a retrying client.

This subpackage only moves bytes between transports and the sans-I/O connection and turns
its events into awaitables (see `frontier.geminio.connection` for the contract). An idle
connection runs no task: the protocol's callbacks do all the work, and RPC handlers run in
tasks only while they handle a request. Every task is owned by its End and cancelled when
the connection ends.

Back-pressure policy
--------------------
geminio has no flow control on the wire (no windows, no credits; §C.6), so the only brake
a receiver has is to stop reading its socket and let TCP push back on the sender. We do
exactly that, and never buffer without limit:

- Every queue the End fills from the wire is bounded (`Limits`): received messages per
  stream (`max_messages`, default 256), raw bytes per stream (`max_buffered_bytes`,
  default 1 MiB) and RPC handlers running at once per connection (`max_handlers`, 256).
- When any of them reaches its bound, the protocol calls `transport.pause_reading()`; it
  resumes once every such queue is back under half its bound (the handler count: under its
  bound). A bound can be exceeded by what one socket read already holds (one read chunk,
  up to 256 KiB, plus at most one partial frame of up to 10 MiB), never by more.
- Streams waiting for `accept_stream()` (`max_accept_backlog`, 64) are bounded by refusal
  instead: an open beyond the bound is refused at once (the opener gets an error), and the
  connection keeps being read. Pausing the socket for a stream nobody accepts would stop
  every other flow of the connection for good.
- Writers respect the transport: `Stream.write()` hands bytes to the transport and
  `await stream.drain()` waits while it is paused (`pause_writing` / `resume_writing`);
  `publish()` and `call()` wait for the same before sending (within their timeout). Acks,
  responses and protocol replies are written without waiting; a server stops reading a
  connection while its output is above the transport's high-water mark, so these cannot
  pile up either, and with `ConnectionConfig.write_timeout` it drops a peer that leaves its
  output unread that long (a slow consumer).
- A stream that the peer dismissed stops holding the connection back: nothing more can
  arrive for it, so its leftover data stays readable but no longer pauses reading.

Consequence: head-of-line blocking across the streams of one connection. All streams share
one TCP connection, so one stream whose reader does not keep up stops delivery on *every*
stream of that connection, the default session (messages and RPC) included, until it is
read. Heartbeats also wait in the paused socket: a server whose application leaves a
stream unread for longer than 2 x the client's heartbeat interval drops the connection for a
heartbeat timeout. This is the behaviour of current Go geminio (whose bounded channels block
the connection reader), chosen over dropping data, which older Go versions did silently.
Applications that must not couple streams this way should read every stream promptly (or
use one connection per independent flow).
"""

from .client import connect
from .end import End
from .errors import (
    ConnectionClosedError,
    ConnectRejected,
    EndError,
    OpenRejected,
    OperationTimeout,
    PublishRejected,
    RemoteError,
    RPCError,
    StreamClosedError,
)
from .limits import Limits
from .messages import Handler, Message, Request, SyncRequest
from .protocol import GeminioProtocol
from .retry import Backoff, RetryingClient
from .server import Server, ServerHooks, serve
from .stream import Stream

__all__ = [
    "Backoff",
    "ConnectRejected",
    "ConnectionClosedError",
    "End",
    "EndError",
    "GeminioProtocol",
    "Handler",
    "Limits",
    "Message",
    "OpenRejected",
    "OperationTimeout",
    "PublishRejected",
    "RPCError",
    "RemoteError",
    "Request",
    "RetryingClient",
    "Server",
    "ServerHooks",
    "Stream",
    "StreamClosedError",
    "SyncRequest",
    "connect",
    "serve",
]
