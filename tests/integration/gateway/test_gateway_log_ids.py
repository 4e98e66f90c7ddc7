"""Edge and service IDs come from one numeric space and can be equal, so the gateway's logs
never show a bare ID: the text says ``edge 17`` or ``service 17``, and each record carries
the ID in a field named for its kind (``edge_id`` / ``service_id``: JSON logs show them).
Here an edge and a service both have ID 17 and go through every logged path."""

from __future__ import annotations

import logging
import re

import pytest

from frontier.gateway import Gateway
from frontier.geminio.aio import Request
from frontier.logs import JSONFormatter
from support.gateway import connect_edge, connect_service, gateway_config, until

pytestmark = pytest.mark.integration

SAME = 17


async def test_every_logged_id_says_whose_it_is(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="frontier")
    trusting = {"listen": {"addr": "127.0.0.1:0"}, "honour_wanted_id": True}
    async with Gateway(gateway_config(edgebound=trusting)) as gw:
        service = await connect_service(gw.servicebound_port, name="svc", client_id=SAME)

        async def edge_offline(request: Request) -> bytes:
            raise RuntimeError("not listening")

        await service.register("edge_offline", edge_offline)
        edge = await connect_edge(gw.edgebound_port, client_id=SAME)
        assert (service.client_id, edge.client_id) == (SAME, SAME)

        stray = await edge.open_stream(peer="nobody")  # unknown service
        assert await stray.read() == b""
        lost = await service.open_stream(peer="99")  # offline edge
        assert await lost.read() == b""
        await edge.close()
        await until(lambda: "edge_offline for edge" in caplog.text, what="the failed hook log")
        await service.close()
        await until(lambda: not gw.registry.services, what="the service to leave")

    records = [r for r in caplog.records if r.name.startswith("frontier")]
    mentioning = [r for r in records if re.search(rf"\b{SAME}\b", r.getMessage())]
    assert len(mentioning) >= 6, [r.getMessage() for r in records]
    for record in mentioning:
        text = record.getMessage()
        bare = re.sub(rf"\b(edge|service) {SAME}\b", "", text)
        assert not re.search(rf"\b{SAME}\b", bare), f"an ID without its kind: {text!r}"
        for kind in ("edge", "service"):
            if f"{kind} {SAME}" in text:
                assert getattr(record, f"{kind}_id", None) == SAME, (kind, text)
    offline_failed = next(r for r in mentioning if "edge_offline for edge" in r.getMessage())
    fields = JSONFormatter().format(offline_failed)
    assert f'"edge_id": {SAME}' in fields
    assert f'"service_id": {SAME}' in fields
