"""What WebSocket tests share."""

from __future__ import annotations

import pytest

__all__ = ["PROXY_VARIABLES", "clear_proxy_env"]

PROXY_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "WSS_PROXY", "wss_proxy", "WS_PROXY", "ws_proxy",
)  # fmt: skip


def clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the machine's environment: a WebSocket edge dials what the test says
    (a CI runner's HTTPS_PROXY would otherwise carry loopback dials to a proxy)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
