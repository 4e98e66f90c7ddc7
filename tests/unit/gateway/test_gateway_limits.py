"""The gateway's limits as configured: keys, checks, the descriptor budget, what reaches the
protocol, the certificate expiry check, throttled logging, the token-carrying metas, and the
YAML in docs/security.md (which must be a valid config)."""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from frontier.conventions import ServiceMeta
from frontier.frontlas.protocol import FrontierInstance
from frontier.gateway.config import Edgebound, Servicebound, WebSocket, parse_config
from frontier.gateway.limits import (
    RESERVE_MIN,
    bound_settings,
    connection_budget,
    websocket_settings,
)
from frontier.gateway.tls import check_certificates
from frontier.strict_yaml import ConfigError
from frontier.throttled_log import ThrottledLog

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_defaults_face_the_internet() -> None:
    config = parse_config(None)
    edges = config.edgebound
    assert edges.honour_wanted_id is False
    assert (edges.max_heartbeat, edges.write_timeout, edges.handshake_timeout) == (80, 10.0, 10.0)
    assert (edges.max_streams, edges.max_meta, edges.replace_hold) == (1024, 65536, 5.0)
    services = config.servicebound
    assert (services.token, services.max_heartbeat, services.write_timeout) == ("", 0, 30.0)


def test_american_spelling_and_bad_values() -> None:
    config = parse_config({"edgebound": {"honor_wanted_id": True}})
    assert config.edgebound.honour_wanted_id is True
    for key, value in [
        ("max_connections", -1),
        ("handshake_timeout", 0),
        ("write_timeout", -2),
        ("max_streams", "many"),
    ]:
        with pytest.raises(ConfigError, match=f"edgebound.{key}"):
            parse_config({"edgebound": {key: value}})


@given(nofile=st.integers(min_value=64, max_value=4_000_000))
def test_the_budget_keeps_a_reserve_and_never_overcommits(nofile: int) -> None:
    budget = connection_budget(nofile, Edgebound(), Servicebound())
    assert budget.reserve >= RESERVE_MIN or nofile < 2 * RESERVE_MIN
    assert budget.edges >= 1
    assert budget.services >= 1
    if nofile >= 2 * RESERVE_MIN:
        assert budget.edges + budget.services + budget.reserve <= nofile
        assert 16 <= budget.services <= 1024


def test_explicit_limits_win_and_a_bad_fit_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        budget = connection_budget(
            256, Edgebound(max_connections=1000), Servicebound(max_connections=10)
        )
    assert (budget.edges, budget.services) == (1000, 10)
    assert "expect EMFILE" in caplog.text


def test_bound_settings_reach_the_listener_and_the_protocol() -> None:
    listener, connection = bound_settings(
        Edgebound(max_connections_per_ip=5, backlog=0, write_timeout=0, max_streams=3), 100
    )
    assert (listener.max_connections, listener.max_connections_per_ip) == (100, 5)
    assert listener.backlog is None  # the system's somaxconn
    assert connection.write_timeout is None  # 0: never evicted
    assert connection.max_sessions == 4  # three streams besides the default session
    assert (connection.max_heartbeat, connection.max_meta) == (80, 65536)


def _certificate(path: Path, not_after: datetime.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - datetime.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.mark.parametrize(
    ("days", "warned"), [(-1, "expired on"), (3, "expires on"), (13, "expires on"), (30, None)]
)
def test_certificates_expiring_within_14_days_are_warned_about(
    tmp_path: Path, days: int, warned: str | None
) -> None:
    now = datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)
    path = tmp_path / "server.crt"
    _certificate(path, now + datetime.timedelta(days=days))
    config = parse_config(
        {"edgebound": {"listen": {"tls": {"enable": True, "certs": [{"cert": str(path)}]}}}}
    )
    reported: list[tuple[str, float]] = []
    warnings = check_certificates(
        config.edgebound.listen.tls,
        "edgebound.listen",
        lambda cert, when: reported.append((cert, when)),
        now=now,
    )
    assert reported == [(str(path), (now + datetime.timedelta(days=days)).timestamp())]
    if warned is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warned in warnings[0]
        assert "edgebound.listen.tls.certs[0]" in warnings[0]


def test_throttled_log_writes_one_line_per_kind_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("test.throttled"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        assert log.info("a", "first %s", "a")
        assert not log.info("a", "again")
        assert log.info("b", "first %s", "b")  # another kind is not held back
        now[0] = 10.0
        assert log.info("a", "later")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["first a", "first b", "later (1 more like it in the last 10 s)"]


def test_throttled_log_stays_bounded_whatever_the_kinds() -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("test.throttled"), 10.0, clock=lambda: now[0])
    for kind in range(5000):
        log.info(str(kind), "x")
    assert len(log._state) <= 1024


def test_tokens_travel_only_when_set() -> None:
    assert b"token" not in ServiceMeta("svc", ("t",)).encode()  # what Go services send
    meta = ServiceMeta.decode(ServiceMeta("svc", ("t",), "s3").encode())
    assert (meta.service, meta.token) == ("svc", "s3")
    assert "s3" not in repr(meta)
    assert b"token" not in FrontierInstance("fr", "a:1", "b:2").encode()
    assert (
        FrontierInstance.decode(FrontierInstance("fr", "a:1", "b:2", "", "t").encode()).token == "t"
    )


def test_the_yaml_in_the_security_doc_is_a_valid_config() -> None:
    text = (DOCS / "security.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        parse_config(yaml.safe_load(block))


@given(
    nofile=st.integers(min_value=256, max_value=4_000_000),
    tcp=st.sampled_from([0, 100, 5000]),
    ws=st.sampled_from([0, 100, 5000]),
)
def test_the_websocket_listener_shares_the_edges_budget(nofile: int, tcp: int, ws: int) -> None:
    """On: the edges' share is split between the two listeners (half each when neither is
    configured; a configured one keeps its figure and the other gets the rest). Off: no
    WebSocket share at all."""
    websocket = WebSocket(enable=True, max_connections=ws)
    off = connection_budget(nofile, Edgebound(max_connections=tcp), Servicebound())
    on = connection_budget(
        nofile, Edgebound(max_connections=tcp, websocket=websocket), Servicebound()
    )
    rest = connection_budget(nofile, Edgebound(), Servicebound()).edges
    assert off.websocket_edges == 0
    assert on.websocket_edges >= 1
    assert on.edges >= 1
    assert on.services == off.services
    if tcp and ws:
        assert (on.edges, on.websocket_edges) == (tcp, ws)
    elif tcp:
        assert (on.edges, on.websocket_edges) == (tcp, max(1, rest - tcp))
    elif ws:
        assert (on.edges, on.websocket_edges) == (max(1, rest - ws), ws)
    else:
        assert abs(on.edges - on.websocket_edges) <= 1
        assert on.edges + on.websocket_edges == rest


def test_websocket_settings_are_its_own_but_the_edge_bounds_are_shared() -> None:
    edgebound = Edgebound(
        max_streams=7,
        max_meta=100,
        max_heartbeat=20,
        write_timeout=10,
        websocket=WebSocket(
            enable=True, max_connections_per_ip=3, handshake_timeout=4, write_timeout=0
        ),
    )
    listener, connection = websocket_settings(edgebound, 50)
    assert (listener.max_connections, listener.max_connections_per_ip) == (50, 3)
    assert listener.handshake_timeout == connection.connect_timeout == 4
    assert connection.write_timeout is None  # 0: never evicted, for this listener only
    assert (connection.max_sessions, connection.max_meta, connection.max_heartbeat) == (8, 100, 20)


@pytest.mark.parametrize(
    ("websocket", "message"),
    [
        ({"path": "geminio"}, "edgebound.websocket.path: expected a URL path"),
        ({"path": "/a?b"}, "edgebound.websocket.path"),
        ({"max_message": 1000}, "edgebound.websocket.max_message: expected a number of bytes"),
        ({"origins": ["app.example.com"]}, "is not an origin"),
        ({"origins": ["https://app.example.com/"]}, "is not an origin"),
        ({"write_timeout": -1}, "edgebound.websocket.write_timeout"),
        ({"max_connections_per_ip": -1}, "edgebound.websocket.max_connections_per_ip"),
        ({"listen": {"network": "udp"}}, "edgebound.websocket.listen.network"),
        ({"compression": True}, "unknown key 'edgebound.websocket.compression'"),
    ],
)
def test_bad_websocket_settings_name_the_key(websocket: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"edgebound": {"websocket": websocket}})


def test_websocket_defaults_and_env() -> None:
    config = parse_config({"edgebound": {"websocket": {"enable": True, "listen": {}}}})
    ws = config.edgebound.websocket
    assert ws.listen.addr == "0.0.0.0:30013"
    assert (ws.path, ws.subprotocol, ws.max_message, ws.origins) == ("/", "geminio", 1 << 20, ())
    moved = parse_config(None, {"FRONTIER_EDGEBOUND_WEBSOCKET_PORT": "443"})
    assert moved.edgebound.websocket.listen.addr == "0.0.0.0:443"
    with pytest.raises(ConfigError, match="FRONTIER_EDGEBOUND_WEBSOCKET_PORT"):
        parse_config(None, {"FRONTIER_EDGEBOUND_WEBSOCKET_PORT": "https"})
