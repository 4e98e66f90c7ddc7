"""The compact JSON documents inside geminio bodies (ConnData, SessionData, MessageData,
RegisterData): encoding in Go struct field order with Go's `omitempty` rules, and decoding
with Go's leniency (case-folded keys, unknown keys, `null`) and its strictness (padded
base64, RFC 3339 times), so that what we emit and accept matches a Go peer (§A.4).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from typing import Final, TypeAlias

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
    parse_time,
)
from .packets import MessageData

__all__ = [
    "Buffer",
    "MessageFields",
    "MessageFieldsB64",
    "canonical_b64",
    "conn_doc",
    "message_doc",
    "message_doc_around_value",
    "message_doc_of",
    "read_conn_doc",
    "read_message_doc",
    "read_message_doc_b64",
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


_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


_KEY_TEXTS: Final[dict[bytes, tuple[bytes, bytes]]] = {}
"""Recent keys' JSON texts: (the member, the document's head up to the value's text). A key
is an RPC's method name, sent with the request and again with its response, so a gateway
encodes the same few keys for every call it forwards (base64 and three joins each time)."""
_KEY_TEXTS_MAX: Final = 256
"""Cached keys at most (the cache starts over beyond: a peer inventing method names costs
itself a refill, never memory)."""
_KEY_TEXT_LEN: Final = 64
"""Longer keys are encoded each time, not kept."""


def _key_texts(key: bytes) -> tuple[bytes, bytes]:
    """(`"key":"<base64>"`, `{"key":"<base64>","value":"`) for a non-empty `key`."""
    texts = _KEY_TEXTS.get(key)
    if texts is None:
        member = b'"key":' + encode_bytes(key)
        texts = (member, b"{" + member + b',"value":"')
        if len(key) <= _KEY_TEXT_LEN:
            if len(_KEY_TEXTS) >= _KEY_TEXTS_MAX:
                _KEY_TEXTS.clear()
            _KEY_TEXTS[key] = texts
    return texts


def message_doc(p: MessageData) -> bytes:
    return message_doc_of(
        p.key, p.value, p.topic, p.custom, p.error, p.timeout, p.deadline, p.context_deadline
    )


def message_doc_of(
    key: bytes,
    value: bytes,
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> bytes:
    """`message_doc` from the fields themselves (see `encoder.message_frame`)."""
    if (
        deadline is ZERO_TIME
        and context_deadline is ZERO_TIME
        and not (key or value or topic or custom or error or timeout)
    ):
        return _EMPTY_MESSAGE_DOC  # every successful ack
    members = []
    if key:
        members.append(_key_texts(key)[0])
    if value:
        members.append(b'"value":' + encode_bytes(value))
    _members_after_value(members, topic, custom, error, timeout, deadline, context_deadline)
    return b"{" + b",".join(members) + b"}"


def _members_after_value(
    members: list[bytes],
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> None:
    if topic:
        members.append(b'"topic":' + encode_string(topic))
    if custom:
        members.append(b'"custom":' + encode_bytes(custom))
    if error:
        members.append(b'"error":' + encode_string(error))
    if timeout:
        if not _INT64_MIN <= timeout <= _INT64_MAX:
            raise EncodeError(f"timeout {timeout}ns does not fit a Go time.Duration")
        members.append(b'"timeout":%d' % timeout)
    members.append(
        b'"deadline":'
        + encode_time(deadline)
        + b',"context":{"deadline":'
        + encode_time(context_deadline)
        + b"}"
    )


def message_doc_around_value(
    key: bytes,
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> tuple[bytes, bytes]:
    """The document `message_doc_of` writes for a non-empty value, as the two pieces around
    the value's base64 text: (up to and including its opening quote, from its closing quote
    on). A relay puts the text it received between them (`encoder.message_frame_parts`)."""
    head = _key_texts(key)[1] if key else b'{"value":"'
    members: list[bytes] = []
    _members_after_value(members, topic, custom, error, timeout, deadline, context_deadline)
    return head, b'",' + b",".join(members) + b"}"


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
MessageFieldsB64: TypeAlias = tuple[
    bytes, bytes | None, str, bytes, str, int, GoTime, GoTime, bytes | None
]
"""`MessageFields` and the value's base64 text when it can be spliced (see
`MessageData.value_b64`), else None; with the text, the value is None: checked, not
decoded."""


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
_ZERO_TIME_RAW = _ZERO_TIME_TEXT.encode("ascii")


# The documents Go's json.Marshal (and `message_doc_of`) writes: the fields in struct order,
# each at most once, exact lower-case keys, base64 and time strings, strings without escapes.
# Matching one of those with a single regex and reading the groups is about three times as
# fast as the general parse (C scanner into pairs, then a loop over them), which made up a
# fifth of a side's time per RPC in bench/protocol.py. Anything else (escapes, folded or
# repeated keys, nulls, arrays, whitespace, `"timeout":0`, bad base64 or times) takes the
# general path, so the result is the same as it would give, errors included.
_B64 = rb'"([A-Za-z0-9+/]*={0,2})"'
_PLAIN = rb'"([ !#-\[\]-\x7f]*)"'  # ASCII from space on, but " and \: the text is the value
_TIME = rb'"([0-9A-Za-z:.+-]*)"'
_CANONICAL_MESSAGE_DOC = re.compile(
    rb'\{(?:"key":' + _B64 + rb",)?"
    rb'(?:"value":' + _B64 + rb",)?"
    rb'(?:"topic":' + _PLAIN + rb",)?"
    rb'(?:"custom":' + _B64 + rb",)?"
    rb'(?:"error":' + _PLAIN + rb",)?"
    rb'(?:"timeout":(-?[1-9][0-9]{0,18}),)?'
    rb'"deadline":' + _TIME + rb',"context":\{"deadline":' + _TIME + rb"\}\}"
)
_fast_match: Final = _CANONICAL_MESSAGE_DOC.fullmatch


Scanner: TypeAlias = Callable[[Buffer, int, int], MessageFieldsB64 | None]


def _scanner() -> Scanner | None:
    """The compiled build's one-pass reader of canonical documents (`_docscan`, Cython), or
    None in the pure build: the regex below then reads them, to the same fields."""
    try:
        from . import _docscan
    except ImportError:
        return None
    _docscan.configure(ZERO_TIME, parse_time)
    return _docscan.scan


_scan: Final = _scanner()


def read_message_doc(buf: Buffer, start: int, end: int) -> MessageFields:
    fields = read_message_doc_b64(buf, start, end)
    value = fields[1]
    if value is None:
        text = fields[8]
        assert text is not None
        value = binascii.a2b_base64(text)
    return fields[0], value, fields[2], fields[3], fields[4], fields[5], fields[6], fields[7]


_VALUE_FIRST = b'{"value":"'
_KEY_FIRST = b'{"key":"'
_VALUE_AFTER_KEY = b'","value":"'
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PADDINGS = (b"", b"=", b"==")
_EXCISE_FROM: Final = 512
"""Documents at least this long have their value's text cut out before the regex runs;
below, one regex over everything costs less than finding and checking it apart."""


def _value_text_start(buf: Buffer, start: int, end: int) -> int:
    """Where the value's base64 text starts in a document shaped as json.Marshal writes
    it (key first if any, then the value), else -1."""
    if buf.startswith(_VALUE_FIRST, start, end):
        return start + len(_VALUE_FIRST)
    if buf.startswith(_KEY_FIRST, start, end):
        key_end = buf.find(b'"', start + len(_KEY_FIRST), end)
        if key_end >= 0 and buf.startswith(_VALUE_AFTER_KEY, key_end, end):
            return key_end + len(_VALUE_AFTER_KEY)
    return -1


def _strict_b64(text: bytes) -> bool:
    """What strict decoding accepts, without decoding: the alphabet, then at most two
    "=", in groups of four (a few times faster than decoding; no regex over the text)."""
    padding = text.translate(None, _B64_ALPHABET)
    return len(text) % 4 == 0 and padding in _PADDINGS and text.endswith(padding)


_EMPTY_MESSAGE_DOC: Final = (
    b'{"deadline":"0001-01-01T00:00:00Z","context":{"deadline":"0001-01-01T00:00:00Z"}}'
)
"""The MessageData of every field unset, as json.Marshal writes it: a successful ack."""
_EMPTY_DOC_SIZE: Final = len(_EMPTY_MESSAGE_DOC)
_EMPTY_MESSAGE_FIELDS: Final[MessageFieldsB64] = (*_NO_MESSAGE_FIELDS, None)


def read_message_doc_b64(buf: Buffer, start: int, end: int) -> MessageFieldsB64:
    """`read_message_doc`, plus the value's base64 text when it is canonical (the decoder
    keeps it in `MessageData.value_b64`), the value then checked but left to be decoded
    when read (None here). The compiled build reads canonical documents with `_docscan`
    first, in one pass in C, to the fields the paths here give.
    Only documents json.Marshal writes have it: any other has its value decoded, and
    encoded again when forwarded."""
    size = end - start
    if size == _EMPTY_DOC_SIZE and buf.startswith(_EMPTY_MESSAGE_DOC, start):
        return _EMPTY_MESSAGE_FIELDS  # every ack, as Go and we write it: no regex for it
    scan = _scan
    if scan is not None:
        scanned = scan(buf, start, end)
        if scanned is not None:
            return scanned  # (None: not canonical, the paths below decide)
    return _read_message_doc_python(buf, start, end, size)


def _read_message_doc_python(buf: Buffer, start: int, end: int, size: int) -> MessageFieldsB64:
    """`read_message_doc_b64` without `_docscan`: the pure build's way, and the reference
    the scanner is tested against.

    In a large document the value's text is found with `find` and checked with `translate`
    (C loops over bytes), and the regex reads the document without it: run over a large
    payload's text, the regex and the decoding cost ten times as much as forwarding it."""
    value_start = _value_text_start(buf, start, end) if size > _EXCISE_FROM else -1
    if value_start >= 0:
        value_end = buf.find(b'"', value_start, end)
        if value_end > value_start:
            text = buf[value_start:value_end]
            if type(text) is not bytes:
                text = bytes(text)
            if _strict_b64(text):
                rest = _fast_match(buf[start:value_start] + buf[value_end:end])
                if rest is not None:
                    try:
                        fields = _canonical_message_fields(rest)
                    except (ValueError, BadJSON):
                        pass  # (the general path below reports it)
                    else:
                        key, _, topic, custom, error, timeout, deadline, ctx, _ = fields
                        # (the value in `fields` is the empty text left in its place)
                        if canonical_b64(text):
                            return key, None, topic, custom, error, timeout, deadline, ctx, text
                        value = binascii.a2b_base64(text)
                        return key, value, topic, custom, error, timeout, deadline, ctx, None
    match = _fast_match(buf, start, end)
    if match is not None:
        try:
            return _canonical_message_fields(match)
        except (ValueError, BadJSON):
            pass  # the general path reports it, as it would have
    key, value, topic, custom, error, timeout, deadline, ctx = _read_message_doc(buf, start, end)
    return key, value, topic, custom, error, timeout, deadline, ctx, None


# The base64 characters whose 6 bits end in 4 (before "==") or 2 (before "=") zero bits: a
# text ending otherwise decodes (Go ignores the extra bits) but is not what encoding the
# bytes again writes, so it cannot be spliced in their place.
_ZERO_LOW4: Final = frozenset(b"AQgw")
_ZERO_LOW2: Final = frozenset(b"AEIMQUYcgkosw048")
_PAD: Final = 0x3D  # "="


def canonical_b64(text: bytes) -> bool:
    """Whether non-empty `text`, which strict decoding accepts, is exactly the padded
    standard base64 of the bytes it decodes to (only the bits before the padding can
    differ)."""
    size = len(text)
    if not size or text[size - 1] != _PAD:
        return size > 0
    if text[size - 2] == _PAD:
        return text[size - 3] in _ZERO_LOW4
    return text[size - 2] in _ZERO_LOW2


def _strict_decode(text: bytes) -> bytes:
    """`gojson.decode_base64` for base64 text the fast path's regex matched, as bytes (no
    str made first): it holds no CR or LF, so strict decoding is Go's. ValueError
    (binascii.Error) when it is not valid."""
    return binascii.a2b_base64(text, strict_mode=True)


def _canonical_message_fields(match: re.Match[bytes]) -> MessageFieldsB64:
    key, value, topic, custom, error, timeout, deadline, context_deadline = match.groups()
    number = 0
    if timeout is not None:
        number = int(timeout)
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise ValueError("timeout overflows an int64")
    data: bytes | None = b""
    value_b64: bytes | None = None
    if value:
        if len(value) % 4 == 0 and canonical_b64(value):
            # Valid as it is: the regex matched the alphabet and at most two "=" at the
            # end, and the length is whole groups of four. Left undecoded: a relay splices
            # the text and never reads the bytes (`MessageData.value` decodes on a read).
            data = None
            value_b64 = value
        else:
            data = _strict_decode(value)  # (validates it: ValueError if not)
    return (
        b"" if key is None else _strict_decode(key),
        data,
        "" if topic is None else topic.decode("ascii"),
        b"" if custom is None else _strict_decode(custom),
        "" if error is None else error.decode("ascii"),
        number,
        _canonical_time(deadline),
        _canonical_time(context_deadline),
        value_b64,
    )


def _canonical_time(raw: bytes) -> GoTime:
    return ZERO_TIME if raw == _ZERO_TIME_RAW else parse_time(raw.decode("ascii"))


def _read_message_doc(buf: Buffer, start: int, end: int) -> MessageFields:
    """The general path of `read_message_doc`: any document Go's decoder accepts."""
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
