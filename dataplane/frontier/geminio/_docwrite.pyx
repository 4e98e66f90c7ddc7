# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A relayed message, request or response frame around its spliced value, written in C.

The compiled build's `encoder.message_frame_parts` and `message_frame_spliced`: the header
and the MessageData document json.Marshal writes, as the two buffers around the value's
base64 text, each filled in one allocation, or as one buffer with the text copied in. The Python path built them from a dozen small bytes objects (the key's and the
custom's base64, each member, the joins); a gateway writes two such frames per forwarded
call, and they were about a tenth of its CPU per call.

Byte for byte what the Python path writes (tests/unit/geminio/test_docwrite.py checks it on
generated fields). It returns None, never raising, for what it does not write itself: text
that needs JSON escapes, values out of range, frames over the limit. The Python path then
writes the frame or raises its error.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)


cdef object _zero_time = None
cdef object _encode_time = None
cdef object _last_time = None
cdef object _last_time_json = None
cdef long long _max_packet_len = 0
cdef unsigned char _version = 0
cdef unsigned char MESSAGE_TYPES[256]
cdef bytes _ZERO_TIME_JSON = b'"0001-01-01T00:00:00Z"'
cdef const char* B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
cdef unsigned char PLAIN[256]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        MESSAGE_TYPES[c] = 0
        # what json.Marshal writes unescaped in a string: ASCII from space on, but " and \
        # and the HTML-safe escapes it adds for <, > and &
        PLAIN[c] = 1 if (
            0x20 <= c <= 0x7F and c != 0x22 and c != 0x5C and c != 0x3C and c != 0x3E
            and c != 0x26
        ) else 0


_init_tables()


def configure(zero_time, encode_time, version, max_packet_len, message_types):
    """The Go zero time, `gojson.encode_time`, the protocol version byte, the frame limit
    and the packet type codes of the message family: what the Python path uses."""
    global _zero_time, _encode_time, _version, _max_packet_len
    _zero_time = zero_time
    _encode_time = encode_time
    _version = version
    _max_packet_len = max_packet_len
    for code in message_types:
        MESSAGE_TYPES[<unsigned char>code] = 1


cdef object _time_json(object moment):
    """A time's JSON text: the zero time's, the last one's (a relay's calls sent within a
    millisecond share one deadline object, `aio.stream.deadline_after`), or
    `gojson.encode_time`'s."""
    global _last_time, _last_time_json
    if moment is _zero_time:
        return _ZERO_TIME_JSON
    if moment is _last_time:
        return _last_time_json
    text = _encode_time(moment)
    _last_time = moment
    _last_time_json = text
    return text


cdef inline Py_ssize_t _b64_size(Py_ssize_t n) noexcept:
    return (n + 2) // 3 * 4


cdef Py_ssize_t _b64_into(char* out, const unsigned char* data, Py_ssize_t n) noexcept:
    """Padded standard base64 of data[:n] into out; the bytes written."""
    cdef Py_ssize_t i = 0, j = 0
    cdef unsigned int v
    while i + 3 <= n:
        v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
        out[j] = B64[(v >> 18) & 63]
        out[j + 1] = B64[(v >> 12) & 63]
        out[j + 2] = B64[(v >> 6) & 63]
        out[j + 3] = B64[v & 63]
        i += 3
        j += 4
    if n - i == 1:
        v = data[i] << 16
        out[j] = B64[(v >> 18) & 63]
        out[j + 1] = B64[(v >> 12) & 63]
        out[j + 2] = c'='
        out[j + 3] = c'='
        j += 4
    elif n - i == 2:
        v = (data[i] << 16) | (data[i + 1] << 8)
        out[j] = B64[(v >> 18) & 63]
        out[j + 1] = B64[(v >> 12) & 63]
        out[j + 2] = B64[(v >> 6) & 63]
        out[j + 3] = c'='
        j += 4
    return j


cdef bint _plain(str text) noexcept:
    """Whether json.Marshal writes `text` as it is, between quotes."""
    if not PyUnicode_IS_ASCII(text):
        return False
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_DATA(text)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text)
    for i in range(n):
        if not PLAIN[p[i]]:
            return False
    return True


cdef inline Py_ssize_t _put(char* out, Py_ssize_t at, const char* text, Py_ssize_t n) noexcept:
    memcpy(out + at, text, n)
    return at + n


cdef inline Py_ssize_t _put_quoted(char* out, Py_ssize_t at, const char* name, Py_ssize_t n,
                                    str text, Py_ssize_t size) noexcept:
    """`name` (a member's key through `:"`), a plain `text`, its closing quote."""
    at = _put(out, at, name, n)
    at = _put(out, at, <const char*>PyUnicode_DATA(text), size)
    return _put(out, at, b'"', 1)


cdef inline Py_ssize_t _put_u64(char* out, Py_ssize_t at, unsigned long long v) noexcept:
    cdef int k
    for k in range(8):
        out[at + k] = <char>((v >> (56 - 8 * k)) & 0xFF)
    return at + 8


def frame_parts(packet_type, packet_id, session_id, key, value_b64, topic, custom, error,
                timeout, deadline, context_deadline):
    """`encoder.message_frame_parts`: (header + the document up to the value's text, the
    text itself, the rest of the document), or None: the Python path decides."""
    return _write(packet_type, packet_id, session_id, key, value_b64, topic, custom, error,
                  timeout, deadline, context_deadline, False)


def frame(packet_type, packet_id, session_id, key, value_b64, topic, custom, error, timeout,
          deadline, context_deadline):
    """`encoder.message_frame_spliced`: the same frame in one buffer, the value's text
    copied in (for a small value, a copy costs less than two more buffers), or None."""
    return _write(packet_type, packet_id, session_id, key, value_b64, topic, custom, error,
                  timeout, deadline, context_deadline, True)


cdef object _write(object packet_type, object packet_id, object session_id, object key,
                   object value_b64, object topic, object custom, object error, object timeout,
                   object deadline, object context_deadline, bint joined):
    cdef unsigned long long pid, sid
    cdef long long number
    cdef int ptype
    try:
        ptype = packet_type
        pid = packet_id
        sid = session_id
        number = timeout
    except (OverflowError, TypeError):
        return None
    if ptype < 0 or ptype > 255 or not MESSAGE_TYPES[ptype] or _zero_time is None:
        return None
    if type(key) is not bytes or type(custom) is not bytes:
        return None
    if type(topic) is not str or type(error) is not str:
        return None
    cdef Py_ssize_t value_size = len(value_b64)
    if value_size == 0:
        return None
    if (topic and not _plain(topic)) or (error and not _plain(error)):
        return None
    try:
        deadline_json = _time_json(deadline)
        context_json = _time_json(context_deadline)
    except Exception:
        return None  # (the Python path raises it)
    if type(deadline_json) is not bytes or type(context_json) is not bytes:
        return None
    cdef bytes key_b = <bytes>key
    cdef bytes custom_b = <bytes>custom
    cdef Py_ssize_t key_size = PyBytes_GET_SIZE(key_b)
    cdef Py_ssize_t custom_size = PyBytes_GET_SIZE(custom_b)
    cdef Py_ssize_t topic_size = PyUnicode_GET_LENGTH(topic)
    cdef Py_ssize_t error_size = PyUnicode_GET_LENGTH(error)
    cdef bytes timeout_text = b"%d" % number if number else b""
    cdef Py_ssize_t timeout_size = PyBytes_GET_SIZE(timeout_text)
    cdef Py_ssize_t deadline_size = PyBytes_GET_SIZE(<bytes>deadline_json)
    cdef Py_ssize_t context_size = PyBytes_GET_SIZE(<bytes>context_json)

    # {"key":"<b64>","value":"   or   {"value":"
    cdef Py_ssize_t head_size = 10 + ((8 + _b64_size(key_size) + 1) if key_size else 0)
    # "[,"topic":"..."][,"custom":"..."][,"error":"..."][,"timeout":N],"deadline":D,
    # "context":{"deadline":C}}
    cdef Py_ssize_t tail_size = 1
    if topic_size:
        tail_size += 10 + topic_size + 1
    if custom_size:
        tail_size += 11 + _b64_size(custom_size) + 1
    if error_size:
        tail_size += 10 + error_size + 1
    if timeout_size:
        tail_size += 11 + timeout_size
    tail_size += 12 + deadline_size + 23 + context_size + 2
    cdef long long length = <long long>head_size + value_size + tail_size + 8
    if length > _max_packet_len or length > 0xFFFFFFFF:
        return None

    cdef bytes first = PyBytes_FromStringAndSize(
        NULL, 22 + head_size + (value_size + tail_size if joined else 0)
    )
    cdef char* out = PyBytes_AS_STRING(first)
    out[0] = <char>_version
    out[1] = <char>ptype
    cdef Py_ssize_t at = _put_u64(out, 2, pid)
    out[10] = <char>((length >> 24) & 0xFF)
    out[11] = <char>((length >> 16) & 0xFF)
    out[12] = <char>((length >> 8) & 0xFF)
    out[13] = <char>(length & 0xFF)
    at = _put_u64(out, 14, sid)
    if key_size:
        at = _put(out, at, b'{"key":"', 8)
        at += _b64_into(out + at, <const unsigned char*>PyBytes_AS_STRING(key_b), key_size)
        at = _put(out, at, b'","value":"', 11)
    else:
        at = _put(out, at, b'{"value":"', 10)

    cdef bytes tail = None
    cdef Py_buffer view
    if joined:
        if type(value_b64) is bytes:
            at = _put(out, at, PyBytes_AS_STRING(<bytes>value_b64), value_size)
        else:
            try:
                PyObject_GetBuffer(value_b64, &view, PyBUF_SIMPLE)
            except (TypeError, BufferError):
                return None
            try:
                if view.len != value_size:
                    return None
                at = _put(out, at, <const char*>view.buf, value_size)
            finally:
                PyBuffer_Release(&view)
        out = out + at
    else:
        tail = PyBytes_FromStringAndSize(NULL, tail_size)
        out = PyBytes_AS_STRING(tail)
    at = _put(out, 0, b'"', 1)
    if topic_size:
        at = _put_quoted(out, at, b',"topic":"', 10, topic, topic_size)
    if custom_size:
        at = _put(out, at, b',"custom":"', 11)
        at += _b64_into(out + at, <const unsigned char*>PyBytes_AS_STRING(custom_b), custom_size)
        at = _put(out, at, b'"', 1)
    if error_size:
        at = _put_quoted(out, at, b',"error":"', 10, error, error_size)
    if timeout_size:
        at = _put(out, at, b',"timeout":', 11)
        at = _put(out, at, PyBytes_AS_STRING(timeout_text), timeout_size)
    at = _put(out, at, b',"deadline":', 12)
    at = _put(out, at, PyBytes_AS_STRING(<bytes>deadline_json), deadline_size)
    at = _put(out, at, b',"context":{"deadline":', 23)
    at = _put(out, at, PyBytes_AS_STRING(<bytes>context_json), context_size)
    at = _put(out, at, b'}}', 2)
    if joined:
        return first
    return first, value_b64, tail
