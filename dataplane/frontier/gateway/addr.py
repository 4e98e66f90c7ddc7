"""``host:port`` parsing shared by the gateway's listeners and its frontlas link (it lives in
`frontier.addr`, shared with the other daemons)."""

from __future__ import annotations

from ..addr import split_addr

__all__ = ["split_addr"]
