"""What frontier adds on top of geminio, shared by the gateway and the SDKs.

Frontier has no framing of its own: everything below rides in geminio fields. These
conventions are what the Go frontier SDKs put on the wire, so keeping them byte for byte is
what lets Go edges and services talk to our gateway, and our SDKs to a Go frontier:

- the **edge-ID trailer**: a service appends the target edge ID, 8 bytes big-endian, to a
  message's or request's `custom`; the gateway strips it before forwarding to the edge, and
  appends the *source* edge ID the same way when it forwards from an edge to a service;
- the **service meta**: a service connects with meta JSON ``{"service":..,"topics":[..]}``;
- **stream peers**: a service opens a stream to an edge with ``peer`` = the decimal edge ID,
  an edge opens one to a service with ``peer`` = the service name;
- the **control RPCs** a service may register: ``get_edge_id`` (request: the edge's meta,
  response: 8 bytes big-endian), ``edge_online`` / ``edge_offline`` (request: Go JSON
  ``{"EdgeID":..,"Meta":base64,"Net":..,"Str":..}``; an ``edge_online`` error rejects the
  edge with that text);
- the **error texts** below, which cross the wire as geminio error strings;
- ours: the **edge probe**, a service -> edge call of the method ``frontier:probe_edge``
  that our gateway answers itself (empty response: the edge is connected here; error
  ``edge not online``: it is not) instead of forwarding it. `ClusterService` uses it to find
  an edge frontlas has no route for. A Go gateway forwards it to the edge, whose "no such
  method" error also means "connected here"; edges never receive it from our gateway.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

__all__ = [
    "CONTROL_RPCS",
    "ERR_DRAINING",
    "ERR_EDGE_MOVING",
    "ERR_EDGE_NOT_ONLINE",
    "ERR_ILLEGAL_EDGE_ID",
    "ERR_RPC_NOT_ONLINE",
    "ERR_SERVICE_NOT_ONLINE",
    "ERR_TOPIC_NOT_ONLINE",
    "MAX_EDGE_ID",
    "RPC_EDGE_OFFLINE",
    "RPC_EDGE_ONLINE",
    "RPC_EDGE_READY",
    "RPC_GET_EDGE_ID",
    "RPC_PROBE_EDGE",
    "ConventionError",
    "EdgePresence",
    "ServiceMeta",
    "append_edge_id",
    "decode_edge_id",
    "encode_edge_id",
    "split_edge_id",
]

RPC_GET_EDGE_ID = "get_edge_id"
RPC_EDGE_ONLINE = "edge_online"
RPC_EDGE_OFFLINE = "edge_offline"
RPC_EDGE_READY = "edge_ready"
"""Ours: sent (same presence JSON as edge_online) once the gateway has accepted an edge
and routes to it; Go services never register it, so Go deployments never see it."""
CONTROL_RPCS = frozenset({RPC_GET_EDGE_ID, RPC_EDGE_ONLINE, RPC_EDGE_OFFLINE, RPC_EDGE_READY})
RPC_PROBE_EDGE = "frontier:probe_edge"

ERR_EDGE_NOT_ONLINE = "edge not online"
ERR_SERVICE_NOT_ONLINE = "service not online"
ERR_RPC_NOT_ONLINE = "rpc not online"
ERR_TOPIC_NOT_ONLINE = "topic not online"
ERR_ILLEGAL_EDGE_ID = "illegal edgeID"
ERR_DRAINING = "frontier draining: not forwarded, retry on another connection"
"""Ours: a draining gateway's answer to a call or message that reached a connection it had
already said goodbye to (it arrived in the round trip before the goodbye did). Nothing was
forwarded, so the SDKs send it again on their next connection; any client may."""
ERR_EDGE_MOVING = "edge not online: it is moving to another frontier (this one is draining)"
"""Ours: what a draining gateway answers for an edge it has just said goodbye to (the edge
is reconnecting elsewhere), instead of `ERR_EDGE_NOT_ONLINE`: `ClusterService` waits for
the edge to reappear (within the call's timeout) rather than failing at once."""

MAX_EDGE_ID = (1 << 64) - 1
_TRAILER = 8


class ConventionError(ValueError):
    """Bytes that do not follow a frontier convention (a short trailer, bad service meta)."""


# -- the edge-ID trailer ----------------------------------------------------------------------


def encode_edge_id(edge_id: int) -> bytes:
    """The 8-byte big-endian form (the `get_edge_id` response and the trailer)."""
    if not 0 <= edge_id <= MAX_EDGE_ID:
        raise ConventionError(f"edge ID {edge_id} does not fit in 64 bits")
    return edge_id.to_bytes(_TRAILER, "big")


def decode_edge_id(data: bytes) -> int:
    if len(data) != _TRAILER:
        raise ConventionError(ERR_ILLEGAL_EDGE_ID)
    return int.from_bytes(data, "big")


def append_edge_id(custom: bytes, edge_id: int) -> bytes:
    return custom + encode_edge_id(edge_id)


def split_edge_id(custom: bytes) -> tuple[bytes, int]:
    """(custom without the trailer, edge ID); `ConventionError` when under 8 bytes."""
    if len(custom) < _TRAILER:
        raise ConventionError(ERR_ILLEGAL_EDGE_ID)
    return custom[:-_TRAILER], int.from_bytes(custom[-_TRAILER:], "big")


# -- service meta -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceMeta:
    """A service's identity, sent once as its connection meta (topics are fixed per
    connection, as in Go: a service changes them by reconnecting)."""

    service: str = ""
    topics: tuple[str, ...] = field(default=())
    token: str = field(default="", repr=False)
    """Ours: the gateway's `servicebound.token`, when it requires one (Go services cannot
    send it; mTLS is their way in). Only sent when set."""

    def encode(self) -> bytes:
        # Go marshals a nil slice as null; an empty list parses the same on every side.
        doc: dict[str, object] = {"service": self.service, "topics": list(self.topics)}
        if self.token:
            doc["token"] = self.token
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, meta: bytes) -> ServiceMeta:
        """Parse as Go's `json.Unmarshal` into `{Service string; Topics []string}` would:
        unknown fields are ignored, null means empty; anything else is an error."""
        if not meta:
            return cls()
        try:
            doc = json.loads(meta)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConventionError(f"illegal service meta: {exc}") from None
        if not isinstance(doc, dict):
            raise ConventionError("illegal service meta: not a JSON object")
        service = doc.get("service")
        topics = doc.get("topics")
        if service is None:
            service = ""
        if topics is None:
            topics = []
        if not isinstance(service, str):
            raise ConventionError("illegal service meta: service must be a string")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ConventionError("illegal service meta: topics must be a list of strings")
        token = doc.get("token") or ""
        if not isinstance(token, str):
            raise ConventionError("illegal service meta: token must be a string")
        return cls(service=service, topics=tuple(dict.fromkeys(topics)), token=token)


# -- presence events --------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgePresence:
    """The payload of `edge_online` / `edge_offline` (Go's `apis.OnEdgeOnline`)."""

    edge_id: int
    meta: bytes
    net: str = "tcp"
    addr: str = ""

    def encode(self) -> bytes:
        doc = {
            "EdgeID": self.edge_id,
            "Meta": base64.b64encode(self.meta).decode("ascii"),
            "Net": self.net,
            "Str": self.addr,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> EdgePresence:
        try:
            doc = json.loads(data)
            edge_id = doc.get("EdgeID") or 0
            meta = doc.get("Meta")
            net = doc.get("Net") or ""
            addr = doc.get("Str") or ""
            if not isinstance(edge_id, int) or not isinstance(net, str):
                raise TypeError("bad field types")
            if not isinstance(addr, str):
                raise TypeError("bad field types")
            raw = base64.b64decode(meta, validate=True) if meta else b""
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConventionError(f"illegal presence event: {exc}") from None
        return cls(edge_id=edge_id, meta=raw, net=net, addr=addr)
