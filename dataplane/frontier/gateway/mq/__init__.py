"""External MQ bridges (``mqm``): an edge's message handed to Kafka, RabbitMQ, NATS, NSQ or
Redis, the edge acked once the broker confirmed. See docs/mq.md."""

from __future__ import annotations

from .base import Bridge, BridgeError, Rejected
from .config import MqmConfig, parse_mqm
from .manager import MqBridges, build_bridges
from .record import Record
from .router import Route, Router

__all__ = [
    "Bridge",
    "BridgeError",
    "MqBridges",
    "MqmConfig",
    "Record",
    "Rejected",
    "Route",
    "Router",
    "build_bridges",
    "parse_mqm",
]
