"""A free loopback TCP port, for servers a test starts on a fixed port (processes whose
config names the port, or a server that must come back on the same one)."""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterable

from frontier.listen import ephemeral_range


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_shift(ports: Iterable[int]) -> int:
    """An offset `d` (maybe negative) such that every one of `ports` + `d` is free on
    loopback right now.

    For processes told their ports as documented defaults moved by one offset (the docs'
    snippets, `./dev cluster` whose second frontier listens 1000 above the first): the set
    moves together, so relations between the ports still hold. The moved ports are kept
    below Linux's ephemeral range when they fit there, so that no outgoing connection can
    take one between this check and the bind (see frontier.listen)."""
    wanted = sorted(set(ports))
    lowest, highest = wanted[0], wanted[-1]
    ephemeral = ephemeral_range()
    ceiling = (ephemeral[0] - 1) if ephemeral else 65535
    candidates = [(1024 - lowest, ceiling - highest), (1024 - lowest, 65535 - highest)]
    rng = random.Random()
    for low, high in candidates:
        if low > high:
            continue
        for _ in range(300):
            shift = rng.randint(low, high)
            if shift and _all_free(port + shift for port in wanted):
                return shift
    raise RuntimeError(f"no free shift for ports {wanted}")


def _all_free(ports: Iterable[int]) -> bool:
    with contextlib.ExitStack() as held:
        try:
            for port in ports:
                sock = held.enter_context(socket.socket())
                sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
