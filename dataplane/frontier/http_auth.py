"""Bearer-token authentication for the REST side doors (the gateway's control API and
frontlas's cluster API), answered as JSON like every other error of theirs.

The comparison is `hmac.compare_digest`, so response timing does not reveal how much of a
guess matched. Exempt paths (the OpenAPI documents) hold no deployment data: API tools
fetch them without credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

__all__ = ["bearer_auth"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_auth(
    token: str, *, realm: str, exempt: Collection[str] = ()
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """An aiohttp middleware requiring ``Authorization: Bearer <token>`` on every path but
    `exempt`; 401 with ``{"error": ...}`` and a ``WWW-Authenticate`` header otherwise."""
    expected = token.encode()

    @web.middleware
    async def bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in exempt:
            return await handler(request)
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _unauthorized("missing bearer token", f'Bearer realm="{realm}"')
        if not hmac.compare_digest(given.strip().encode(), expected):
            return _unauthorized(
                "invalid bearer token", f'Bearer realm="{realm}", error="invalid_token"'
            )
        return await handler(request)

    return bearer


def _unauthorized(text: str, challenge: str) -> web.Response:
    return web.json_response({"error": text}, status=401, headers={"WWW-Authenticate": challenge})
