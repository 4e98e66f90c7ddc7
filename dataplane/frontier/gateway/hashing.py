"""`exchange.hashby`: which of several qualifying services (or bridges) gets a forward.

`edgeid`, `srcip` and `random` are upstream's rules (frontier-go §3.2: edge ID mod n, the
IPv4 source address mod n, uniform). Both modulo rules remap almost every edge when a
service joins or leaves, so we add `consistent`: a hash ring with virtual nodes, where a
change of membership moves only about 1/n of the edges. Rings are cached per membership, so
a pick is one hash and one bisect.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["HASHBY_MODES", "HashRing", "Picker", "make_picker"]

HASHBY_MODES = ("edgeid", "srcip", "random", "consistent")


T = TypeVar("T")

Picker = Callable[[Sequence[T], int, str], T]
"""pick(candidates, edge_id, source_ip) -> one candidate (candidates is never empty)."""


def _ip_int(ip: str) -> int:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return 0
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return int(address)


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class HashRing:
    """A consistent-hash ring over member keys, `vnodes` points per member."""

    def __init__(self, keys: Sequence[str], vnodes: int = 64) -> None:
        points: list[tuple[int, int]] = []
        for index, key in enumerate(keys):
            encoded = key.encode()
            points.extend(
                (_hash64(encoded + b"#" + str(replica).encode()), index)
                for replica in range(vnodes)
            )
        points.sort()
        self._hashes = [h for h, _ in points]
        self._owners = [i for _, i in points]

    def index_for(self, value: int) -> int:
        h = _hash64(value.to_bytes(8, "big"))
        position = bisect.bisect_right(self._hashes, h)
        if position == len(self._hashes):
            position = 0
        return self._owners[position]


class _ConsistentPicker:
    def __init__(self, key: Callable[[object], str], cache_size: int = 256) -> None:
        self._key = key
        self._rings: OrderedDict[tuple[str, ...], HashRing] = OrderedDict()
        self._cache_size = cache_size

    def __call__(self, candidates: Sequence[T], edge_id: int, ip: str) -> T:
        if len(candidates) == 1:
            return candidates[0]
        keys = tuple(self._key(c) for c in candidates)
        ring = self._rings.get(keys)
        if ring is None:
            ring = HashRing(keys)
            self._rings[keys] = ring
            if len(self._rings) > self._cache_size:
                self._rings.popitem(last=False)
        else:
            self._rings.move_to_end(keys)
        return candidates[ring.index_for(edge_id)]


def make_picker(mode: str, key: Callable[[object], str] = str) -> Picker[T]:
    """The pick function for `exchange.hashby` (empty means `edgeid`, as upstream).

    `key` names a candidate on the consistent ring; it must be stable across reconnects
    for the ring to be (the gateway uses the service name and ID).
    """
    if mode in ("", "edgeid"):

        def by_edge_id(candidates: Sequence[T], edge_id: int, ip: str) -> T:
            return candidates[edge_id % len(candidates)]

        return by_edge_id
    if mode == "srcip":

        def by_source_ip(candidates: Sequence[T], edge_id: int, ip: str) -> T:
            return candidates[_ip_int(ip) % len(candidates)]

        return by_source_ip
    if mode == "random":

        def at_random(candidates: Sequence[T], edge_id: int, ip: str) -> T:
            return candidates[random.randrange(len(candidates))]

        return at_random
    if mode == "consistent":
        return _ConsistentPicker(key)
    raise ValueError(f"unknown exchange.hashby {mode!r} (expected one of {HASHBY_MODES})")
