"""geminio over TLS: `serve(ssl=...)` and `connect(ssl=...)` with a throwaway CA.

frontier terminates TLS itself (and may require client certificates), so the End must run
unchanged over an SSL transport, and a server that requires a client certificate must turn
away a client that has none before any geminio byte is exchanged.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from frontier.geminio.aio import End, EndError, Request, RPCError, connect, serve
from support.loops import LOOPS, LoopFactory, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("loop_factory", LOOPS),
]


# -- a throwaway PKI ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _issue(
    common_name: str,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    )
    cert = builder.sign(issuer_key, hashes.SHA256())
    (path.with_suffix(".crt")).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, path.with_suffix(".key"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = _name("frontier-py test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _issue("localhost", ca_name, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, directory / "server")
    _issue("edge-1", ca_name, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, directory / "client")
    return Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )


def server_context(pki: Pki, *, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


def client_context(pki: Pki, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    if with_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


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
