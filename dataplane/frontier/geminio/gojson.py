"""The corner of Go's `encoding/json` that geminio's JSON documents rely on.

Go peers marshal `ConnData`, `SessionData`, `MessageData` and `RegisterData` with
`encoding/json` and unmarshal ours with it. Two directions, two goals:

* Encoding must be byte-identical to Go's (the conformance vectors are Go output), which
  means Go's string escaping (HTML-safe `\\u003c`, `\\u003e`, `\\u0026`, U+2028/2029, `\\b`/`\\f`
  as Go >= 1.22 writes them), padded standard base64 for `[]byte`, and RFC 3339 times with
  trimmed nanoseconds.
* Decoding must accept exactly what Go accepts, because a frame Go would reject closes the
  connection there too: case-insensitive field names (Go's fold, in which the Kelvin sign
  matches `k` and the long s matches `s`), unknown fields ignored, `null` leaving a field
  untouched, base64 that must be padded, times that must be RFC 3339, integers that must be
  integer literals, and invalid UTF-8 replaced by U+FFFD rather than rejected.

This is deliberately not a general Go-JSON library: only the value kinds those four structs
use are covered. Field order and `omitempty` per document live in the codec.
"""

from __future__ import annotations

import binascii
import codecs
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from json.encoder import encode_basestring as _encode_basestring
from typing import ClassVar, Final, TypeAlias

from .errors import BadJSON, EncodeError
from .valueclass import ValueObject

__all__ = [
    "ZERO_TIME",
    "GoTime",
    "JSONNumber",
    "JSONObject",
    "JSONValue",
    "as_bytes",
    "as_int64",
    "as_object",
    "as_string",
    "as_time",
    "decode_base64",
    "decode_text",
    "encode_bytes",
    "encode_string",
    "encode_time",
    "fold_name",
    "format_time",
    "loads",
    "parse_time",
]

# --------------------------------------------------------------------------------------------
# Decoding: text and syntax
# --------------------------------------------------------------------------------------------

_REPLACE_HANDLER = "frontier.geminio.gojson.replace"


def _replace_one_byte(exc: UnicodeError) -> tuple[str, int]:
    # Go's utf8.DecodeRune consumes exactly one byte of an invalid sequence and yields U+FFFD,
    # whereas Python's "replace" swallows a maximal invalid subpart; resuming one byte later
    # makes Python produce the same number of U+FFFD as Go.
    if not isinstance(exc, UnicodeDecodeError):  # pragma: no cover - registered for decoding
        raise exc
    return "\ufffd", exc.start + 1


codecs.register_error(_REPLACE_HANDLER, _replace_one_byte)


def decode_text(raw: bytes | bytearray | memoryview) -> str:
    """UTF-8 decode as Go's JSON decoder sees it: each invalid byte becomes U+FFFD."""
    return codecs.utf_8_decode(raw, _REPLACE_HANDLER, True)[0]


class JSONNumber:
    """A number literal kept as text, like Go's `json.Number`.

    Numbers only matter for `timeout` (an int64). Keeping the literal avoids Python's float
    rounding and its 4300-digit limit on `int()`, which would otherwise raise on a long
    literal in an ignored field that Go skips happily.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JSONNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSONNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


# A JSON object as its ordered (key, value) pairs: Go assigns fields in document order and the
# last occurrence wins, also across keys that differ only in case ("value" then "VALUE"),
# which a dict would lose. A tuple keeps objects apart from arrays (lists) and is the cheapest
# pairs container for the C scanner to build.
JSONObject: TypeAlias = tuple[tuple[str, "JSONValue"], ...]
JSONValue: TypeAlias = bool | str | JSONNumber | list["JSONValue"] | JSONObject | None


def _reject_constant(name: str) -> JSONValue:
    raise ValueError(f"invalid literal {name}")


_raw_decode = json.JSONDecoder(
    object_pairs_hook=tuple,
    parse_float=JSONNumber,
    parse_int=JSONNumber,
    parse_constant=_reject_constant,
    strict=True,
).raw_decode
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip_whitespace(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return index if match is None else match.end()


def loads(text: str) -> JSONValue:
    """Parse one JSON document with Go's syntax rules; objects come back as pair tuples.

    Raises `BadJSON` on anything Go's scanner rejects (including an empty document, which Go
    reports as "unexpected end of JSON input", and NaN/Infinity, which Python would accept).
    Nesting deeper than Python's recursion limit (about 1000) is also rejected, where Go
    allows 10000; no geminio peer produces nested values at all.
    """
    # raw_decode rather than decode saves two regex passes per call on the common path.
    start = _skip_whitespace(text, 0) if text[:1] in " \t\n\r" else 0
    try:
        value, end = _raw_decode(text, start)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise BadJSON("unexpected end of JSON input", position=exc.pos) from None
        raise BadJSON(exc.msg, position=exc.pos) from None
    except RecursionError:
        raise BadJSON("document nested too deeply") from None
    except ValueError as exc:
        raise BadJSON(str(exc)) from None
    if end != len(text):
        end = _skip_whitespace(text, end)
        if end != len(text):
            raise BadJSON("invalid character after top-level value", position=end)
    result: JSONValue = value
    return result


# Go's foldName maps each rune to the smallest rune of its case-folding orbit. Against the
# lower-case ASCII field names of the geminio documents that reduces to: ASCII letters fold
# to one case, U+212A KELVIN SIGN folds with k and U+017F LATIN SMALL LETTER LONG S with s.
# Python's str.lower()/casefold() get both wrong (casefold even turns "ß" into "ss").
_FOLD_TABLE = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_FOLD_TABLE[0x212A] = ord("k")
_FOLD_TABLE[0x017F] = ord("s")


def fold_name(name: str) -> str:
    """Fold a key so that it equals an ASCII field name exactly when Go would match them."""
    if name.isascii():
        return name.lower()
    return name.translate(_FOLD_TABLE)


# --------------------------------------------------------------------------------------------
# Decoding: typed field values (Go's Unmarshal into the struct field types geminio uses)
# --------------------------------------------------------------------------------------------

_SURROGATES = re.compile(r"[\ud800-\udfff]")


def as_string(value: JSONValue, field: str) -> str:
    """A Go `string` field. The caller handles `null` (Go leaves the field unchanged)."""
    if type(value) is not str:
        raise BadJSON(f"field {field!r}: cannot unmarshal {_kind(value)} into a string")
    # Go turns an unpaired surrogate escape like "\ud800" into U+FFFD; Python keeps the lone
    # surrogate, which could not even be encoded back to UTF-8.
    if _SURROGATES.search(value) is not None:
        return _SURROGATES.sub("\ufffd", value)
    return value


def decode_base64(text: str) -> bytes:
    """Go's `base64.StdEncoding.DecodeString`: padded standard alphabet, CR/LF ignored.

    Raises ValueError otherwise. Non-zero trailing bits are tolerated, as by Go's
    (non-strict) StdEncoding.
    """
    # strict_mode rejects what Go rejects: bad characters, missing or misplaced padding,
    # data after the padding. Go skips CR/LF anywhere; look for them only after a failure.
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        if "\n" not in text and "\r" not in text:
            raise
    return binascii.a2b_base64(text.replace("\n", "").replace("\r", ""), strict_mode=True)


def as_bytes(value: JSONValue, field: str) -> bytes:
    """A Go `[]byte` field: a base64 string or, as Go also allows, an array of 0..255.

    The caller handles `null` (Go sets the slice to nil, i.e. empty here).
    """
    if type(value) is str:
        try:
            return decode_base64(value)
        except ValueError as exc:
            raise BadJSON(f"field {field!r}: illegal base64 data: {exc}") from None
    if type(value) is list:
        out = bytearray()
        for item in value:
            if item is None:
                out.append(0)
                continue
            if type(item) is not JSONNumber or not item.text.isdigit():
                raise BadJSON(f"field {field!r}: array element is not a byte")
            number = int(item.text) if len(item.text) <= 3 else 256
            if number > 255:
                raise BadJSON(f"field {field!r}: array element {item.text} overflows a byte")
            out.append(number)
        return bytes(out)
    raise BadJSON(f"field {field!r}: cannot unmarshal {_kind(value)} into []byte")


_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_INT_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)


def as_int64(value: JSONValue, field: str) -> int:
    """A Go `int64` (e.g. `time.Duration`) field: an integer literal within range only."""
    if type(value) is not JSONNumber:
        raise BadJSON(f"field {field!r}: cannot unmarshal {_kind(value)} into an int64")
    text = value.text
    # strconv.ParseInt: no fraction or exponent ("1.0", "1e3" fail), no overflow.
    if len(text) > 20 or _INT_LITERAL.fullmatch(text) is None:
        raise BadJSON(f"field {field!r}: number {text[:32]} is not an int64")
    number = int(text)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise BadJSON(f"field {field!r}: number {text} overflows an int64")
    return number


def as_time(value: JSONValue, field: str) -> GoTime:
    """A Go `time.Time` field. The caller handles `null` (Go leaves the field unchanged)."""
    if type(value) is not str:
        raise BadJSON(f"field {field!r}: Time.UnmarshalJSON: input is not a JSON string")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadJSON(f"field {field!r}: {exc}") from None


def as_object(value: JSONValue, field: str) -> JSONObject:
    """A nested Go struct. The caller handles `null` (Go leaves the struct unchanged)."""
    if type(value) is not tuple:
        raise BadJSON(f"field {field!r}: cannot unmarshal {_kind(value)} into a struct")
    return value


def _kind(value: JSONValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, JSONNumber):
        return "number"
    if isinstance(value, tuple):
        return "object"
    return "array"


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

_GO_EXTRA_ESCAPES = re.compile(r"[<>&\u2028\u2029\ud800-\udfff]")
_GO_ESCAPE_OF = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _go_escape(match: re.Match[str]) -> str:
    # A lone surrogate has no UTF-8 form; Go writes the nearest thing it knows, an invalid
    # UTF-8 sequence, as \ufffd.
    return _GO_ESCAPE_OF.get(match.group(), "\\ufffd")


def encode_string(text: str) -> bytes:
    """A JSON string literal exactly as Go's `json.Marshal` writes it (quotes included)."""
    # The C encoder already matches Go for '"', '\\', \b \f \n \r \t and the remaining C0
    # controls as lower-case \u00XX, and leaves non-ASCII raw; Go adds the HTML-safe escapes.
    quoted: str = _encode_basestring(text)
    if _GO_EXTRA_ESCAPES.search(quoted) is not None:
        quoted = _GO_EXTRA_ESCAPES.sub(_go_escape, quoted)
    return quoted.encode("utf-8")


def encode_bytes(data: bytes | bytearray | memoryview | None) -> bytes:
    """A Go `[]byte` value: `null` for nil, else quoted padded standard base64."""
    if data is None:
        return b"null"
    return b'"' + binascii.b2a_base64(data, newline=False) + b'"'


# --------------------------------------------------------------------------------------------
# time.Time
# --------------------------------------------------------------------------------------------

_NS: Final = 1_000_000_000
_DAY_NS = 86_400 * _NS
_MAX_OFFSET = 24 * 3600 + 60 * 60  # "+24:60" is the most Go's lenient RFC 3339 parser takes


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, including 0)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


_ZERO_UNIX_NANOS: Final = _days_from_civil(1, 1, 1) * _DAY_NS


class GoTime(ValueObject):
    """A Go `time.Time` as far as JSON can carry it: an instant in nanoseconds plus a fixed
    UTC offset.

    Python's datetime only has microseconds, and a Go peer's times carry nanoseconds and its
    local offset (`+08:00`); both must survive a decode/encode round trip unchanged. An offset
    of 0 prints as `Z`, as in Go. The Go zero time (`0001-01-01T00:00:00Z`) is how Go says
    "no deadline": test `is_zero` rather than comparing to `ZERO_TIME`, since Go's IsZero ignores
    the offset.

    (A plain class rather than a frozen dataclass: nearly every frame carries a deadline, and
    compiled, a frozen dataclass is built by the interpreted `__init__` dataclasses writes,
    ten times the cost of this one. Equal, hashed, shown (`ValueObject`) and read-only as
    the dataclass was.)
    """

    __match_args__: ClassVar[tuple[str, ...]] = ("unix_nanos", "offset")

    def __init__(self, unix_nanos: int, offset: int = 0) -> None:
        if offset % 60 or not -_MAX_OFFSET <= offset <= _MAX_OFFSET:
            raise ValueError(f"UTC offset {offset}s is not whole minutes within +-{_MAX_OFFSET}s")
        self._unix_nanos = unix_nanos
        self._offset = offset

    @property
    def unix_nanos(self) -> int:
        return self._unix_nanos

    @property
    def offset(self) -> int:
        """Seconds east of UTC, a whole number of minutes."""
        return self._offset

    @property
    def is_zero(self) -> bool:
        return self.unix_nanos == _ZERO_UNIX_NANOS

    @classmethod
    def from_datetime(cls, moment: datetime) -> GoTime:
        """From an aware datetime, keeping its UTC offset."""
        offset = moment.utcoffset()
        if offset is None:
            raise ValueError("a naive datetime has no instant; attach a tzinfo")
        # Subtract the offset from the timedelta, not the datetime: 0001-01-01T00:00+08:00
        # is representable but its UTC wall time is not.
        delta = (moment.replace(tzinfo=None) - datetime(1970, 1, 1)) - offset
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(micros * 1000, offset.days * 86_400 + offset.seconds)

    def to_datetime(self) -> datetime:
        """As an aware datetime in the same fixed offset; nanoseconds are truncated.

        Raises ValueError/OverflowError outside datetime's range (year 1..9999, |offset| < 24h).
        """
        zone = UTC if self.offset == 0 else timezone(timedelta(seconds=self.offset))
        local_micros = (self.unix_nanos + self.offset * _NS) // 1000
        naive = datetime(1970, 1, 1) + timedelta(microseconds=local_micros)
        return naive.replace(tzinfo=zone)

    def timestamp(self) -> float:
        """Seconds since the Unix epoch, like `datetime.timestamp()`."""
        return self.unix_nanos / _NS


ZERO_TIME: Final = GoTime(_ZERO_UNIX_NANOS, 0)
_ZERO_TEXT: Final = "0001-01-01T00:00:00Z"
_ZERO_JSON: Final = b'"0001-01-01T00:00:00Z"'


# Formatting and parsing are on the hot path: frontier puts a 30 s deadline on every message
# and call it forwards, so nearly every frame carries a non-zero time. Consecutive frames
# mostly share the same second, so a one-entry cache of the "YYYY-MM-DDTHH:MM:SS" part and
# small caches of zone suffixes (bounded: at most a few thousand valid offsets) make the
# common case a few dictionary lookups.
_last_formatted: tuple[int, str] = (0, "1970-01-01T00:00:00")
_zone_text: dict[int, str] = {}


def _format_clock(local_seconds: int) -> str:
    global _last_formatted
    cached_seconds, cached_text = _last_formatted
    if cached_seconds == local_seconds:
        return cached_text
    days, clock = divmod(local_seconds, 86_400)
    year, month, day = _civil_from_days(days)
    if not 0 <= year <= 9999:
        raise EncodeError(f"Time.MarshalJSON: year {year} outside of range [0,9999]")
    hour, rest = divmod(clock, 3600)
    minute, second = divmod(rest, 60)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    _last_formatted = (local_seconds, text)
    return text


def _format_zone(offset: int) -> str:
    text = _zone_text.get(offset)
    if text is None:
        if offset == 0:
            text = "Z"
        else:
            zone_hours, zone_minutes = divmod(abs(offset) // 60, 60)
            if zone_hours >= 24:
                raise EncodeError("Time.MarshalJSON: timezone hour outside of range [0,23]")
            text = f"{'-' if offset < 0 else '+'}{zone_hours:02d}:{zone_minutes:02d}"
        _zone_text[offset] = text
    return text


def format_time(moment: GoTime) -> str:
    """RFC 3339 with up to nine trimmed fractional digits, as Go's `Time.MarshalJSON`.

    Raises EncodeError where Go's MarshalJSON fails: a local year outside 0..9999 or an
    offset of 24 hours or more.
    """
    offset = moment.offset
    if offset == 0 and moment.unix_nanos == _ZERO_UNIX_NANOS:
        return _ZERO_TEXT
    seconds, nanos = divmod(moment.unix_nanos + offset * _NS, _NS)
    zone = _format_zone(offset)
    if nanos:
        return _format_clock(seconds) + f".{nanos:09d}".rstrip("0") + zone
    return _format_clock(seconds) + zone


_last_encoded: tuple[int, int, bytes] = (_ZERO_UNIX_NANOS, 0, _ZERO_JSON)
"""The last (unix_nanos, offset, JSON text) `encode_time` wrote: the deadlines of the
calls a connection sends within one millisecond are one (`aio.stream.deadline_after`)."""


def encode_time(moment: GoTime) -> bytes:
    """`format_time` as a quoted JSON string."""
    global _last_encoded
    nanos = moment.unix_nanos
    offset = moment.offset
    if offset == 0 and nanos == _ZERO_UNIX_NANOS:
        return _ZERO_JSON
    last_nanos, last_offset, last_text = _last_encoded
    if nanos == last_nanos and offset == last_offset:
        return last_text
    text = b'"' + format_time(moment).encode("ascii") + b'"'
    _last_encoded = (nanos, offset, text)
    return text


# Go's Time.UnmarshalJSON tries its fast RFC 3339 parser and falls back to
# time.Parse(time.RFC3339, ...), whose strictness checks are disabled (go.dev/issue/54580).
# The union of the two accepts a one-digit hour, ',' as the fraction separator, any number of
# fraction digits (only nine are kept) and zone offsets up to +-24:60.
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{1,2}:[0-9]{2}:[0-9]{2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_last_parsed: tuple[str, int] = ("1970-01-01T00:00:00", 0)
_zone_offset: dict[str, int] = {"Z": 0}


def _parse_clock(text: str) -> int:
    """Seconds since the epoch of a syntactically valid "YYYY-MM-DDTH[H]:MM:SS"."""
    global _last_parsed
    cached_text, cached_seconds = _last_parsed
    if cached_text == text:
        return cached_seconds
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    hour, minute, second = map(int, text[11:].split(":"))
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range in {text!r}")
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= _DAYS_IN_MONTH[month] + leap:
        raise ValueError(f"day out of range in {text!r}")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"clock out of range in {text!r}")
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    _last_parsed = (text, seconds)
    return seconds


def _parse_zone(text: str) -> int:
    offset = _zone_offset.get(text)
    if offset is None:
        zone_hours, zone_minutes = int(text[1:3]), int(text[4:6])
        if zone_hours > 24 or zone_minutes > 60:
            raise ValueError(f"time zone offset {text!r} out of range")
        offset = (zone_hours * 60 + zone_minutes) * 60
        if text[0] == "-":
            offset = -offset
        _zone_offset[text] = offset
    return offset


_last_time: tuple[str, GoTime] = (_ZERO_TEXT, ZERO_TIME)
"""The last time text parsed and its time: the calls a peer sends within one millisecond
often carry one deadline (ours do: `aio.stream.deadline_after`), and parsing it costs as
much as the rest of a message's document."""


def parse_time(text: str) -> GoTime:
    """Parse an RFC 3339 time as Go's `Time.UnmarshalJSON` does; ValueError if Go refuses."""
    global _last_time
    if text == _ZERO_TEXT:
        return ZERO_TIME
    last_text, last_moment = _last_time
    if text == last_text:
        return last_moment
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot parse {text[:64]!r} as RFC 3339")
    clock, fraction, zone = match.groups()
    offset = _parse_zone(zone)
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0
    moment = GoTime((_parse_clock(clock) - offset) * _NS + nanos, offset)
    _last_time = (text, moment)
    return moment
