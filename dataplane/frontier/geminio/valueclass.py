"""`ValueObject`: equality, hash and repr for the plain classes that stand in for frozen
dataclasses on the per-packet path.

Compiled with mypyc, a frozen dataclass is still built by the interpreted `__init__` that
`dataclasses` writes (ten times the cost of a plain class's compiled one), so what is built
for every packet (message-like packets, the events about them) is a plain class with
read-only properties; this base gives it the value semantics the dataclass had. None of it
is on the hot path: only construction and attribute reads are.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ValueObject"]


class ValueObject:
    """Equal only to an object of the same class with equal fields, hashed by its
    fields, shown as `Class(name=value, ...)`: the fields are `__match_args__`, in order
    (which also makes them positional match patterns)."""

    __match_args__: ClassVar[tuple[str, ...]] = ()

    def _fields(self) -> tuple[str, ...]:
        return type(self).__match_args__  # the object's own class's names

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields()])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ValueObject)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields(), self._values(), strict=True)
        )
        return f"{type(self).__name__}({shown})"
