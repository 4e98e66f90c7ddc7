# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One pass over a MessageData document shaped as Go's json.Marshal writes it, in C.

The compiled build's reader of the documents every message, call and response carries
(`documents.read_message_doc_b64`). The pure build, and any document this does not take,
keep the regex and the general parse there: this returns None for anything but the
canonical shape (the fields in struct order, each at most once, exact keys, no escapes, no
whitespace, padded base64), and never raises for what a peer sends. When it returns fields
they are the ones the regex path returns for the same bytes (tests/unit/test_docscan.py
checks that on generated documents): no behaviour lives only here.

Why C: the regex walks about 200 characters per document with a character-class test per
step, then Python code decodes the groups; at the gateway that was a fifth of the CPU per
forwarded call (two documents each way). Here every index is compared against the
document's end before it is read (the buffer is the peer's).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII

cdef object _zero_time = None
cdef object _parse_time = None
cdef bytes _ZERO_TIME_TEXT = b"0001-01-01T00:00:00Z"

# character classes, as the regex in documents.py states them
cdef unsigned char B64_VALUE[256]
cdef unsigned char PLAIN[256]
cdef unsigned char TIME[256]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        B64_VALUE[c] = 0xFF
        PLAIN[c] = 1 if (0x20 <= c <= 0x7F and c != 0x22 and c != 0x5C) else 0
        TIME[c] = 1 if (
            0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A
            or c == 0x3A or c == 0x2E or c == 0x2B or c == 0x2D
        ) else 0
    for c in range(26):
        B64_VALUE[0x41 + c] = c
        B64_VALUE[0x61 + c] = 26 + c
    for c in range(10):
        B64_VALUE[0x30 + c] = 52 + c
    B64_VALUE[0x2B] = 62
    B64_VALUE[0x2F] = 63


_init_tables()


def configure(zero_time, parse_time):
    """The Go zero time object and `str -> GoTime` (gojson.parse_time): the scanner's
    results hold the same objects the Python path makes."""
    global _zero_time, _parse_time
    _zero_time = zero_time
    _parse_time = parse_time


cdef inline bint _literal(const char* p, Py_ssize_t pos, Py_ssize_t end,
                          const char* lit, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    if end - pos < n:
        return False
    for i in range(n):
        if p[pos + i] != lit[i]:
            return False
    return True


cdef inline Py_ssize_t _b64_text(const char* p, Py_ssize_t pos, Py_ssize_t end) noexcept:
    """From just after an opening quote: the index of the closing quote of a text matching
    [A-Za-z0-9+/]*={0,2} whose length is whole groups of four (what strict decoding
    accepts), else -1."""
    cdef Py_ssize_t start = pos
    cdef Py_ssize_t pads = 0
    cdef unsigned char c
    while pos < end:
        c = <unsigned char>p[pos]
        if B64_VALUE[c] != 0xFF:
            pos += 1
        else:
            break
    while pos < end and p[pos] == c'=' and pads < 2:
        pos += 1
        pads += 1
    if pos >= end or p[pos] != c'"' or (pos - start) % 4 != 0:
        return -1
    return pos


cdef bytes _b64_decode(const char* p, Py_ssize_t start, Py_ssize_t stop):
    """Decode a text `_b64_text` accepted (trailing bits ignored, as Go and binascii do)."""
    cdef Py_ssize_t n = stop - start
    cdef Py_ssize_t pads = 0
    if n and p[stop - 1] == c'=':
        pads += 1
        if p[stop - 2] == c'=':
            pads += 1
    cdef Py_ssize_t size = n // 4 * 3 - pads
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef unsigned char* o = <unsigned char*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = start, j = 0
    cdef unsigned int v, a, b, c, d
    while i < stop:
        a = B64_VALUE[<unsigned char>p[i]]
        b = B64_VALUE[<unsigned char>p[i + 1]]
        c = B64_VALUE[<unsigned char>p[i + 2]] if p[i + 2] != c'=' else 0
        d = B64_VALUE[<unsigned char>p[i + 3]] if p[i + 3] != c'=' else 0
        v = (a << 18) | (b << 12) | (c << 6) | d
        if j < size:
            o[j] = (v >> 16) & 0xFF
        if j + 1 < size:
            o[j + 1] = (v >> 8) & 0xFF
        if j + 2 < size:
            o[j + 2] = v & 0xFF
        i += 4
        j += 3
    return out


cdef inline bint _canonical_b64(const char* p, Py_ssize_t start, Py_ssize_t stop) noexcept:
    """Whether a non-empty accepted text is exactly what encoding its bytes writes: the
    bits before the padding are zero (documents.canonical_b64)."""
    if p[stop - 1] != c'=':
        return True
    if p[stop - 2] == c'=':
        return (B64_VALUE[<unsigned char>p[stop - 3]] & 0x0F) == 0
    return (B64_VALUE[<unsigned char>p[stop - 2]] & 0x03) == 0


cdef inline Py_ssize_t _class_text(const char* p, Py_ssize_t pos, Py_ssize_t end,
                                   const unsigned char* table) noexcept:
    """From just after an opening quote: the index of the closing quote of a text whose
    characters are all in `table`, else -1."""
    while pos < end and table[<unsigned char>p[pos]]:
        pos += 1
    if pos >= end or p[pos] != c'"':
        return -1
    return pos


cdef Py_ssize_t _member_text(const char* p, Py_ssize_t pos, Py_ssize_t end,
                             const char* name, Py_ssize_t n, const unsigned char* table,
                             Py_ssize_t* stop) noexcept:
    """An optional member whose key (from after its opening quote, through `:"`) is
    `name`, at `pos`: -2 when the document has no such member there, -1 when it has one
    that is not canonical, else where its text starts (its closing quote at stop[0],
    followed by `","`). `table` NULL: base64 text, else characters of `table`."""
    if not _literal(p, pos, end, name, n):
        return -2
    pos += n
    cdef Py_ssize_t close = (
        _b64_text(p, pos, end) if table == NULL else _class_text(p, pos, end, table)
    )
    if close < 0 or not _literal(p, close, end, b'","', 3):
        return -1
    stop[0] = close
    return pos


cdef object _time(const char* p, Py_ssize_t start, Py_ssize_t stop):
    if stop - start == 20 and _literal(p, start, stop, b"0001-01-01T00:00:00Z", 20):
        return _zero_time
    return _parse_time(PyUnicode_DecodeASCII(p + start, stop - start, NULL))


def scan(buf, Py_ssize_t start, Py_ssize_t end):
    """`documents.read_message_doc_b64`'s fields for a canonical document in
    buf[start:end], else None (the caller's general path decides, errors included)."""
    cdef const char* p
    cdef Py_ssize_t size
    if type(buf) is bytes:
        p = PyBytes_AS_STRING(buf)
        size = PyBytes_GET_SIZE(buf)
    elif type(buf) is bytearray:
        p = PyByteArray_AS_STRING(buf)
        size = PyByteArray_GET_SIZE(buf)
    else:
        return None
    if start < 0 or end > size or start > end or _zero_time is None:
        return None
    cdef Py_ssize_t pos = start, stop
    cdef Py_ssize_t digits
    cdef unsigned long long number = 0
    cdef bint negative = False
    cdef long long timeout = 0
    key = b""
    data = b""
    value_b64 = None
    topic = ""
    custom = b""
    error = ""
    if not _literal(p, pos, end, b'{"', 2):
        return None
    pos += 2
    cdef Py_ssize_t text
    text = _member_text(p, pos, end, b'key":"', 6, NULL, &stop)
    if text == -1:
        return None
    if text >= 0:
        key = _b64_decode(p, text, stop)
        pos = stop + 3  # past the closing quote, the comma and the next key's opening quote
    text = _member_text(p, pos, end, b'value":"', 8, NULL, &stop)
    if text == -1:
        return None
    if text >= 0:
        if stop > text:
            if _canonical_b64(p, text, stop):
                data = None
                value_b64 = PyBytes_FromStringAndSize(p + text, stop - text)
            else:
                data = _b64_decode(p, text, stop)
        pos = stop + 3
    text = _member_text(p, pos, end, b'topic":"', 8, PLAIN, &stop)
    if text == -1:
        return None
    if text >= 0:
        topic = PyUnicode_DecodeASCII(p + text, stop - text, NULL)
        pos = stop + 3
    text = _member_text(p, pos, end, b'custom":"', 9, NULL, &stop)
    if text == -1:
        return None
    if text >= 0:
        custom = _b64_decode(p, text, stop)
        pos = stop + 3
    text = _member_text(p, pos, end, b'error":"', 8, PLAIN, &stop)
    if text == -1:
        return None
    if text >= 0:
        error = PyUnicode_DecodeASCII(p + text, stop - text, NULL)
        pos = stop + 3
    if _literal(p, pos, end, b'timeout":', 9):
        pos += 9
        if pos < end and p[pos] == c'-':
            negative = True
            pos += 1
        if pos >= end or not (c'1' <= p[pos] <= c'9'):
            return None
        digits = 0
        while pos < end and c'0' <= p[pos] <= c'9':
            if digits == 19:
                return None  # (the regex allows 19 digits: more is not canonical)
            number = number * 10 + <unsigned long long>(p[pos] - c'0')
            digits += 1
            pos += 1
        if negative:
            if number > 9223372036854775808ULL:
                return None
            timeout = -<long long>(number - 1) - 1
        else:
            if number > 9223372036854775807ULL:
                return None
            timeout = <long long>number
        if not _literal(p, pos, end, b',"', 2):
            return None
        pos += 2
    if not _literal(p, pos, end, b'deadline":"', 11):
        return None
    pos += 11
    stop = _class_text(p, pos, end, TIME)
    if stop < 0:
        return None
    cdef Py_ssize_t deadline_start = pos, deadline_stop = stop
    pos = stop
    if not _literal(p, pos, end, b'","context":{"deadline":"', 25):
        return None
    pos += 25
    stop = _class_text(p, pos, end, TIME)
    if stop < 0 or end - stop != 3 or not _literal(p, stop, end, b'"}}', 3):
        return None
    try:
        deadline = _time(p, deadline_start, deadline_stop)
        context = _time(p, pos, stop)
    except ValueError:
        return None  # (the general path reports it)
    return key, data, topic, custom, error, timeout, deadline, context, value_b64
