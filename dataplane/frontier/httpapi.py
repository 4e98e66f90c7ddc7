"""What the two REST APIs (the gateway's control API, frontlas's cluster API) share.

Both are read by scripts and by API tools working from their OpenAPI documents, so they
follow one set of rules, kept here once:

- every failure is JSON ``{"error": text}``, plus ``"param"`` naming the offending query or
  path parameter on a 400 (`ApiError`, `json_errors`); nothing but the status and that text
  reaches the client, never a traceback;
- query strings are parsed strictly: an unknown parameter, or a single-valued one given
  twice, is a 400 naming it (`check_query`), so a typo never turns into "list everything";
- numbers are ASCII decimal digits only (`parse_uint64`, `parse_int64`): Python's `int()`
  would also take ``+1``, ``1_0``, spaces and other scripts' digits (``١٢`` is 12).

Errors aiohttp raises before any handler runs (a malformed request line or header) never
reach these middlewares; `frontier.httpserve` answers those in the same JSON shape.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Final

from aiohttp import web

from .throttled_log import ThrottledLog

__all__ = [
    "MAX_INT64",
    "MAX_UINT64",
    "MIN_INT64",
    "ApiError",
    "bad_param",
    "check_query",
    "error_response",
    "json_errors",
    "json_response",
    "parse_int64",
    "parse_uint64",
    "require_bearer",
]

MAX_UINT64: Final = (1 << 64) - 1
MIN_INT64: Final = -(1 << 63)
MAX_INT64: Final = (1 << 63) - 1

_UINT_RE: Final = re.compile(r"[0-9]{1,20}")  # re's [0-9] is ASCII only, unlike str.isdigit()
_INT_RE: Final = re.compile(r"-?[0-9]{1,19}")
_KEPT_HEADERS: Final = ("Allow", "WWW-Authenticate")


class ApiError(Exception):
    """Becomes a JSON ``{"error": message}`` response with `status` (see `json_errors`)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


def bad_param(param: str, problem: str) -> ApiError:
    """A 400 naming `param`: ``{"error": "param: problem", "param": "param"}``."""
    return ApiError(400, f"{param}: {problem}", param=param)


def json_response(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """`body` as compact JSON, never cacheable: both APIs show state that changes every
    second, and an intermediary must not serve a stale copy."""
    return web.json_response(
        body, status=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body: dict[str, str] = {"error": message}
    if param is not None:
        body["param"] = param
    return json_response(body, status=status, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_errors(log: logging.Logger, api: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware answering every failure as JSON: `ApiError` as given, aiohttp's own
    4xx (unknown path, method not allowed: ``Allow`` is kept) with its reason, and any other
    exception as a bare 500 ``internal error`` after logging it, with its traceback, under
    `api`'s name (throttled per exception class: a client that found a bug must not be
    able to fill the log with it)."""
    failures = ThrottledLog(log)

    @web.middleware
    async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as e:
            return error_response(e.status, e.message, param=e.param, headers=e.headers)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            kept = {k: v for k, v in e.headers.items() if k in _KEPT_HEADERS}
            return error_response(e.status, e.reason.lower(), headers=kept)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures.log(
                logging.ERROR,
                type(exc).__name__,
                "%s: %s %s failed",
                api,
                request.method,
                request.path,
                exc_info=exc,
            )
            return error_response(500, "internal error")

    return errors_as_json


def check_query(
    query: Mapping[str, str],
    allowed: Collection[str],
    *,
    repeatable: Collection[str] = (),
) -> None:
    """Raise a 400 for the first parameter that is not `allowed`, or that is given twice
    without being `repeatable` (a list parameter). `query` is aiohttp's multidict, whose
    `items()` holds one pair per value (its `keys()` does not repeat a key)."""
    seen: set[str] = set()
    for key, _ in query.items():  # noqa: PERF102 - a multidict: one pair per value
        if key not in allowed:
            hint = f"allowed: {', '.join(allowed)}" if allowed else "this route takes none"
            raise bad_param(key, f"unknown query parameter ({hint})")
        if key in seen and key not in repeatable:
            raise bad_param(key, "given more than once")
        seen.add(key)


def parse_uint64(param: str, text: str) -> int:
    """An unsigned 64-bit decimal integer: ASCII digits only (leading zeros are fine)."""
    if not _UINT_RE.fullmatch(text) or (value := int(text)) > MAX_UINT64:
        raise bad_param(param, "must be an unsigned 64-bit decimal integer")
    return value


def parse_int64(param: str, text: str, *, what: str = "") -> int:
    """A signed 64-bit decimal integer: an optional ``-`` and ASCII digits only."""
    if not _INT_RE.fullmatch(text) or not MIN_INT64 <= (value := int(text)) <= MAX_INT64:
        raise bad_param(param, f"must be a 64-bit decimal integer{what}")
    return value


def require_bearer(
    document: dict[str, Any], *, realm: str, setting: str, exempt: Collection[str] = ()
) -> dict[str, Any]:
    """A copy of OpenAPI `document` stating what `frontier.http_auth.bearer_auth` enforces:
    every operation but those under the `exempt` paths needs the bearer token (`setting`
    names the configuration key that holds it) and may answer 401. The document must
    define ``#/components/schemas/Error``."""
    document = copy.deepcopy(document)
    document["security"] = [{"bearerAuth": []}]
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": f"The token in {setting}.",
    }
    components.setdefault("responses", {})["Unauthorized"] = {
        "description": "Missing or wrong bearer token.",
        "headers": {
            "WWW-Authenticate": {
                "schema": {"type": "string"},
                "description": f'Bearer realm="{realm}" (plus error="invalid_token" when a '
                "wrong token was sent).",
            }
        },
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": "missing bearer token"},
            }
        },
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            if path in exempt:
                operation["security"] = []
            else:
                operation["responses"]["401"] = {"$ref": "#/components/responses/Unauthorized"}
    return document


_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
