"""The compiled build's document scanner (`frontier.geminio._docscan`, Cython) against the
Python path it stands in for (`documents._read_message_doc_python`, the pure build's).

The contract: for any bytes, the scanner either returns exactly the fields the Python path
returns, or None (then the Python path runs, and decides, errors included). It never raises
for what a peer sends, and it takes every document our encoder and Go's json.Marshal write,
or it would buy nothing. Hypothesis generates canonical documents, then mutates, truncates
and embeds them in larger buffers.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from frontier.geminio import documents
from frontier.geminio.documents import message_doc_of
from frontier.geminio.errors import BadJSON
from frontier.geminio.gojson import ZERO_TIME
from support.go_values import NS, compiled_accelerator, go_times, plain_texts

_docscan = compiled_accelerator("_docscan")

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)

plain = plain_texts
int64s = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, -1, 2**63 - 1]))


@st.composite
def canonical_docs(draw: st.DrawFn) -> bytes:
    return message_doc_of(
        draw(st.binary(max_size=24)),
        draw(st.binary(max_size=80)),
        draw(plain),
        draw(st.binary(max_size=16)),
        draw(plain),
        draw(int64s),
        draw(go_times),
        draw(go_times),
    )


def python_path(buf: bytes | bytearray, start: int, end: int) -> Any:
    """The Python path's answer: the fields, or the exception type it raises."""
    try:
        return documents._read_message_doc_python(buf, start, end, end - start)
    except (BadJSON, ValueError) as exc:
        return type(exc)


def assert_agrees(buf: bytes | bytearray, start: int = 0, end: int | None = None) -> Any:
    stop = len(buf) if end is None else end
    scanned = _docscan.scan(buf, start, stop)
    if scanned is not None:
        assert scanned == python_path(buf, start, stop), bytes(buf[start:stop])
    return scanned


@relaxed
@given(canonical_docs())
@example(message_doc_of(b"echo", b"x" * 64, "", b"\0" * 8, "", 30 * NS, ZERO_TIME, ZERO_TIME))
@example(message_doc_of(b"", b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME))  # the empty doc
def test_takes_every_document_the_encoder_writes(doc: bytes) -> None:
    assert assert_agrees(doc) is not None, doc


# Bytes worth splicing in: the syntax the shape is made of, base64's edges, escapes.
_NOISE = st.sampled_from(
    [b'"', b"\\", b"{", b"}", b":", b",", b"=", b"==", b"-", b"0", b"9", b" ", b"\x00",
     b"\xff", b"A", b"/", b"+", b"null", b'"key":"', b'"value":"', b"e", b"\xc3\xa9"]
)  # fmt: skip


@relaxed
@given(canonical_docs(), st.lists(st.tuples(st.integers(0, 400), _NOISE), max_size=4))
def test_mutated_documents_are_read_alike_or_left_to_the_python_path(
    doc: bytes, edits: list[tuple[int, bytes]]
) -> None:
    mutated = bytearray(doc)
    for where, noise in edits:
        at = where % (len(mutated) + 1)
        if where % 2:
            mutated[at : at + len(noise)] = noise  # overwrite
        else:
            mutated[at:at] = noise  # insert
    assert_agrees(bytes(mutated))


@relaxed
@given(canonical_docs(), st.integers(0, 400))
def test_every_truncation_is_refused_or_read_alike(doc: bytes, cut: int) -> None:
    assert_agrees(doc[: cut % (len(doc) + 1)])


@relaxed
@given(canonical_docs(), st.binary(max_size=8), st.binary(max_size=8), st.booleans())
def test_reads_only_between_start_and_end(
    doc: bytes, before: bytes, after: bytes, mutable: bool
) -> None:
    framed = before + doc + after
    buf: bytes | bytearray = bytearray(framed) if mutable else framed
    assert assert_agrees(buf, len(before), len(before) + len(doc)) is not None


@pytest.mark.parametrize(
    "value_text",
    [b"eA==", b"eB==", b"eHk=", b"eHl=", b"eHh4", b"", b"AAAA", b"//8="],
)
def test_value_texts_are_spliced_only_when_canonical(value_text: bytes) -> None:
    doc = (
        b'{"value":"' + value_text + b'","deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}'
    )
    scanned = assert_agrees(doc)
    assert scanned is not None
    _, data, *_, value_b64 = scanned
    if value_text in (b"eB==", b"eHl="):  # trailing bits set: decoded, sent encoded anew
        assert value_b64 is None
        assert data == python_path(doc, 0, len(doc))[1]
    elif value_text:
        assert data is None
        assert value_b64 == value_text
    else:
        assert data == b""
        assert value_b64 is None


@pytest.mark.parametrize(
    ("timeout", "taken"),
    [
        (b"9223372036854775807", True),
        (b"-9223372036854775808", True),
        (b"9223372036854775808", False),  # overflows an int64: the Python path reports it
        (b"-9223372036854775809", False),
        (b"99999999999999999999", False),  # 20 digits
        (b"0", False),  # json.Marshal omits a zero timeout
        (b"-0", False),
        (b"007", False),
        (b"1.5", False),
    ],
)
def test_timeouts_at_the_int64_edges(timeout: bytes, taken: bool) -> None:
    doc = (
        b'{"timeout":' + timeout + b',"deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}'
    )
    scanned = assert_agrees(doc)
    assert (scanned is not None) is taken
    if scanned is not None:
        assert scanned[5] == int(timeout)


@pytest.mark.parametrize(
    "doc",
    [
        b'{"deadline":"2024-13-01T00:00:00Z","context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b'{"deadline":"0001-01-01T00:00:00Z","context":{"deadline":"0001-01-01T00:00:00Z"}} ',
        b'{"Key":"ZWNobw==","deadline":"0001-01-01T00:00:00Z","context":{"deadline":"x"}}',
        b'{"key":"ZWNobw=","deadline":"0001-01-01T00:00:00Z","context":{"deadline":"x"}}',
        b'{"topic":"a\\"b","deadline":"0001-01-01T00:00:00Z",'
        b'"context":{"deadline":"0001-01-01T00:00:00Z"}}',
        b"null",
        b"",
    ],
)
def test_what_is_not_canonical_is_left_to_the_python_path(doc: bytes) -> None:
    assert _docscan.scan(doc, 0, len(doc)) is None


def test_out_of_range_bounds_and_other_buffers_are_refused() -> None:
    doc = message_doc_of(b"k", b"v", "", b"", "", 0, ZERO_TIME, ZERO_TIME)
    assert _docscan.scan(doc, 0, len(doc) + 1) is None
    assert _docscan.scan(doc, -1, len(doc)) is None
    assert _docscan.scan(doc, 5, 4) is None
    assert _docscan.scan(memoryview(doc), 0, len(doc)) is None  # type: ignore[arg-type]


def test_the_decoder_uses_it_in_the_compiled_build() -> None:
    assert documents._scan is _docscan.scan
