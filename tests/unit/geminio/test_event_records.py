"""The events built per packet are plain classes (cheap to build compiled), but still the
records the frozen dataclasses were: equal and hashed by value, shown by field, matched by
position, read-only."""

from __future__ import annotations

import pytest

from frontier.geminio.events import (
    MessageReceived,
    PublishAcked,
    RequestReceived,
    ResponseReceived,
    StreamDataReceived,
)
from frontier.geminio.gojson import GoTime
from frontier.geminio.packets import MessagePacket, RequestPacket

MESSAGE = MessagePacket(packet_id=7, session_id=1, value=b"hi", topic="t")
OTHER_MESSAGE = MessagePacket(packet_id=8, session_id=1, value=b"hi", topic="t")
REQUEST = RequestPacket(packet_id=9, session_id=2, key=b"echo", value=b"x")

CASES = [
    (MessageReceived(MESSAGE), MessageReceived(MESSAGE), MessageReceived(OTHER_MESSAGE)),
    (PublishAcked(1, 2, ""), PublishAcked(1, 2, ""), PublishAcked(1, 2, "no")),
    (StreamDataReceived(3, b"ab"), StreamDataReceived(3, b"ab"), StreamDataReceived(3, b"a")),
    (
        RequestReceived(REQUEST, "echo", True),
        RequestReceived(REQUEST, "echo", True),
        RequestReceived(REQUEST, "echo", False),
    ),
]


@pytest.mark.parametrize(("event", "same", "other"), CASES)
def test_equal_and_hashed_by_value(event: object, same: object, other: object) -> None:
    assert event == same
    assert hash(event) == hash(same)
    assert event != other
    assert event != ("not", "an", "event")
    assert len({event, same, other}) == 2


def test_shown_and_matched_by_field() -> None:
    assert repr(PublishAcked(1, 2, "no")) == "PublishAcked(session_id=1, message_id=2, error='no')"
    assert repr(RequestReceived(REQUEST, "echo", True)).startswith(
        "RequestReceived(packet=RequestPacket("
    )
    assert repr(MessageReceived(MESSAGE)) == f"MessageReceived(packet={MESSAGE!r})"
    match PublishAcked(1, 2, "no"):
        case PublishAcked(session, message, error):
            assert (session, message, error) == (1, 2, "no")
    match RequestReceived(REQUEST, "echo", False):
        case RequestReceived(packet, method, hijacked):
            assert (packet, method, hijacked) == (REQUEST, "echo", False)
    match MessageReceived(MESSAGE):
        case MessageReceived(packet):
            assert packet is MESSAGE
    match ResponseReceived(1, 2, b"r", ""):  # (compiled, a class variable needs ClassVar)
        case ResponseReceived(session, request, data, error):
            assert (session, request, data, error) == (1, 2, b"r", "")


def test_fields_and_derived_properties() -> None:
    received = RequestReceived(REQUEST, "echo", True)
    assert (received.session_id, received.request_id, received.data) == (2, 9, b"x")
    message = MessageReceived(MESSAGE)
    assert (message.session_id, message.message_id, message.topic) == (1, 7, "t")


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (MessageReceived(MESSAGE), "packet"),
        (PublishAcked(1, 2, ""), "error"),
        (RequestReceived(REQUEST, "echo", True), "method"),
    ],
)
def test_read_only(event: object, field: str) -> None:
    with pytest.raises(AttributeError):
        setattr(event, field, None)


def test_go_time_is_the_record_it_was() -> None:
    """`GoTime` is a plain class for the same reason (a deadline per frame)."""
    moment = GoTime(1_700_000_000_123_456_789, 3600)
    assert moment == GoTime(unix_nanos=1_700_000_000_123_456_789, offset=3600)
    assert hash(moment) == hash(GoTime(1_700_000_000_123_456_789, 3600))
    assert moment != GoTime(1_700_000_000_123_456_789)
    assert moment != (1_700_000_000_123_456_789, 3600)
    assert repr(moment) == "GoTime(unix_nanos=1700000000123456789, offset=3600)"
    assert GoTime(5).offset == 0
    match moment:
        case GoTime(nanos, offset):
            assert (nanos, offset) == (1_700_000_000_123_456_789, 3600)
    with pytest.raises(AttributeError):
        moment.offset = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="whole minutes"):
        GoTime(0, 61)
