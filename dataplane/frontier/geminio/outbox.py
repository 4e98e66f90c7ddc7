"""Everything the sans-I/O connection produces between two drains by its adapter.

One object shared by the connection, the multiplexer and the application layer, so that
each can send a packet, emit an event or touch a timer without knowing about the others.
Frames are encoded when sent, so a packet that cannot go on the wire raises `EncodeError`
in the user call that made it, before any state has changed.

Nothing here is bounded by itself: the adapter must drain (`take_frames`, `take_events`,
`timers.take`) after every call into the connection, which bounds all three by the work
of one call.
"""

from __future__ import annotations

from typing import TypeAlias

from .encoder import encoded_parts, stream_header
from .events import Event
from .ids import PacketIDs
from .packets import Packet
from .timer_requests import TimerBook

__all__ = ["Frame", "Outbox"]

Frame: TypeAlias = bytes | memoryview
"""One buffer for `transport.writelines`; several may make up one frame."""


class Outbox:
    __slots__ = ("_events", "_frames", "ids", "timers")

    def __init__(self, first_packet_id: int = 1) -> None:
        # None while empty: a drained (idle) connection holds no lists.
        self._frames: list[Frame] | None = None
        self._events: list[Event] | None = None
        self.ids = PacketIDs(first_packet_id)
        self.timers = TimerBook()

    def next_id(self) -> int:
        return self.ids.next()

    def send(self, packet: Packet) -> None:
        parts = encoded_parts(packet)
        if self._frames is None:
            self._frames = list(parts)
        else:
            self._frames.extend(parts)

    def send_frame(self, frame: bytes) -> None:
        """A frame encoded by the caller (`encoder.message_frame`)."""
        if self._frames is None:
            self._frames = [frame]
        else:
            self._frames.append(frame)

    def send_parts(self, parts: tuple[bytes, Frame, bytes]) -> None:
        """A frame encoded by the caller as three buffers (`encoder.message_frame_parts`),
        the middle one a large spliced value, not copied (a small one comes whole, as
        `send_frame`: application.py decides)."""
        head, middle, tail = parts
        frames = self._frames
        if frames is None:
            frames = self._frames = []
        frames.append(head)
        frames.append(middle)
        frames.append(tail)

    def send_stream(self, packet_id: int, session_id: int, payload: Frame) -> None:
        """A StreamPacket from a payload slice, without copying the payload."""
        header = stream_header(packet_id, session_id, len(payload))
        if self._frames is None:
            self._frames = [header, payload]
        else:
            self._frames.append(header)
            self._frames.append(payload)

    def emit(self, event: Event) -> None:
        if self._events is None:
            self._events = [event]
        else:
            self._events.append(event)

    def take_frames(self) -> list[Frame]:
        frames = self._frames
        if frames is None:
            return []
        self._frames = None
        return frames

    def take_events(self) -> list[Event]:
        events = self._events
        if events is None:
            return []
        self._events = None
        return events

    @property
    def has_output(self) -> bool:
        return bool(self._frames)
