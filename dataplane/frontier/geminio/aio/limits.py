"""Bounds of the End's queues (see the package docstring for the back-pressure policy)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_messages: int = 256
    """Received messages waiting for `receive()`, per stream (Go: 32 to 1024)."""
    max_buffered_bytes: int = 1024 * 1024
    """Raw bytes waiting for `read()`, per stream; reading resumes below half of it."""
    max_accept_backlog: int = 64
    """Streams the peer opened that wait for `accept_stream()`, per connection; the peer's
    opens beyond it are refused at once (not queued, and the connection keeps being read).
    0 refuses every stream: what the SDKs use until the application accepts streams."""
    max_handlers: int = 256
    """RPC handlers running at once, per connection."""

    def __post_init__(self) -> None:
        for name in ("max_messages", "max_buffered_bytes", "max_handlers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_accept_backlog < 0:
            raise ValueError("max_accept_backlog must be >= 0")
