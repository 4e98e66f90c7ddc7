"""What a bridge hands to its broker: the payload and who sent it.

Upstream produced only the payload, so a consumer could not tell which edge a message came
from. Here the edge ID, its meta, the topic and a message ID travel with it wherever the
broker has headers (or fields), always under the same names and as text, so one consumer
library can read any broker the same way; where it has none, an opt-in JSON envelope carries
them.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field

__all__ = [
    "HEADER_EDGE_ID",
    "HEADER_EDGE_META",
    "HEADER_MESSAGE_ID",
    "HEADER_TOPIC",
    "Record",
]

HEADER_EDGE_ID = "frontier-edge-id"
HEADER_EDGE_META = "frontier-edge-meta"
HEADER_TOPIC = "frontier-topic"
HEADER_MESSAGE_ID = "frontier-message-id"


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    payload: bytes
    edge_id: int
    meta: bytes = b""
    message_id: str = field(default_factory=_new_id)
    """Unique per message; the same for every bridge a fanned-out message reaches, so
    consumers can de-duplicate (JetStream does so itself through ``Nats-Msg-Id``)."""

    def headers(self) -> dict[str, str]:
        """The sender as text headers (meta is opaque bytes: standard base64)."""
        return {
            HEADER_EDGE_ID: str(self.edge_id),
            HEADER_EDGE_META: base64.b64encode(self.meta).decode("ascii"),
            HEADER_TOPIC: self.topic,
            HEADER_MESSAGE_ID: self.message_id,
        }

    def envelope(self) -> bytes:
        """The JSON envelope for brokers without headers (Redis pub/sub, NSQ), opt-in."""
        return json.dumps(
            {
                "edge_id": self.edge_id,
                "meta": base64.b64encode(self.meta).decode("ascii"),
                "topic": self.topic,
                "message_id": self.message_id,
                "payload": base64.b64encode(self.payload).decode("ascii"),
            },
            separators=(",", ":"),
        ).encode()
