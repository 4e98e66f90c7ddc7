"""Hypothesis strategies for Go's JSON values (times, plain strings), and the compiled
build's accelerators, for the codec's property tests."""

from __future__ import annotations

import importlib
import os
from datetime import UTC, datetime
from types import ModuleType

import pytest
from hypothesis import strategies as st

from frontier.geminio.gojson import ZERO_TIME, GoTime

NS = 1_000_000_000

_EARLIEST = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
_LATEST = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())
go_times = st.one_of(
    st.just(ZERO_TIME),
    st.builds(
        lambda seconds, nanos, minutes: GoTime(seconds * NS + nanos, minutes * 60),
        st.integers(_EARLIEST, _LATEST),
        st.one_of(st.just(0), st.integers(0, NS - 1), st.sampled_from([1, 10**8, 123_000_000])),
        st.one_of(st.just(0), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
    ),
)
"""Go times json.Marshal can write: the zero time, or years 1-9999 with any offset."""

plain_texts = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7F, blacklist_characters='"\\<>&'),
    max_size=20,
)
"""Strings json.Marshal writes as they are between quotes: ASCII from space on, but " and
\\ and the HTML-safe escapes it adds for <, > and &."""


def compiled_accelerator(name: str) -> ModuleType:
    """`frontier.geminio.<name>` (a Cython module, compiled builds only), or the calling
    test module skipped with the reason printed; the compiled run of ./dev test must have
    it and fails instead."""
    try:
        return importlib.import_module(f"frontier.geminio.{name}")
    except ImportError as exc:
        if os.environ.get("FRONTIER_EXPECT_BUILD") == "compiled":
            raise  # (test_build says so too)
        print(f"{name}: skipped, not compiled in this build ({exc})")
        pytest.skip(f"{name} is not built here ({exc})", allow_module_level=True)
