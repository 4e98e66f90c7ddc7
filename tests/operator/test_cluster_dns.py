"""The e2e tier's cluster DNS (tests/support/cluster_dns.py): names parsed as kube-dns does,
and answers from a real kube-apiserver (the tier-3 control plane) over UDP and TCP."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client

from support.cluster_dns import ApiLookup, Question, answer, parse_name, serve
from support.kube_control_plane import ControlPlane, wait_for

DOMAIN = "cluster.local"

labels = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


# --------------------------------------------------------------------------------------------
# names


@given(svc=labels, ns=labels)
def test_service_names(svc: str, ns: str) -> None:
    assert parse_name(f"{svc}.{ns}.svc.{DOMAIN}.", DOMAIN) == Question("svc", ns, svc)
    assert parse_name(f"{svc.upper()}.{ns}.SVC.Cluster.Local", DOMAIN) == Question("svc", ns, svc)
    assert parse_name(f"h-0.{svc}.{ns}.svc.{DOMAIN}", DOMAIN) == Question("svc", ns, svc, "h-0")


@given(ip=st.ip_addresses(v=4), ns=labels)
def test_pod_names_are_dashed_addresses(ip: ipaddress.IPv4Address, ns: str) -> None:
    dashed = str(ip).replace(".", "-")
    assert parse_name(f"{dashed}.{ns}.pod.{DOMAIN}", DOMAIN) == Question("pod", ns, str(ip))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.com.", False),  # outside the domain: refused, never forwarded
        ("local.", False),
        (f"{DOMAIN}.", False),
        (f"svc.{DOMAIN}", None),  # inside, but no such record shape: NXDOMAIN
        (f"a.b.c.d.e.svc.{DOMAIN}", None),
        (f"1-2-3.ns.pod.{DOMAIN}", None),
        (f"300-1-1-1.ns.pod.{DOMAIN}", None),
        (f"bad_label.ns.svc.{DOMAIN}", None),
        (f"redis.team.svc.{DOMAIN}", Question("svc", "team", "redis")),
    ],
)
def test_names_that_are_refused_or_cannot_exist(name: str, expected: object) -> None:
    assert parse_name(name, DOMAIN) == expected


async def test_garbage_and_responses_get_no_answer() -> None:
    async def never(_: Question) -> Sequence[str] | None:
        raise AssertionError("no lookup for garbage")

    assert await answer(b"\x00\x01garbage", never, DOMAIN) is None
    response = dns.message.make_response(dns.message.make_query(f"a.b.svc.{DOMAIN}", "A"))
    assert await answer(response.to_wire(), never, DOMAIN) is None


async def test_a_failing_lookup_is_servfail_not_nxdomain() -> None:
    async def down(_: Question) -> Sequence[str] | None:
        raise OSError("API server unreachable")

    query = dns.message.make_query(f"a.b.svc.{DOMAIN}", "A")
    out = await answer(query.to_wire(), down, DOMAIN)
    assert out is not None
    assert dns.message.from_wire(out).rcode() == dns.rcode.SERVFAIL


# --------------------------------------------------------------------------------------------
# against a real API server


@pytest.fixture
def namespace(kube_api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(kube_api)
    name = f"dns-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


@pytest.fixture
async def server(
    kube_control_plane: ControlPlane, tmp_path: Path
) -> AsyncIterator[tuple[str, int]]:
    lookup = ApiLookup(
        kube_control_plane.server,
        kube_control_plane.admin.token,
        str(kube_control_plane.ca_file),
        cache_seconds=0.0,
    )
    running = await serve("127.0.0.1", 0, lookup, DOMAIN)
    try:
        yield "127.0.0.1", running.port
    finally:
        await running.close()
        await lookup.close()


async def ask(
    where: tuple[str, int], name: str, rdtype: str = "A", *, tcp: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    host, port = where
    if tcp:
        return await dns.asyncquery.tcp(query, host, port=port, timeout=5)
    return await dns.asyncquery.udp(query, host, port=port, timeout=5)


def addresses(response: dns.message.Message) -> list[str]:
    return sorted(rdata.address for rrset in response.answer for rdata in rrset)


async def test_services_and_endpoints_resolve_from_the_api_server(
    kube_api: client.ApiClient, namespace: str, server: tuple[str, int]
) -> None:
    core = client.CoreV1Api(kube_api)
    ns = namespace
    svc = core.create_namespaced_service(
        ns, {"metadata": {"name": "redis"}, "spec": {"ports": [{"port": 6379}]}}
    )
    cluster_ip = svc.spec.cluster_ip
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "peers"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        },
    )
    # The endpoint controller would overwrite hand-made Endpoints of a Service with a selector;
    # "peers" has none, so these stay as written.
    core.create_namespaced_endpoints(
        ns,
        {
            "metadata": {"name": "peers"},
            "subsets": [
                {
                    "addresses": [
                        {"ip": "10.9.0.1", "hostname": "peer-0"},
                        {"ip": "10.9.0.2", "hostname": "peer-1"},
                    ],
                    "notReadyAddresses": [{"ip": "10.9.0.3", "hostname": "peer-2"}],
                    "ports": [{"port": 80}],
                }
            ],
        },
    )

    for tcp in (False, True):
        found = await ask(server, f"redis.{ns}.svc.{DOMAIN}", tcp=tcp)
        assert found.rcode() == dns.rcode.NOERROR
        assert found.flags & dns.flags.AA
        assert addresses(found) == [cluster_ip]
    assert addresses(await ask(server, f"peers.{ns}.svc.{DOMAIN}")) == ["10.9.0.1", "10.9.0.2"]
    assert addresses(await ask(server, f"peer-1.peers.{ns}.svc.{DOMAIN}")) == ["10.9.0.2"]
    unready = await ask(server, f"peer-2.peers.{ns}.svc.{DOMAIN}")
    assert unready.rcode() == dns.rcode.NXDOMAIN
    pod = await ask(server, f"10-1-2-3.{ns}.pod.{DOMAIN}")
    assert addresses(pod) == ["10.1.2.3"]

    # glibc asks A and AAAA together: an existing name has no AAAA, and says so at once
    aaaa = await ask(server, f"redis.{ns}.svc.{DOMAIN}", "AAAA")
    assert (aaaa.rcode(), aaaa.answer) == (dns.rcode.NOERROR, [])
    missing = await ask(server, f"nothing.{ns}.svc.{DOMAIN}")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    outside = await ask(server, "pypi.org")
    assert outside.rcode() == dns.rcode.REFUSED

    # A new Service resolves as soon as it exists (no negative caching beyond the TTL).
    core.create_namespaced_service(
        ns, {"metadata": {"name": "late"}, "spec": {"ports": [{"port": 1}]}}
    )
    late = await ask(server, f"late.{ns}.svc.{DOMAIN}")
    assert late.rcode() == dns.rcode.NOERROR
    assert len(addresses(late)) == 1


async def test_many_concurrent_queries_are_all_answered(
    kube_api: client.ApiClient, namespace: str, server: tuple[str, int]
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_service(
        namespace, {"metadata": {"name": "busy"}, "spec": {"ports": [{"port": 1}]}}
    )
    wait_for(
        lambda: core.read_namespaced_service("busy", namespace).spec.cluster_ip,
        what="a ClusterIP",
    )
    replies = await asyncio.gather(
        *(ask(server, f"busy.{namespace}.svc.{DOMAIN}", tcp=i % 2 == 1) for i in range(40))
    )
    assert {tuple(addresses(r)) for r in replies} == {
        (core.read_namespaced_service("busy", namespace).spec.cluster_ip,)
    }
    assert {r.rcode() for r in replies} == {dns.rcode.NOERROR}
