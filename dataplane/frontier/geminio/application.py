"""The application layer of one session: messages, RPC, registration, raw stream bytes (§D).

Inbound packets become events; user operations become packets plus, for those that wait for
the peer (publish, request, register), an entry in the session's pending table keyed by the
packet ID the peer must echo. An answer whose ID matches nothing pending (already answered,
timed out, or forgotten by the caller) is dropped, as Go drops it.

Callers (the connection) check that the session may carry the operation; this module only
builds packets, records pending operations and resolves them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from .conn_config import ConnectionConfig
from .encoder import message_frame, message_frame_parts, message_frame_spliced
from .events import (
    AbortReason,
    MessageReceived,
    OperationAborted,
    OpKind,
    PublishAcked,
    RegisterAcked,
    RemoteRegistered,
    RequestCancelled,
    RequestReceived,
    ResponseReceived,
    StreamDataReceived,
)
from .gojson import ZERO_TIME, GoTime
from .outbox import Outbox
from .packets import (
    CANCEL_CANCELED,
    MessageAckPacket,
    MessagePacket,
    Packet,
    PacketType,
    RegisterAckPacket,
    RegisterPacket,
    RequestCancelPacket,
    RequestPacket,
    ResponsePacket,
    StreamPacket,
)
from .session import Session
from .timer_requests import TimerKey, TimerKind, timer_key

__all__ = ["AppLayer", "method_text", "no_such_rpc"]


def no_such_rpc(method: str) -> str:
    """The error text a Go callee answers for a method it has no handler for."""
    return f"no such rpc: {method}"


def method_text(raw: bytes) -> str:
    # Go converts the bytes with string(); its JSON encoder then replaces invalid UTF-8 by
    # U+FFFD, which is what our error texts and events show.
    return raw.decode("utf-8", "replace")


_TOO_MANY_METHODS = "too many registered methods"
# Messages, acks, requests and responses are sent as frames built straight from their fields
# (`encoder.message_frame`, which says why), not as packets handed to `Outbox.send`.
_MESSAGE: Final = int(PacketType.MESSAGE)
_MESSAGE_ACK: Final = int(PacketType.MESSAGE_ACK)
_REQUEST: Final = int(PacketType.REQUEST)
_RESPONSE: Final = int(PacketType.RESPONSE)
_JOIN_BELOW: Final = 16 * 1024
"""A spliced value shorter than this goes out copied into its frame, one buffer (a copy
costs less than two more buffers for the transport); a longer one as its own buffer."""


class AppLayer:
    __slots__ = ("_config", "_out")

    def __init__(self, out: Outbox, config: ConnectionConfig) -> None:
        self._out = out
        self._config = config

    def handle(self, session: Session, packet: Packet) -> None:
        # The traffic's packets by direct (compiled) calls; the rest through a class-level
        # table of plain functions (no bound methods held per connection), a generic call.
        if isinstance(packet, RequestPacket):
            self._on_request(session, packet)
        elif isinstance(packet, ResponsePacket):
            self._on_response(session, packet)
        elif isinstance(packet, MessagePacket):
            self._on_message(session, packet)
        elif isinstance(packet, MessageAckPacket):
            self._on_message_ack(session, packet)
        elif isinstance(packet, StreamPacket):
            self._on_stream(session, packet)
        else:
            _HANDLERS[type(packet)](self, session, packet)

    # ------------------------------------------------------------------------------ inbound

    def _on_message(self, session: Session, packet: MessagePacket) -> None:
        self._out.emit(MessageReceived(packet))

    def _on_message_ack(self, session: Session, packet: MessageAckPacket) -> None:
        publishes = session._publishes
        timed = publishes.pop(packet.packet_id, None) if publishes else None
        if timed is None:
            return
        if timed:
            self._out.timers.cancel_op(timed)
        self._out.emit(PublishAcked(session.session_id, packet.packet_id, packet.error))

    def _on_request(self, session: Session, packet: RequestPacket) -> None:
        # Go's dispatch order (§D.3): hijack, then the registered handler, else an
        # immediate "no such rpc" answer that echoes the method as the response key.
        method = method_text(packet.key)
        hijack = session.hijack
        if hijack is not None and hijack.catches(method):
            self._out.emit(RequestReceived(packet, method, True))
        elif session._local_methods and packet.key in session._local_methods:
            self._out.emit(RequestReceived(packet, method, False))
        else:
            self._out.send_frame(
                message_frame(
                    _RESPONSE,
                    packet.packet_id,
                    session.session_id,
                    packet.key,
                    b"",
                    "",
                    b"",
                    no_such_rpc(method),
                )
            )

    def _on_response(self, session: Session, packet: ResponsePacket) -> None:
        requests = session._requests
        timed = requests.pop(packet.packet_id, None) if requests else None
        if timed is None:
            return
        if timed:
            self._out.timers.cancel_op(timed)
        # A response with an error carries no data for the caller (Go returns nil, err).
        if packet.error:
            event = ResponseReceived(session.session_id, packet.packet_id, b"", packet.error)
        else:
            text = packet.value_b64
            # With its text, the value is read (decoded) only if someone reads the event's
            event = ResponseReceived(
                session.session_id,
                packet.packet_id,
                None if text is not None else packet.value,
                "",
                text,
            )
        self._out.emit(event)

    def _on_request_cancel(self, session: Session, packet: RequestCancelPacket) -> None:
        self._out.emit(RequestCancelled(session.session_id, packet.packet_id, packet.cancel_type))

    def _on_register(self, session: Session, packet: RegisterPacket) -> None:
        methods = session._remote_methods
        if methods is None:
            methods = session._remote_methods = set()
        error = ""
        if packet.method not in methods:
            if len(methods) >= self._config.max_remote_methods:
                error = _TOO_MANY_METHODS
            else:
                methods.add(packet.method)
        self._out.send(
            RegisterAckPacket(
                packet_id=packet.packet_id, session_id=session.session_id, error=error
            )
        )
        if not error:
            self._out.emit(RemoteRegistered(session.session_id, method_text(packet.method)))

    def _on_register_ack(self, session: Session, packet: RegisterAckPacket) -> None:
        registers = session._registers
        entry = registers.pop(packet.packet_id, None) if registers else None
        if entry is None:
            return
        method, timed = entry
        if timed:
            self._out.timers.cancel_op(timed)
        self._out.emit(RegisterAcked(session.session_id, packet.packet_id, method, packet.error))

    def _on_stream(self, session: Session, packet: StreamPacket) -> None:
        self._out.emit(StreamDataReceived(session.session_id, packet.data))

    # ----------------------------------------------------------------------------- outbound

    def publish(
        self,
        session: Session,
        data: bytes,
        *,
        topic: str,
        custom: bytes,
        at_most_once: bool,
        timeout: float | None,
        deadline: GoTime,
        context_deadline: GoTime,
        data_b64: bytes | memoryview | None = None,
    ) -> int:
        message_id = self._out.next_id()
        self._send_message(
            _MESSAGE, message_id, session, b"", data, data_b64, topic, custom, "",
            deadline, context_deadline,
        )  # fmt: skip
        if not at_most_once:
            publishes = session._publishes
            if publishes is None:
                publishes = session._publishes = {}
            publishes[message_id] = self._arm(TimerKind.PUBLISH, session, message_id, timeout)
        return message_id

    def ack(self, session: Session, message_id: int, error: str) -> None:
        self._out.send_frame(
            message_frame(_MESSAGE_ACK, message_id, session.session_id, b"", b"", "", b"", error)
        )

    def request(
        self,
        session: Session,
        method: str,
        data: bytes,
        *,
        custom: bytes,
        timeout: float | None,
        deadline: GoTime,
        context_deadline: GoTime,
        data_b64: bytes | memoryview | None = None,
    ) -> int:
        request_id = self._out.next_id()
        self._send_message(
            _REQUEST, request_id, session, method.encode(), data, data_b64, "", custom, "",
            deadline, context_deadline,
        )  # fmt: skip
        requests = session._requests
        if requests is None:
            requests = session._requests = {}
        requests[request_id] = self._arm(TimerKind.REQUEST, session, request_id, timeout)
        return request_id

    def respond(
        self,
        session: Session,
        request_id: int,
        method: str | bytes,
        data: bytes,
        error: str,
        data_b64: bytes | memoryview | None = None,
    ) -> None:
        # Go never transmits a response's custom, and leaves the deadlines zero (§A.5).
        key = method.encode() if isinstance(method, str) else method
        self._send_message(
            _RESPONSE, request_id, session, key, data, data_b64, "", b"", error, ZERO_TIME,
            ZERO_TIME,
        )  # fmt: skip

    def _send_message(
        self,
        packet_type: int,
        packet_id: int,
        session: Session,
        key: bytes,
        data: bytes,
        data_b64: bytes | memoryview | None,
        topic: str,
        custom: bytes,
        error: str,
        deadline: GoTime,
        context_deadline: GoTime,
    ) -> None:
        """A message, request or response out: with `data_b64` (the text the data arrived
        as, for a relay) spliced into the frame as it is, else `data` encoded."""
        sid = session.session_id
        if data_b64:
            if len(data_b64) < _JOIN_BELOW:
                self._out.send_frame(
                    message_frame_spliced(
                        packet_type, packet_id, sid, key, data_b64, topic, custom, error, 0,
                        deadline, context_deadline,
                    )
                )  # fmt: skip
                return
            self._out.send_parts(
                message_frame_parts(
                    packet_type, packet_id, sid, key, data_b64, topic, custom, error, 0,
                    deadline, context_deadline,
                )
            )  # fmt: skip
        else:
            self._out.send_frame(
                message_frame(
                    packet_type, packet_id, sid, key, data, topic, custom, error, 0, deadline,
                    context_deadline,
                )
            )  # fmt: skip

    def cancel_request(self, session: Session, request_id: int, *, notify: bool) -> bool:
        requests = session._requests
        timed = requests.pop(request_id, None) if requests else None
        if timed is None:
            return False
        if timed:
            self._out.timers.cancel_op(timed)
        if notify and self._config.send_request_cancel:
            self._out.send(
                RequestCancelPacket(
                    packet_id=request_id,
                    session_id=session.session_id,
                    cancel_type=CANCEL_CANCELED,
                )
            )
        return True

    def cancel_publish(self, session: Session, message_id: int) -> bool:
        publishes = session._publishes
        timed = publishes.pop(message_id, None) if publishes else None
        if timed is None:
            return False
        if timed:
            self._out.timers.cancel_op(timed)
        return True

    def register(self, session: Session, method: str, timeout: float | None) -> int:
        register_id = self._out.next_id()
        raw = method.encode()
        self._out.send(
            RegisterPacket(packet_id=register_id, session_id=session.session_id, method=raw)
        )
        # The handler is local from now on (Go stores it before sending, §D.3).
        if session._local_methods is None:
            session._local_methods = set()
        session._local_methods.add(raw)
        if session._registers is None:
            session._registers = {}
        session._registers[register_id] = (
            method,
            self._arm(TimerKind.REGISTER, session, register_id, timeout),
        )
        return register_id

    def send_stream_data(self, session: Session, data: bytes | bytearray | memoryview) -> None:
        # bytes and read-only byte views (a relayed payload) are written as they are; what
        # the caller could still change (bytearray, a view of one) is copied first.
        payload: bytes | memoryview
        if type(data) is bytes:
            payload = data
        elif type(data) is memoryview and data.readonly and data.itemsize == 1:
            payload = data if data.contiguous else data.tobytes()
        else:
            payload = bytes(data)
        size = len(payload)
        chunk = self._config.stream_chunk_size
        out = self._out
        sid = session.session_id
        if size <= chunk:
            if size:
                out.send_stream(out.next_id(), sid, payload)
            return
        view = memoryview(payload)
        for start in range(0, size, chunk):
            out.send_stream(out.next_id(), sid, view[start : start + chunk])

    # ---------------------------------------------------------------------------- lifecycle

    def expire(self, session: Session, key: TimerKey) -> None:
        """A PUBLISH/REQUEST/REGISTER timer fired (the caller checked it was armed)."""
        ident = key.ident
        if key.kind is TimerKind.PUBLISH:
            if session._publishes and session._publishes.pop(ident, None) is not None:
                self._abort(OpKind.PUBLISH, session, ident, AbortReason.TIMEOUT)
        elif key.kind is TimerKind.REQUEST:
            if session._requests and session._requests.pop(ident, None) is not None:
                self._abort(OpKind.REQUEST, session, ident, AbortReason.TIMEOUT)
        elif (
            key.kind is TimerKind.REGISTER
            and session._registers
            and session._registers.pop(ident, None) is not None
        ):
            self._abort(OpKind.REGISTER, session, ident, AbortReason.TIMEOUT)

    def abort_all(self, session: Session, reason: AbortReason) -> None:
        """The session is going away: every operation still waiting ends now."""
        publishes, session._publishes = session._publishes, None
        requests, session._requests = session._requests, None
        registers, session._registers = session._registers, None
        if publishes:
            for message_id, timed in publishes.items():
                if timed:
                    self._out.timers.cancel_op(timed)
                self._abort(OpKind.PUBLISH, session, message_id, reason)
        if requests:
            for request_id, timed in requests.items():
                if timed:
                    self._out.timers.cancel_op(timed)
                self._abort(OpKind.REQUEST, session, request_id, reason)
        if registers:
            for register_id, (_, timed) in registers.items():
                if timed:
                    self._out.timers.cancel_op(timed)
                self._abort(OpKind.REGISTER, session, register_id, reason)

    # ------------------------------------------------------------------------------ helpers

    def _arm(
        self, kind: TimerKind, session: Session, ident: int, timeout: float | None
    ) -> TimerKey | Literal[False]:
        """The operation's timer armed: its key, kept with the operation to cancel it by
        (built once per operation, not again to cancel), or False without a timeout."""
        if timeout is None:
            return False
        key = timer_key(kind, session.session_id, ident)
        self._out.timers.set_op(key, timeout)
        return key

    def _abort(self, kind: OpKind, session: Session, op_id: int, reason: AbortReason) -> None:
        self._out.emit(OperationAborted(kind, session.session_id, op_id, reason))


# Any: each handler takes its own packet class, which a dict value cannot express.
_HANDLERS: Final[dict[type, Callable[[AppLayer, Session, Any], None]]] = {
    MessagePacket: AppLayer._on_message,
    MessageAckPacket: AppLayer._on_message_ack,
    RequestPacket: AppLayer._on_request,
    ResponsePacket: AppLayer._on_response,
    RequestCancelPacket: AppLayer._on_request_cancel,
    RegisterPacket: AppLayer._on_register,
    RegisterAckPacket: AppLayer._on_register_ack,
    StreamPacket: AppLayer._on_stream,
}
