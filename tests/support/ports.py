"""A free loopback TCP port, for servers a test starts on a fixed port (processes whose
config names the port, or a server that must come back on the same one)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
