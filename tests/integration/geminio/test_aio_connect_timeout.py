"""`connect()` to an address that drops SYNs fails at ``connect_timeout``, not after the
kernel's minutes of retries (a blackholed frontier must not hold a redial that long)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from frontier.geminio.aio import connect
from frontier.geminio.conn_config import ConnectionConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def syn_dropping_port() -> Iterator[int]:
    """A listener whose accept queue is full and never drained: Linux drops further SYNs
    (a blackhole, seen from the dialer)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # a backlog of 0 still queues one or two
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_a_dial_whose_syns_are_dropped_fails_at_connect_timeout(
    syn_dropping_port: int,
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out after 1 s"):
        await connect("127.0.0.1", syn_dropping_port, config=ConnectionConfig(connect_timeout=1.0))
    assert 0.9 <= time.monotonic() - started <= 3.0
