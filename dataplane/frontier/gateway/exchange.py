"""The exchange: the six data paths between services and edges.

| from -> to      | message                      | RPC                     | stream              |
|-----------------|------------------------------|-------------------------|---------------------|
| service -> edge | by the edge-ID trailer       | by the trailer + method | by `peer` = edge ID |
| edge -> service | by topic (hashby among many) | by method (hashby)      | by `peer` = name    |

Nothing here runs while a connection is idle: messages and streams arrive through the
End's synchronous sinks, RPCs through a hijack handler (a task only while a call is in
flight), and each forward is a task owned by its source connection and bounded by a `Flow`.
A failed forward answers its own message or call with the error text and nothing else:
later forwards are unaffected (upstream's service->edge forwarder stopped for good after
one failure, frontier-go §16.2).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from ..conventions import (
    CONTROL_RPCS,
    ERR_EDGE_NOT_ONLINE,
    ERR_ILLEGAL_EDGE_ID,
    ERR_RPC_NOT_ONLINE,
    ERR_TOPIC_NOT_ONLINE,
    ConventionError,
    append_edge_id,
    split_edge_id,
)
from ..geminio.aio import EndError, Message, Stream
from ..geminio.aio.messages import SyncRequest
from .errors import ForwardError
from .flow import Flow
from .hashing import Picker, make_picker
from .metrics import GatewayMetrics
from .registry import EdgeEntry, Registry, ServiceEntry
from .relay import Relay
from .splice import Splice

__all__ = ["Exchange"]

log = logging.getLogger("frontier.exchange")

_MSG_TO_EDGE = ("message", "to_edge")
_MSG_TO_SERVICE = ("message", "to_service")
_RPC_TO_EDGE = ("rpc", "to_edge")
_RPC_TO_SERVICE = ("rpc", "to_service")
_STREAM_TO_EDGE = ("stream", "to_edge")
_STREAM_TO_SERVICE = ("stream", "to_service")


def _service_ring_key(entry: object) -> str:
    assert isinstance(entry, ServiceEntry)
    return f"{entry.service}/{entry.service_id}"


class Exchange:
    def __init__(
        self,
        registry: Registry,
        metrics: GatewayMetrics,
        *,
        hashby: str = "edgeid",
        forward_timeout: float = 30.0,
        max_inflight: int = 256,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.timeout = forward_timeout
        self.max_inflight = max_inflight
        self.pick: Picker[ServiceEntry] = make_picker(hashby, _service_ring_key)
        self.relay = Relay(metrics, forward_timeout)

    # ------------------------------------------------------------------------- attach

    def attach_edge(self, entry: EdgeEntry) -> None:
        """Route what this edge sends; called once its connection is accepted."""
        link = _EdgeLink(self, entry)
        end = entry.end
        end.hijack_sync(link.on_request)
        end.set_message_sink(link.on_message)
        end.set_stream_sink(link.on_stream)
        end.on_remote_registered = link.on_registered

    def attach_service(self, entry: ServiceEntry) -> None:
        link = _ServiceLink(self, entry)
        end = entry.end
        end.hijack_sync(link.on_request)
        end.set_message_sink(link.on_message)
        end.set_stream_sink(link.on_stream)
        end.on_remote_registered = link.on_registered
        # methods registered before the hooks were set (none today, but cheap to be sure)
        for method in end.remote_methods:
            self.registry.add_service_rpc(entry, method)

    # ------------------------------------------------------------------- edge -> service

    def pick_service(self, candidates: Sequence[ServiceEntry], edge: EdgeEntry) -> ServiceEntry:
        return self.pick(candidates, edge.edge_id, edge.ip)

    def _rpc_to_service(self, edge: EdgeEntry, request: SyncRequest) -> None:
        method = request.method
        # An edge must not be able to forge presence events or ID answers.
        services = () if method in CONTROL_RPCS else self.registry.services_for_method(method)
        if not services:
            self.metrics.offline[_RPC_TO_SERVICE].inc()
            request.fail(ERR_RPC_NOT_ONLINE)
            return
        service = self.pick_service(services, edge)
        custom = append_edge_id(request.custom, edge.edge_id)
        self.relay.call(request, service.end, custom, _RPC_TO_SERVICE)

    def _message_to_service(self, edge: EdgeEntry, flow: Flow, message: Message) -> None:
        topic = message.topic
        services = self.registry.services_for_topic(topic)
        if not services:
            self.metrics.offline[_MSG_TO_SERVICE].inc()
            message.error(ERR_TOPIC_NOT_ONLINE)
            return
        service = self.pick_service(services, edge)
        custom = append_edge_id(message.custom, edge.edge_id)
        self.relay.publish(message, service.end, custom, _MSG_TO_SERVICE, flow)

    def _stream_to_service(self, edge: EdgeEntry, stream: Stream) -> None:
        services = self.registry.services_named(stream.peer)
        if not services:
            log.info("edge %d opened a stream to unknown service %r", edge.edge_id, stream.peer)
            self.metrics.offline[_STREAM_TO_SERVICE].inc()
            edge.end.spawn(stream.close())
            return
        service = self.pick_service(services, edge)
        splice = Splice(self, stream, to_edge=False)
        edge.end.spawn(self._open_and_splice(splice, service.end.open_stream, str(edge.edge_id)))

    # ------------------------------------------------------------------- service -> edge

    def _edge_for(self, custom: bytes) -> tuple[bytes, EdgeEntry]:
        try:
            stripped, edge_id = split_edge_id(custom)
        except ConventionError:
            raise ForwardError(ERR_ILLEGAL_EDGE_ID) from None
        edge = self.registry.edges.get(edge_id)
        if edge is None:
            raise ForwardError(ERR_EDGE_NOT_ONLINE)
        return stripped, edge

    def _rpc_to_edge(self, service: ServiceEntry, request: SyncRequest) -> None:
        try:
            custom, edge = self._edge_for(request.custom)
        except ForwardError as exc:
            self.metrics.offline[_RPC_TO_EDGE].inc()
            request.fail(str(exc))
            return
        self.relay.call(request, edge.end, custom, _RPC_TO_EDGE)

    def _message_to_edge(self, service: ServiceEntry, flow: Flow, message: Message) -> None:
        try:
            custom, edge = self._edge_for(message.custom)
        except ForwardError as exc:
            self.metrics.offline[_MSG_TO_EDGE].inc()
            message.error(str(exc))
            return
        self.relay.publish(message, edge.end, custom, _MSG_TO_EDGE, flow)

    def _stream_to_edge(self, service: ServiceEntry, stream: Stream) -> None:
        try:
            edge_id = int(stream.peer, 10)
        except ValueError:
            edge_id = -1
        edge = self.registry.edges.get(edge_id)
        if edge is None:
            log.info(
                "service %d opened a stream to edge %r, which is not online",
                service.service_id,
                stream.peer,
            )
            self.metrics.offline[_STREAM_TO_EDGE].inc()
            service.end.spawn(stream.close())
            return
        splice = Splice(self, stream, to_edge=True)
        service.end.spawn(self._open_and_splice(splice, edge.end.open_stream, service.service))

    # -------------------------------------------------------------------------- streams

    async def _open_and_splice(
        self,
        splice: Splice,
        open_stream: Callable[..., Awaitable[Stream]],
        peer: str,
    ) -> None:
        """Open the far half (the opener's meta passed through; `peer` names the opener)
        and splice the two. Until the far half exists, what the opener sends waits in its
        stream's bounded queues and its calls wait in the splice's hijack."""
        source = splice.source
        kind = _STREAM_TO_EDGE if splice.to_edge else _STREAM_TO_SERVICE
        try:
            target = await open_stream(meta=source.meta, peer=peer)
        except EndError as exc:
            log.info("opening the far half of %r failed: %s", source, exc)
            self.metrics.failed[kind].inc()
            splice.fail()
            await source.close()
            return
        self.metrics.ok[kind].inc()
        splice.connect(target)


class _EdgeLink:
    """The exchange's callbacks for one edge, as bound methods of one small object: an
    idle edge then holds four method objects instead of four closures with their cells.
    The in-flight `Flow` is created with the first message."""

    __slots__ = ("entry", "exchange", "flow")

    def __init__(self, exchange: Exchange, entry: EdgeEntry) -> None:
        self.exchange = exchange
        self.entry = entry
        self.flow: Flow | None = None

    def on_request(self, request: SyncRequest) -> None:
        self.exchange._rpc_to_service(self.entry, request)

    def on_message(self, message: Message) -> None:
        flow = self.flow
        if flow is None:
            flow = self.flow = Flow(self.entry.end, self.exchange.max_inflight)
        self.exchange._message_to_service(self.entry, flow, message)

    def on_stream(self, stream: Stream) -> None:
        self.exchange._stream_to_service(self.entry, stream)

    def on_registered(self, stream: Stream, method: str) -> None:
        if stream is self.entry.end:
            Registry.add_edge_rpc(self.entry, method)


class _ServiceLink:
    """As `_EdgeLink`, for a service."""

    __slots__ = ("entry", "exchange", "flow")

    def __init__(self, exchange: Exchange, entry: ServiceEntry) -> None:
        self.exchange = exchange
        self.entry = entry
        self.flow: Flow | None = None

    def on_request(self, request: SyncRequest) -> None:
        self.exchange._rpc_to_edge(self.entry, request)

    def on_message(self, message: Message) -> None:
        flow = self.flow
        if flow is None:
            flow = self.flow = Flow(self.entry.end, self.exchange.max_inflight)
        self.exchange._message_to_edge(self.entry, flow, message)

    def on_stream(self, stream: Stream) -> None:
        self.exchange._stream_to_edge(self.entry, stream)

    def on_registered(self, stream: Stream, method: str) -> None:
        if stream is self.entry.end:
            self.exchange.registry.add_service_rpc(self.entry, method)
