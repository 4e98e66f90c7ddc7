"""``mqm`` parsing: Go keys (misspellings included) load, typos and bad values fail naming
their path, defaults, and the printed default documents every key."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from frontier.gateway.config import ConfigError, default_config_yaml
from frontier.gateway.mq import MqmConfig, parse_mqm
from frontier.gateway.mq.config import Kafka

GO_SAMPLE = """
kafka:
  enable: true
  addrs: [k1:9092, k2:9092]
  producer:
    topics: [t1]
    async: false
    max_message_bytes: 1000000
    required_acks: -1
    timeout: 10
    compression: gzip
    compression_level: 0
    idepotent: true
    flush: {bytes: 0, messages: 0, frequency: 1, max_messages: 0}
    retry: {max: 3, backoff: 1}
amqp:
  enable: true
  addrs: [guest:guest@127.0.0.1:5672]
  vhost: /
  channel_max: 0
  frame_size: 0
  heartbeat: 10
  locale: ""
  exchanges: [{name: ex, kind: topic, durable: true, auto_delete: false, internal: false,
               nowait: false}]
  queues: [{name: q, durable: true, auto_delete: false, exclustive: false, nowait: false}]
  queueBindings: [{queue_name: q, exchange_name: ex, binding_key: t2, nowait: false}]
  producer:
    routing_keys: [t2]
    exchange: ex
    mandatory: false
    immediate: false
    headers: null
    content_type: text/plain
    content_encoding: ""
    delivery_mode: 2
    priority: 5
    reply_to: ""
    expiration: "60000"
    type: ""
    user_id: ""
    app_id: ""
nats:
  enable: true
  addrs: [127.0.0.1:4222]
  producer: {subjects: [t3]}
  jetstream: {enable: true, name: S, producer: {subjects: [t4]}}
nsq:
  enable: true
  addrs: [127.0.0.1:4150]
  producer: {topics: [t5]}
redis:
  enable: true
  addrs: [127.0.0.1:6379]
  db: 1
  password: secret
  producer: {channels: [t6]}
"""


def test_go_sample_keys_load() -> None:
    config = parse_mqm(yaml.safe_load(GO_SAMPLE))
    assert list(config.enabled()) == ["amqp", "kafka", "nsq", "nats", "redis"]
    kafka = config.kafka.producer
    assert kafka.idempotent is True  # upstream's misspelt key
    assert kafka.required_acks == -1
    assert kafka.compression == "gzip"
    assert kafka.timeout == 10.0
    assert kafka.flush.frequency == 1.0
    assert config.kafka.addrs == ("k1:9092", "k2:9092")
    assert config.amqp.queue_bindings[0].binding_key == "t2"
    assert config.amqp.queues[0].durable is True
    assert config.amqp.producer.expiration == "60000"
    assert config.nats.topics == ("t3", "t4")
    assert config.redis.db == 1
    assert config.fanout is False


def test_every_spelling_go_printed() -> None:
    data = {
        "kafka": {
            "enable": False,
            "producer": {"idempotent": True, "compression": 2, "required_acks": 0},
        },
        "amqp": {"queuebindings": [{"queue_name": "q"}], "queues": [{"exclusive": True}]},
    }
    config = parse_mqm(data)
    assert config.kafka.producer.idempotent is True
    assert config.kafka.producer.compression == "snappy"
    assert config.kafka.producer.required_acks == 1  # 0 was "unset" upstream
    assert config.amqp.queue_bindings[0].queue_name == "q"
    assert config.amqp.queues[0].exclusive is True


def test_defaults() -> None:
    assert parse_mqm(None) == parse_mqm({}) == MqmConfig()
    config = MqmConfig()
    assert config.enabled() == {}
    assert config.kafka.producer.key == "edgeid"
    assert config.redis.mode == "pubsub"
    assert config.reconnect.initial == 0.1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kafak": {}}, "unknown key 'mqm.kafak'"),
        ({"kafka": {"producer": {"topic": ["t"]}}}, "unknown key 'mqm.kafka.producer.topic'"),
        ({"kafka": {"producer": {"async_": True}}}, "unknown key 'mqm.kafka.producer.async_'"),
        (
            {"kafka": {"producer": {"idepotent": True, "idempotent": False}}},
            "'idepotent' and 'idempotent' are the same key",
        ),
        ({"kafka": {"producer": {"compression": "brotli"}}}, "mqm.kafka.producer.compression"),
        ({"kafka": {"producer": {"required_acks": 2}}}, "mqm.kafka.producer.required_acks"),
        ({"kafka": {"producer": {"timeout": -1}}}, "mqm.kafka.producer.timeout"),
        ({"kafka": {"producer": {"key": "ip"}}}, "mqm.kafka.producer.key"),
        ({"amqp": {"producer": {"priority": 10}}}, "mqm.amqp.producer.priority"),
        ({"amqp": {"producer": {"delivery_mode": 3}}}, "mqm.amqp.producer.delivery_mode"),
        ({"amqp": {"producer": {"expiration": "1m"}}}, "mqm.amqp.producer.expiration"),
        ({"amqp": {"exchanges": [{"kind": "x"}]}}, "mqm.amqp.exchanges[0].kind"),
        ({"amqp": {"queues": [{"nme": "q"}]}}, "unknown key 'mqm.amqp.queues[0].nme'"),
        ({"redis": {"db": -1}}, "mqm.redis.db"),
        ({"redis": {"mode": "list"}}, "mqm.redis.mode"),
        ({"redis": {"producer": {"channels": "t"}}}, "mqm.redis.producer.channels"),
        ({"redis": {"producer": {"channels": [""]}}}, "mqm.redis.producer.channels[0]"),
        ({"redis": {"enable": "yes"}}, "mqm.redis.enable"),
        ({"nats": []}, "mqm.nats: expected a mapping"),
        ({"reconnect": {"initial": 0}}, "mqm.reconnect.initial"),
        ({"redis": {"enable": True, "producer": {"channels": ["t"]}}}, "mqm.redis.addrs"),
        ({"kafka": {"enable": True, "addrs": ["k:1"]}}, "mqm.kafka.producer.topics"),
        (
            {"nats": {"enable": True, "addrs": ["n"], "jetstream": {"enable": True}}},
            "mqm.nats.producer.subjects",
        ),
        (
            {
                "nats": {
                    "enable": True,
                    "addrs": ["n"],
                    "jetstream": {"enable": True, "producer": {"subjects": ["s"]}},
                }
            },
            "mqm.nats.jetstream.name",
        ),
        (
            {
                "amqp": {
                    "enable": True,
                    "addrs": ["a"],
                    "producer": {"routing_keys": ["t"], "immediate": True},
                }
            },
            "mqm.amqp.producer.immediate",
        ),
    ],
)
def test_errors_name_the_path(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_mqm(data)


def _printed_mqm() -> object:
    """The commented-out ``mqm`` block of the printed default, uncommented."""
    lines = default_config_yaml().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("mqm:"))
    block = ["mqm:"]
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            block.append(line[1:])
        elif line.strip() and not line.startswith(" "):
            break
    return yaml.safe_load("\n".join(block))["mqm"]


def test_printed_default_documents_every_key_at_its_default() -> None:
    printed = _printed_mqm()
    assert parse_mqm(printed) == MqmConfig()

    def schema(cls: type, prefix: str) -> set[str]:
        found = set()
        for f in dataclasses.fields(cls):
            key = {"async_": "async"}.get(f.name, f.name)
            default = f.default_factory() if callable(f.default_factory) else f.default
            if dataclasses.is_dataclass(default):
                found |= schema(type(default), f"{prefix}.{key}")
            else:
                found.add(f"{prefix}.{key}")
        return found

    def paths(node: object, prefix: str) -> set[str]:
        if not isinstance(node, dict) or not node:
            return {prefix}
        found: set[str] = set()
        for key, value in node.items():
            found |= paths(value, f"{prefix}.{key}")
        return found

    assert schema(MqmConfig, "mqm") == paths(printed, "mqm")


def test_a_broker_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Kafka().enable = True  # type: ignore[misc]


def test_no_bridge_enabled_builds_nothing() -> None:
    from prometheus_client import CollectorRegistry

    from frontier.gateway.mq import build_bridges

    registry = CollectorRegistry()
    assert build_bridges({}, registry, hashby="edgeid", timeout=30) is None
    assert (
        build_bridges(
            yaml.safe_load(GO_SAMPLE.replace("enable: true", "enable: false")),
            registry,
            hashby="edgeid",
            timeout=30,
        )
        is None
    )
    assert list(registry.collect()) == []  # no frontier_mq_* metrics without bridges


def test_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import CollectorRegistry

    from frontier.gateway.mq import build_bridges, manager

    real = manager.importlib.util.find_spec
    monkeypatch.setattr(
        manager.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "aiokafka" else real(name, *a),
    )
    mqm = {"kafka": {"enable": True, "addrs": ["k:9092"], "producer": {"topics": ["t"]}}}
    with pytest.raises(
        ConfigError,
        match=r"mqm.kafka is enabled but aiokafka is not installed: "
        r"pip install 'frontier-py\[mq\]'",
    ):
        build_bridges(mqm, CollectorRegistry(), hashby="edgeid", timeout=30)


def test_client_libraries_are_not_imported_without_bridges() -> None:
    import subprocess
    import sys

    code = (
        "import sys, frontier.gateway.app as app; app.Gateway(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aio_pika', 'aiormq', 'nats', 'aiokafka')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
