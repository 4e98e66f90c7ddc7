"""TLS on every hop a user or a connector touches, with real processes: the connector
dials a gateway whose edgebound requires mutual TLS (verifying the gateway against a CA,
presenting its client certificate), and the entry's HTTP
front is TLS with client certificates verified when sent: an app that requires one
answers 403 without it and serves with it, an app that does not serves either way."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from support.pki import Pki, make_pki
from support.tunnel import Api, Daemon, connector, entry, gateway

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[tuple[Daemon, Api]]:
    tmp = tmp_path_factory.mktemp("tunnel-tls")
    pair = {"cert": str(pki.server_cert), "key": str(pki.server_key)}
    daemons: list[Daemon] = []
    try:
        mtls = {"enable": True, "mtls": True, "ca_certs": [str(pki.ca)], "certs": [pair]}
        gw = gateway(tmp, edgebound_tls=mtls)
        daemons.append(gw)
        tls_front = {"enable": True, "certs": [pair], "ca_certs": [str(pki.ca)]}
        the_entry = entry(tmp, gw, http={"addr": "127.0.0.1:0", "tls": tls_front})
        daemons.append(the_entry)
        client_pair = {"cert": str(pki.client_cert), "key": str(pki.client_key)}
        tls_link = {"enable": True, "ca_certs": [str(pki.ca)], "certs": [client_pair]}
        daemons.append(connector(tmp, gw, gateway_tls=tls_link))
        yield the_entry, Api(the_entry)
    finally:
        for daemon in reversed(daemons):
            daemon.stop()


def client_context(pki: Pki, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


async def test_client_certificates_per_app(stack: tuple[Daemon, Api], pki: Pki) -> None:
    the_entry, api = stack

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello over TLS")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    target = f"127.0.0.1:{port}"
    await api.add_app(name="open", kind="http", connector="home", target=target, path="/open")
    await api.add_app(
        name="certs", kind="http", connector="home", target=target, path="/certs",
        auth={"client_cert": True},
    )  # fmt: skip
    base = f"https://127.0.0.1:{the_entry.ports['http']}"
    try:
        for with_cert, expected in (
            (False, {"open": 200, "certs": 403}),
            (True, {"open": 200, "certs": 200}),
        ):
            connector_ = aiohttp.TCPConnector(ssl=client_context(pki, with_cert=with_cert))
            async with aiohttp.ClientSession(connector=connector_) as client:
                for name, status in expected.items():
                    async with client.get(f"{base}/{name}/x") as response:
                        assert response.status == status, (name, with_cert)
                        if status == 200:
                            assert await response.text() == "hello over TLS"
    finally:
        await runner.cleanup()
