"""geminio over TLS: `serve(ssl=...)` and `connect(ssl=...)` with a throwaway CA.

frontier terminates TLS itself (and may require client certificates), so the End must run
unchanged over an SSL transport, and a server that requires a client certificate must turn
away a client that has none before any geminio byte is exchanged.
"""

from __future__ import annotations

import ssl

import pytest

from frontier.geminio.aio import End, EndError, Request, RPCError, connect, serve
from support.loops import LOOPS, LoopFactory, run
from support.pki import Pki, client_context, make_pki, server_context

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def _echo(request: Request) -> bytes:
    return b"tls:" + request.data


async def _register_echo(end: End) -> None:
    await end.register("echo", _echo)


# -- tests -------------------------------------------------------------------------------------


def test_rpc_over_tls(loop_factory: LoopFactory, pki: Pki) -> None:
    async def main() -> None:
        server_ssl = server_context(pki, require_client_cert=False)
        async with await serve("127.0.0.1", 0, ssl=server_ssl, handler=_register_echo) as server:
            client_ssl = client_context(pki, with_cert=False)
            async with await connect(
                "127.0.0.1", server.port, ssl=client_ssl, server_hostname="localhost"
            ) as end:
                ssl_object = end.get_extra_info("ssl_object")
                assert ssl_object is not None
                assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
                await end.wait_remote_methods("echo")
                assert await end.call("echo", b"hello", timeout=5) == b"tls:hello"
                with pytest.raises(RPCError, match="no such rpc: nope"):
                    await end.call("nope", timeout=5)

    run(loop_factory, main())


def test_mtls_refuses_client_without_certificate(loop_factory: LoopFactory, pki: Pki) -> None:
    async def main() -> None:
        online: list[int] = []

        async def handler(end: End) -> None:
            online.append(end.client_id)
            await _register_echo(end)

        server_ssl = server_context(pki, require_client_cert=True)
        async with await serve("127.0.0.1", 0, ssl=server_ssl, handler=handler) as server:
            # No certificate: the TLS handshake (or the first read after it, with TLS 1.3,
            # where the server checks the certificate after the client's Finished) fails.
            anonymous = client_context(pki, with_cert=False)
            with pytest.raises((ssl.SSLError, ConnectionError, EndError)):
                await connect("127.0.0.1", server.port, ssl=anonymous, server_hostname="localhost")
            assert online == []

            # A certificate signed by the CA: accepted, and RPC works.
            trusted = client_context(pki, with_cert=True)
            async with await connect(
                "127.0.0.1", server.port, ssl=trusted, server_hostname="localhost"
            ) as end:
                await end.wait_remote_methods("echo")
                assert await end.call("echo", b"mtls", timeout=5) == b"tls:mtls"
                assert len(online) == 1
                served = server.ends[0]
                peer_cert = served.get_extra_info("peercert")
                assert peer_cert is not None
                subject = dict(item[0] for item in peer_cert["subject"])
                assert subject["commonName"] == "edge-1"

    run(loop_factory, main())
