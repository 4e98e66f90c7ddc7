"""What the entry and a connector say to each other over one geminio stream. Pure.

Every relayed connection (and every scan) is one stream that the entry opens to the
connector's edge ID. The stream's **meta** is the request (`OpenRequest`, JSON: dial
``host:port`` or scan networks); from then on the stream's raw bytes carry **frames**, a
5-byte header (type, payload length, big-endian) and the payload:

====== ====== =====================================================================
type   code   payload
====== ====== =====================================================================
STATUS 1      connector -> entry, the first frame: JSON (`Status`) saying whether the
              connector dialed (or will scan), with its receive window and its proof
DATA   2      bytes of the relayed connection, within the receiver's credit
EOF    3      empty: the sender will send no more DATA (a TCP half-close)
WINDOW 4      4 bytes: more credit for the other side's DATA (flow control)
ABORT  5      UTF-8 reason: the connection failed (reset, idle, lost); no more frames
REPORT 6      connector -> entry (scans): JSON progress or result
====== ====== =====================================================================

Why frames and not the stream's bytes as they are: geminio has no half-close (closing a
stream closes both directions) and no per-stream flow control (an unread stream stops its
whole connection, so one slow user of one app would stall every other tunnel of that
connector). Here each side may have at most its peer's announced window of DATA
unacknowledged; the receiver grants it back (WINDOW) as its socket takes the bytes. A
window below geminio's per-stream buffer bound (1 MiB) means a stream's buffer never
reaches that bound, so the connection is never paused on one tunnel's account, and a peer
that never reads holds at most one window per tunnel of the other side's memory.

**Proofs.** The entry and a connector share the connector's token; the gateway between them
routes by edge ID and never sees the token. Each request carries
``auth = HMAC-SHA256(token, "frontier-tunnel/1/open" nonce op subject)`` and each answer
``proof = HMAC-SHA256(token, "frontier-tunnel/1/status" nonce code)``: a connector serves
only requests from whoever holds its token (not any service on the gateway), and the entry
relays a user's bytes only to a far end that holds it (not whatever edge has the ID). The
connector's edge meta carries ``HMAC(token, "frontier-tunnel/1/connector" name)``, never
the token itself, so the gateway's control API (which lists metas) cannot leak it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_META",
    "MAX_WINDOW",
    "PROTOCOL",
    "Abort",
    "ConnectorMeta",
    "Credit",
    "Data",
    "Eof",
    "FrameType",
    "OpenRequest",
    "Report",
    "RequestError",
    "ScanRequest",
    "Status",
    "StatusCode",
    "TunnelProtocol",
    "TunnelProtocolError",
    "connector_edge_id",
    "connector_proof",
    "new_nonce",
    "open_auth",
    "parse_target",
    "status_proof",
]

PROTOCOL: Final = 1
"""The version in every request; a connector refuses others with ``bad_request``."""

DEFAULT_WINDOW: Final = 512 * 1024
MIN_WINDOW: Final = 16 * 1024
MAX_WINDOW: Final = 960 * 1024
"""Below geminio's 1 MiB per-stream buffer bound, with room for frame headers: a window up
to here can never pause the shared connection."""

MAX_META: Final = 16 * 1024
"""Largest request (stream meta) a connector reads."""

_HEADER: Final = struct.Struct(">BI")
HEADER_SIZE: Final = _HEADER.size
_WINDOW: Final = struct.Struct(">I")
_MAX_CREDIT: Final = 1 << 31
_MAX_DATA_FRAME: Final = 1 << 20


class FrameType(IntEnum):
    STATUS = 1
    DATA = 2
    EOF = 3
    WINDOW = 4
    ABORT = 5
    REPORT = 6


_MAX_PAYLOAD: Final[Mapping[int, int]] = {
    FrameType.STATUS: 64 * 1024,
    FrameType.DATA: _MAX_DATA_FRAME,
    FrameType.EOF: 0,
    FrameType.WINDOW: _WINDOW.size,
    FrameType.ABORT: 4096,
    FrameType.REPORT: 4 * 1024 * 1024,
}
"""Bounds per frame type, checked on the header before any payload is kept."""


class StatusCode:
    """The codes of a `Status` (stable texts: logs, metrics and HTTP answers use them)."""

    OK: Final = "ok"
    NOT_ALLOWED: Final = "not_allowed"
    UNREACHABLE: Final = "unreachable"
    TIMEOUT: Final = "timeout"
    BAD_REQUEST: Final = "bad_request"
    UNAUTHORIZED: Final = "unauthorized"
    BUSY: Final = "busy"
    ERROR: Final = "error"

    ALL: Final = frozenset(
        {OK, NOT_ALLOWED, UNREACHABLE, TIMEOUT, BAD_REQUEST, UNAUTHORIZED, BUSY, ERROR}
    )


class TunnelProtocolError(Exception):
    """The peer broke the frame protocol (unknown type, oversized frame, DATA beyond its
    window, frames out of order): the tunnel is aborted."""


class RequestError(ValueError):
    """A request (stream meta) that cannot be served as written; the text says why."""


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Status:
    """The connector's answer. ``window``: how much DATA the entry may send before credit
    comes back. ``proof``: `status_proof` (empty when the connector could not compute one:
    the request was unreadable)."""

    code: str
    error: str = ""
    window: int = 0
    proof: str = ""

    @property
    def ok(self) -> bool:
        return self.code == StatusCode.OK

    def encode(self) -> bytes:
        doc = {"code": self.code, "error": self.error, "window": self.window, "proof": self.proof}
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Status:
        doc = _json_object(payload, "status")
        code = doc.get("code")
        error = doc.get("error", "")
        window = doc.get("window", 0)
        proof = doc.get("proof", "")
        if code not in StatusCode.ALL or not isinstance(error, str) or not isinstance(proof, str):
            raise TunnelProtocolError("malformed status frame")
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= MAX_WINDOW:
            raise TunnelProtocolError("status frame with a bad window")
        if code == StatusCode.OK and window < MIN_WINDOW:
            raise TunnelProtocolError("status ok without a usable window")
        return cls(code, error, window, proof)


@dataclass(frozen=True, slots=True)
class Data:
    data: bytes


@dataclass(frozen=True, slots=True)
class Eof:
    pass


@dataclass(frozen=True, slots=True)
class Credit:
    """The peer granted more credit (already added to `TunnelProtocol.send_credit`)."""

    added: int


@dataclass(frozen=True, slots=True)
class Abort:
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    doc: dict[str, Any]


Event = Status | Data | Eof | Credit | Abort | Report

_EOF: Final = Eof()


def _json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise TunnelProtocolError(f"{what} frame is not JSON") from None
    if not isinstance(doc, dict):
        raise TunnelProtocolError(f"{what} frame is not a JSON object")
    return doc


# --------------------------------------------------------------------------- protocol


class TunnelProtocol:
    """One side of one tunnel: frames in, events out; calls in, frame bytes out.

    `we_are` says which side this is, so that frames only the other side may send are
    checked (a connector never receives STATUS; an entry gets STATUS first, once).
    `receive_window` is what the peer may send us unacknowledged; `consumed(n)` hands
    credit back once the application took `n` bytes. The sending credit starts at 0 and
    is set by `start_sending(window)` with the peer's announced window."""

    __slots__ = (
        "_body",
        "_granted_eof",
        "_header",
        "_peer_eof",
        "_peer_may_send",
        "_receive_window",
        "_remaining",
        "_status_seen",
        "_type",
        "_unacked",
        "_we_are",
        "send_credit",
    )

    def __init__(self, *, we_are: Literal["entry", "connector"], receive_window: int) -> None:
        if not MIN_WINDOW <= receive_window <= MAX_WINDOW:
            raise ValueError(f"receive window must be {MIN_WINDOW}..{MAX_WINDOW} bytes")
        self._we_are = we_are
        self._receive_window = receive_window
        self._peer_may_send = receive_window
        self._unacked = 0
        self.send_credit = 0
        self._header = bytearray()
        self._type = 0
        self._remaining = -1  # payload bytes of the current frame still to come; -1: header
        self._body = bytearray()
        self._status_seen = we_are == "connector"
        self._peer_eof = False
        self._granted_eof = False

    @property
    def receive_window(self) -> int:
        return self._receive_window

    @property
    def peer_eof(self) -> bool:
        """The peer sent EOF: no more DATA comes."""
        return self._peer_eof

    def start_sending(self, window: int) -> None:
        """The peer's announced receive window: our initial credit."""
        self.send_credit = window

    # -------------------------------------------------------------------- receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Frame bytes in any chunking -> events; `TunnelProtocolError` on a violation
        (the tunnel must then be aborted: nothing after it is trusted)."""
        events: list[Event] = []
        view = memoryview(data)
        pos = 0
        end = len(view)
        while pos < end:
            if self._remaining < 0:
                need = HEADER_SIZE - len(self._header)
                if not self._header and end - pos >= HEADER_SIZE:
                    kind, length = _HEADER.unpack_from(view, pos)
                    pos += HEADER_SIZE
                else:
                    take = min(need, end - pos)
                    self._header += view[pos : pos + take]
                    pos += take
                    if len(self._header) < HEADER_SIZE:
                        break
                    kind, length = _HEADER.unpack(self._header)
                    self._header.clear()
                self._begin(kind, length, events)
                continue
            take = min(self._remaining, end - pos)
            if self._type == FrameType.DATA:
                if take:
                    events.append(Data(bytes(view[pos : pos + take])))
            else:
                self._body += view[pos : pos + take]
            pos += take
            self._remaining -= take
            if self._remaining == 0:
                self._finish(events)
        return events

    def _begin(self, kind: int, length: int, events: list[Event]) -> None:
        limit = _MAX_PAYLOAD.get(kind)
        if limit is None:
            raise TunnelProtocolError(f"unknown frame type {kind}")
        if length > limit:
            raise TunnelProtocolError(f"{FrameType(kind).name} frame of {length} bytes")
        if kind == FrameType.WINDOW and length != _WINDOW.size:
            raise TunnelProtocolError("WINDOW frame without a 4-byte increment")
        if kind in (FrameType.STATUS, FrameType.REPORT) and self._we_are == "connector":
            raise TunnelProtocolError(f"the entry sent {FrameType(kind).name}")
        if not self._status_seen and kind != FrameType.STATUS:
            raise TunnelProtocolError(f"{FrameType(kind).name} before STATUS")
        if self._status_seen and kind == FrameType.STATUS and self._we_are == "entry":
            raise TunnelProtocolError("a second STATUS")
        if kind == FrameType.DATA:
            if self._peer_eof:
                raise TunnelProtocolError("DATA after EOF")
            if length > self._peer_may_send:
                raise TunnelProtocolError("DATA beyond the window")
            self._peer_may_send -= length
        self._type = kind
        self._remaining = length
        if length == 0:
            self._finish(events)

    def _finish(self, events: list[Event]) -> None:
        kind = self._type
        body = bytes(self._body)
        self._body.clear()
        self._remaining = -1
        if kind == FrameType.DATA:
            return  # its bytes were handed on as they came
        if kind == FrameType.STATUS:
            self._status_seen = True
            events.append(Status.decode(body))
        elif kind == FrameType.EOF:
            if self._peer_eof:
                raise TunnelProtocolError("a second EOF")
            self._peer_eof = True
            events.append(_EOF)
        elif kind == FrameType.WINDOW:
            (added,) = _WINDOW.unpack(body)
            if added == 0 or self.send_credit + added > _MAX_CREDIT:
                raise TunnelProtocolError("WINDOW increment out of range")
            self.send_credit += added
            events.append(Credit(added))
        elif kind == FrameType.ABORT:
            events.append(Abort(body.decode("utf-8", "replace")))
        elif kind == FrameType.REPORT:
            events.append(Report(_json_object(body, "report")))

    # ---------------------------------------------------------------------- sending

    def send_data(self, data: bytes | bytearray | memoryview) -> bytes:
        """One DATA frame; `len(data)` must fit `send_credit` (the caller reads at most
        that much from its socket)."""
        size = len(data)
        if not 0 < size <= min(self.send_credit, _MAX_DATA_FRAME):
            raise ValueError(f"{size} bytes do not fit the credit of {self.send_credit}")
        self.send_credit -= size
        return _HEADER.pack(FrameType.DATA, size) + data

    def consumed(self, size: int) -> bytes:
        """The application took `size` received bytes: a WINDOW frame to send once a
        quarter of the window is due back (b"" until then, and after the peer's EOF)."""
        self._unacked += size
        if self._peer_eof or self._unacked < self._receive_window // 4:
            return b""
        added, self._unacked = self._unacked, 0
        self._peer_may_send += added
        return _HEADER.pack(FrameType.WINDOW, _WINDOW.size) + _WINDOW.pack(added)

    @staticmethod
    def send_eof() -> bytes:
        return _HEADER.pack(FrameType.EOF, 0)

    @staticmethod
    def send_abort(reason: str) -> bytes:
        payload = reason.encode()[: _MAX_PAYLOAD[FrameType.ABORT]]
        return _HEADER.pack(FrameType.ABORT, len(payload)) + payload

    @staticmethod
    def send_status(status: Status) -> bytes:
        payload = status.encode()
        return _HEADER.pack(FrameType.STATUS, len(payload)) + payload

    @staticmethod
    def send_report(doc: Mapping[str, Any]) -> bytes:
        payload = json.dumps(doc, separators=(",", ":")).encode()
        if len(payload) > _MAX_PAYLOAD[FrameType.REPORT]:
            raise ValueError(f"report of {len(payload)} bytes is too large")
        return _HEADER.pack(FrameType.REPORT, len(payload)) + payload


# ---------------------------------------------------------------------------- targets

_HOSTNAME: Final = re.compile(r"(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                              r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?")  # fmt: skip


def parse_target(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) -> (host, port): the host an IP literal (as written,
    IPv6 without brackets) or a DNS name (lower-cased). `RequestError` otherwise."""
    if not isinstance(text, str) or len(text) > 300:
        raise RequestError("the target must be host:port")
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise RequestError(f"{text!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise RequestError(f"{text!r}: port out of range")
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), port
        except ValueError:
            raise RequestError(f"{text!r}: not an IPv6 address in brackets") from None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if address.version == 6:
            raise RequestError(f"{text!r}: write IPv6 addresses as [address]:port")
        return str(address), port
    name = host.lower()
    if not name.isascii() or _HOSTNAME.fullmatch(name) is None:
        raise RequestError(f"{text!r}: {host!r} is neither an address nor a host name")
    return name, port


def format_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Discover services: every ``ip:port`` of `nets` x `ports` that the connector's
    allowlist allows is probed. `timeout` is the connect timeout per probe, `concurrency`
    the number of probes at once (the connector caps both)."""

    nets: tuple[str, ...]
    ports: tuple[str, ...]
    """Ports and ranges as text: ``"22"``, ``"8000-8100"``."""
    timeout: float = 2.0
    concurrency: int = 100

    def canonical(self) -> str:
        """The text the request's auth covers."""
        doc = {
            "nets": list(self.nets),
            "ports": list(self.ports),
            "timeout": self.timeout,
            "concurrency": self.concurrency,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_doc(cls, doc: object) -> ScanRequest:
        if not isinstance(doc, dict):
            raise RequestError("scan: expected an object")
        nets, ports = doc.get("nets"), doc.get("ports")
        timeout = doc.get("timeout", 2.0)
        concurrency = doc.get("concurrency", 100)
        if not isinstance(nets, list) or not nets or not all(isinstance(n, str) for n in nets):
            raise RequestError("scan.nets: a non-empty list of CIDRs")
        if not isinstance(ports, list) or not ports:
            raise RequestError("scan.ports: a non-empty list of ports or 'low-high' ranges")
        texts = []
        for port in ports:
            if isinstance(port, int) and not isinstance(port, bool):
                texts.append(str(port))
            elif isinstance(port, str):
                texts.append(port)
            else:
                raise RequestError(f"scan.ports: {port!r} is not a port")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise RequestError("scan.timeout: seconds > 0")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise RequestError("scan.concurrency: an integer >= 1")
        return cls(tuple(nets), tuple(texts), float(timeout), concurrency)


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """The stream meta: what the entry asks of the connector."""

    op: Literal["dial", "scan"]
    nonce: str
    auth: str
    window: int
    to: str = ""
    """dial: the ``host:port`` to connect to."""
    app: str = ""
    """The app's name, for the connector's logs."""
    idle: float | None = None
    """dial: seconds without a byte either way before the connection is dropped; 0 never;
    None: the connector's own default."""
    scan: ScanRequest | None = field(default=None)

    @property
    def subject(self) -> str:
        """What `auth` covers besides the nonce and op."""
        if self.op == "scan":
            assert self.scan is not None
            return self.scan.canonical()
        return self.to

    def encode(self) -> bytes:
        doc: dict[str, Any] = {
            "v": PROTOCOL,
            "op": self.op,
            "nonce": self.nonce,
            "auth": self.auth,
            "window": self.window,
        }
        if self.op == "dial":
            doc.update(to=self.to, app=self.app)
            if self.idle is not None:
                doc["idle"] = self.idle
        else:
            assert self.scan is not None
            doc["scan"] = json.loads(self.scan.canonical())
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, meta: bytes) -> OpenRequest:
        """`RequestError` with the reason for anything a connector should refuse."""
        if len(meta) > MAX_META:
            raise RequestError(f"request of {len(meta)} bytes (at most {MAX_META})")
        try:
            doc = json.loads(meta)
        except (ValueError, UnicodeDecodeError):
            raise RequestError("the request is not JSON") from None
        if not isinstance(doc, dict):
            raise RequestError("the request is not a JSON object")
        if doc.get("v") != PROTOCOL:
            raise RequestError(f"protocol version {doc.get('v')!r} (this connector speaks 1)")
        op, nonce, auth, window = (doc.get(k) for k in ("op", "nonce", "auth", "window"))
        if op not in ("dial", "scan"):
            raise RequestError(f"unknown op {op!r}")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
            raise RequestError("nonce: 16 to 128 characters")
        if not isinstance(auth, str) or len(auth) > 128:
            raise RequestError("auth: a hex HMAC")
        if isinstance(window, bool) or not isinstance(window, int):
            raise RequestError("window: an integer")
        if not MIN_WINDOW <= window <= MAX_WINDOW:
            raise RequestError(f"window: {MIN_WINDOW}..{MAX_WINDOW} bytes")
        if op == "scan":
            return cls("scan", nonce, auth, window, scan=ScanRequest.from_doc(doc.get("scan")))
        to, app, idle = doc.get("to"), doc.get("app", ""), doc.get("idle")
        if not isinstance(to, str):
            raise RequestError("to: host:port")
        parse_target(to)
        if not isinstance(app, str) or len(app) > 200:
            raise RequestError("app: a name")
        if idle is not None and (
            isinstance(idle, bool) or not isinstance(idle, int | float) or idle < 0
        ):
            raise RequestError("idle: seconds >= 0")
        seconds = None if idle is None else float(idle)
        return cls("dial", nonce, auth, window, to=to, app=app, idle=seconds)


# ----------------------------------------------------------------------------- proofs


def _mac(token: str, *parts: str) -> str:
    message = "\n".join(("frontier-tunnel/1", *parts)).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def open_auth(token: str, nonce: str, op: str, subject: str) -> str:
    return _mac(token, "open", nonce, op, subject)


def status_proof(token: str, nonce: str, code: str) -> str:
    return _mac(token, "status", nonce, code)


def connector_proof(token: str, name: str) -> str:
    return _mac(token, "connector", name)


def proofs_match(given: str, expected: str) -> bool:
    """Constant-time comparison (timing reveals nothing of how much matched)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def connector_edge_id(name: str) -> int:
    """The edge ID the entry gives connector `name`: derived from the name, so it is the
    same across the connector's reconnects, the entry's restarts and every entry and
    gateway of a cluster (the entry needs no state to reach a connector). In [2^52, 2^53):
    exact in JSON numbers, and disjoint from the IDs gateways allocate themselves
    (milliseconds since 1970, times 1024 in cluster mode, stay below 2^52 until 2109)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"frontier-tunnel").digest()
    return (int.from_bytes(digest, "big") & ((1 << 52) - 1)) | (1 << 52)


@dataclass(frozen=True, slots=True)
class ConnectorMeta:
    """A connector's edge meta: its name and `connector_proof`."""

    name: str
    proof: str

    def encode(self) -> bytes:
        doc = {"tunnel": PROTOCOL, "name": self.name, "proof": self.proof}
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, meta: bytes) -> ConnectorMeta:
        try:
            doc = json.loads(meta)
        except (ValueError, UnicodeDecodeError):
            raise RequestError("not a frontier-tunnel connector (meta is not JSON)") from None
        if not isinstance(doc, dict) or doc.get("tunnel") != PROTOCOL:
            raise RequestError("not a frontier-tunnel connector (protocol 1)")
        name, proof = doc.get("name"), doc.get("proof")
        if not isinstance(name, str) or not name or len(name) > 200:
            raise RequestError("connector meta without a name")
        if not isinstance(proof, str) or len(proof) > 128:
            raise RequestError("connector meta without a proof")
        return cls(name, proof)
