"""Service and Edge SDKs: what applications import.

A **service** (backend) connects to a gateway's servicebound port and reaches edges by ID;
an **edge** (device, agent) connects to the edgebound port and reaches services by topic,
method or service name. Both are asyncio and reconnect by default::

    async with Service("gateway:30011", name="chat", topics=["chat"]) as service:
        message = await service.receive()
        await service.publish(message.edge_id, b"hello", topic="chat")
        message.done()

    async with Edge("gateway:30012", meta=b"device-7") as edge:
        await edge.publish("chat", b"hi")

See ``docs/sdk.md`` for the full guide. The wire conventions (edge-ID trailer, service
meta, control RPCs, error texts) live in `frontier.conventions`, shared with the gateway;
the error texts are re-exported here for matching on `RemoteError.text`.
"""

from ..conventions import (
    ERR_DRAINING,
    ERR_EDGE_MOVING,
    ERR_EDGE_NOT_ONLINE,
    ERR_ILLEGAL_EDGE_ID,
    ERR_RPC_NOT_ONLINE,
    ERR_SERVICE_NOT_ONLINE,
    ERR_TOPIC_NOT_ONLINE,
    EdgePresence,
)
from ..geminio.aio import (
    Backoff,
    ConnectionClosedError,
    ConnectRejected,
    EndError,
    Message,
    OpenRejected,
    OperationTimeout,
    PublishRejected,
    RemoteError,
    Request,
    RPCError,
    Stream,
    StreamClosedError,
)
from ._base import Address, Addresses, Reply, parse_address
from .cluster import ClusterService, FrontlasError
from .edge import Edge, EdgeHandler
from .service import (
    Service,
    ServiceHandler,
    ServiceMessage,
    ServiceRequest,
    stream_edge_id,
    strip_edge_id,
)

__all__ = [
    "ERR_DRAINING",
    "ERR_EDGE_MOVING",
    "ERR_EDGE_NOT_ONLINE",
    "ERR_ILLEGAL_EDGE_ID",
    "ERR_RPC_NOT_ONLINE",
    "ERR_SERVICE_NOT_ONLINE",
    "ERR_TOPIC_NOT_ONLINE",
    "Address",
    "Addresses",
    "Backoff",
    "ClusterService",
    "ConnectRejected",
    "ConnectionClosedError",
    "Edge",
    "EdgeHandler",
    "EdgePresence",
    "EndError",
    "FrontlasError",
    "Message",
    "OpenRejected",
    "OperationTimeout",
    "PublishRejected",
    "RPCError",
    "RemoteError",
    "Reply",
    "Request",
    "Service",
    "ServiceHandler",
    "ServiceMessage",
    "ServiceRequest",
    "Stream",
    "StreamClosedError",
    "parse_address",
    "stream_edge_id",
    "strip_edge_id",
]
