"""Errors of the gateway, and how an End error becomes the text a caller sees."""

from __future__ import annotations

import logging

from ..geminio.aio import RemoteError
from ..geminio.errors import EncodeError

__all__ = ["TOO_LARGE_TEXT", "ForwardError", "error_text"]

log = logging.getLogger("frontier.exchange")

TOO_LARGE_TEXT = "message too large"
"""What a sender hears when its payload cannot be forwarded (with the edge-ID trailer it
would exceed the 10 MiB frame limit): the exact sizes and limits go to our log, not to an
untrusted peer."""


class ForwardError(Exception):
    """A forward that cannot happen; its text goes back to the caller verbatim (the RPC
    error or nack text, e.g. "edge not online")."""


def error_text(exc: BaseException) -> str:
    """The peer's own text for remote errors (so a service's error reaches the edge
    unchanged), else a description of the local failure."""
    if isinstance(exc, RemoteError):
        return exc.text
    if isinstance(exc, EncodeError):
        log.info("a forward could not be encoded: %s", exc)
        return TOO_LARGE_TEXT
    return str(exc) or type(exc).__name__
