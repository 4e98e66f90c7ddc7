"""TLS and mutual TLS on the gateway's listeners, configured with the Go keys."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from frontier.conventions import append_edge_id
from frontier.gateway import ConfigError, Gateway
from frontier.geminio.aio import EndError, Request
from support.gateway import connect_edge, connect_service, gateway_config
from support.pki import Pki, client_context, make_pki

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls(pki: Pki, *, mtls: bool) -> dict[str, object]:
    return {
        "enable": True,
        "mtls": mtls,
        "ca_certs": [str(pki.ca)],
        "certs": [{"cert": str(pki.server_cert), "key": str(pki.server_key)}],
    }


async def test_tls_edges_and_mtls_services_exchange_calls(pki: Pki) -> None:
    config = gateway_config(
        servicebound={"listen": {"addr": "127.0.0.1:0", "tls": _tls(pki, mtls=True)}},
        edgebound={"listen": {"addr": "127.0.0.1:0", "tls": _tls(pki, mtls=False)}},
    )
    async with Gateway(config) as gw:
        service = await connect_service(
            gw.servicebound_port,
            ssl=client_context(pki, with_cert=True),
            server_hostname="localhost",
        )
        edge = await connect_edge(
            gw.edgebound_port, ssl=client_context(pki, with_cert=False), server_hostname="localhost"
        )

        async def hello(request: Request) -> bytes:
            return b"hello " + request.data

        await edge.register("hello", hello)
        custom = append_edge_id(b"", edge.client_id)
        assert await service.call("hello", b"tls", custom=custom) == b"hello tls"
        assert edge.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        await edge.close()
        await service.close()


async def test_mtls_refuses_a_service_without_a_client_certificate(pki: Pki) -> None:
    config = gateway_config(
        servicebound={"listen": {"addr": "127.0.0.1:0", "tls": _tls(pki, mtls=True)}}
    )
    async with Gateway(config) as gw:
        # TLS 1.3 reports the missing certificate after the client's handshake: the
        # refusal shows as an SSL error or as the connection closing before the ConnAck.
        with pytest.raises((ssl.SSLError, ConnectionError, EndError)):
            await connect_service(
                gw.servicebound_port,
                ssl=client_context(pki, with_cert=False),
                server_hostname="localhost",
            )
        assert not gw.registry.services


async def test_plain_tcp_client_cannot_talk_to_a_tls_listener(pki: Pki) -> None:
    config = gateway_config(
        edgebound={"listen": {"addr": "127.0.0.1:0", "tls": _tls(pki, mtls=False)}}
    )
    async with Gateway(config) as gw:
        with pytest.raises((ssl.SSLError, ConnectionError, EndError)):
            await connect_edge(gw.edgebound_port)
        assert not gw.registry.edges


def test_bad_tls_config_names_the_key(tmp_path: Path, pki: Pki) -> None:
    missing = {"enable": True, "certs": [{"cert": str(tmp_path / "no.crt"), "key": "x"}]}
    config = gateway_config(edgebound={"listen": {"addr": "127.0.0.1:0", "tls": missing}})
    from frontier.gateway.tls import server_ssl_context

    with pytest.raises(ConfigError, match=r"edgebound\.listen\.tls\.certs\[0\]"):
        server_ssl_context(config.edgebound.listen.tls, "edgebound.listen")
    no_ca = {**_tls(pki, mtls=True), "ca_certs": []}
    bad = gateway_config(edgebound={"listen": {"addr": "127.0.0.1:0", "tls": no_ca}})
    with pytest.raises(ConfigError, match="mtls needs"):
        server_ssl_context(bad.edgebound.listen.tls, "edgebound.listen")
