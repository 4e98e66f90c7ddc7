"""The ``mqm`` section: Go frontier's MQ keys, parsed strictly into frozen dataclasses.

Existing ``frontier.yaml`` files must load unchanged, so every Go key is accepted, including
the misspellings upstream parses (``idepotent``, ``exclustive``) beside their correct forms,
and AMQP's ``queuebindings`` (what yaml.v2 reads, having no tag) beside ``queueBindings``
(what upstream's sample files print). A key nobody knows is an error naming its path, as in
the rest of the configuration: a typo must not turn a bridge silently into a default.
Durations are seconds (upstream read them as seconds while its comments said milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ...strict_yaml import ConfigError, build
from ...strict_yaml import nonneg_int as _nonneg_int
from ...strict_yaml import positive_seconds as _positive_seconds
from ...strict_yaml import seconds as _seconds

__all__ = [
    "WILDCARD",
    "Amqp",
    "Kafka",
    "MqmConfig",
    "Nats",
    "Nsq",
    "Reconnect",
    "Redis",
    "parse_mqm",
]

WILDCARD = "*"
"""A bridge (or service) listing ``*`` takes the topics that nobody claimed by name."""

HeaderValue = str | int | float | bool


# -- converters for values whose YAML shape is not a plain type -------------------------------


def _names(value: Any, path: str) -> tuple[str, ...]:
    """Topics, addresses: a list of non-empty strings (null = none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
    names = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int) or str(item) == "":
            raise ConfigError(f"{path}[{i}]: expected a non-empty string, got {item!r}")
        names.append(str(item))
    return tuple(names)


_COMPRESSION_CODES = ("none", "gzip", "snappy", "lz4", "zstd")  # sarama's CompressionCodec


def _compression(value: Any, path: str) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 5:
        return _COMPRESSION_CODES[value]
    if isinstance(value, str) and value.lower() in _COMPRESSION_CODES:
        return value.lower()
    raise ConfigError(f"{path}: {value!r} is not one of {', '.join(_COMPRESSION_CODES)} (or 0-4)")


def _required_acks(value: Any, path: str) -> int:
    # sarama: 0 (unset in upstream's YAML, so sarama's default WaitForLocal), 1, -1 (all)
    if value in ("all", "-1"):
        return -1
    if value in (0, 1, -1) and not isinstance(value, bool):
        return 1 if value == 0 else int(value)
    raise ConfigError(f"{path}: {value!r} is not one of 1, -1 (all), 0 (default: 1)")


def _delivery_mode(value: Any, path: str) -> int:
    if value in (0, 1, 2) and not isinstance(value, bool):
        return int(value)
    raise ConfigError(f"{path}: {value!r} is not 0 or 1 (transient) or 2 (persistent)")


def _priority(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return value
    raise ConfigError(f"{path}: {value!r} is not a priority 0-9")


def _expiration(value: Any, path: str) -> str:
    # AMQP's expiration is a string of milliseconds
    if value is None or value == "":
        return ""
    text = str(value)
    if isinstance(value, bool) or not text.isdigit():
        raise ConfigError(f"{path}: {value!r} is not a number of milliseconds")
    return text


def _headers(value: Any, path: str) -> tuple[tuple[str, HeaderValue], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
    headers: list[tuple[str, HeaderValue]] = []
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise ConfigError(f"{path}.{key}: expected a string, number or boolean, got {item!r}")
        headers.append((str(key), item))
    return tuple(headers)


Converter = Callable[[Any, str], Any]


# -- schema --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconnect:
    """Ours: how a bridge retries its broker (seconds)."""

    initial: float = 0.1
    max: float = 10.0
    connect_timeout: float = 5.0
    _convert: ClassVar[Mapping[str, Converter]] = {
        "initial": _positive_seconds,
        "max": _positive_seconds,
        "connect_timeout": _positive_seconds,
    }


@dataclass(frozen=True)
class KafkaFlush:
    bytes: int = 0
    messages: int = 0
    frequency: float = 0.0
    max_messages: int = 0
    _convert: ClassVar[Mapping[str, Converter]] = {
        "bytes": _nonneg_int,
        "messages": _nonneg_int,
        "frequency": _seconds,
        "max_messages": _nonneg_int,
    }


@dataclass(frozen=True)
class KafkaRetry:
    max: int = 0
    backoff: float = 0.0
    _convert: ClassVar[Mapping[str, Converter]] = {"max": _nonneg_int, "backoff": _seconds}


@dataclass(frozen=True)
class KafkaProducer:
    topics: tuple[str, ...] = ()
    async_: bool = False
    max_message_bytes: int = 0
    required_acks: int = 1
    timeout: float = 0.0
    compression: str = "none"
    compression_level: int = 0
    idempotent: bool = False
    flush: KafkaFlush = field(default_factory=KafkaFlush)
    retry: KafkaRetry = field(default_factory=KafkaRetry)
    key: Literal["edgeid", "topic", "message_id", "none"] = "edgeid"  # ours
    _keys: ClassVar[Mapping[str, str]] = {"async": "async_", "idepotent": "idempotent"}
    _convert: ClassVar[Mapping[str, Converter]] = {
        "topics": _names,
        "max_message_bytes": _nonneg_int,
        "required_acks": _required_acks,
        "timeout": _seconds,
        "compression": _compression,
    }


@dataclass(frozen=True)
class Kafka:
    enable: bool = False
    addrs: tuple[str, ...] = ()
    producer: KafkaProducer = field(default_factory=KafkaProducer)
    _convert: ClassVar[Mapping[str, Converter]] = {"addrs": _names}

    @property
    def topics(self) -> tuple[str, ...]:
        return self.producer.topics


@dataclass(frozen=True)
class AmqpExchange:
    name: str = ""
    kind: Literal["", "direct", "topic", "fanout", "headers"] = "direct"
    durable: bool = False
    auto_delete: bool = False
    internal: bool = False
    nowait: bool = False
    _keys: ClassVar[Mapping[str, str]] = {"noWait": "nowait"}


@dataclass(frozen=True)
class AmqpQueue:
    name: str = ""
    durable: bool = False
    auto_delete: bool = False
    exclusive: bool = False
    nowait: bool = False
    _keys: ClassVar[Mapping[str, str]] = {"exclustive": "exclusive", "noWait": "nowait"}


@dataclass(frozen=True)
class AmqpBinding:
    queue_name: str = ""
    exchange_name: str = ""
    binding_key: str = ""
    nowait: bool = False
    _keys: ClassVar[Mapping[str, str]] = {"noWait": "nowait"}


@dataclass(frozen=True)
class AmqpProducer:
    routing_keys: tuple[str, ...] = ()
    exchange: str = ""
    mandatory: bool = False
    immediate: bool = False
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    content_type: str = ""
    content_encoding: str = ""
    delivery_mode: int = 0
    priority: int = 0
    reply_to: str = ""
    expiration: str = ""
    type: str = ""
    user_id: str = ""
    app_id: str = ""
    _convert: ClassVar[Mapping[str, Converter]] = {
        "routing_keys": _names,
        "headers": _headers,
        "delivery_mode": _delivery_mode,
        "priority": _priority,
        "expiration": _expiration,
    }


@dataclass(frozen=True)
class Amqp:
    enable: bool = False
    addrs: tuple[str, ...] = ()
    vhost: str = ""
    channel_max: int = 0
    frame_size: int = 0
    heartbeat: float = 0.0
    locale: str = ""
    exchanges: tuple[AmqpExchange, ...] = ()
    queues: tuple[AmqpQueue, ...] = ()
    queue_bindings: tuple[AmqpBinding, ...] = ()
    producer: AmqpProducer = field(default_factory=AmqpProducer)
    _keys: ClassVar[Mapping[str, str]] = {
        "queueBindings": "queue_bindings",
        "queuebindings": "queue_bindings",
    }
    _convert: ClassVar[Mapping[str, Converter]] = {
        "addrs": _names,
        "channel_max": _nonneg_int,
        "frame_size": _nonneg_int,
        "heartbeat": _seconds,
    }

    @property
    def topics(self) -> tuple[str, ...]:
        return self.producer.routing_keys


@dataclass(frozen=True)
class NatsProducer:
    subjects: tuple[str, ...] = ()
    _convert: ClassVar[Mapping[str, Converter]] = {"subjects": _names}


@dataclass(frozen=True)
class JetStream:
    enable: bool = False
    name: str = ""
    producer: NatsProducer = field(default_factory=NatsProducer)


@dataclass(frozen=True)
class Nats:
    enable: bool = False
    addrs: tuple[str, ...] = ()
    producer: NatsProducer = field(default_factory=NatsProducer)
    jetstream: JetStream = field(default_factory=JetStream)
    _convert: ClassVar[Mapping[str, Converter]] = {"addrs": _names}

    @property
    def topics(self) -> tuple[str, ...]:
        """Core subjects, then JetStream's (upstream took only JetStream's when it was on)."""
        js = self.jetstream.producer.subjects if self.jetstream.enable else ()
        return tuple(dict.fromkeys(self.producer.subjects + js))


@dataclass(frozen=True)
class NsqProducer:
    topics: tuple[str, ...] = ()
    _convert: ClassVar[Mapping[str, Converter]] = {"topics": _names}


@dataclass(frozen=True)
class Nsq:
    enable: bool = False
    addrs: tuple[str, ...] = ()
    producer: NsqProducer = field(default_factory=NsqProducer)
    envelope: bool = False  # ours: the JSON envelope (NSQ carries no headers)
    _convert: ClassVar[Mapping[str, Converter]] = {"addrs": _names}

    @property
    def topics(self) -> tuple[str, ...]:
        return self.producer.topics


@dataclass(frozen=True)
class RedisProducer:
    channels: tuple[str, ...] = ()
    _convert: ClassVar[Mapping[str, Converter]] = {"channels": _names}


@dataclass(frozen=True)
class RedisStream:
    """Ours: XADD options (``mode: stream``)."""

    maxlen: int = 0
    approximate: bool = True
    _convert: ClassVar[Mapping[str, Converter]] = {"maxlen": _nonneg_int}


@dataclass(frozen=True)
class Redis:
    enable: bool = False
    addrs: tuple[str, ...] = ()
    db: int = 0
    password: str = ""
    producer: RedisProducer = field(default_factory=RedisProducer)
    mode: Literal["pubsub", "stream"] = "pubsub"  # ours
    stream: RedisStream = field(default_factory=RedisStream)  # ours
    envelope: bool = False  # ours: the JSON envelope for pub/sub
    _convert: ClassVar[Mapping[str, Converter]] = {"addrs": _names, "db": _nonneg_int}

    @property
    def topics(self) -> tuple[str, ...]:
        return self.producer.channels


Broker = Kafka | Amqp | Nats | Nsq | Redis


@dataclass(frozen=True)
class MqmConfig:
    fanout: bool = False  # ours: every bridge listing the topic, not one
    reconnect: Reconnect = field(default_factory=Reconnect)  # ours
    kafka: Kafka = field(default_factory=Kafka)
    amqp: Amqp = field(default_factory=Amqp)
    nats: Nats = field(default_factory=Nats)
    nsq: Nsq = field(default_factory=Nsq)
    redis: Redis = field(default_factory=Redis)

    def enabled(self) -> dict[str, Broker]:
        """The enabled bridges by name, in upstream's registration order."""
        brokers: dict[str, Broker] = {
            "amqp": self.amqp,
            "kafka": self.kafka,
            "nsq": self.nsq,
            "nats": self.nats,
            "redis": self.redis,
        }
        return {name: broker for name, broker in brokers.items() if broker.enable}


def _check_enabled(config: MqmConfig) -> None:
    """What an enabled bridge cannot work without: said at start-up, not at the first
    message."""
    for name, broker in config.enabled().items():
        if not broker.addrs:
            raise ConfigError(f"mqm.{name}.addrs: an enabled bridge needs at least one address")
        if not broker.topics:
            where = {
                "kafka": "producer.topics",
                "amqp": "producer.routing_keys",
                "nats": "producer.subjects",
                "nsq": "producer.topics",
                "redis": "producer.channels",
            }[name]
            raise ConfigError(
                f"mqm.{name}.{where}: an enabled bridge needs at least one topic "
                f"('*' takes the topics nobody claimed)"
            )
    nats = config.nats
    if nats.enable and nats.jetstream.enable and not nats.jetstream.name:
        raise ConfigError("mqm.nats.jetstream.name: JetStream needs a stream name")
    amqp = config.amqp
    if amqp.enable and amqp.producer.immediate:
        raise ConfigError(
            "mqm.amqp.producer.immediate: not supported (RabbitMQ closes the connection on it)"
        )
    reconnect = config.reconnect
    if reconnect.initial > reconnect.max:
        raise ConfigError("mqm.reconnect: initial must not exceed max")


def parse_mqm(data: Mapping[str, Any] | None) -> MqmConfig:
    """The ``mqm`` mapping (as `FrontierConfig.mqm` holds it) to a checked `MqmConfig`."""
    config = build(MqmConfig, dict(data) if data is not None else None, "mqm")
    _check_enabled(config)
    return config
