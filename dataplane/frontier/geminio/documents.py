"""The compact JSON documents inside geminio bodies (ConnData, SessionData, MessageData,
RegisterData): encoding in Go struct field order with Go's `omitempty` rules, and decoding
with Go's leniency (case-folded keys, unknown keys, `null`) and its strictness (padded
base64, RFC 3339 times), so that what we emit and accept matches a Go peer (§A.4).
"""

from __future__ import annotations

from typing import TypeAlias

from .errors import BadJSON, EncodeError
from .gojson import (
    ZERO_TIME,
    GoTime,
    JSONObject,
    as_bytes,
    as_int64,
    as_object,
    as_string,
    as_time,
    decode_text,
    encode_bytes,
    encode_string,
    encode_time,
    fold_name,
    loads,
)
from .packets import MessageData

__all__ = [
    "Buffer",
    "MessageFields",
    "conn_doc",
    "message_doc",
    "read_conn_doc",
    "read_message_doc",
    "read_register_doc",
    "read_session_doc",
    "register_doc",
    "session_doc",
]

Buffer: TypeAlias = bytes | bytearray

_EMPTY_DOC = b"{}"


def _join_doc(members: list[bytes]) -> bytes:
    return b"{" + b",".join(members) + b"}" if members else _EMPTY_DOC


def conn_doc(meta: bytes, error: str) -> bytes:
    if not meta and not error:
        return _EMPTY_DOC
    members = []
    if meta:
        members.append(b'"meta":' + encode_bytes(meta))
    if error:
        members.append(b'"error":' + encode_string(error))
    return _join_doc(members)


def session_doc(meta: bytes, error: str, peer: str) -> bytes:
    if not meta and not error and not peer:
        return _EMPTY_DOC
    members = []
    if meta:
        members.append(b'"meta":' + encode_bytes(meta))
    if error:
        members.append(b'"error":' + encode_string(error))
    if peer:
        members.append(b'"peer":' + encode_string(peer))
    return _join_doc(members)


_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def message_doc(p: MessageData) -> bytes:
    members = []
    if p.key:
        members.append(b'"key":' + encode_bytes(p.key))
    if p.value:
        members.append(b'"value":' + encode_bytes(p.value))
    if p.topic:
        members.append(b'"topic":' + encode_string(p.topic))
    if p.custom:
        members.append(b'"custom":' + encode_bytes(p.custom))
    if p.error:
        members.append(b'"error":' + encode_string(p.error))
    if p.timeout:
        if not _INT64_MIN <= p.timeout <= _INT64_MAX:
            raise EncodeError(f"timeout {p.timeout}ns does not fit a Go time.Duration")
        members.append(b'"timeout":%d' % p.timeout)
    members.append(
        b'"deadline":'
        + encode_time(p.deadline)
        + b',"context":{"deadline":'
        + encode_time(p.context_deadline)
        + b"}"
    )
    return b"{" + b",".join(members) + b"}"


def register_doc(error: str) -> bytes:
    return b'{"error":' + encode_string(error) + b"}" if error else _EMPTY_DOC


def _load_doc(buf: Buffer, start: int, end: int) -> JSONObject | None:
    """The body's JSON document as pairs, or None when it sets nothing (`{}` or `null`)."""
    if end - start == 2 and buf[start] == 0x7B and buf[start + 1] == 0x7D:
        return None
    doc = loads(decode_text(buf[start:end]))
    if doc is None:
        return None  # Go unmarshals `null` into a pointer-to-struct as "leave it zero"
    if type(doc) is not tuple:
        raise BadJSON("cannot unmarshal a non-object document into a struct")
    return doc


def read_conn_doc(buf: Buffer, start: int, end: int) -> tuple[bytes, str]:
    meta, error = b"", ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            name = fold_name(key)
            if name == "meta":
                meta = b"" if value is None else as_bytes(value, "meta")
            elif name == "error" and value is not None:
                error = as_string(value, "error")
    return meta, error


def read_session_doc(buf: Buffer, start: int, end: int) -> tuple[bytes, str, str]:
    meta, error, peer = b"", "", ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            name = fold_name(key)
            if name == "meta":
                meta = b"" if value is None else as_bytes(value, "meta")
            elif value is None:
                continue
            elif name == "error":
                error = as_string(value, "error")
            elif name == "peer":
                peer = as_string(value, "peer")
    return meta, error, peer


def read_register_doc(buf: Buffer, start: int, end: int) -> str:
    error = ""
    doc = _load_doc(buf, start, end)
    if doc:
        for key, value in doc:
            if value is not None and fold_name(key) == "error":
                error = as_string(value, "error")
    return error


MessageFields: TypeAlias = tuple[bytes, bytes, str, bytes, str, int, GoTime, GoTime]
_NO_MESSAGE_FIELDS: MessageFields = (b"", b"", "", b"", "", 0, ZERO_TIME, ZERO_TIME)


# Field codes, looked up by the exact key first (what Go emits) and by Go's fold otherwise.
_KEY, _VALUE, _TOPIC, _CUSTOM, _ERROR, _TIMEOUT, _DEADLINE, _CONTEXT = range(1, 9)
_MESSAGE_FIELD = {
    "key": _KEY,
    "value": _VALUE,
    "topic": _TOPIC,
    "custom": _CUSTOM,
    "error": _ERROR,
    "timeout": _TIMEOUT,
    "deadline": _DEADLINE,
    "context": _CONTEXT,
}
_ZERO_TIME_TEXT = "0001-01-01T00:00:00Z"


def read_message_doc(buf: Buffer, start: int, end: int) -> MessageFields:
    doc = _load_doc(buf, start, end)
    if not doc:
        return _NO_MESSAGE_FIELDS
    key = value = custom = b""
    topic = error = ""
    timeout = 0
    deadline = context_deadline = ZERO_TIME
    for name, item in doc:
        field = _MESSAGE_FIELD.get(name) or _MESSAGE_FIELD.get(fold_name(name))
        if field is None:
            continue
        if item is None:
            # Go: null resets a []byte to nil and leaves every other kind untouched.
            if field == _KEY:
                key = b""
            elif field == _VALUE:
                value = b""
            elif field == _CUSTOM:
                custom = b""
        elif field == _DEADLINE:
            deadline = ZERO_TIME if item == _ZERO_TIME_TEXT else as_time(item, "deadline")
        elif field == _CONTEXT:
            context_deadline = _read_context(as_object(item, "context"), context_deadline)
        elif field == _VALUE:
            value = as_bytes(item, "value")
        elif field == _KEY:
            key = as_bytes(item, "key")
        elif field == _TOPIC:
            topic = as_string(item, "topic")
        elif field == _CUSTOM:
            custom = as_bytes(item, "custom")
        elif field == _ERROR:
            error = as_string(item, "error")
        else:
            timeout = as_int64(item, "timeout")
    return key, value, topic, custom, error, timeout, deadline, context_deadline


def _read_context(doc: JSONObject, deadline: GoTime) -> GoTime:
    for key, item in doc:
        if item is not None and (key == "deadline" or fold_name(key) == "deadline"):
            deadline = ZERO_TIME if item == _ZERO_TIME_TEXT else as_time(item, "context.deadline")
    return deadline
