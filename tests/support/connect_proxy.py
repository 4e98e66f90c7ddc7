"""An HTTP CONNECT proxy on a free loopback port: what stands between a device and the
internet in the offices and networks WebSocket edges are for.

A CONNECT request is a request line, headers and a blank line, read here; the point of the
tests is the client's side of the tunnel. The proxy records every tunnel's target and the
`Proxy-Authorization` it was given, can require credentials (407 without them) or refuse
every tunnel (403), and relays bytes both ways until either side closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["ConnectProxy", "connect_proxy"]


@dataclass
class ConnectProxy:
    port: int
    credentials: tuple[str, str] | None = None
    refuse: bool = False
    tunnels: list[str] = field(default_factory=list)
    """Each accepted CONNECT's target (``host:port``), in order."""
    authorizations: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with_credentials(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        authorization = headers.get("proxy-authorization", "")
        self.authorizations.append(authorization)
        if method != "CONNECT":
            await self._answer(writer, "405 Method Not Allowed")
            return
        if self.refuse:
            await self._answer(writer, "403 Forbidden")
            return
        if self.credentials is not None:
            user, password = self.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if authorization != expected:
                await self._answer(writer, "407 Proxy Authentication Required")
                return
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            await self._answer(writer, "502 Bad Gateway")
            return
        self.tunnels.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _answer(self, writer: asyncio.StreamWriter, status: str) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def connect_proxy(
    *, credentials: tuple[str, str] | None = None, refuse: bool = False
) -> AsyncIterator[ConnectProxy]:
    proxy = ConnectProxy(0, credentials=credentials, refuse=refuse)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
