"""The server side of the handshake and heartbeat (§B.1, §B.3, §E).

A ConnPacket becomes a `ConnectRequested` event; the adapter runs its hooks (Go's
`GetClientID`, then `ConnOnline`) and answers `accept(client_id)` or `reject(error)`.
Everything but heartbeats that arrives before the answer is discarded, as in Go.

Once accepted, the connection expects to hear from the client at least every 2 x its
advertised heartbeat; any packet re-arms the timer (the 2025+ Go behaviour). Expiry ends the
connection with an *abort*: upstream issue #107 showed that a graceful close towards a dead
peer leaves a stale session that blocks the client's reconnect.
"""

from __future__ import annotations

from .conn_config import ConnectionConfig
from .conn_errors import ConnectionStateError, ProtocolViolation
from .connection import Connection
from .events import CloseReason, Connected, ConnectRequested, HeartbeatReceived
from .ids import U64_MAX
from .packets import (
    RET_ERR,
    RET_OK,
    ConnAckPacket,
    ConnPacket,
    HeartbeatAckPacket,
    HeartbeatPacket,
    Packet,
)
from .states import ConnEvent, ConnState, Side
from .timer_requests import CONNECT_TIMER

__all__ = ["DEFAULT_REJECTION", "ServerConnection"]

DEFAULT_REJECTION = "connection rejected"
"""Sent when `reject` gets an empty text: a Go client reads an empty error as success."""

_HEARTBEAT_RECEIVED = HeartbeatReceived()


class ServerConnection(Connection):
    side = Side.SERVER
    __slots__ = ("_client_id_acquire", "refusal")

    def __init__(self, *, config: ConnectionConfig | None = None) -> None:
        super().__init__(config)
        self._client_id_acquire = False
        self.refusal = ""
        """Why this object refused the client by itself, before asking the adapter
        (``heartbeat``: above `config.max_heartbeat`; ``meta``: above `config.max_meta`);
        empty otherwise."""

    def start(self, connect_timeout: float | None = None) -> None:
        """Arm the handshake timer (call once the transport is up). `connect_timeout`
        overrides the config's, so that an adapter can hand over what remains of a
        deadline that started earlier (at accept time, before a TLS handshake)."""
        if self._fsm.state is not ConnState.INIT:
            raise ConnectionStateError(f"connection is {self._fsm.state.value}")
        timeout = self.config.connect_timeout if connect_timeout is None else connect_timeout
        self._out.timers.set(CONNECT_TIMER, max(timeout, 0.0))

    @property
    def awaiting_decision(self) -> bool:
        """A ConnectRequested is waiting for `accept` or `reject`."""
        return self._fsm.state is ConnState.CONN_RECV and not self._disconn_sent

    def accept(self, client_id: int) -> None:
        """Confirm the client under `client_id`: ConnAck OK, session 1 comes up."""
        self._require_decision()
        if not 0 <= client_id <= U64_MAX:
            raise ValueError("client_id must fit 64 bits")
        self._out.send(
            ConnAckPacket(packet_id=self._conn_packet_id, ret_code=RET_OK, client_id=client_id)
        )
        self._fsm.fire(ConnEvent.CONNACK)
        self._client_id = client_id
        self._out.timers.cancel(CONNECT_TIMER)
        self._mux.start(self._meta)
        self._start_idle_timer(2.0 * self._heartbeat)
        self._out.emit(Connected(client_id, self._meta, self._heartbeat))

    def reject(self, error: str, client_id: int = 0) -> None:
        """Refuse the client: ConnAck with `error` and the DisConn that follows it in Go
        (§B.1 step 3), then the connection ends at once (gracefully: the adapter writes
        both, then closes). Waiting for the client's DisConnAck, as Go does, would let a
        refused client hold a socket for the whole close timeout."""
        self._require_decision()
        if not 0 <= client_id <= U64_MAX:
            raise ValueError("client_id must fit 64 bits")
        text = error or DEFAULT_REJECTION
        self._out.send(
            ConnAckPacket(
                packet_id=self._conn_packet_id, ret_code=RET_ERR, client_id=client_id, error=text
            )
        )
        self._fsm.fire(ConnEvent.ERROR)
        self._out.timers.cancel(CONNECT_TIMER)
        self._close_reason = CloseReason.REJECTED
        self._close_detail = text
        self._send_disconn()
        self._terminate(CloseReason.REJECTED, text, abort=False)

    def _require_decision(self) -> None:
        if not self.awaiting_decision:
            raise ConnectionStateError(
                f"no connect request awaits a decision (connection is {self._fsm.state.value})"
            )

    def _on_control(self, packet: Packet) -> None:
        if isinstance(packet, HeartbeatPacket):
            # Outside `conned` Go discards it.
            if self._fsm.state is ConnState.CONNED:
                self._out.send(HeartbeatAckPacket(packet_id=packet.packet_id))
                self._out.emit(_HEARTBEAT_RECEIVED)
        elif isinstance(packet, ConnPacket):
            self._on_conn(packet)
        # ConnAck and HeartbeatAck are the client's: dropped.

    def _on_conn(self, packet: ConnPacket) -> None:
        if not self._fsm.fire(ConnEvent.CONNRECV):
            raise ProtocolViolation(f"ConnPacket in state {self._fsm.state.value}")
        self._conn_packet_id = packet.packet_id
        self._client_id = packet.client_id
        self._client_id_acquire = packet.client_id_acquire
        self._meta = packet.meta
        self._heartbeat = packet.heartbeat
        config = self.config
        limit = config.max_heartbeat
        if limit is not None and packet.heartbeat > limit:
            self.refusal = "heartbeat"
            self.reject(
                f"heartbeat interval {packet.heartbeat} s is above this server's maximum "
                f"of {limit} s"
            )
            return
        if config.max_meta is not None and len(packet.meta) > config.max_meta:
            self.refusal = "meta"
            self.reject(f"meta too large (at most {config.max_meta} bytes)")
            return
        self._out.emit(
            ConnectRequested(
                packet.client_id, packet.meta, packet.heartbeat, packet.client_id_acquire
            )
        )
