"""The dialing side: `connect()` returns an End once the server accepted us."""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections.abc import Mapping

from ..conn_client import ClientConnection
from ..conn_config import ConnectionConfig
from .end import End
from .errors import ConnectRejected
from .limits import Limits
from .messages import Handler
from .protocol import GeminioProtocol
from .timers import TimerService

__all__ = ["connect", "is_websocket_url"]

_REJECT_LINGER = 1.0
"""After a refusal, how long to let the 4-way disconnect finish before dropping the socket."""


def is_websocket_url(address: object) -> bool:
    """Whether `address` is a ``ws://`` or ``wss://`` URL: what selects the WebSocket
    transport (here, not in `.websocket`, so that plain TCP clients never import it)."""
    return isinstance(address, str) and address[:6].lower().startswith(("ws://", "wss://"))


async def connect(
    host: str,
    port: int,
    *,
    meta: bytes = b"",
    client_id: int = 0,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    heartbeat: int = 20,
    peer_timeout: float | None = None,
    config: ConnectionConfig | None = None,
    limits: Limits | None = None,
    timer: TimerService | None = None,
    methods: Mapping[str, Handler] | None = None,
    proxy: str | bool = True,
) -> End:
    """Dial, say hello and wait for the ConnAck.

    `config.connect_timeout` (10 s) bounds the TCP (and TLS) connect, and again the
    handshake: a SYN that is dropped (a blackholed address) fails the dial in bounded time
    instead of after the kernel's two minutes of retries. `client_id` is the ID we ask for
    (0: the server picks); `heartbeat` the advertised interval in seconds (5, 20, 80 or
    320); `peer_timeout` gives up a server that stays silent that long (None: never).
    Raises `ConnectRejected` with the server's text, `ConnectionClosedError` if the
    connection ends first, `OSError` if dialing fails (`TimeoutError` if it takes too long).

    `host` may instead be a ``ws://`` or ``wss://`` URL (`port` is then ignored): the
    connection is carried in a WebSocket, through the HTTP proxy the environment names
    (``HTTPS_PROXY``/``HTTP_PROXY``, ``NO_PROXY``) unless `proxy` is False or names
    another (see `.websocket.open_websocket`).

    `methods` (name -> handler) are served on the End from the handshake on, and returned
    registered with the server: a call the server sends right behind its ConnAck (a
    gateway forwarding a service's call to an edge that just connected) finds them, where
    `register()` after `connect()` returned could be too late. A refused registration
    raises `RemoteError`.
    """
    loop = asyncio.get_running_loop()
    conn = ClientConnection(
        meta=meta,
        client_id=client_id,
        heartbeat=heartbeat,
        peer_timeout=peer_timeout,
        config=config,
        methods=methods or (),
    )
    end = End(conn, limits=limits)
    if methods:
        end._handlers = dict(methods)
    dial_timeout = conn.config.connect_timeout
    target = host if is_websocket_url(host) else f"{host}:{port}"
    try:
        async with asyncio.timeout(dial_timeout):
            if is_websocket_url(host):
                from .websocket import open_websocket

                await open_websocket(
                    host,
                    lambda: GeminioProtocol(conn, end, timer),
                    ssl=ssl,
                    server_hostname=server_hostname,
                    proxy=proxy,
                    timeout=dial_timeout,
                )
            else:
                hostname = server_hostname if server_hostname is not None or ssl is None else host
                await loop.create_connection(
                    lambda: GeminioProtocol(conn, end, timer),
                    host,
                    port,
                    ssl=ssl,
                    server_hostname=hostname,
                )
    except TimeoutError:
        end.abort()
        text = f"connecting to {target} timed out after {dial_timeout:g} s"
        raise TimeoutError(text) from None
    try:
        await end.wait_connected()
        await end.wait_registered()
    except ConnectRejected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(end.wait_closed(), _REJECT_LINGER)
        end.abort()
        raise
    except BaseException:
        end.abort()
        raise
    return end
