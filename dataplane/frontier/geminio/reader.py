"""Incremental frame reader: arbitrary byte chunks in, whole packets out.

The reader keeps the caller's `bytes` chunk as its buffer when it holds no partial frame
(no copy for the common case of whole frames per read) and switches to an appendable
`bytearray` only while a frame straddles chunks, so assembling a large frame is linear.
"""

from __future__ import annotations

from collections.abc import Iterator

from .decoder import RULES, located, reject_header, unpack_header
from .documents import Buffer
from .errors import BadJSON, IncompleteFrame, ProtocolError
from .packets import HEADER_LEN, MAX_PACKET_LEN, Packet

__all__ = ["FrameReader"]


class FrameReader:
    """Incremental decoder: `feed()` byte chunks as they arrive, then take packets with
    `next_packet()` (None until a whole frame is buffered) or by iterating.

    A header is judged as soon as its 14 bytes are in: an oversized, unknown, short or
    (for body-less types) non-empty frame raises at once, before any of its body is
    buffered. The first ProtocolError is sticky: every later call raises it again, because
    after it the stream cannot be trusted and the connection must be closed (as Go does).
    """

    __slots__ = ("_base", "_buf", "_error", "_limit", "_pos")

    def __init__(self, *, max_packet_len: int = MAX_PACKET_LEN) -> None:
        self._buf: Buffer = b""
        self._pos = 0  # start of the first unconsumed byte in _buf
        self._base = 0  # stream offset of _buf[0]
        self._limit = max_packet_len
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as packets."""
        return len(self._buf) - self._pos

    @property
    def offset(self) -> int:
        """Stream offset of the next frame: the bytes consumed so far."""
        return self._base + self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes. A `bytes` chunk is kept by reference, others are copied."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        buf = self._buf
        pos = self._pos
        if pos >= len(buf):
            self._base += len(buf)
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            return
        if isinstance(buf, bytes):
            # A frame straddles chunks: move to a growable buffer so that collecting even a
            # 10 MiB body from small reads stays linear.
            grown = bytearray(memoryview(buf)[pos:])
            grown += data
            self._base += pos
            self._buf = grown
        else:
            if pos:
                del buf[:pos]  # O(1)-ish in CPython: advances the bytearray's start
                self._base += pos
            buf += data
        self._pos = 0

    def next_packet(self) -> Packet | None:
        """The next complete packet, or None if more bytes are needed."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < HEADER_LEN:
            return None
        _, typ, pid, length = unpack_header(buf, pos)
        rule = RULES.get(typ)
        if rule is None or length > self._limit or not rule[0] <= length <= rule[1]:
            self._error = reject_header(typ, length, self._limit, self._base + pos)
            raise self._error
        end = pos + HEADER_LEN + length
        if end > len(buf):
            return None
        try:
            packet = rule[2](buf, pos + HEADER_LEN, end, pid)
        except BadJSON as exc:
            self._error = located(exc, typ, self._base + pos)
            raise self._error from None
        self._pos = end
        return packet

    def __iter__(self) -> Iterator[Packet]:
        """Yield every packet that is complete in the buffer now."""
        while (packet := self.next_packet()) is not None:
            yield packet

    def eof(self) -> None:
        """Declare the end of the stream: raises IncompleteFrame if it cut a frame short.

        Complete frames still buffered are not an error; take them before or after.
        """
        if self._error is not None:
            raise self._error
        have = self.buffered
        if not have:
            return
        packet_type: int | None = None
        need = HEADER_LEN
        if have >= HEADER_LEN:
            _, packet_type, _, length = unpack_header(self._buf, self._pos)
            need += length
        if have < need:
            self._error = IncompleteFrame(have, need, packet_type=packet_type, offset=self.offset)
            raise self._error
