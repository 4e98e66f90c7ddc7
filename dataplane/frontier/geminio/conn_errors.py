"""Exceptions of the sans-I/O connection layer.

Kept apart from the codec's `errors` module because they answer a different question: not
"are these bytes a valid frame" but "does this call or this packet fit the connection's
current state". The split between peer faults and local misuse is the same as the codec's:

- `ProtocolViolation` (a `ProtocolError`): the *peer* broke the protocol's behaviour
  (a second ConnPacket, an ack that echoes nothing we sent, a session ID already in use).
  It never escapes `receive_data`; it ends the connection with a `ConnectionClosed` event
  whose reason is `PROTOCOL_ERROR`, as a Go peer would drop the connection.
- `ConnectionStateError` / `SessionStateError`: *our* caller asked for something the
  current state forbids (publish on a closed session, accept twice). Nothing was sent.
"""

from __future__ import annotations

from .errors import GeminioError, ProtocolError

__all__ = ["ConnectionStateError", "ProtocolViolation", "SessionStateError"]


class ProtocolViolation(ProtocolError):
    """Well-formed packets in an order or with values the protocol does not allow."""


class ConnectionStateError(GeminioError):
    """The connection is not in a state that allows the call (not yet up, closing, closed)."""


class SessionStateError(GeminioError):
    """No such session, or it is not open for new operations (opening, dismissing, closed)."""
