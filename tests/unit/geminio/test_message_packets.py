"""The message-like packets are plain classes standing in for frozen dataclasses
(`packets.MessageData`): the same value semantics, checked here, for the reasons there."""

from __future__ import annotations

import base64

import pytest

from frontier.geminio.documents import (
    _EMPTY_MESSAGE_DOC,
    _read_message_doc,
    message_doc,
    read_message_doc_b64,
)
from frontier.geminio.gojson import GoTime
from frontier.geminio.packets import (
    MessageAckPacket,
    MessagePacket,
    RequestPacket,
    ResponsePacket,
)


def test_equal_and_hashed_by_fields_within_one_class() -> None:
    a = RequestPacket(packet_id=1, session_id=2, key=b"m", value=b"v", custom=b"c")
    b = RequestPacket(packet_id=1, session_id=2, key=b"m", value=b"v", custom=b"c")
    assert a == b
    assert hash(a) == hash(b)
    assert a != RequestPacket(packet_id=1, session_id=2, key=b"m", value=b"w", custom=b"c")
    # the same fields in another packet type are another value, as for dataclasses
    assert a != ResponsePacket(packet_id=1, session_id=2, key=b"m", value=b"v", custom=b"c")
    # the spliceable text is not part of the value
    assert a == RequestPacket(
        packet_id=1, session_id=2, key=b"m", value=b"v", custom=b"c", value_b64=b"dg=="
    )


def test_shown_as_the_dataclass_was() -> None:
    packet = MessagePacket(packet_id=7, session_id=1, value=b"x", topic="t", timeout=5)
    assert repr(packet) == (
        "MessagePacket(packet_id=7, session_id=1, key=b'', value=b'x', topic='t', custom=b'',"
        " error='', timeout=5, deadline=GoTime(unix_nanos=-62135596800000000000, offset=0),"
        " context_deadline=GoTime(unix_nanos=-62135596800000000000, offset=0))"
    )


def test_fields_are_read_only_and_keyword_only() -> None:
    packet = MessageAckPacket(packet_id=1, session_id=1, error="no")
    with pytest.raises(AttributeError):
        packet.error = "yes"  # type: ignore[misc]
    with pytest.raises(TypeError):
        MessageAckPacket(1, 1)  # type: ignore[misc]
    assert packet.error == "no"
    assert packet.deadline == GoTime(-62135596800000000000)


def test_an_undecoded_value_is_decoded_on_first_read() -> None:
    text = base64.b64encode(b"payload")
    packet = RequestPacket(packet_id=1, session_id=1, value=None, value_b64=text)
    assert not packet.value_decoded
    assert packet.value == b"payload"
    assert packet.value_decoded
    assert packet == RequestPacket(packet_id=1, session_id=1, value=b"payload")
    with pytest.raises(ValueError, match="needs its text"):
        RequestPacket(packet_id=1, session_id=1, value=None)


def test_matched_by_keyword_and_position() -> None:
    match RequestPacket(packet_id=3, session_id=1, key=b"echo"):
        case RequestPacket(3, 1, b"echo"):
            pass
        case _:
            pytest.fail("positional pattern did not match")
    match ResponsePacket(packet_id=3, session_id=1, error="e"):
        case ResponsePacket(packet_id=3, error="e"):
            pass
        case _:
            pytest.fail("keyword pattern did not match")


def test_the_empty_document_of_an_ack_reads_as_every_field_unset() -> None:
    """Read without the regex (a successful ack's document is always these bytes), and
    the same as the general path reads it."""
    assert message_doc(MessageAckPacket(packet_id=1, session_id=1)) == _EMPTY_MESSAGE_DOC
    framed = b"xx" + _EMPTY_MESSAGE_DOC + b"yy"
    fields = read_message_doc_b64(framed, 2, 2 + len(_EMPTY_MESSAGE_DOC))
    assert fields == (*_read_message_doc(_EMPTY_MESSAGE_DOC, 0, len(_EMPTY_MESSAGE_DOC)), None)
    # one byte more or less is not it
    nacked = _EMPTY_MESSAGE_DOC.replace(b"{", b'{"error":"x",')
    assert read_message_doc_b64(nacked, 0, len(nacked))[4] == "x"
