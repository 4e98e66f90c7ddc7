"""The client side of the handshake and heartbeat (§B.1, §B.3).

The client says hello with a ConnPacket (flags 0x18 as Go sends: client-ID acquire, 20 s
heartbeat), adopts whatever client ID the ConnAck carries, and from then on sends a
Heartbeat every interval. A ConnAck error text fails the connect and starts the 4-way
disconnect, as Go's client does.

Go's client never notices a silently dead server (§G.6 #12); `peer_timeout` enables an
idle check like the server's, off by default in this layer to match Go (the SDKs turn it on).
It does not depend on the heartbeat interval: after half of `peer_timeout` without a packet
the client sends an extra Heartbeat (the server acks every one), so a live server is heard
from well within the timeout whatever the interval, and a silent one (stopped, partitioned,
its packets dropped without a reset) is detected `peer_timeout` seconds after it went quiet.
While the adapter has stopped reading (our own queues are full) the check pauses: that
silence is ours, not the server's.
"""

from __future__ import annotations

from collections.abc import Iterable

from .conn_config import ConnectionConfig
from .conn_errors import ConnectionStateError, ProtocolViolation
from .connection import Connection
from .events import CloseReason, Connected, ConnectFailed
from .ids import U64_MAX
from .packets import (
    HEARTBEAT_INTERVALS,
    ConnAckPacket,
    ConnPacket,
    HeartbeatPacket,
    Packet,
)
from .states import ConnEvent, ConnState, Side
from .timer_requests import CONNECT_TIMER, HEARTBEAT_TIMER, IDLE_TIMER

__all__ = ["ClientConnection"]


class ClientConnection(Connection):
    side = Side.CLIENT
    __slots__ = ("_methods", "_peer_timeout")

    def __init__(
        self,
        *,
        meta: bytes = b"",
        client_id: int = 0,
        heartbeat: int = 20,
        peer_timeout: float | None = None,
        config: ConnectionConfig | None = None,
        methods: Iterable[str] = (),
    ) -> None:
        """`client_id` is the ID we want (0: let the server choose); `heartbeat` is the
        advertised interval in seconds, one of 5, 20, 80, 320 (Go clients always say 20).

        `methods` are served on session 1 from the moment the ConnAck is processed, and
        registered with the peer right then: a call that arrives right behind the ConnAck
        (in the same read, even) finds them, where methods registered once `Connected`
        was seen would answer it "no such rpc". `Connected.registers` lists their
        register IDs."""
        if heartbeat not in HEARTBEAT_INTERVALS:
            raise ValueError(f"heartbeat must be one of {HEARTBEAT_INTERVALS} seconds")
        if not 0 <= client_id <= U64_MAX:
            raise ValueError("client_id must fit 64 bits")
        if peer_timeout is not None and not 0 < peer_timeout < float("inf"):
            raise ValueError("peer_timeout must be positive and finite (or None)")
        super().__init__(config)
        self._meta = meta
        self._client_id = client_id
        self._heartbeat = heartbeat
        self._peer_timeout = peer_timeout
        self._methods = tuple(dict.fromkeys(methods))

    def start(self) -> None:
        """Send the ConnPacket (call once the transport is up)."""
        if not self._fsm.can(ConnEvent.CONNSENT):
            raise ConnectionStateError(f"connection is {self._fsm.state.value}")
        packet_id = self._out.next_id()
        # Encode before changing state: a bad meta raises here with nothing recorded.
        self._out.send(
            ConnPacket(
                packet_id=packet_id,
                client_id=self._client_id,
                heartbeat=self._heartbeat,
                client_id_acquire=True,
                meta=self._meta,
            )
        )
        self._fsm.fire(ConnEvent.CONNSENT)
        self._conn_packet_id = packet_id
        self._out.timers.set(CONNECT_TIMER, self.config.connect_timeout)

    def _on_control(self, packet: Packet) -> None:
        if isinstance(packet, ConnAckPacket):
            self._on_conn_ack(packet)
        # HeartbeatAcks need no action. Go errors on one outside `conned`; one that crossed
        # our DisConn is normal, so we tolerate it. Conn and Heartbeat are the server's.

    def _on_conn_ack(self, packet: ConnAckPacket) -> None:
        if self._fsm.state is not ConnState.CONN_SENT:
            raise ProtocolViolation(f"ConnAck in state {self._fsm.state.value}")
        if packet.packet_id != self._conn_packet_id:
            raise ProtocolViolation(
                f"ConnAck ID {packet.packet_id} does not echo ConnPacket ID {self._conn_packet_id}"
            )
        self._fsm.fire(ConnEvent.CONNACK)
        self._out.timers.cancel(CONNECT_TIMER)
        self._client_id = packet.client_id  # adopted unconditionally, as Go does
        # Go decides by the error text alone, not by the return code.
        if packet.error:
            self._close_reason = CloseReason.REJECTED
            self._close_detail = packet.error
            self._out.emit(ConnectFailed(packet.error, packet.client_id))
            self._send_disconn()
            return
        self._mux.start(self._meta)
        registers = tuple(self.register(1, method) for method in self._methods)
        self._out.timers.set(HEARTBEAT_TIMER, float(self._heartbeat))
        if self._peer_timeout is not None:
            self._start_idle_timer(self._peer_timeout / 2)
        self._out.emit(Connected(self._client_id, self._meta, self._heartbeat, registers))

    @property
    def peer_timeout(self) -> float | None:
        return self._peer_timeout

    def _idle_expired(self) -> None:
        """Half the peer timeout went by in silence: probe with a Heartbeat once; the
        second half in silence ends the connection."""
        if not self._idle_probed and self._fsm.state is ConnState.CONNED:
            self._idle_probed = True
            self._out.send(HeartbeatPacket(packet_id=self._out.next_id()))
            self._out.timers.set(IDLE_TIMER, self._peer_timeout_half())
            return
        self._terminate(
            CloseReason.HEARTBEAT_TIMEOUT,
            f"nothing received from the server for {self._peer_timeout:g} s",
            abort=True,
        )

    def _peer_timeout_half(self) -> float:
        assert self._peer_timeout is not None
        return self._peer_timeout / 2

    def reading_paused(self, paused: bool) -> None:
        if self._peer_timeout is None or self._fsm.state is not ConnState.CONNED:
            return
        if paused:
            self._idle_timeout = None  # receive_data does not re-arm it meanwhile
            self._out.timers.cancel(IDLE_TIMER)
        else:
            self._start_idle_timer(self._peer_timeout_half())
            self._idle_probed = False

    def _heartbeat_due(self) -> None:
        if self._fsm.state is ConnState.CONNED:
            self._out.send(HeartbeatPacket(packet_id=self._out.next_id()))
            self._out.timers.set(HEARTBEAT_TIMER, float(self._heartbeat))
