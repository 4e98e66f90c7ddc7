"""The request parser (line, HTTP, binary), its limits, and the status answers."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from frontier.frontd.handshake import HandshakeParser, Rejected, Request, Status, render

CIPHER = b"U2FsdGVkX19KIJ9OQJKT/yHGMrS+5SsBAAjetomptQ0="


def parse(data: bytes, **limits: int) -> Request | Rejected | None:
    return HandshakeParser("203.0.113.9", **limits).feed(data)


def test_a_line_and_its_early_data() -> None:
    assert parse(CIPHER + b"\nhello") == Request("line", CIPHER, b"", b"hello")


@pytest.mark.parametrize("line", [CIPHER + b"\r\n", b"  " + CIPHER + b" \t\r\n"])
def test_blanks_and_cr_around_the_line_are_ignored(line: bytes) -> None:
    assert parse(line) == Request("line", CIPHER, b"", b"")


def test_more_bytes_are_needed_until_the_newline() -> None:
    parser = HandshakeParser("1.2.3.4")
    assert parser.feed(CIPHER[:10]) is None
    assert parser.feed(CIPHER[10:]) is None
    assert parser.feed(b"\nearly") == Request("line", CIPHER, b"", b"early")


def test_feeding_after_the_result_is_a_bug() -> None:
    parser = HandshakeParser("1.2.3.4")
    parser.feed(CIPHER + b"\n")
    with pytest.raises(RuntimeError):
        parser.feed(b"x")


def test_an_empty_line_is_rejected() -> None:
    assert parse(b"\r\n") == Rejected("line", "empty request line")


def test_no_newline_within_the_line_limit() -> None:
    result = parse(b"A" * 65, max_line=64, max_header=128)
    assert isinstance(result, Rejected)
    assert (result.mode, result.status) == ("line", Status.BAD_REQUEST)
    assert parse(b"A" * 64, max_line=64, max_header=128) is None


def test_a_long_line_that_is_not_http_is_rejected_even_with_its_newline() -> None:
    result = parse(b"A" * 100 + b"\n", max_line=64, max_header=128)
    assert isinstance(result, Rejected)
    assert result.mode == "line"


def test_binary_requests() -> None:
    raw = b"Salted__" + bytes(24)
    assert parse(b"\0" + bytes([len(raw)]) + raw + b"tail") == Request("binary", raw, b"", b"tail")
    assert parse(b"\0") is None
    assert parse(b"\0\x05abc") is None
    assert parse(b"\0\0") == Rejected("binary", "binary request with a zero length")


def test_incomplete_requests_say_which_mode_they_were_in() -> None:
    for data, mode in ((b"", "line"), (CIPHER[:5], "line"), (b"\0\x20", "binary"),
                       (b"GET / HTTP/1.1\r\nHost: x\r\n", "http"), (b"GET ", "http")):  # fmt: skip
        parser = HandshakeParser("1.2.3.4")
        parser.feed(data)
        result = parser.incomplete("timed out")
        assert (result.mode, result.status, result.reason) == (
            mode,
            Status.BAD_REQUEST,
            "timed out",
        )


HTTP = (
    b"GET /play?x=1 HTTP/1.1\r\n"
    b"Host: game.example\r\n"
    b"X-Cipher-Origin: " + CIPHER + b"\r\n"
    b"User-Agent: t\r\n"
    b"\r\n"
)


def test_http_mode_takes_the_header_removes_it_and_adds_the_client_to_xff() -> None:
    result = parse(HTTP + b"body")
    assert result == Request(
        "http",
        CIPHER,
        b"GET /play?x=1 HTTP/1.1\r\n"
        b"Host: game.example\r\n"
        b"User-Agent: t\r\n"
        b"X-Forwarded-For: 203.0.113.9\r\n"
        b"\r\n",
        b"body",
    )


def test_existing_forwarded_for_values_are_kept_in_one_header() -> None:
    head = (
        b"POST / HTTP/1.0\n"
        b"x-forwarded-for: 10.0.0.1\n"
        b"x-cipher-origin:" + CIPHER + b"  \n"
        b"X-Forwarded-For: 10.0.0.2, 10.0.0.3\n"
        b"\n"
    )
    result = parse(head)
    assert isinstance(result, Request)
    assert result.ciphertext == CIPHER
    assert result.head == (
        b"POST / HTTP/1.0\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 203.0.113.9\n\n"
    )


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "no X-Cipher-Origin"),
        (b"GET / HTTP/1.1\r\nX-Cipher-Origin:\r\n\r\n", "no X-Cipher-Origin"),
        (b"GET / HTTP/1.1\r\nX-Cipher-Origin: a\r\nx-cipher-origin: b\r\n\r\n", "more than one"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "folding"),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "malformed"),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed"),
        (b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", "malformed"),
    ],
)
def test_bad_http_heads(head: bytes, reason: str) -> None:
    result = parse(head)
    assert isinstance(result, Rejected)
    assert result.mode == "http"
    assert reason in result.reason


def test_the_http_head_is_size_limited() -> None:
    big = b"GET / HTTP/1.1\r\n" + b"A: " + b"x" * 200 + b"\r\n"
    assert parse(big, max_line=64, max_header=256) is None
    result = parse(big + b"B: " + b"y" * 60 + b"\r\n", max_line=64, max_header=256)
    assert isinstance(result, Rejected)
    assert "larger than 256" in result.reason


def test_a_long_request_line_is_allowed_up_to_the_header_limit() -> None:
    line = b"GET /" + b"p" * 150 + b" HTTP/1.1\r\n"
    head = line + b"X-Cipher-Origin: " + CIPHER + b"\r\n\r\n"
    result = parse(head, max_line=64, max_header=512)
    assert isinstance(result, Request)
    assert result.mode == "http"
    assert parse(b"GET /" + b"p" * 600, max_line=64, max_header=512) == Rejected(
        "http", "request line longer than 512 bytes"
    )


def test_not_http_1_is_not_http_mode() -> None:
    result = parse(b"GET / HTTP/2.0\r\n")
    assert isinstance(result, Request)
    assert result.mode == "line"  # then bad base64: the server answers 400


def test_a_trickle_of_single_bytes_costs_linear_time() -> None:
    parser = HandshakeParser("1.2.3.4", max_line=64, max_header=8192)
    data = b"GET / HTTP/1.1\r\n" + b"a:\r\n" * 2000
    for i in range(len(data)):
        assert parser.feed(data[i : i + 1]) is None
    # each feed searched only the new byte for the head's end
    assert parser._scanned == len(data)


@pytest.mark.parametrize(
    ("status", "line", "byte"),
    [
        (Status.OK, b"200\n", b""),
        (Status.BAD_REQUEST, b"400\n", b"\x04"),
        (Status.DECRYPT_FAILED, b"401\n", b"\x06"),
        (Status.BAD_GATEWAY, b"502\n", b"\x02"),
        (Status.GATEWAY_TIMEOUT, b"504\n", b"\x01"),
    ],
)
def test_status_answers(status: Status, line: bytes, byte: bytes) -> None:
    assert render(status, "line") == line
    assert render(status, "binary") == line
    assert render(status, "line", "byte") == byte
    http = render(status, "http", "byte")  # HTTP is answered in HTTP whatever the format
    if status is Status.OK:
        assert http == b""
    else:
        head, _, body = http.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d " % status.value)
        assert b"Content-Length: %d" % len(body) in head
        assert b"Connection: close" in head


requests = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda b, tail: b + b"\n" + tail, st.text("ABCab+/=", max_size=80).map(str.encode),
              st.binary(max_size=20)),
    st.builds(
        lambda headers, tail: b"GET / HTTP/1.1\r\n" + b"".join(headers) + b"\r\n" + tail,
        st.lists(st.sampled_from([b"Host: h\r\n", b"X-Cipher-Origin: " + CIPHER + b"\r\n",
                                  b"X-Forwarded-For: 1.1.1.1\r\n", b"Bad line\r\n", b" fold\r\n",
                                  b"A: b\n"]), max_size=5),
        st.binary(max_size=20),
    ),
    st.builds(lambda n, b: b"\0" + bytes([n]) + b, st.integers(0, 255), st.binary(max_size=40)),
)  # fmt: skip


@settings(max_examples=400)
@given(data=requests, cuts=st.lists(st.integers(0, 400), max_size=6))
@example(data=HTTP + b"tail", cuts=[5, 40, 41, 60])
def test_chunking_never_changes_the_result_and_nothing_raises(data: bytes, cuts: list[int]) -> None:
    whole = parse(data, max_line=128, max_header=256)
    parser = HandshakeParser("203.0.113.9", max_line=128, max_header=256)
    result = None
    points = sorted({c for c in cuts if c < len(data)} | {len(data)})
    start = 0
    for point in points:
        result = parser.feed(data[start:point])
        start = point
        if result is not None:
            break
    if isinstance(result, Request):
        # bytes after the request it was not fed yet are early data all the same
        result = Request(result.mode, result.ciphertext, result.head, result.rest + data[start:])
    assert result == whole


@settings(max_examples=200)
@given(data=requests)
def test_results_are_well_formed(data: bytes) -> None:
    result = parse(data, max_line=128, max_header=256)
    if isinstance(result, Request):
        assert result.ciphertext
        if result.mode == "http":
            assert result.head.endswith((b"\n\n", b"\r\n\r\n"))
            assert b"x-cipher-origin" not in result.head.lower()
            assert result.head.count(b"X-Forwarded-For: ") == 1
        else:
            assert result.head == b""
        assert data.endswith(result.rest)


@pytest.mark.parametrize(
    ("peer", "shown"),
    [
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_the_client_address_for_forwarded_for(peer: str, shown: str) -> None:
    from frontier.frontd.server import client_ip

    assert client_ip(peer) == shown
