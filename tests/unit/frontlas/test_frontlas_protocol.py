"""The frontier <-> frontlas payloads: Go shapes accepted, ours round-trip, bad input named."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.frontlas import protocol as p

ids = st.integers(min_value=0, max_value=(1 << 64) - 1)
texts = st.text(max_size=20)
fids = st.text(min_size=1, max_size=20)


def test_go_payloads_decode() -> None:
    # byte for byte what pkg/apis/proto.go marshals
    fid, edge = p.decode_edge(
        b'{"frontier_id":"frontier-node1","edge_id":18446744073709551615,"addr":"1.2.3.4:5"}',
        p.RPC_EDGE_ONLINE,
    )
    assert fid == "frontier-node1"
    assert edge == p.EdgeRecord(2**64 - 1, "1.2.3.4:5")
    fid, service = p.decode_service(
        b'{"frontier_id":"f","service_id":3,"service":"{\\"service\\":\\"s\\"}","addr":"a:1"}',
        p.RPC_SERVICE_ONLINE,
    )
    assert service == p.ServiceRecord(3, '{"service":"s"}', "a:1")
    assert p.decode_stats(b'{"frontier_id":"f","edge_count":2,"service_count":1}') == ("f", 2, 1)
    inst = p.FrontierInstance.decode(
        b'{"frontier_id":"f","advertised_servicebound_addr":"a:1",'
        b'"advertised_edgebound_addr":"b:2"}'
    )
    assert inst == p.FrontierInstance("f", "a:1", "b:2", "")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "not JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"edge_id":1}', "frontier_id is required"),
        (b'{"frontier_id":"f","edge_id":"1"}', "edge_id must be an unsigned 64-bit integer"),
        (b'{"frontier_id":"f","edge_id":18446744073709551616}', "unsigned 64-bit"),
        (b'{"frontier_id":"f","edge_id":true}', "unsigned 64-bit"),
        (b'{"frontier_id":7,"edge_id":1}', "frontier_id must be a string"),
        (b'{"frontier_id":"f","edge_id":1,"addr":5}', "addr must be a string"),
    ],
)
def test_bad_edge_payloads_are_named(data: bytes, error: str) -> None:
    with pytest.raises(p.PayloadError, match=error):
        p.decode_edge(data, p.RPC_EDGE_ONLINE)


@pytest.mark.parametrize(
    "data",
    [
        b'{"frontier_id":"f","edges_online":[[1]]}',
        b'{"frontier_id":"f","edges_online":[[1,2]]}',
        b'{"frontier_id":"f","services_online":[[1,"s"]]}',
        b'{"frontier_id":"f","edges_offline":"1"}',
        b'{"frontier_id":"f","edges_offline":[-1]}',
    ],
)
def test_bad_reports_are_rejected(data: bytes) -> None:
    with pytest.raises(p.PayloadError):
        p.PresenceReport.decode(data)


@given(
    fid=fids,
    online=st.lists(st.builds(p.EdgeRecord, ids, texts), max_size=5),
    offline=st.lists(ids, max_size=5),
    services=st.lists(st.builds(p.ServiceRecord, ids, texts, texts), max_size=5),
    gone=st.lists(ids, max_size=5),
)
def test_reports_round_trip(
    fid: str,
    online: list[p.EdgeRecord],
    offline: list[int],
    services: list[p.ServiceRecord],
    gone: list[int],
) -> None:
    report = p.PresenceReport(fid, tuple(online), tuple(offline), tuple(services), tuple(gone))
    assert p.PresenceReport.decode(report.encode()) == report


@given(
    fid=fids,
    edges=st.lists(ids, max_size=10),
    services=st.lists(ids, max_size=10),
    counts=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
)
def test_heartbeats_and_answers_round_trip(
    fid: str, edges: list[int], services: list[int], counts: int | None
) -> None:
    beat = p.Heartbeat(fid, tuple(edges), tuple(services), counts, counts)
    assert p.Heartbeat.decode(beat.encode()) == beat
    answer = p.HeartbeatAnswer(tuple(edges), tuple(services))
    assert p.HeartbeatAnswer.decode(answer.encode()) == answer


@given(fid=fids, sb=texts, eb=texts, instance=texts)
def test_frontier_meta_round_trips_and_stays_go_readable(
    fid: str, sb: str, eb: str, instance: str
) -> None:
    inst = p.FrontierInstance(fid, sb, eb, instance)
    assert p.FrontierInstance.decode(inst.encode()) == inst
    go_view = json.loads(inst.encode())  # the Go struct's fields are all there
    assert go_view["frontier_id"] == fid
    assert go_view["advertised_servicebound_addr"] == sb
    assert go_view["advertised_edgebound_addr"] == eb


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash_the_decoders(data: bytes) -> None:
    for decode in (
        lambda d: p.decode_edge(d, "x"),
        lambda d: p.decode_service(d, "x"),
        p.decode_stats,
        p.PresenceReport.decode,
        p.Heartbeat.decode,
        p.FrontierInstance.decode,
    ):
        with contextlib.suppress(p.PayloadError):
            decode(data)


@given(
    edges=st.lists(ids, max_size=30),
    services=st.lists(ids, max_size=30),
    size=st.integers(min_value=1, max_value=7),
)
def test_id_batches_cover_every_id_once_in_order(
    edges: list[int], services: list[int], size: int
) -> None:
    batches = list(p.id_batches(edges, services, size))
    assert batches  # one batch even with nothing in it: the frontier is still renewed
    assert all(len(e) + len(s) <= size for e, s in batches)
    assert all(len(e) + len(s) == size for e, s in batches[:-1])
    assert [i for e, _ in batches for i in e] == edges
    assert [i for _, s in batches for i in s] == services
