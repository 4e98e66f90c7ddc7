"""Tunables of the sans-I/O connection, with Go geminio's values as defaults (§B.6)."""

from __future__ import annotations

from dataclasses import dataclass

from .ids import U64_MAX
from .packets import MAX_PACKET_LEN

__all__ = ["ConnectionConfig"]

_STREAM_OVERHEAD = 8  # session ID in front of a StreamPacket payload


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionConfig:
    connect_timeout: float = 10.0
    """Client: wait for the ConnAck. Server: wait for the ConnPacket and the decision."""
    open_timeout: float = 30.0
    """Wait for a SessionAck."""
    dismiss_timeout: float = 30.0
    """Wait for a session's 4-way dismiss to finish; then tear it down anyway."""
    close_timeout: float = 10.0
    """Wait for the 4-way disconnect to finish after our DisConn (Go has no such limit)."""
    send_request_cancel: bool = False
    """Send RequestCancel (0x73) when a call is cancelled. Off by default: Go peers up to
    v1.1.7 cannot decode it and drop the connection (§G.1 rule 1)."""
    stream_chunk_size: int = 256 * 1024
    """Largest StreamPacket payload we emit; chunking is invisible to Go readers (§A.6), which
    themselves send a whole Write as one frame. 256 KiB measured 1.5x the stream throughput of
    64 KiB (bench/protocol.py) while staying a quarter of the default per-stream buffer, so one
    frame never fills it alone; 1 MiB gained little more and would pause reading every frame."""
    max_sessions: int = 65536
    """Sessions (the default one included) beyond which a peer's open is refused."""
    max_remote_methods: int = 4096
    """Distinct methods a peer may register per session; more are refused in the ack."""
    write_timeout: float | None = None
    """Seconds the transport may hold more unsent output than its high-water mark (the
    peer is not reading) before the connection is force-closed as a slow consumer; None:
    never (a client's default). The adapter reports the transport's state with
    `Connection.write_blocked()`."""
    max_heartbeat: int | None = None
    """Server: the longest heartbeat interval a client may advertise; a ConnPacket asking
    for more is refused at once with a text naming both values. None: any."""
    max_meta: int | None = None
    """Server: the largest connection meta a client may send, in bytes (a gateway keeps
    every edge's meta for the life of its connection). None: up to the frame limit."""
    split_streams: bool = False
    """Deliver a stream frame that spans several reads as one `StreamDataReceived` per read
    chunk (each a view of its chunk, or the chunk itself), not joined into one payload. For
    relays (the gateway: each piece goes on with a header of its own, no byte copied); off
    for endpoints, whose readers would copy each piece anyway and pay a call chain per piece
    (End-to-End stream throughput halved with it on: bench/protocol.py)."""
    first_packet_id: int = 1

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "open_timeout", "dismiss_timeout", "close_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not 1 <= self.stream_chunk_size <= MAX_PACKET_LEN - _STREAM_OVERHEAD:
            raise ValueError(f"stream_chunk_size must be in 1..{MAX_PACKET_LEN - _STREAM_OVERHEAD}")
        if self.write_timeout is not None and not self.write_timeout > 0:
            raise ValueError("write_timeout must be positive (or None)")
        if self.max_heartbeat is not None and self.max_heartbeat < 1:
            raise ValueError("max_heartbeat must be >= 1 (or None)")
        if self.max_meta is not None and self.max_meta < 0:
            raise ValueError("max_meta must be >= 0 (or None)")
        if self.max_sessions < 1 or self.max_remote_methods < 0:
            raise ValueError("max_sessions must be >= 1 and max_remote_methods >= 0")
        if not 1 <= self.first_packet_id <= U64_MAX:
            raise ValueError("first_packet_id must be in 1..2^64-1")
