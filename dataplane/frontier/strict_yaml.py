"""Strict YAML-to-dataclass conversion, shared by the frontier and frontlas configurations.

Go's yaml.v2 silently ignores unknown keys and wrong types, so a typo falls back to a
default in production. Here every config section is a frozen dataclass and every key is
checked: an unknown key or a wrongly typed value is a `ConfigError` naming its path.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

__all__ = [
    "ConfigError",
    "build",
    "convert",
    "load_yaml",
    "nonneg_int",
    "nonneg_number",
    "positive_number",
    "positive_seconds",
    "seconds",
    "with_port",
]


class ConfigError(ValueError):
    """A configuration problem; the message names the key path (``edgebound.listen.addr``)."""


T = TypeVar("T")


def convert(tp: Any, value: Any, path: str) -> Any:
    """`value` checked against (and converted to) the annotation `tp`."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build(tp, value, path)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices if c != "")
            raise ConfigError(f"{path}: {value!r} is not one of {shown}")
        return value
    if origin is tuple:
        (item_type, _) = get_args(tp)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin in (Mapping, dict) or tp is Mapping:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug in the schema


def build(cls: type[T], data: Any, path: str) -> T:
    """An instance of the dataclass `cls` from a parsed YAML mapping (None: all defaults).

    A key whose value is null keeps its default (Go's YAML gives it the zero value, which
    here is the default). A schema class may declare two optional class attributes:
    ``_keys`` (YAML spellings -> field names: upstream's misspellings and camelCase, and
    names that are Python keywords, like ``async`` -> ``async_``) and ``_convert`` (field ->
    a ``(value, path)`` converter for checks beyond the type, e.g. seconds >= 0).
    """
    if data is None:
        return cls()
    if not isinstance(data, dict):
        where = path or "the configuration"
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    aliases: Mapping[str, str] = getattr(cls, "_keys", {})
    converters: Mapping[str, Callable[[Any, str], Any]] = getattr(cls, "_convert", {})
    values: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        name = aliases.get(str(key), str(key))
        if name not in known or (name == key and name.endswith("_")):
            raise ConfigError(f"unknown key {key_path!r}")
        if name in given:
            where = path or "the configuration"
            raise ConfigError(f"{where}: {given[name]!r} and {key!r} are the same key; give one")
        given[name] = str(key)
        if value is None:
            continue
        convert_field = converters.get(name)
        if convert_field is not None:
            values[name] = convert_field(value, key_path)
        else:
            values[name] = convert(hints[name], value, key_path)
    return cls(**values)


# -- converters for `_convert`: checks beyond the type ------------------------------------


def nonneg_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{path}: expected an integer >= 0, got {value!r}")
    return value


def seconds(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{path}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def positive_seconds(value: Any, path: str) -> float:
    checked = seconds(value, path)
    if checked <= 0:
        raise ConfigError(f"{path}: expected a number of seconds > 0, got {value!r}")
    return checked


def nonneg_number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{path}: expected a number >= 0, got {value!r}")
    return float(value)


def positive_number(value: Any, path: str) -> float:
    if nonneg_number(value, path) == 0:
        raise ConfigError(f"{path}: expected a number > 0, got {value!r}")
    return float(value)


def with_port(addr: str, port: str, name: str) -> str:
    """`addr` with its port replaced by the environment variable `name`'s value `port`."""
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: {port!r} is not a TCP port")
    host = addr.rsplit(":", 1)[0] if ":" in addr else addr
    return f"{host}:{int(port)}"


def load_yaml(path: str | Path) -> Any:
    """The parsed YAML of a config file; unreadable files and bad YAML are `ConfigError`s."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
