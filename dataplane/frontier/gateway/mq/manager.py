"""The gateway's bridges, built from ``mqm``: created with the Gateway, started before its
listeners, closed after them.

Client libraries are imported only for enabled bridges (they are the ``mq`` extra), so a
gateway without bridges runs without them; an enabled bridge whose library is missing is a
configuration error naming the extra, at start-up rather than at the first message.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from ..config import ConfigError
from .base import Bridge
from .config import MqmConfig, parse_mqm
from .metrics import MqMetrics
from .router import Router

__all__ = ["MqBridges", "build_bridges"]

EXTRA = "pip install 'frontier-py[mq]'"
_LIBRARIES = {"kafka": "aiokafka", "amqp": "aio_pika", "nats": "nats"}
_CODECS = {"snappy": ("has_snappy", "python-snappy"), "lz4": ("has_lz4", "lz4")}
_CODECS["zstd"] = ("has_zstd", "zstandard")


def _require(name: str, module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"mqm.{name} is enabled but {module} is not installed: {EXTRA}")


def _check_codec(compression: str) -> None:
    if compression not in _CODECS:
        return
    import aiokafka.codec  # type: ignore[import-untyped]

    check, package = _CODECS[compression]
    if not getattr(aiokafka.codec, check)():
        raise ConfigError(
            f"mqm.kafka.producer.compression: {compression} needs {package}: pip install {package}"
        )


def _bridge(name: str, config: MqmConfig, metrics: MqMetrics, timeout: float) -> Bridge:
    if name in _LIBRARIES:
        _require(name, _LIBRARIES[name])
    bridge_metrics = metrics.bridge(name)
    reconnect = config.reconnect
    if name == "kafka":
        from .kafka_bridge import KafkaBridge

        _check_codec(config.kafka.producer.compression)
        return KafkaBridge(config.kafka, bridge_metrics, timeout, reconnect)
    if name == "amqp":
        from .amqp_bridge import AmqpBridge

        return AmqpBridge(config.amqp, bridge_metrics, timeout, reconnect)
    if name == "nats":
        from .nats_bridge import NatsBridge

        return NatsBridge(config.nats, bridge_metrics, timeout, reconnect)
    if name == "nsq":
        from .nsq_bridge import NsqBridge

        return NsqBridge(config.nsq, bridge_metrics, timeout, reconnect)
    from .redis_bridge import RedisBridge

    return RedisBridge(config.redis, bridge_metrics, timeout, reconnect)


class MqBridges:
    def __init__(self, bridges: list[Bridge], router: Router[Any]) -> None:
        self.bridges = {bridge.name: bridge for bridge in bridges}
        self.router = router

    async def start(self) -> None:
        """Start every bridge; returns after each one's first attempt, connected or not."""
        await asyncio.gather(*(bridge.start() for bridge in self.bridges.values()))

    async def close(self) -> None:
        await asyncio.gather(*(bridge.close() for bridge in self.bridges.values()))


def build_bridges(
    mqm: Mapping[str, Any] | None,
    registry: CollectorRegistry,
    *,
    hashby: str,
    timeout: float,
) -> MqBridges | None:
    """The enabled bridges and their router; None when none is enabled (the exchange's
    fast path then stays as it is without bridges)."""
    config = parse_mqm(mqm)
    enabled = config.enabled()
    if not enabled:
        return None
    metrics = MqMetrics(registry)
    bridges = [_bridge(name, config, metrics, timeout) for name in enabled]
    return MqBridges(bridges, Router(bridges, hashby, fanout=config.fanout))
