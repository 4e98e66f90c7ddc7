"""Types of the Cython module `_docwrite.pyx` (compiled builds only; see its docstring)."""

from collections.abc import Callable, Iterable

from .gojson import GoTime

def configure(
    zero_time: GoTime,
    encode_time: Callable[[GoTime], bytes],
    version: int,
    max_packet_len: int,
    message_types: Iterable[int],
) -> None: ...
def frame_parts(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes,
    value_b64: bytes | memoryview,
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> tuple[bytes, bytes | memoryview, bytes] | None: ...
def frame(
    packet_type: int,
    packet_id: int,
    session_id: int,
    key: bytes,
    value_b64: bytes | memoryview,
    topic: str,
    custom: bytes,
    error: str,
    timeout: int,
    deadline: GoTime,
    context_deadline: GoTime,
) -> bytes | None: ...
