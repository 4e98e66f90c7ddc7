"""The tunnel's wire format: frames in any chunking, flow control, the order rules, the
requests and their proofs."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.tunnel.wire import (
    DEFAULT_WINDOW,
    MIN_WINDOW,
    Abort,
    ConnectorMeta,
    Credit,
    Data,
    Eof,
    FrameType,
    OpenRequest,
    Report,
    RequestError,
    ScanRequest,
    Status,
    StatusCode,
    TunnelProtocol,
    TunnelProtocolError,
    connector_edge_id,
    connector_proof,
    open_auth,
    parse_target,
    proofs_match,
    status_proof,
)


def entry_side(window: int = DEFAULT_WINDOW) -> TunnelProtocol:
    return TunnelProtocol(we_are="entry", receive_window=window)


def connector_side(window: int = DEFAULT_WINDOW) -> TunnelProtocol:
    return TunnelProtocol(we_are="connector", receive_window=window)


def feed_in_pieces(proto: TunnelProtocol, data: bytes, cuts: list[int]) -> list[object]:
    events: list[object] = []
    last = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        events += proto.receive_data(data[last:cut])
        last = cut
    events += proto.receive_data(data[last:])
    return events


def merged(events: list[object]) -> list[object]:
    """DATA events joined (a frame may arrive in pieces; only the bytes matter)."""
    out: list[object] = []
    for event in events:
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=3000), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=40_000), max_size=12),
    report=st.booleans(),
)
def test_frames_decode_the_same_in_any_chunking(
    chunks: list[bytes], cuts: list[int], report: bool
) -> None:
    sender = connector_side()
    sender.start_sending(DEFAULT_WINDOW)
    status = Status(StatusCode.OK, "", DEFAULT_WINDOW, "ab" * 32)
    wire = TunnelProtocol.send_status(status)
    expected: list[object] = [status]
    for chunk in chunks:
        wire += sender.send_data(chunk)
        expected.append(Data(chunk))
    if report:
        wire += TunnelProtocol.send_report({"status": "running", "scanned": 3})
        expected.append(Report({"status": "running", "scanned": 3}))
    wire += TunnelProtocol.send_eof()
    expected.append(Eof())
    receiver = entry_side()
    assert merged(feed_in_pieces(receiver, wire, cuts)) == merged(expected)
    assert receiver.peer_eof


def test_credit_comes_back_a_quarter_window_at_a_time() -> None:
    window = 64 * 1024
    sender, receiver = entry_side(), connector_side(window)
    sender.start_sending(window)
    frames = sender.send_data(b"x" * 40_000)
    assert sender.send_credit == window - 40_000
    assert receiver.receive_data(frames) == [Data(b"x" * 40_000)]
    assert receiver.consumed(10_000) == b""  # under a quarter: nothing yet
    grant = receiver.consumed(10_000)
    assert grant  # 20_000 >= 16 KiB
    assert sender.receive_data(TunnelProtocol.send_status(Status("ok", "", window))) != []
    assert sender.receive_data(grant) == [Credit(20_000)]
    assert sender.send_credit == window - 40_000 + 20_000


def test_data_beyond_the_window_is_a_protocol_error() -> None:
    """A peer that ignores its credit is cut off before its bytes are kept."""
    receiver = connector_side(MIN_WINDOW)
    liar = entry_side()
    liar.start_sending(1 << 20)  # it believes (or pretends) it may send this much
    receiver.receive_data(liar.send_data(b"a" * MIN_WINDOW))
    with pytest.raises(TunnelProtocolError, match="window"):
        receiver.receive_data(liar.send_data(b"b"))


def test_sending_beyond_the_credit_is_refused() -> None:
    sender = entry_side()
    sender.start_sending(10)
    with pytest.raises(ValueError, match="credit"):
        sender.send_data(b"x" * 11)


@pytest.mark.parametrize(
    ("side", "frame", "error"),
    [
        ("entry", TunnelProtocol.send_eof(), "before STATUS"),
        ("connector", TunnelProtocol.send_status(Status("ok", "", 65536)), "the entry sent"),
        ("connector", TunnelProtocol.send_report({}), "the entry sent"),
        ("connector", bytes([9, 0, 0, 0, 0]), "unknown frame type 9"),
        ("connector", bytes([FrameType.ABORT, 0, 1, 0, 0]), "ABORT frame of"),
        ("connector", bytes([FrameType.WINDOW, 0, 0, 0, 2, 0, 0]), "4-byte"),
        ("connector", bytes([FrameType.WINDOW, 0, 0, 0, 4, 0, 0, 0, 0]), "out of range"),
        ("connector", TunnelProtocol.send_eof() * 2, "a second EOF"),
    ],
)
def test_frames_out_of_place_are_protocol_errors(side: str, frame: bytes, error: str) -> None:
    proto = entry_side() if side == "entry" else connector_side()
    with pytest.raises(TunnelProtocolError, match=error):
        proto.receive_data(frame)


def test_a_second_status_and_data_after_eof_are_errors() -> None:
    status = TunnelProtocol.send_status(Status("ok", "", 65536))
    proto = entry_side()
    proto.receive_data(status)
    with pytest.raises(TunnelProtocolError, match="second STATUS"):
        proto.receive_data(status)
    proto = entry_side()
    sender = connector_side()
    sender.start_sending(65536)
    proto.receive_data(status + TunnelProtocol.send_eof())
    with pytest.raises(TunnelProtocolError, match="after EOF"):
        proto.receive_data(sender.send_data(b"late"))


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"code": "maybe"}',
        b'{"code": "ok", "window": 5}',
        b'{"code":"ok","window":true}',
    ],
)
def test_malformed_status_frames(payload: bytes) -> None:
    frame = bytes([FrameType.STATUS]) + len(payload).to_bytes(4, "big") + payload
    with pytest.raises(TunnelProtocolError):
        entry_side().receive_data(frame)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_only_ever_raises_the_protocol_error(data: bytes) -> None:
    for proto in (entry_side(), connector_side()):
        with contextlib.suppress(TunnelProtocolError):
            proto.receive_data(data)


def test_abort_carries_its_reason() -> None:
    proto = connector_side()
    assert proto.receive_data(TunnelProtocol.send_abort("idle for 5 s")) == [Abort("idle for 5 s")]


# ----------------------------------------------------------------------------- requests


def test_dial_request_round_trip() -> None:
    request = OpenRequest("dial", "n" * 32, "a" * 64, 65536, to="db.lan:5432", app="db", idle=9.5)
    assert OpenRequest.decode(request.encode()) == request
    assert request.subject == "db.lan:5432"


def test_scan_request_round_trip_and_what_the_auth_covers() -> None:
    scan = ScanRequest(("10.0.0.0/24",), ("22", "8000-8100"), 1.5, 50)
    request = OpenRequest("scan", "n" * 32, "a" * 64, 65536, scan=scan)
    decoded = OpenRequest.decode(request.encode())
    assert decoded == request
    assert json.loads(decoded.subject) == {
        "nets": ["10.0.0.0/24"], "ports": ["22", "8000-8100"], "timeout": 1.5, "concurrency": 50,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"v": 2}, "protocol version"),
        ({"op": "exec"}, "unknown op"),
        ({"nonce": "short"}, "nonce"),
        ({"window": 1}, "window"),
        ({"window": "big"}, "window"),
        ({"to": "no-port"}, "host:port"),
        ({"to": "a b:80"}, "neither an address nor a host name"),
        ({"to": "::1:80"}, r"\[address\]:port"),
        ({"to": "host:70000"}, "out of range"),
        ({"idle": -1}, "idle"),
    ],
)
def test_requests_a_connector_refuses(doc: dict[str, object], error: str) -> None:
    base: dict[str, object] = {
        "v": 1, "op": "dial", "nonce": "n" * 32, "auth": "a", "window": 65536, "to": "h:1",
    }  # fmt: skip
    with pytest.raises(RequestError, match=error):
        OpenRequest.decode(json.dumps({**base, **doc}).encode())


def test_oversized_and_non_json_requests() -> None:
    with pytest.raises(RequestError, match="bytes"):
        OpenRequest.decode(b"{" + b" " * 20000 + b"}")
    with pytest.raises(RequestError, match="not JSON"):
        OpenRequest.decode(b"\xff")


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("10.0.0.1:22", "10.0.0.1", 22),
        ("[fd00::1]:443", "fd00::1", 443),
        ("NAS.Lan:5000", "nas.lan", 5000),
        ("localhost:1", "localhost", 1),
    ],
)
def test_targets(text: str, host: str, port: int) -> None:
    assert parse_target(text) == (host, port)


def test_proofs_bind_their_inputs() -> None:
    auth = open_auth("token", "nonce", "dial", "10.0.0.1:22")
    assert proofs_match(auth, open_auth("token", "nonce", "dial", "10.0.0.1:22"))
    for other in (
        open_auth("other", "nonce", "dial", "10.0.0.1:22"),
        open_auth("token", "nonce2", "dial", "10.0.0.1:22"),
        open_auth("token", "nonce", "dial", "10.0.0.1:23"),
        open_auth("token", "nonce", "scan", "10.0.0.1:22"),
        status_proof("token", "nonce", "dial"),
    ):
        assert not proofs_match(auth, other)
    assert status_proof("t", "n", "ok") != status_proof("t", "n", "busy")


def test_connector_ids_are_stable_distinct_and_in_their_own_range() -> None:
    ids = {connector_edge_id(f"site-{i}") for i in range(2000)}
    assert len(ids) == 2000
    assert all((1 << 52) <= i < (1 << 53) for i in ids)
    assert connector_edge_id("home") == connector_edge_id("home") == 5408201012237061


def test_connector_meta_never_carries_the_token() -> None:
    meta = ConnectorMeta("home", connector_proof("s3cret-token", "home")).encode()
    assert b"s3cret-token" not in meta
    decoded = ConnectorMeta.decode(meta)
    assert decoded.name == "home"
    assert proofs_match(decoded.proof, connector_proof("s3cret-token", "home"))
    with pytest.raises(RequestError, match="not a frontier-tunnel connector"):
        ConnectorMeta.decode(b"device-7")
