"""Errors of the gateway, and how an End error becomes the text a caller sees."""

from __future__ import annotations

from ..geminio.aio import RemoteError

__all__ = ["ForwardError", "error_text"]


class ForwardError(Exception):
    """A forward that cannot happen; its text goes back to the caller verbatim (the RPC
    error or nack text, e.g. "edge not online")."""


def error_text(exc: BaseException) -> str:
    """The peer's own text for remote errors (so a service's error reaches the edge
    unchanged), else a description of the local failure."""
    if isinstance(exc, RemoteError):
        return exc.text
    return str(exc) or type(exc).__name__
