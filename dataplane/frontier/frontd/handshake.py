"""The client's request, sans-I/O: bytes in, a `Request` (or a `Rejected`) out, and the
status the gateway answers with.

Three request forms, told apart by the first bytes:

- **line**: the base64 ciphertext of ``host:port`` and ``\\n`` (a ``\\r`` before it and
  blanks around it are ignored). Anything the client sent after the newline is *early data*,
  forwarded to the backend before the relay starts.
- **http**: the first line is an HTTP/1.x request line. The ciphertext is the value of the
  ``X-Cipher-Origin`` header, which is removed; the client's address is appended to
  ``X-Forwarded-For`` (existing values kept, one header); the rewritten head, then whatever
  followed it, goes to the backend. The head, request line included, is size-limited.
  Only the first request of a connection is rewritten: later requests on a kept-alive
  connection pass through unchanged (the gateway relays bytes; it does not parse HTTP).
- **binary**: a 0x00 byte, one length byte, then that many bytes of raw (not base64)
  ciphertext: the original frontd's compact form, accepted for old clients.

A line longer than `max_line` that does not start like an HTTP request line, a head longer
than `max_header`, a malformed head, or a connection that ends first is a `Rejected` with
status 400. Nothing here raises on input: every byte string ends in one of the two results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

__all__ = [
    "HandshakeParser",
    "Mode",
    "Refusal",
    "Rejected",
    "Request",
    "Status",
    "StatusFormat",
    "render",
]

Mode = Literal["line", "http", "binary"]
StatusFormat = Literal["line", "byte"]


class Status(IntEnum):
    OK = 200
    BAD_REQUEST = 400
    """Error reading the request: bad base64, no newline within the limit, a timeout, EOF."""
    DECRYPT_FAILED = 401
    """Not decryptable to an address with this secret, or an address outside the allowlist."""
    BAD_GATEWAY = 502
    """The backend cannot be connected to (refused, unreachable, name not resolved)."""
    GATEWAY_TIMEOUT = 504
    """Connecting to the backend took longer than the timeout."""


class Refusal(Exception):
    """A request that gets `status` instead of a relay (raised past the parser: bad
    ciphertext, a refused or unreachable backend)."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    mode: Mode
    ciphertext: bytes
    """base64 text (line, http) or raw bytes (binary)."""
    head: bytes
    """What goes to the backend before `rest`: the rewritten HTTP head, or b""."""
    rest: bytes
    """Bytes the client sent after the request (early data)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    mode: Mode
    reason: str
    status: Status = Status.BAD_REQUEST


# A request line: method token, a target without blanks, HTTP/1.x (RFC 9112 section 3).
_REQUEST_LINE: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \t\r\n]+ HTTP/1\.[01]\r?")
_REQUEST_START: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} ")
_FIELD: Final = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\x00-\x08\n-\x1f\x7f]*?)[ \t]*\r?"
)
_HEAD_END: Final = re.compile(rb"\n\r?\n")
_CIPHER_HEADER: Final = b"x-cipher-origin"
_XFF_HEADER: Final = b"x-forwarded-for"
_BLANKS: Final = b" \t\r"


class HandshakeParser:
    """Feed the client's bytes until `feed` returns a result; then stop feeding.

    `client_ip` is what HTTP mode appends to ``X-Forwarded-For``. `max_line` bounds the
    line (and binary) forms, `max_header` the HTTP head."""

    __slots__ = (
        "_buffer",
        "_client_ip",
        "_done",
        "_first_end",
        "_scanned",
        "max_header",
        "max_line",
    )

    def __init__(self, client_ip: str, *, max_line: int = 1024, max_header: int = 8192) -> None:
        self._client_ip = client_ip.encode("ascii", "replace")
        self.max_line = max_line
        self.max_header = max_header
        self._buffer = bytearray()
        self._done = False
        self._first_end = -1  # where an HTTP request line ends, once seen
        self._scanned = 0  # how far the head was searched for its end

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> Request | Rejected | None:
        """The request once complete, a `Rejected`, or None while more bytes are needed."""
        if self._done:
            raise RuntimeError("the handshake is already complete")
        self._buffer += data
        buffer = self._buffer
        if not buffer:
            return None
        result = self._binary(buffer) if buffer[0] == 0 else self._text(buffer)
        if result is not None:
            self._done = True
            self._buffer = bytearray()
        return result

    def incomplete(self, reason: str) -> Rejected:
        """The client stopped (EOF, or the deadline passed) before completing a request."""
        self._done = True
        mode: Mode = "binary" if self._buffer[:1] == b"\0" else "line"
        if mode == "line" and _REQUEST_START.match(self._buffer):
            mode = "http"
        return Rejected(mode, reason)

    def _binary(self, buffer: bytearray) -> Request | Rejected | None:
        if len(buffer) < 2:
            return None
        length = buffer[1]
        if length == 0:
            return Rejected("binary", "binary request with a zero length")
        if len(buffer) < 2 + length:
            return None
        return Request("binary", bytes(buffer[2 : 2 + length]), b"", bytes(buffer[2 + length :]))

    def _text(self, buffer: bytearray) -> Request | Rejected | None:
        if self._first_end >= 0:
            return self._http(buffer, self._first_end)
        end = buffer.find(b"\n", self._scanned, self.max_header + 1)
        if end < 0:
            self._scanned = len(buffer)
            if len(buffer) <= self.max_line:
                return None
            if not _REQUEST_START.match(buffer):
                return Rejected("line", f"no newline within {self.max_line} bytes")
            if len(buffer) <= self.max_header:
                return None
            return Rejected("http", f"request line longer than {self.max_header} bytes")
        line = buffer[:end]
        if _REQUEST_LINE.fullmatch(line):
            self._first_end = self._scanned = end
            return self._http(buffer, end)
        if end > self.max_line:
            return Rejected("line", f"no newline within {self.max_line} bytes")
        ciphertext = bytes(line.strip(_BLANKS))
        if not ciphertext:
            return Rejected("line", "empty request line")
        return Request("line", ciphertext, b"", bytes(buffer[end + 1 :]))

    def _http(self, buffer: bytearray, first_end: int) -> Request | Rejected | None:
        """A complete head (up to the blank line) rewritten, or None until it is here.

        The head is parsed once, when its end is in the buffer; until then each feed only
        searches the new bytes for it, so a client trickling bytes costs linear time."""
        limit = self.max_header + 1
        head_end = _HEAD_END.search(buffer, max(self._scanned - 2, 0), limit)
        if head_end is None:
            if len(buffer) > self.max_header:
                return Rejected("http", f"HTTP head larger than {self.max_header} bytes")
            self._scanned = len(buffer)
            return None
        terminator = b"\r\n" if buffer[first_end - 1 : first_end] == b"\r" else b"\n"
        kept = [bytes(buffer[: first_end + 1])]
        forwarded: list[bytes] = []
        cipher: bytes | None = None
        start = first_end + 1
        while True:
            end = buffer.find(b"\n", start, limit)
            line = bytes(buffer[start:end])
            if line in (b"", b"\r"):
                break
            if line[:1] in (b" ", b"\t"):
                return Rejected("http", "obsolete header line folding")
            field = _FIELD.fullmatch(line)
            if field is None:
                return Rejected("http", "malformed header line")
            name, value = field.group(1).lower(), field.group(2)
            if name == _CIPHER_HEADER:
                if cipher is not None:
                    return Rejected("http", "more than one X-Cipher-Origin header")
                cipher = value
            elif name == _XFF_HEADER:
                if value:
                    forwarded.append(value)
            else:
                kept.append(bytes(buffer[start : end + 1]))
            start = end + 1
        if not cipher:
            return Rejected("http", "no X-Cipher-Origin header")
        forwarded.append(self._client_ip)
        kept.append(b"X-Forwarded-For: " + b", ".join(forwarded) + terminator)
        kept.append(bytes(buffer[start : end + 1]))
        return Request("http", cipher, b"".join(kept), bytes(buffer[end + 1 :]))


_BYTE_CODES: Final = {
    Status.OK: b"",
    Status.BAD_REQUEST: b"\x04",
    Status.DECRYPT_FAILED: b"\x06",
    Status.BAD_GATEWAY: b"\x02",
    Status.GATEWAY_TIMEOUT: b"\x01",
}
_REASONS: Final = {
    Status.OK: "OK",
    Status.BAD_REQUEST: "Bad Request",
    Status.DECRYPT_FAILED: "Unauthorized",
    Status.BAD_GATEWAY: "Bad Gateway",
    Status.GATEWAY_TIMEOUT: "Gateway Timeout",
}


def render(status: Status, mode: Mode, status_format: StatusFormat = "line") -> bytes:
    """What the client reads for `status`: ``200\\n``-style lines (or the original's single
    bytes with ``byte``) in line and binary mode; an HTTP response for an HTTP error, and
    nothing for HTTP success (the backend answers the request)."""
    if mode == "http":
        if status is Status.OK:
            return b""
        body = f"{status.value} {_REASONS[status]}\n".encode()
        return (
            f"HTTP/1.1 {status.value} {_REASONS[status]}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
    if status_format == "byte":
        return _BYTE_CODES[status]
    return b"%d\n" % status.value
