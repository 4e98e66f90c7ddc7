"""What the gateway tells an untrusted peer about its own limits: a generic reason. A
message that fits the frame limit but not once the gateway adds the edge-ID trailer is
nacked with "message too large"; the sizes go to the gateway's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontier.geminio import encode
from frontier.geminio.aio import PublishRejected
from frontier.geminio.errors import PacketTooLarge
from frontier.geminio.packets import HEADER_LEN, MAX_PACKET_LEN, MessagePacket
from frontier.sdk import Edge, Service
from support.frontier_process import frontier_process

pytestmark = pytest.mark.adversarial


def body(n: int, custom: bytes = b"") -> int:
    packet = MessagePacket(packet_id=1, session_id=1, topic="t", value=b"x" * n, custom=custom)
    try:
        return len(encode(packet)) - HEADER_LEN
    except PacketTooLarge as exc:
        return exc.length


def largest_payload() -> int:
    """The largest message payload on topic ``t`` that fits the frame limit as sent."""
    low, high = 0, MAX_PACKET_LEN
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if body(mid) <= MAX_PACKET_LEN else (low, mid - 1)
    assert body(low, custom=b"\0" * 8) > MAX_PACKET_LEN  # the trailer tips it over
    return low


async def test_an_unforwardable_size_gets_a_generic_reason(tmp_path: Path) -> None:
    async with frontier_process(tmp_path) as gateway:
        service = Service(f"127.0.0.1:{gateway.servicebound}", name="svc", topics=["t"])
        await service.start()
        edge = Edge(f"127.0.0.1:{gateway.edgebound}")
        await edge.start()
        try:
            payload = b"x" * largest_payload()
            with pytest.raises(PublishRejected) as nacked:  # (no timeout: no deadline field)
                await edge.publish("t", payload)
            assert nacked.value.text == "message too large"
            assert "bytes exceeds the limit" in gateway.log()  # the detail, for operators
        finally:
            await edge.close()
            await service.close()
