"""Every status a real `frontd` process answers, in each request form and status format."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from frontier.frontd.cipher import encrypt
from support.frontd import (
    SECRET,
    Backend,
    FrontdProcess,
    frontd,
    full_backlog,
    line_for,
    open_client,
    status_of,
)

pytestmark = pytest.mark.integration

CONFIG = {
    "handshake": {"timeout": 1.0, "max_line": 256, "max_header": 1024},
    "backend": {"timeout": 1.0, "retry": 0, "allow": ["127.0.0.0/8"]},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontdProcess]:
    with frontd(config=CONFIG, tmp_path=tmp_path_factory.mktemp("frontd")) as process:
        yield process


@pytest.fixture(scope="module")
def byte_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontdProcess]:
    path = tmp_path_factory.mktemp("frontd-byte")
    with frontd("--status-format", "byte", config=CONFIG, tmp_path=path) as process:
        yield process


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def test_200_then_the_backend_gets_early_data_first(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        reader, writer = await open_client(gateway.port, line_for(backend.addr) + b"early ")
        try:
            assert await reader.readexactly(4) == b"200\n"
            writer.write(b"later")
            assert await reader.readexactly(11) == b"early later"
        finally:
            writer.close()


@pytest.mark.parametrize("derivation", ["md5", "sha256", "pbkdf2"])
async def test_every_key_derivation_is_accepted(gateway: FrontdProcess, derivation: str) -> None:
    async with Backend() as backend:
        answer = await status_of(gateway.port, line_for(backend.addr, derivation))  # type: ignore[arg-type]
        assert answer == b"200\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"this is not base64\n",
        b"\n",
        b"A" * 300,  # no newline within max_line
        b"",  # the client closes first
    ],
)
async def test_400_for_what_cannot_be_read(gateway: FrontdProcess, request_bytes: bytes) -> None:
    reader, writer = await open_client(gateway.port, request_bytes)
    if not request_bytes:
        writer.write_eof()
    try:
        assert await asyncio.wait_for(reader.read(), 20) == b"400\n"  # then closed
    finally:
        writer.close()


async def test_400_when_the_newline_never_comes(gateway: FrontdProcess) -> None:
    reader, writer = await open_client(gateway.port, line_for("127.0.0.1:1")[:-1])
    try:
        # handshake.timeout is 1 s: answered and closed after it, not held forever
        assert await asyncio.wait_for(reader.read(), 20) == b"400\n"
    finally:
        writer.close()


async def test_401_for_a_wrong_secret(gateway: FrontdProcess) -> None:
    answer = await status_of(gateway.port, line_for("127.0.0.1:1", secret="not the secret"))
    assert answer == b"401\n"


async def test_401_for_a_plaintext_that_is_no_address(gateway: FrontdProcess) -> None:
    import base64

    blob = encrypt(SECRET.encode(), b"rm -rf /", "md5")
    assert await status_of(gateway.port, base64.b64encode(blob) + b"\n") == b"401\n"


async def test_401_for_an_address_outside_the_allowlist(gateway: FrontdProcess) -> None:
    # 10.0.0.1 is never contacted: the allowlist refuses it before any connection
    assert await status_of(gateway.port, line_for("10.0.0.1:80")) == b"401\n"


async def test_502_when_the_backend_refuses(gateway: FrontdProcess) -> None:
    assert await status_of(gateway.port, line_for(closed_port())) == b"502\n"


async def test_504_when_connecting_takes_too_long(gateway: FrontdProcess) -> None:
    with full_backlog() as addr:
        assert await status_of(gateway.port, line_for(addr)) == b"504\n"


async def test_byte_status_format(byte_gateway: FrontdProcess) -> None:
    port = byte_gateway.port
    async with Backend() as backend:
        reader, writer = await open_client(port, line_for(backend.addr) + b"x")
        try:
            assert await reader.readexactly(1) == b"x"  # no status byte on success
        finally:
            writer.close()
    assert await status_of(port, b"!!\n", length=0) == b"\x04"
    assert await status_of(port, line_for("10.0.0.1:80"), length=0) == b"\x06"
    assert await status_of(port, line_for(closed_port()), length=0) == b"\x02"
    with full_backlog() as addr:
        assert await status_of(port, line_for(addr), length=0) == b"\x01"


async def test_binary_requests_of_the_original(gateway: FrontdProcess) -> None:
    async with Backend() as backend:
        raw = encrypt(SECRET.encode(), backend.addr.encode(), "md5")
        reader, writer = await open_client(gateway.port, b"\0" + bytes([len(raw)]) + raw + b"hi")
        try:
            assert await reader.readexactly(6) == b"200\nhi"
        finally:
            writer.close()


async def test_http_mode_rewrites_the_head_and_relays(gateway: FrontdProcess) -> None:
    seen: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def http_backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(4)
        seen.set_result(head + body)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with Backend(http_backend) as backend:
        cipher = line_for(backend.addr)[:-1]
        request = (
            b"POST /login HTTP/1.1\r\nHost: game\r\nX-Cipher-Origin: " + cipher + b"\r\n"
            b"X-Forwarded-For: 198.51.100.7\r\nContent-Length: 4\r\n\r\nbody"
        )
        reader, writer = await open_client(gateway.port, request)
        try:
            response = await asyncio.wait_for(reader.read(), 20)
        finally:
            writer.close()
    assert response == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"  # no status line
    assert await seen == (
        b"POST /login HTTP/1.1\r\nHost: game\r\nContent-Length: 4\r\n"
        b"X-Forwarded-For: 198.51.100.7, 127.0.0.1\r\n\r\nbody"
    )


@pytest.mark.parametrize(
    ("target", "status"),
    [("garbage", 400), ("wrong-secret", 401), ("outside", 401), ("closed", 502), ("hang", 504)],
)
async def test_http_mode_answers_errors_in_http(
    gateway: FrontdProcess, target: str, status: int
) -> None:
    with full_backlog() as hanging:
        cipher = {
            "garbage": b"%%%",
            "wrong-secret": line_for("127.0.0.1:1", secret="x")[:-1],
            "outside": line_for("10.0.0.1:80")[:-1],
            "closed": line_for(closed_port())[:-1],
            "hang": line_for(hanging)[:-1],
        }[target]
        request = b"GET / HTTP/1.1\r\nX-Cipher-Origin: " + cipher + b"\r\n\r\n"
        response = await status_of(gateway.port, request, length=0)
    assert response.startswith(b"HTTP/1.1 %d " % status), response
    assert b"Connection: close" in response


async def test_http_head_too_large_is_a_400_response(gateway: FrontdProcess) -> None:
    request = b"GET / HTTP/1.1\r\n" + b"A: " + b"x" * 2000 + b"\r\n\r\n"
    response = await status_of(gateway.port, request, length=0)
    assert response.startswith(b"HTTP/1.1 400 ")


async def test_without_allow_loopback_is_refused_with_a_warning(tmp_path: Path) -> None:
    async with FrontdProcess(config={"backend": {"timeout": 1.0}}, tmp_path=tmp_path) as process:
        assert any("no allowlist" in line for line in process.lines)
        async with Backend() as backend:
            assert await status_of(process.port, line_for(backend.addr)) == b"401\n"
            assert await status_of(process.port, line_for(f"[::1]:{backend.port}")) == b"401\n"
            # a name is checked by what it resolves to
            assert await status_of(process.port, line_for(f"localhost:{backend.port}")) == b"401\n"
            assert backend.accepted == 0
