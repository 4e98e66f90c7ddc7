"""Incremental frame reader: arbitrary byte chunks in, whole packets out.

The reader keeps the caller's `bytes` chunks by reference: the chunk holding the start of
the next frame (`_buf`) and, while a frame straddles chunks, the chunks received after it
(`_tail`). A straddling frame is assembled with one `join` once all of it is in, so
collecting even a 10 MiB body from small reads stays linear, and a StreamPacket's payload is
joined directly from the pieces that hold it: one copy of the raw bytes, never a copy of the
frame followed by a copy of the payload out of it. (The stream path used to copy every byte
five times between the socket and `Stream.read()`, which made receiving, not sending, the
bottleneck of bench/protocol.py's stream case; the reader accounted for two of them.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Final

from .decoder import (
    RULES,
    decode_body,
    located,
    new_stream_packet,
    reject_header,
    stream_payload,
    unpack_header,
)
from .errors import BadJSON, IncompleteFrame, ProtocolError
from .packets import HEADER_LEN, MAX_PACKET_LEN, U64, Packet, PacketType

__all__ = ["FrameReader"]

_STREAM: Final = int(PacketType.STREAM)
_STREAM_PREFIX: Final = HEADER_LEN + 8  # header + session ID: where a stream payload starts
_unpack_u64: Final = U64.unpack_from


class FrameReader:
    """Incremental decoder: `feed()` byte chunks as they arrive, then take packets with
    `next_packet()` (None until a whole frame is buffered) or by iterating.

    A header is judged as soon as its 14 bytes are in: an oversized, unknown, short or
    (for body-less types) non-empty frame raises at once, before any of its body is
    buffered. The first ProtocolError is sticky: every later call raises it again, because
    after it the stream cannot be trusted and the connection must be closed (as Go does).
    """

    __slots__ = (
        "_base",
        "_buf",
        "_error",
        "_limit",
        "_pieces",
        "_pos",
        "_split_streams",
        "_tail",
        "_tail_len",
    )

    def __init__(
        self, *, max_packet_len: int = MAX_PACKET_LEN, split_streams: bool = False
    ) -> None:
        """`split_streams`: a StreamPacket whose payload spans received chunks comes out as
        one StreamPacket per chunk (same packet and session ID), each payload a view of
        its chunk or the chunk itself, instead of one payload joined (copied) from them.
        Stream bytes have no boundaries (Go's readers never see them), so a connection
        delivers the pieces as they are and a relay frames each one anew: no byte of a
        forwarded stream is copied on its way through."""
        self._buf = b""
        self._pos = 0  # start of the first unconsumed byte in _buf
        self._base = 0  # stream offset of _buf[0]
        # Chunks after _buf, only while a frame straddles (None otherwise: an idle
        # connection holds no list).
        self._tail: list[bytes] | None = None
        self._tail_len = 0
        self._limit = max_packet_len
        self._error: ProtocolError | None = None
        self._split_streams = split_streams
        self._pieces: deque[Packet] | None = None
        """The rest of a split StreamPacket (its bytes are consumed already)."""

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as packets."""
        return len(self._buf) - self._pos + self._tail_len

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
        chunk = data if type(data) is bytes else bytes(data)
        if self._pos >= len(self._buf) and not self._tail:  # nothing pending: chunk is the buffer
            self._base += len(self._buf)
            self._buf = chunk
            self._pos = 0
        else:
            if self._tail is None:
                self._tail = [chunk]
            else:
                self._tail.append(chunk)
            self._tail_len += len(chunk)

    def next_packet(self) -> Packet | None:
        """The next complete packet, or None if more bytes are needed."""
        if self._error is not None:
            raise self._error
        pieces = self._pieces
        if pieces:
            return pieces.popleft()
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < HEADER_LEN:
            if available + self._tail_len < HEADER_LEN:
                return None
            self._gather(HEADER_LEN)
            buf = self._buf
            pos = 0
            available = len(buf)
        _, typ, pid, length = unpack_header(buf, pos)
        rule = RULES.get(typ)
        if rule is None or length > self._limit or not rule[0] <= length <= rule[1]:
            self._error = reject_header(typ, length, self._limit, self._base + pos)
            raise self._error
        end = pos + HEADER_LEN + length
        if end <= len(buf):
            try:
                packet = decode_body(typ, buf, pos + HEADER_LEN, end, pid)
            except BadJSON as exc:
                self._error = located(exc, typ, self._base + pos)
                raise self._error from None
            if end == len(buf) and not self._tail:
                # All consumed: drop the chunk now rather than hold it while idle.
                self._base += end
                self._buf = b""
                self._pos = 0
            else:
                self._pos = end
            return packet
        if available + self._tail_len < HEADER_LEN + length:
            return None
        return self._assemble(typ, pid, HEADER_LEN + length)

    def _gather(self, need: int) -> None:
        """Make `_buf` start at the pending bytes and hold at least `need` of them, by
        merging tail chunks into it (each chunk is merged at most once)."""
        parts: list[bytes | memoryview] = [memoryview(self._buf)[self._pos :]]
        have = len(parts[0])
        tail = self._tail
        assert tail is not None  # callers know the tail holds what is needed
        taken = 0
        while have < need:
            chunk = tail[taken]
            parts.append(chunk)
            have += len(chunk)
            taken += 1
        merged = b"".join(parts)
        parts.clear()  # release the view of the old buffer
        del tail[:taken]
        if not tail:
            self._tail = None
        self._tail_len -= have - (len(self._buf) - self._pos)
        self._base += self._pos
        self._buf = merged
        self._pos = 0

    def _assemble(self, typ: int, pid: int, size: int) -> Packet:
        """Take the `size`-byte frame that starts in `_buf` and ends in `_tail`."""
        buf = self._buf
        pos = self._pos
        tail = self._tail
        assert tail is not None  # the frame goes on in the tail
        first = memoryview(buf)[pos:]
        missing = size - len(first)
        taken = 0
        while len(tail[taken]) <= missing:
            missing -= len(tail[taken])
            taken += 1
            if not missing:
                break
        # tail[:taken] are consumed whole; the frame's last `missing` bytes (maybe none)
        # start tail[taken], which becomes the buffer.
        pieces: list[bytes | memoryview] = [*tail[:taken]]
        if missing:
            pieces.append(memoryview(tail[taken])[:missing])
        packet: Packet
        try:
            if typ == _STREAM and len(first) >= _STREAM_PREFIX and self._split_streams:
                session_id = _unpack_u64(buf, pos + HEADER_LEN)[0]
                packet = self._split(pid, session_id, pos + _STREAM_PREFIX, tail, taken, missing)
            elif typ == _STREAM and len(first) >= _STREAM_PREFIX:
                session_id = _unpack_u64(buf, pos + HEADER_LEN)[0]
                pieces.insert(0, first[_STREAM_PREFIX:])
                packet = new_stream_packet(pid, session_id, b"".join(pieces))
            else:
                pieces.insert(0, first)
                frame = b"".join(pieces)
                packet = decode_body(typ, frame, HEADER_LEN, size, pid)
        except BadJSON as exc:
            self._error = located(exc, typ, self._base + pos)
            raise self._error from None
        finally:
            pieces.clear()
            first.release()
        consumed = len(buf)
        for chunk in tail[:taken]:
            consumed += len(chunk)
        self._tail_len -= consumed - len(buf)
        del tail[:taken]
        self._base += consumed
        if tail:
            chunk = tail.pop(0)
            self._tail_len -= len(chunk)
            self._buf = chunk
            self._pos = missing
        else:
            self._buf = b""
            self._pos = 0
        if not tail:
            self._tail = None
        return packet

    def _split(
        self, pid: int, session_id: int, start: int, tail: list[bytes], taken: int, missing: int
    ) -> Packet:
        """The first piece of a stream payload that starts at `_buf[start]` and goes on in
        `tail[:taken]` and the first `missing` bytes of `tail[taken]`; the others wait in
        `_pieces`. Each piece is its chunk when whole, else a view of it (or a copy, when
        small beside its chunk: see `decoder.stream_payload`)."""
        buf = self._buf
        first: Packet = new_stream_packet(pid, session_id, stream_payload(buf, start, len(buf)))
        rest = self._pieces
        if rest is None:
            rest = self._pieces = deque()
        for index in range(taken):
            rest.append(new_stream_packet(pid, session_id, tail[index]))
        if missing:
            rest.append(new_stream_packet(pid, session_id, stream_payload(tail[taken], 0, missing)))
        if len(buf) == start:  # the header and session ID ended the first chunk
            return rest.popleft()
        return first

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
            if len(self._buf) - self._pos < HEADER_LEN:
                self._gather(HEADER_LEN)
            _, packet_type, _, length = unpack_header(self._buf, self._pos)
            need += length
        if have < need:
            self._error = IncompleteFrame(have, need, packet_type=packet_type, offset=self.offset)
            raise self._error
