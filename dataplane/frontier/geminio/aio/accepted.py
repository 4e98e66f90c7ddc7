"""The socket object the listener hands to the loop for each accepted connection.

A module of its own because it must stay interpreted: mypyc cannot compile a subclass of
`socket.socket` (a class with ``__slots__``), and the listener is compiled.
"""

from __future__ import annotations

import _socket
import socket

__all__ = ["AcceptedSocket"]


class AcceptedSocket(socket.socket):
    """An accepted socket whose `family` and `type` read as plain ints: socket.socket's
    properties build an enum on every read, and uvloop reads them three times per
    connection it is handed."""

    __slots__ = ()
    family = _socket.socket.family  # type: ignore[assignment]
    type = _socket.socket.type  # type: ignore[assignment]
