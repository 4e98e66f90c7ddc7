"""`python -m frontier.geminio`: an echo server and a probe that checks one end to end.

Users run the probe against a gateway-side echo server to check reachability and interop;
we run the pair in tests and interop runs. The probe exits non-zero on any failure, so it
can gate scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from .client import connect
from .end import End
from .errors import ConnectRejected, EndError, RPCError
from .messages import Request
from .server import ServerHooks, serve
from .stream import Stream

__all__ = ["main"]

_log = logging.getLogger("frontier.geminio.cli")

DENY_META = b"deny"
DENY_TEXT = "denied"
WANT_META = b"want-4242"
WANT_ID = 4242


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


# ------------------------------------------------------------------------ echo server


async def _echo(request: Request) -> bytes:
    return request.data


async def _fail(request: Request) -> bytes:
    raise RuntimeError("boom")


def _client_id(wanted: int, meta: bytes) -> int:
    return WANT_ID if meta == WANT_META else wanted


def _authenticate(end: End) -> None:
    if end.meta == DENY_META:
        raise PermissionError(DENY_TEXT)


async def _echo_stream(stream: Stream) -> None:
    while data := await stream.read(64 * 1024):
        stream.write(data)
        await stream.drain()
    await stream.close()


async def _accept_streams(end: End) -> None:
    while True:
        stream = await end.accept_stream()
        end.spawn(_echo_stream(stream))


async def _serve_end(end: End) -> None:
    """Per connection: the RPCs, raw-byte echo on accepted streams, and message echo."""
    await end.register("echo", _echo)
    await end.register("fail", _fail)
    end.spawn(_accept_streams(end))
    while True:
        message = await end.receive()
        message.done()
        await end.publish(message.data, topic="echo", custom=message.custom, timeout=10)


async def run_echo_server(host: str, port: int) -> None:
    hooks = ServerHooks(get_client_id=_client_id, on_online=_authenticate)

    async def handler(end: End) -> None:
        with contextlib.suppress(EndError):
            await _serve_end(end)

    server = await serve(host, port, hooks=hooks, handler=handler)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()
    _log.info("listening on %s:%d", bound[0], bound[1])
    try:
        await stop.wait()
    finally:
        await server.close()


# ------------------------------------------------------------------------------ probe

Check = Callable[[str, int], Awaitable[str]]


async def _check_rpc(host: str, port: int) -> str:
    async with await connect(host, port, meta=b"probe") as end:
        await end.wait_remote_methods("echo", "fail")
        if await end.call("echo", b"ping", timeout=5) != b"ping":
            raise AssertionError("echo returned other data")
        for method, expected in (
            ("fail", "boom"),
            ("no-such-method", "no such rpc: no-such-method"),
        ):
            try:
                await end.call(method, timeout=5)
            except RPCError as exc:
                if exc.text != expected:
                    raise AssertionError(f"{method}: {exc.text!r}, want {expected!r}") from exc
            else:
                raise AssertionError(f"{method} succeeded")
        return f"client_id={end.client_id}: echo, fail and unknown method answered"


async def _check_messages(host: str, port: int) -> str:
    async with await connect(host, port, meta=b"probe") as end:
        await end.publish(b"hello", topic="probe", timeout=5)
        message = await end.receive()
        message.done()
        if (message.topic, message.data) != ("echo", b"hello"):
            raise AssertionError(f"got {message.topic!r} {message.data!r} back")
        return "published, acked, and echoed back on topic echo"


async def _check_stream(host: str, port: int) -> str:
    async with await connect(host, port, meta=b"probe") as end:
        stream = await end.open_stream(meta=b"probe", peer="echo")
        payload = bytes(range(256)) * 1024  # 256 KiB: several frames
        stream.write(payload)
        await stream.drain()
        if await stream.readexactly(len(payload)) != payload:
            raise AssertionError("stream echoed other bytes")
        await stream.close()
        return f"{len(payload)} bytes echoed on stream {stream.stream_id}"


async def _check_reject(host: str, port: int) -> str:
    try:
        end = await connect(host, port, meta=DENY_META)
    except ConnectRejected as exc:
        if exc.text != DENY_TEXT:
            raise AssertionError(f"rejected with {exc.text!r}, want {DENY_TEXT!r}") from exc
        return f"meta {DENY_META!r} rejected with {exc.text!r}"
    await end.close()
    raise AssertionError("meta deny was accepted")


async def _check_client_id(host: str, port: int) -> str:
    async with await connect(host, port, meta=WANT_META) as end:
        if end.client_id != WANT_ID:
            raise AssertionError(f"client_id {end.client_id}, want {WANT_ID}")
        return f"meta {WANT_META!r} got client_id {WANT_ID}"


CHECKS: list[tuple[str, Check]] = [
    ("rpc", _check_rpc),
    ("messages", _check_messages),
    ("stream", _check_stream),
    ("reject", _check_reject),
    ("client-id", _check_client_id),
]


async def wait_for_listener(host: str, port: int, seconds: float) -> bool:
    """Until `host:port` accepts a TCP connection (True) or `seconds` passed (False).

    Scripts start a server and probe it at once (the README does), and a server needs a
    moment to bind: without this the first probe failed with "connection refused"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.05
    announced = False
    while True:
        try:
            async with asyncio.timeout(max(min(deadline - loop.time(), 2.0), 0.1)):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if not announced:
                _log.info(
                    "waiting up to %.1f s for %s:%d to accept connections", seconds, host, port
                )
                announced = True
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.5)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


async def run_probe(host: str, port: int, per_check: float, wait: float = 0.0) -> int:
    if not await wait_for_listener(host, port, wait):
        _log.error(
            "FAIL reach: nothing accepts connections on %s:%d (waited %.1f s; --wait)",
            host,
            port,
            wait,
        )
        return 1
    failures = 0
    for name, check in CHECKS:
        try:
            detail = await asyncio.wait_for(check(host, port), per_check)
        except Exception as exc:
            failures += 1
            _log.error("FAIL %s: %s: %s", name, type(exc).__name__, exc)
        else:
            _log.info("ok   %s: %s", name, detail)
    _log.info("%d of %d checks failed", failures, len(CHECKS))
    return 1 if failures else 0


# ------------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m frontier.geminio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    echo = commands.add_parser("echo-server", help="serve the probe's counterpart")
    echo.add_argument("--listen", type=_address, required=True, metavar="HOST:PORT")
    probe = commands.add_parser("probe", help="check an echo server end to end")
    probe.add_argument("--connect", type=_address, required=True, metavar="HOST:PORT")
    probe.add_argument("--timeout", type=float, default=10.0, help="seconds per check")
    probe.add_argument(
        "--wait",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="wait this long for the server to accept connections first (default 5; 0: "
        "fail at once)",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _run(coro: Awaitable[int | None]) -> int | None:
    async def wrapper() -> int | None:
        return await coro

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a core dependency on Linux
        return asyncio.run(wrapper())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result: int | None = runner.run(wrapper())
        return result


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.command == "echo-server":
        host, port = args.listen
        _run(run_echo_server(host, port))
        return 0
    host, port = args.connect
    return _run(run_probe(host, port, args.timeout, args.wait)) or 0
