"""Events the sans-I/O connection hands to its adapter (`Connection.events_received()`).

Each event is an immutable record of something that happened on the wire or to the
connection's state; the adapter turns them into hook calls, resolved futures and queue
items. Events carrying a received packet keep the packet itself rather than copying its
fields, so delivering a message costs one small object.

Conventions: `session_id` 1 is the default session (the End itself). An empty `error`
means success; a non-empty one is the peer's text, which is all geminio carries (§G.6 #8).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, TypeAlias

from .gojson import GoTime
from .packets import MessagePacket, RequestPacket
from .valueclass import ValueObject

__all__ = [
    "AbortReason",
    "CloseReason",
    "ConnectFailed",
    "ConnectRequested",
    "Connected",
    "ConnectionClosed",
    "Event",
    "HeartbeatReceived",
    "MessageReceived",
    "OpKind",
    "OperationAborted",
    "PublishAcked",
    "RegisterAcked",
    "RemoteRegistered",
    "RequestCancelled",
    "RequestReceived",
    "ResponseReceived",
    "SessionAccepted",
    "SessionCloseReason",
    "SessionClosed",
    "SessionOpened",
    "SessionRefused",
    "StreamDataReceived",
]


class CloseReason(Enum):
    """Why the connection ended (the first cause wins)."""

    LOCAL_CLOSE = "local close"
    PEER_CLOSE = "peer close"
    REJECTED = "rejected"
    """Server: the adapter rejected the client. Client: the ConnAck carried an error."""
    CONNECT_TIMEOUT = "connect timeout"
    """Client: no ConnAck in time. Server: no ConnPacket, or no accept/reject, in time."""
    HEARTBEAT_TIMEOUT = "heartbeat timeout"
    PROTOCOL_ERROR = "protocol error"
    TRANSPORT_CLOSED = "transport closed"
    SLOW_CONSUMER = "slow consumer"
    """The peer left more than the transport's high-water mark unread for longer than
    `ConnectionConfig.write_timeout` (NATS's slow-consumer eviction)."""


class SessionCloseReason(Enum):
    DISMISSED = "dismissed"
    """The 4-way dismiss completed."""
    TIMEOUT = "timeout"
    """The peer did not complete the dismiss in time; torn down locally (as Go does)."""
    PROTOCOL_ERROR = "protocol error"
    """An illegal session transition; Go tears the session (not the connection) down."""
    CONNECTION_CLOSED = "connection closed"


class OpKind(Enum):
    OPEN = "open"
    PUBLISH = "publish"
    REQUEST = "request"
    REGISTER = "register"


class AbortReason(Enum):
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    """Only for OPEN: the peer's SessionAck carried an error."""
    SESSION_CLOSED = "session closed"
    CONNECTION_CLOSED = "connection closed"


# ---------------------------------------------------------------------------- connection


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """Server: a client said hello. Answer with `accept(client_id)` or `reject(error)`.

    `client_id` is the ID the client wants (0 = none). Go servers call the delegate
    `GetClientID(wanted, meta)` when `client_id_acquire` is set (always, for Go clients) and
    adopt `client_id` verbatim otherwise; then `ConnOnline`. That policy is the adapter's.
    """

    client_id: int
    meta: bytes
    heartbeat: int
    client_id_acquire: bool


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake succeeded; session 1 exists from now on.

    `registers`: client only, the register IDs of the methods given to the connection
    before the handshake (``ClientConnection(methods=...)``), already served; each gets a
    `RegisterAcked` (or `OperationAborted`) like a `register()` call's."""

    client_id: int
    meta: bytes
    heartbeat: int
    registers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """Client: the server refused us (ConnAck error). The 4-way disconnect follows."""

    error: str
    client_id: int


@dataclass(frozen=True, slots=True)
class HeartbeatReceived:
    """Server: a Heartbeat arrived (and was acked); Go's `Heartbeat(conn)` delegate."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """Last event of a connection. Flush `data_to_send()` and close the transport, or, when
    `abort` is set (dead or misbehaving peer), abort it without waiting for the flush."""

    reason: CloseReason
    detail: str = ""
    abort: bool = False


# ---------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """Our `open_session()` call `open_id` succeeded as session `session_id`."""

    open_id: int
    session_id: int
    meta: bytes
    peer: str


@dataclass(frozen=True, slots=True)
class SessionAccepted:
    """The peer opened session `session_id` (already acked)."""

    session_id: int
    meta: bytes
    peer: str
    negotiate_id: int


@dataclass(frozen=True, slots=True)
class SessionRefused:
    """We refused a session the peer tried to open (the ack carried `error`): `reason` is
    ``max_sessions``, ``not_accepted``, ``backlog_full`` or ``closing``. For counting; the
    peer has been answered already."""

    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """A session the adapter knows about is gone; pending operations on it were aborted."""

    session_id: int
    reason: SessionCloseReason
    by_peer: bool
    """True if the peer started the dismiss (an EOF for the stream's reader)."""


# ---------------------------------------------------------------------------- application


class _PacketEvent(ValueObject):
    """The events built per packet: plain classes, not frozen dataclasses (see
    `valueclass`), equal, hashed and shown as the dataclasses they were."""


class MessageReceived(_PacketEvent):
    """Answer with `ack(session_id, message_id, error)` unless the publisher did not wait."""

    __match_args__: ClassVar[tuple[str, ...]] = ("packet",)

    def __init__(self, packet: MessagePacket) -> None:
        self._packet = packet

    @property
    def packet(self) -> MessagePacket:
        return self._packet

    @property
    def session_id(self) -> int:
        return self.packet.session_id

    @property
    def message_id(self) -> int:
        return self.packet.packet_id

    @property
    def data(self) -> bytes:
        return self.packet.value

    @property
    def topic(self) -> str:
        return self.packet.topic

    @property
    def custom(self) -> bytes:
        return self.packet.custom


class PublishAcked(_PacketEvent):
    """The peer acked (`error` empty) or nacked our message `message_id`."""

    __match_args__: ClassVar[tuple[str, ...]] = ("session_id", "message_id", "error")

    def __init__(self, session_id: int, message_id: int, error: str) -> None:
        self._session_id = session_id
        self._message_id = message_id
        self._error = error

    @property
    def session_id(self) -> int:
        return self._session_id

    @property
    def message_id(self) -> int:
        return self._message_id

    @property
    def error(self) -> str:
        return self._error


class RequestReceived(_PacketEvent):
    """An RPC call for a method registered on this session, or caught by its hijack.

    Answer with `respond(session_id, request_id, method, data, error)`. Calls for any other
    method were already answered with "no such rpc: <method>" and produce no event.
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("packet", "method", "hijacked")

    def __init__(self, packet: RequestPacket, method: str, hijacked: bool) -> None:
        self._packet = packet
        self._method = method
        self._hijacked = hijacked

    @property
    def packet(self) -> RequestPacket:
        return self._packet

    @property
    def method(self) -> str:
        return self._method

    @property
    def hijacked(self) -> bool:
        return self._hijacked

    @property
    def session_id(self) -> int:
        return self.packet.session_id

    @property
    def request_id(self) -> int:
        return self.packet.packet_id

    @property
    def data(self) -> bytes:
        return self.packet.value

    @property
    def custom(self) -> bytes:
        return self.packet.custom

    @property
    def deadline(self) -> GoTime:
        return self.packet.deadline

    @property
    def context_deadline(self) -> GoTime:
        return self.packet.context_deadline


class ResponseReceived(_PacketEvent):
    """The answer to our request `request_id`: `data`, or the peer's `error` text.

    `data_b64`: the base64 text `data` arrived as, when it can be spliced into a frame in
    its place (`MessageData.value_b64`); not part of the event's value. Built with `data`
    None and the text, the event decodes `data` when it is first read: a relay that
    splices the text never decodes it."""

    __match_args__: ClassVar[tuple[str, ...]] = ("session_id", "request_id", "data", "error")

    def __init__(
        self,
        session_id: int,
        request_id: int,
        data: bytes | None,
        error: str,
        data_b64: bytes | None = None,
    ) -> None:
        if data is None and data_b64 is None:
            raise ValueError("a response needs its data or its base64 text")
        self.session_id = session_id
        self.request_id = request_id
        self._data = data
        self.error = error
        self.data_b64 = data_b64

    @property
    def data(self) -> bytes:
        data = self._data
        if data is None:
            text = self.data_b64
            assert text is not None  # (one of the two is always set)
            data = self._data = binascii.a2b_base64(text)
        return data


@dataclass(frozen=True, slots=True)
class RequestCancelled:
    """The peer cancelled its call `request_id` (0x73); stop the handler if it runs."""

    session_id: int
    request_id: int
    cancel_type: int


@dataclass(frozen=True, slots=True)
class RegisterAcked:
    session_id: int
    register_id: int
    method: str
    error: str


@dataclass(frozen=True, slots=True)
class RemoteRegistered:
    """The peer registered `method` on this session (already acked)."""

    session_id: int
    method: str


class StreamDataReceived(_PacketEvent):
    """Bytes of a stream. `data` is a read-only memoryview when the payload was most of the
    bytes read with it (see `decoder`): a relay writes it on without a copy, a reader's
    queue copies it."""

    __match_args__: ClassVar[tuple[str, ...]] = ("session_id", "data")

    def __init__(self, session_id: int, data: bytes | memoryview) -> None:
        self._session_id = session_id
        self._data = data

    @property
    def session_id(self) -> int:
        return self._session_id

    @property
    def data(self) -> bytes | memoryview:
        return self._data


@dataclass(frozen=True, slots=True)
class OperationAborted:
    """An operation we started ends without the peer's answer.

    `op_id` is what the starting call returned: the open ID, message ID, request ID or
    register ID. `detail` carries the peer's error text for a REJECTED open.
    """

    kind: OpKind
    session_id: int
    op_id: int
    reason: AbortReason
    detail: str = ""


Event: TypeAlias = (
    ConnectRequested
    | Connected
    | ConnectFailed
    | HeartbeatReceived
    | ConnectionClosed
    | SessionOpened
    | SessionAccepted
    | SessionClosed
    | SessionRefused
    | MessageReceived
    | PublishAcked
    | RequestReceived
    | ResponseReceived
    | RequestCancelled
    | RegisterAcked
    | RemoteRegistered
    | StreamDataReceived
    | OperationAborted
)
