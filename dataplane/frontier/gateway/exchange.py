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

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from ..conventions import (
    CONTROL_RPCS,
    ERR_DRAINING,
    ERR_EDGE_MOVING,
    ERR_EDGE_NOT_ONLINE,
    ERR_ILLEGAL_EDGE_ID,
    ERR_RPC_NOT_ONLINE,
    ERR_SERVICE_NOT_ONLINE,
    ERR_TOPIC_NOT_ONLINE,
    MAX_EDGE_ID,
    RPC_PROBE_EDGE,
    append_edge_id,
)
from ..geminio.aio import End, EndError, Message, OpenRejected, Stream
from ..geminio.aio.messages import SyncRequest
from ..throttled_log import ThrottledLog
from .errors import ForwardError, error_text
from .flow import Flow
from .hashing import Picker, make_picker
from .metrics import GatewayMetrics
from .mq import Record, Route, Router
from .registry import EdgeEntry, Registry, ServiceEntry
from .relay import Relay
from .splice import Splice

__all__ = ["Exchange"]

log = logging.getLogger("frontier.exchange")
_peer_log = ThrottledLog(log)
"""For what a peer can trigger at will (streams to nowhere, refused streams)."""

_REFUSED = {"max_sessions": "max_streams"}
"""The connection's refusal reasons in the gateway's terms (a session is a stream)."""

_MAX_EDGE_ID: Final = MAX_EDGE_ID
_CONTROL_RPCS: Final = CONTROL_RPCS
"""Local `Final` names for what every forward reads: compiled, an imported name is a lookup
in this module's globals at each use, a `Final` one a C static (docs/architecture.md)."""


def _with_edge_id(custom: bytes, edge_id: int) -> bytes:
    """`append_edge_id`, compiled here for the IDs it accepts: two interpreted calls less
    per forward from an edge."""
    if 0 <= edge_id <= _MAX_EDGE_ID:
        return custom + edge_id.to_bytes(8, "big")
    return append_edge_id(custom, edge_id)  # (raises, as it always did)


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
        router: Router[ServiceEntry] | None = None,
    ) -> None:
        self.registry = registry
        # The registry's own dicts, never replaced: looked up here, compiled, per forward
        # (an attribute and a method call into an interpreted object, each time, before).
        self._edges: dict[int, EdgeEntry] = registry.edges
        self._services: dict[int, ServiceEntry] = registry.services
        self._by_method: dict[str, list[ServiceEntry]] = registry.method_index
        self.router = router
        """Topics to MQ bridges (``mqm``); None without bridges, the common case."""
        self.metrics = metrics
        self.timeout = forward_timeout
        self.max_inflight = max_inflight
        self.pick: Picker[ServiceEntry] = make_picker(hashby, _service_ring_key)
        self.relay = Relay(forward_timeout)
        # each path's counters, bumped in place (metrics.ForwardTally)
        self._tally_msg_to_edge = metrics.tally("message", "to_edge")
        self._tally_msg_to_service = metrics.tally("message", "to_service")
        self._tally_rpc_to_edge = metrics.tally("rpc", "to_edge")
        self._tally_rpc_to_service = metrics.tally("rpc", "to_service")
        self._tally_stream_to_edge = metrics.tally("stream", "to_edge")
        self._tally_stream_to_service = metrics.tally("stream", "to_service")
        self.leaving: set[End] = set()
        """Connections a draining gateway takes no new work on (still busy after the
        drain's patience, or said goodbye to): their calls and messages are refused with
        `ERR_DRAINING` unforwarded, nothing is forwarded to them, streams they open are
        dismissed. Empty unless draining (one falsy test per packet)."""
        self.moved: set[int] = set()
        """IDs of the edges a draining gateway said goodbye to: reconnecting elsewhere, so
        calls for them are answered `ERR_EDGE_MOVING` (a cluster service waits for them)."""
        # Bound once: attaching reuses these objects for every connection.
        self._edge_request = self._on_edge_request
        self._edge_message = self._on_edge_message
        self._edge_stream = self._on_edge_stream
        self._edge_registered = self._on_edge_registered
        self._service_request = self._on_service_request
        self._service_message = self._on_service_message
        self._service_stream = self._on_service_stream
        self._service_registered = self._on_service_registered
        self._edge_refused = self._on_edge_stream_refused
        self._service_refused = self._on_service_stream_refused

    # ------------------------------------------------------------------------- attach

    def attach_edge(self, entry: EdgeEntry) -> None:
        """Route what this edge sends; called once its connection is accepted.

        The callbacks are the same four bound methods for every edge (they find the edge
        by its End's client ID): an idle edge carries no callback objects of its own.
        """
        end = entry.end
        end.hijack_sync(self._edge_request)
        end.set_message_sink(self._edge_message)
        end.set_stream_sink(self._edge_stream)
        end.on_remote_registered = self._edge_registered
        end.on_stream_refused = self._edge_refused

    def attach_service(self, entry: ServiceEntry) -> None:
        end = entry.end
        end.hijack_sync(self._service_request)
        end.set_message_sink(self._service_message)
        end.set_stream_sink(self._service_stream)
        end.on_remote_registered = self._service_registered
        end.on_stream_refused = self._service_refused
        # methods registered before the hooks were set (none today, but cheap to be sure)
        for method in end.remote_methods:
            self.registry.add_service_rpc(entry, method)

    # -- shared callbacks: the source's entry from its End ----------------------------

    def _edge_of(self, end: End) -> EdgeEntry | None:
        entry = self._edges.get(end.client_id)
        return entry if entry is not None and entry.end is end else None

    def _service_of(self, end: End) -> ServiceEntry | None:
        entry = self._services.get(end.client_id)
        return entry if entry is not None and entry.end is end else None

    def _on_edge_request(self, request: SyncRequest) -> None:
        if self.leaving and request.stream.end in self.leaving:
            self._refuse_leaving(request, "edgebound")
            return
        edge = self._edge_of(request.stream.end)
        if edge is None:  # replaced or kicked: its connection is going away
            request.fail(ERR_EDGE_NOT_ONLINE)
            return
        self._rpc_to_service(edge, request)

    def _on_edge_message(self, message: Message) -> None:
        if self.leaving and message.stream.end in self.leaving:
            self._refuse_leaving(message, "edgebound")
            return
        edge = self._edge_of(message.stream.end)
        if edge is None:
            message.error(ERR_EDGE_NOT_ONLINE)
            return
        self._message_to_service(edge, self._flow(edge), message)

    def _on_edge_stream(self, stream: Stream) -> None:
        edge = self._edge_of(stream.end)
        if edge is None or (self.leaving and stream.end in self.leaving):
            stream.dismiss()
            return
        self._stream_to_service(edge, stream)

    def _on_edge_registered(self, stream: Stream, method: str) -> None:
        edge = self._edge_of(stream.end)
        if edge is not None and stream is edge.end:
            Registry.add_edge_rpc(edge, method)

    def _on_service_request(self, request: SyncRequest) -> None:
        if self.leaving and request.stream.end in self.leaving:
            self._refuse_leaving(request, "servicebound")
            return
        service = self._service_of(request.stream.end)
        if service is None:
            request.fail(ERR_SERVICE_NOT_ONLINE)
            return
        self._rpc_to_edge(service, request)

    def _on_service_message(self, message: Message) -> None:
        if self.leaving and message.stream.end in self.leaving:
            self._refuse_leaving(message, "servicebound")
            return
        service = self._service_of(message.stream.end)
        if service is None:
            message.error(ERR_SERVICE_NOT_ONLINE)
            return
        self._message_to_edge(service, self._flow(service), message)

    def _on_service_stream(self, stream: Stream) -> None:
        service = self._service_of(stream.end)
        if service is None or (self.leaving and stream.end in self.leaving):
            stream.dismiss()
            return
        self._stream_to_edge(service, stream)

    def _on_service_registered(self, stream: Stream, method: str) -> None:
        service = self._service_of(stream.end)
        if service is not None and stream is service.end:
            self.registry.add_service_rpc(service, method)

    def _on_edge_stream_refused(self, end: End, reason: str) -> None:
        """An edge's own open refused by its connection (more than `max_streams`)."""
        self.metrics.streams_refused.labels("to_service", _REFUSED.get(reason, reason)).inc()

    def _on_service_stream_refused(self, end: End, reason: str) -> None:
        self.metrics.streams_refused.labels("to_edge", _REFUSED.get(reason, reason)).inc()

    def _refuse_leaving(self, what: SyncRequest | Message, bound: str) -> None:
        """A call or message on a connection a drain takes no new work on: not forwarded,
        refused with the retryable text (the SDKs send it again on their next connection,
        once this one has said goodbye)."""
        self.metrics.drain_refused.labels(bound).inc()
        if isinstance(what, SyncRequest):
            what.fail(ERR_DRAINING)
        else:
            what.error(ERR_DRAINING)

    def _flow(self, entry: EdgeEntry | ServiceEntry) -> Flow:
        """The entry's in-flight bound, created with its first message."""
        flow = entry.flow
        if flow is None:
            flow = entry.flow = Flow(entry.end, self.max_inflight)
        return flow

    # ------------------------------------------------------------------- edge -> service

    def pick_service(self, candidates: Sequence[ServiceEntry], edge: EdgeEntry) -> ServiceEntry:
        if len(candidates) == 1:
            return candidates[0]  # what every hashby rule picks, without its call
        return self.pick(candidates, edge.edge_id, edge.ip)

    def _rpc_to_service(self, edge: EdgeEntry, request: SyncRequest) -> None:
        method = request.method
        # An edge must not be able to forge presence events or ID answers.
        services = None if method in _CONTROL_RPCS else self._by_method.get(method)
        if not services:
            self._tally_rpc_to_service.offline += 1
            request.fail(ERR_RPC_NOT_ONLINE)
            return
        service = self.pick_service(services, edge)
        custom = _with_edge_id(request.custom, edge.edge_id)
        self.relay.call(request, service.end, custom, self._tally_rpc_to_service)

    def _message_to_service(self, edge: EdgeEntry, flow: Flow, message: Message) -> None:
        topic = message.topic
        services = self.registry.services_for_topic(topic)
        if self.router is not None:
            self._message_routed(self.router, edge, flow, message, services)
            return
        if not services:
            self._tally_msg_to_service.offline += 1
            message.error(ERR_TOPIC_NOT_ONLINE)
            return
        service = self.pick_service(services, edge)
        custom = _with_edge_id(message.custom, edge.edge_id)
        self.relay.publish(message, service.end, custom, self._tally_msg_to_service, flow)

    def _message_routed(
        self,
        router: Router[ServiceEntry],
        edge: EdgeEntry,
        flow: Flow,
        message: Message,
        services: Sequence[ServiceEntry],
    ) -> None:
        """With MQ bridges: services and bridges compete for the topic (docs/mq.md)."""
        route = router.route(message.topic, services, edge.edge_id, edge.ip)
        if route.bridges:
            flow.spawn(self._message_to_bridges(edge, message, route))
        elif route.service is not None:
            custom = _with_edge_id(message.custom, edge.edge_id)
            self.relay.publish(message, route.service.end, custom, self._tally_msg_to_service, flow)
        else:
            self._tally_msg_to_service.offline += 1
            message.error(ERR_TOPIC_NOT_ONLINE)

    async def _message_to_bridges(
        self, edge: EdgeEntry, message: Message, route: Route[ServiceEntry]
    ) -> None:
        """Publish to the route's brokers (and service, with fan-out) at once; the edge's
        ack waits for every confirmation, and any failure nacks it with every failure's
        text. A task owned by the edge (its `Flow` bounds how many run)."""
        record = Record(message.topic, message.data, edge.edge_id, edge.meta)
        sends: list[Awaitable[Any]] = [bridge.publish(record) for bridge in route.bridges]
        if route.service is not None:
            custom = _with_edge_id(message.custom, edge.edge_id)
            sends.append(
                self.relay.publish_awaited(
                    message, route.service.end, custom, self._tally_msg_to_service
                )
            )
        results = await asyncio.gather(*sends, return_exceptions=True)
        errors = [error_text(r) for r in results if isinstance(r, BaseException)]
        if errors:
            message.error("; ".join(errors))
        else:
            message.done()

    def _stream_to_service(self, edge: EdgeEntry, stream: Stream) -> None:
        services = self.registry.services_named(stream.peer)
        if not services:
            _peer_log.info(
                "stream:no_service",
                "edge %d opened a stream to unknown service %r",
                edge.edge_id,
                stream.peer,
                extra={"edge_id": edge.edge_id},
            )
            self._tally_stream_to_service.offline += 1
            self.metrics.streams_refused.labels("to_service", "no_target").inc()
            stream.dismiss()
            return
        service = self.pick_service(services, edge)
        splice = Splice(self, stream, to_edge=False)
        # Counted in the edge's Flow: an edge opening streams faster than the far side
        # answers is paused, not given a task per open (the open is a round trip).
        self._flow(edge).spawn(
            self._open_and_splice(splice, service.end.open_stream, str(edge.edge_id))
        )

    # ------------------------------------------------------------------- service -> edge

    def _edge_for(self, custom: bytes) -> tuple[bytes, EdgeEntry]:
        size = len(custom)
        if size < 8:  # (split_edge_id, compiled here: an interpreted call less per forward)
            raise ForwardError(ERR_ILLEGAL_EDGE_ID)
        stripped, edge_id = custom[: size - 8], int.from_bytes(custom[size - 8 :], "big")
        edge = self._edges.get(edge_id)
        if self.moved and edge_id in self.moved and (edge is None or edge.end in self.leaving):
            raise ForwardError(ERR_EDGE_MOVING)
        if edge is None:
            raise ForwardError(ERR_EDGE_NOT_ONLINE)
        return stripped, edge

    def _rpc_to_edge(self, service: ServiceEntry, request: SyncRequest) -> None:
        if request.method == RPC_PROBE_EDGE:
            self._probe_edge(request)
            return
        try:
            custom, edge = self._edge_for(request.custom)
        except ForwardError as exc:
            self._tally_rpc_to_edge.offline += 1
            request.fail(str(exc))
            return
        self.relay.call(request, edge.end, custom, self._tally_rpc_to_edge)

    def _probe_edge(self, request: SyncRequest) -> None:
        """A cluster service asks whether the edge is connected here (conventions: the edge
        probe); answered at once, never forwarded."""
        try:
            self._edge_for(request.custom)
        except ForwardError as exc:
            request.fail(str(exc))
            return
        request.respond(b"")

    def _message_to_edge(self, service: ServiceEntry, flow: Flow, message: Message) -> None:
        try:
            custom, edge = self._edge_for(message.custom)
        except ForwardError as exc:
            self._tally_msg_to_edge.offline += 1
            message.error(str(exc))
            return
        self.relay.publish(message, edge.end, custom, self._tally_msg_to_edge, flow)

    def _stream_to_edge(self, service: ServiceEntry, stream: Stream) -> None:
        try:
            edge_id = int(stream.peer, 10)
        except ValueError:
            edge_id = -1
        edge = self.registry.edges.get(edge_id)
        if edge is not None and self.leaving and edge.end in self.leaving:
            edge = None
        if edge is None:
            _peer_log.info(
                "stream:no_edge",
                "service %d opened a stream to edge %r, which is not online",
                service.service_id,
                stream.peer,
                extra={"service_id": service.service_id},
            )
            self._tally_stream_to_edge.offline += 1
            self.metrics.streams_refused.labels("to_edge", "no_target").inc()
            stream.dismiss()
            return
        splice = Splice(self, stream, to_edge=True)
        self._flow(service).spawn(
            self._open_and_splice(splice, edge.end.open_stream, service.service)
        )

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
        tally = self._tally_stream_to_edge if splice.to_edge else self._tally_stream_to_service
        try:
            target = await open_stream(meta=source.meta, peer=peer)
        except EndError as exc:
            # `peer` names the opener, the source stream's peer its target
            edge, service = (source.peer, peer) if splice.to_edge else (peer, source.peer)
            _peer_log.info(
                f"stream:{_open_failure(exc)}",
                "opening the far half of a stream %s edge %s %s service %r failed: %s",
                "to" if splice.to_edge else "from",
                edge,
                "from" if splice.to_edge else "to",
                service,
                exc,
            )
            tally.error += 1
            self.metrics.streams_refused.labels(tally.direction, _open_failure(exc)).inc()
            splice.fail()
            source.dismiss()  # not waiting: a peer that never acks must not hold the Flow
            return
        tally.ok += 1
        splice.connect(target)


def _open_failure(exc: EndError) -> str:
    """`frontier_streams_refused`'s reason for a far half that could not be opened."""
    if isinstance(exc, OpenRejected):
        return "refused"  # the target takes no streams, or its accept backlog is full
    if "too many sessions" in str(exc):
        return "max_streams"  # the target connection holds its max_streams
    return "error"
