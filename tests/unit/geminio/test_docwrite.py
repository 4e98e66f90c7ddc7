"""The compiled build's relayed-frame writer (`frontier.geminio._docwrite`, Cython) against
the Python path it stands in for (`encoder._message_frame_parts_python`, the pure build's).

The contract: for any fields, the writer returns the very bytes the Python path writes, or
None (then the Python path writes them or raises its error); it never raises itself. And it
writes every frame a relay sends in practice (plain topics and error texts), or it would
buy nothing.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from frontier.geminio import encoder
from frontier.geminio.errors import EncodeError
from frontier.geminio.gojson import ZERO_TIME, GoTime
from frontier.geminio.packets import MAX_PACKET_LEN, PacketType
from support.go_values import NS, compiled_accelerator, plain_texts
from support.go_values import go_times as go_times_json

_docwrite = compiled_accelerator("_docwrite")

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)

go_times = st.one_of(
    go_times_json,
    st.just(GoTime(ZERO_TIME.unix_nanos, 0)),  # equal to the zero time, another object
)
plain = plain_texts
any_text = st.text(max_size=12)
message_types = st.sampled_from(
    [PacketType.MESSAGE, PacketType.MESSAGE_ACK, PacketType.REQUEST, PacketType.RESPONSE]
)
u64 = st.integers(0, 2**64 - 1)
value_texts = st.binary(min_size=1, max_size=60).map(base64.b64encode)


def python_path(*fields: Any) -> Any:
    try:
        parts = encoder._message_frame_parts_python(*fields)
    except (EncodeError, TypeError) as exc:
        return type(exc)
    return parts


def assert_agrees(*fields: Any) -> Any:
    written = _docwrite.frame_parts(*fields)
    joined = _docwrite.frame(*fields)
    assert (joined is None) is (written is None)  # (both write the same frames)
    if written is not None:
        reference = python_path(*fields)
        assert written == reference
        assert written[1] is fields[4]  # the value's text itself, not a copy
        assert joined == b"".join(reference)
        assert encoder.message_frame_spliced(*fields) == joined
    return written


plain_fields = st.tuples(
    message_types, u64, u64, st.binary(max_size=24), value_texts, plain, st.binary(max_size=24),
    plain, st.integers(-(2**63), 2**63 - 1), go_times, go_times,
)  # fmt: skip
any_fields = st.tuples(
    st.integers(-5, 300), st.integers(-(2**65), 2**65), st.integers(-(2**65), 2**65),
    st.binary(max_size=8), st.one_of(value_texts, st.just(b"")), any_text, st.binary(max_size=8),
    any_text, st.integers(-(2**64), 2**64), go_times, go_times,
)  # fmt: skip


@relaxed
@given(plain_fields)
@example((PacketType.REQUEST, 7, 1, b"echo", b"eHh4", "", b"\0" * 8, "", 0, ZERO_TIME, ZERO_TIME))
def test_writes_every_plain_frame_as_the_python_path_does(fields: tuple[Any, ...]) -> None:
    assert assert_agrees(*fields) is not None


@relaxed
@given(any_fields)
def test_anything_else_is_written_alike_or_left_to_the_python_path(
    fields: tuple[Any, ...],
) -> None:
    assert_agrees(*fields)


def test_a_memoryview_value_is_passed_through() -> None:
    text = memoryview(b"xxeHh4yy")[2:6]
    fields = (PacketType.RESPONSE, 1, 2, b"k", text, "", b"", "", 0, ZERO_TIME, ZERO_TIME)
    written = assert_agrees(*fields)
    assert written is not None
    assert written[1] is text


def test_frames_over_the_limit_are_left_to_the_python_path() -> None:
    huge = b"A" * (MAX_PACKET_LEN - 100)
    fields = (PacketType.MESSAGE, 1, 1, b"", huge, "t" * 200, b"", "", 0, ZERO_TIME, ZERO_TIME)
    assert _docwrite.frame_parts(*fields) is None
    with pytest.raises(EncodeError):
        encoder.message_frame_parts(*fields)


def test_the_encoder_uses_it_in_the_compiled_build() -> None:
    assert encoder._write_parts is _docwrite.frame_parts


def test_a_deadline_reused_or_replaced_writes_its_own_text() -> None:
    # (the writer keeps the last deadline's text by identity: a relay's calls within a
    # millisecond share one deadline object)
    first, second = GoTime(1_700_000_000 * NS, 0), GoTime(1_700_000_001 * NS, 3600)
    for deadline in (first, first, second, first, second, second):
        fields = (PacketType.REQUEST, 3, 1, b"m", b"eHh4", "", b"", "", 0, deadline, ZERO_TIME)
        assert assert_agrees(*fields) is not None
