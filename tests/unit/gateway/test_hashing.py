"""Pick rules of `exchange.hashby`, without a network."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.gateway.hashing import HashRing, make_picker


def test_edgeid_and_srcip_follow_upstream() -> None:
    by_edge = make_picker("edgeid")
    assert by_edge(["a", "b", "c"], 7, "") == "b"
    assert make_picker("")(["a", "b", "c"], 7, "") == "b"  # empty means edgeid
    by_ip = make_picker("srcip")
    assert by_ip(["a", "b", "c"], 0, "10.0.0.5") == ["a", "b", "c"][0x0A000005 % 3]
    assert by_ip(["a", "b"], 0, "::ffff:10.0.0.5") == ["a", "b"][0x0A000005 % 2]
    assert by_ip(["a", "b"], 0, "not an ip") == "a"


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="hashby"):
        make_picker("roundrobin")


@given(st.integers(min_value=2, max_value=12))
def test_ring_remaps_about_one_nth_when_a_member_joins(members: int) -> None:
    keys = [f"svc/{i}" for i in range(members)]
    old = HashRing(keys)
    new = HashRing([*keys, "svc/new"])
    ids = range(20_000)
    moved = [i for i in ids if keys[old.index_for(i)] != ([*keys, "svc/new"])[new.index_for(i)]]
    # every moved ID moved to the newcomer, and roughly 1/(n+1) of them moved
    assert all(new.index_for(i) == members for i in moved)
    share = len(moved) / len(ids)
    assert share < 2.5 / (members + 1), share
