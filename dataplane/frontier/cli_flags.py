"""The flags every command of the project spells the same way: ``--version``,
``--log-level`` and ``--log-format`` (frontier, frontlas, frontier-operator, and the later
daemons).

Values are case-insensitive: ``--log-level`` takes debug, info, warning (or warn) and
error; ``--log-format`` takes text or json (a command may accept more). Upstream's
spelling ``--loglevel`` stays as an alias, so existing command lines keep working.
Kept free of heavy imports: the operator parses its flags before importing kopf.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from .version import version_line

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "add_log_flags",
    "add_version_flag",
    "choice",
    "log_level",
]

LOG_LEVELS = ("debug", "info", "warning", "error")
"""The canonical level names; ``warn`` is accepted for ``warning``."""
LOG_FORMATS = ("text", "json")

_LEVEL_ALIASES = {"warn": "warning"}


def choice(choices: Sequence[str], aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    """An argparse ``type=`` accepting `choices` in any case, plus `aliases` (mapped to a
    choice), with an error that lists the choices (argparse's own ``choices=`` is
    case-sensitive and would list every alias)."""
    known = {c.lower(): c for c in choices}
    known.update({k.lower(): v for k, v in (aliases or {}).items()})

    def parse(text: str) -> str:
        try:
            return known[text.lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not one of {', '.join(choices)}"
            ) from None

    parse.__name__ = "value"  # argparse names the type in its error: "invalid value value"
    return parse


log_level = choice(LOG_LEVELS, _LEVEL_ALIASES)
"""Parse a log level: any case, ``warn`` -> ``warning``."""


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """``--version``: name, package version, build flavour and Python, then exit 0."""
    parser.add_argument(
        "--version",
        action="version",
        version=version_line(parser.prog),
        help="print the version (and which build: pure Python or compiled) and exit",
    )


def add_log_flags(
    parser: argparse.ArgumentParser,
    *,
    level_type: Callable[[str], str] = log_level,
    formats: Sequence[str] = LOG_FORMATS,
    format_aliases: dict[str, str] | None = None,
    level_default: str | None = None,
    format_default: str | None = None,
    level_help: str = "",
    format_help: str = "",
) -> None:
    """``--log-level`` (alias ``--loglevel``) and ``--log-format``, parsed to canonical
    values (lower case unless `level_type` says otherwise; None when not given and no
    default)."""
    parser.add_argument(
        "--log-level",
        "--loglevel",
        dest="log_level",
        type=level_type,
        default=level_default,
        metavar="LEVEL",
        help=f"{'|'.join(LOG_LEVELS)} (warn is accepted){level_help}",
    )
    parser.add_argument(
        "--log-format",
        dest="log_format",
        type=choice(formats, format_aliases),
        default=format_default,
        metavar="FORMAT",
        help=f"{'|'.join(formats)}{format_help}",
    )
