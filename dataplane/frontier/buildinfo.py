"""Which build of the hot path this process runs: compiled (mypyc and Cython), or pure Python.

The same source runs both ways. `setup.py` compiles the modules listed in `MYPYC_MODULES`
with mypyc and those in `CYTHON_MODULES` with Cython when it can (a C compiler and Python's
headers) and ships the pure-Python modules otherwise; `./dev test` runs the suite against
both. A bug report must say which code ran, so every command's ``--version`` reports it
(`frontier.version`).

The answer is what the import system finds, not what a build intended: a module counts as
compiled when an extension module sits beside its ``.py`` file in this package (the import
system prefers it; a Cython module has its ``.pyx`` source there instead, and no pure twin:
the code that imports it keeps a Python path for when it is absent). Why a build is pure
(compilation disabled, or failed and why) is recorded by the build in `BUILD_RECORD` next to
this file.

This module is stdlib-only and imports nothing from the package at module level: `setup.py`
loads it by path, before any dependency is installed, for the module list and the cache key.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import shutil
from pathlib import Path
from typing import Final

__all__ = [
    "BUILD_RECORD",
    "COMPILED_MODULES",
    "CYTHON_MODULES",
    "MYPYC_MODULES",
    "build_flavour",
    "cache_root",
    "compiled_modules",
    "prune_builds",
    "recorded_reason",
    "source_digest",
]

MYPYC_MODULES: Final = (
    # the codec: frames <-> packets, Go's JSON documents
    "frontier.geminio.valueclass",
    "frontier.geminio.message_packets",
    "frontier.geminio.gojson",
    "frontier.geminio.documents",
    "frontier.geminio.encoder",
    "frontier.geminio.decoder",
    "frontier.geminio.reader",
    # the sans-I/O connection and what it drives per packet
    "frontier.geminio.connection",
    "frontier.geminio.conn_client",
    "frontier.geminio.conn_server",
    "frontier.geminio.multiplexer",
    "frontier.geminio.application",
    "frontier.geminio.session",
    "frontier.geminio.outbox",
    "frontier.geminio.timer_requests",
    "frontier.geminio.ids",
    "frontier.geminio.events",
    "frontier.geminio.states",
    # the asyncio adapter: protocol, End, request/stream bookkeeping, the messages and calls
    # handed to handlers (compiled, their `stream` must be a real Stream)
    "frontier.geminio.aio.protocol",
    "frontier.geminio.aio.end",
    "frontier.geminio.aio.stream",
    "frontier.geminio.aio.forwarded",
    "frontier.geminio.aio.messages",
    "frontier.geminio.aio.timers",
    "frontier.timer.wheel",
    # the gateway's forwarding
    "frontier.gateway.relay",
    "frontier.gateway.timeouts",
    "frontier.gateway.exchange",
    "frontier.gateway.flow",
    "frontier.gateway.tally",
    "frontier.gateway.splice",  # a stream's raw bytes, per received chunk
    # admission: accepting, the handshake's decision, the edge's entry (docs/gateway.md)
    "frontier.geminio.aio.listener",
    "frontier.gateway.edgebound",
    "frontier.gateway.hooks",
)
"""The modules worth compiling: every one is on the per-frame path of a forwarded call or
stream chunk (profiled under bench/gateway.py's load; README "Performance") or on the
path that admits an edge (bench/scale.py; docs/gateway.md)."""

CYTHON_MODULES: Final = (
    # the canonical MessageData document in one pass (documents.read_message_doc_b64)
    "frontier.geminio._docscan",
    # a relayed frame around its spliced value (encoder.message_frame_parts)
    "frontier.geminio._docwrite",
)
"""Modules written for Cython (``.pyx``): per-byte loops, which mypyc compiles into calls
on Python objects. Each is an accelerator with no pure twin: its caller keeps a Python
path (the same results, tested against each other) for the pure build."""

COMPILED_MODULES: Final = MYPYC_MODULES + CYTHON_MODULES
"""Every module a compiled build compiles."""

BUILD_RECORD: Final = "_build.json"
"""Written into the built package by the build: {"build": "compiled"|"pure", "reason": ...}."""

_PACKAGE_DIR: Final = Path(__file__).resolve().parent


def source_digest(package_dir: Path, *extra: str) -> str:
    """A key for a compiled build of `package_dir`: every ``.py`` and ``.pyx`` file under it
    (path and bytes) and `extra` (the compilers' and Python's versions), so that any change
    rebuilds."""
    digest = hashlib.sha256()
    sources = [*package_dir.rglob("*.py"), *package_dir.rglob("*.pyx")]
    for path in sorted(sources):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()[:24]


def cache_root() -> Path:
    """Where compiled builds are kept, outside any clone: ``$FRONTIER_BUILD_CACHE``, else
    ``$XDG_CACHE_HOME/frontier-py``, else ``~/.cache/frontier-py``."""
    explicit = os.environ.get("FRONTIER_BUILD_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "frontier-py"


KEEP_BUILDS: Final = 4
"""Compiled builds the cache keeps (about 8 MB each), the most recently used: every edit of
the source is a new digest, so without pruning a developer's cache grows by a build per
edit that was tested."""

IN_USE_SECONDS: Final = 3600.0
"""A build used (or a build directory written) this recently is never removed: a test run
in another clone may have it on its PYTHONPATH, or be compiling into it."""


def prune_builds(cache: Path, *, now: float, complete_marker: str) -> list[Path]:
    """Remove from `cache` the complete builds beyond the `KEEP_BUILDS` most recently used
    (a build's use is its `complete_marker` file's mtime, which `setup.compiled_tree`
    touches on every hit) and the work directories of builds that died (``.build-*``),
    sparing anything touched in the last `IN_USE_SECONDS`. Returns what it removed."""
    used: list[tuple[float, Path]] = []
    removed: list[Path] = []
    for entry in cache.iterdir() if cache.is_dir() else ():
        if not entry.is_dir():
            continue
        marker = entry / complete_marker
        complete = marker.is_file()
        try:
            when = marker.stat().st_mtime if complete else entry.stat().st_mtime
        except OSError:
            continue  # removed meanwhile
        if complete:
            used.append((when, entry))
        elif entry.name.startswith(".build-") and now - when > IN_USE_SECONDS:
            removed.append(entry)
    used.sort(reverse=True)
    removed.extend(entry for when, entry in used[KEEP_BUILDS:] if now - when > IN_USE_SECONDS)
    for entry in removed:
        shutil.rmtree(entry, ignore_errors=True)
    return removed


def _is_extension(name: str) -> bool:
    # Where the import system looks, without importing anything (``--version`` must stay
    # cheap): an extension module beside the ``.py`` file wins over it.
    base = _PACKAGE_DIR.joinpath(*name.split(".")[1:])
    return any(
        base.with_name(base.name + suffix).is_file()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


def compiled_modules() -> list[str]:
    """The modules of `COMPILED_MODULES` that this process imports compiled."""
    return [name for name in COMPILED_MODULES if _is_extension(name)]


def recorded_reason() -> str | None:
    """Why the build is pure, as the build recorded it (None when no build recorded one:
    a source checkout or an editable install)."""
    try:
        record = json.loads((_PACKAGE_DIR / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return None
    reason = record.get("reason") if isinstance(record, dict) else None
    return str(reason) if reason else None


def build_flavour() -> str:
    """``compiled with mypyc and Cython: 34 modules``, ``partly compiled with mypyc and
    Cython: 3 of 34 modules`` or ``pure Python: why``. One phrase without ``;`` or
    parentheses: `version_line` puts it in parentheses beside the Python version."""
    compiled = compiled_modules()
    total = len(COMPILED_MODULES)
    if len(compiled) == total:
        return f"compiled with mypyc and Cython: {total} modules"
    if compiled:
        return f"partly compiled with mypyc and Cython: {len(compiled)} of {total} modules"
    reason = recorded_reason() or "source tree, not built"
    return "pure Python: " + reason.replace(";", ",").replace("(", "").replace(")", "")
