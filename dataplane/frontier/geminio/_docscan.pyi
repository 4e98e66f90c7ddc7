"""Types of the Cython module `_docscan.pyx` (compiled builds only; see its docstring)."""

from collections.abc import Callable

from .gojson import GoTime

def configure(zero_time: GoTime, parse_time: Callable[[str], GoTime]) -> None: ...
def scan(
    buf: bytes | bytearray, start: int, end: int
) -> tuple[bytes, bytes | None, str, bytes, str, int, GoTime, GoTime, bytes | None] | None: ...
