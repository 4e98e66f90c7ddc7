"""The entry's REST API (``api.addr``, off by default): apps at run time, connectors,
scans. JSON in and out, errors as ``{"error": ...}`` (`frontier.httpapi`), a bearer token
when ``api.token`` is set.

=========================== ======================================================
``GET /v1/apps``            every published app (secrets shown as counts only)
``POST /v1/apps``           publish an app (the body is one ``apps`` entry of the
                            config): 201; 409 if the name, port or route is taken
``GET /v1/apps/{name}``     one app
``DELETE /v1/apps/{name}``  unpublish it: its listener closes, connections reset
``GET /v1/connectors``      the configured connectors: edge ID, online, address
``POST /v1/scans``          ``{"connector", "nets", "ports", "timeout"?,
                            "concurrency"?}``: start a scan (202)
``GET /v1/scans``           recent scans; ``GET /v1/scans/{id}``: one, with its
                            progress or result; ``DELETE`` cancels it
=========================== ======================================================
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from ..http_auth import bearer_auth
from ..httpapi import ApiError, check_query, json_errors, json_response
from ..strict_yaml import ConfigError
from .config import app_from_doc
from .entry import AppExists, Entry
from .scans import TooManyScans
from .wire import RequestError, ScanRequest

__all__ = ["build_api"]

log = logging.getLogger("frontier.tunnel.api")

_MAX_BODY = 256 * 1024


async def _json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise ApiError(413, f"the body is larger than {_MAX_BODY} bytes")
    try:
        return json.loads(await request.read())
    except ValueError:
        raise ApiError(400, "the body is not JSON") from None


def build_api(entry: Entry, token: str = "") -> web.Application:
    middlewares = [json_errors(log, "tunnel API")]
    if token:
        middlewares.append(bearer_auth(token, realm="frontier-tunnel"))
    app = web.Application(middlewares=middlewares, client_max_size=_MAX_BODY)

    def app_or_404(name: str) -> None:
        if entry.app_config(name) is None:
            raise ApiError(404, f"no app named {name!r}")

    async def list_apps(request: web.Request) -> web.Response:
        check_query(request.query, ())
        return json_response({"apps": [entry.describe_app(n) for n in entry.app_names()]})

    async def get_app(request: web.Request) -> web.Response:
        check_query(request.query, ())
        name = request.match_info["name"]
        app_or_404(name)
        return json_response(entry.describe_app(name))

    async def add_app(request: web.Request) -> web.Response:
        check_query(request.query, ())
        doc = await _json_body(request)
        try:
            config = app_from_doc(doc)
            await entry.add_app(config)
        except ConfigError as exc:
            raise ApiError(400, str(exc)) from None
        except AppExists as exc:
            raise ApiError(409, str(exc)) from None
        except OSError as exc:
            raise ApiError(409, str(exc)) from None
        return json_response(entry.describe_app(config.name), status=201)

    async def delete_app(request: web.Request) -> web.Response:
        check_query(request.query, ())
        name = request.match_info["name"]
        if entry.sources.get(name) == "config":
            log.info("app %r (from the config file) removed through the API", name)
        if not await entry.remove_app(name):
            raise ApiError(404, f"no app named {name!r}")
        return json_response({"removed": name})

    async def connectors(request: web.Request) -> web.Response:
        check_query(request.query, ())
        directory = entry.directory
        listing = []
        for name in sorted(directory.presence):
            doc = directory.describe(name)
            doc["apps"] = [n for n in entry.app_names() if entry.app_config(n).connector == name]  # type: ignore[union-attr]
            listing.append(doc)
        return json_response({"connectors": listing})

    async def start_scan(request: web.Request) -> web.Response:
        check_query(request.query, ())
        doc = await _json_body(request)
        if not isinstance(doc, dict):
            raise ApiError(400, "expected a JSON object")
        connector = doc.pop("connector", None)
        if connector not in entry.directory.tokens:
            raise ApiError(400, f"connector: {connector!r} is not a configured connector")
        try:
            scan = ScanRequest.from_doc(doc)
        except RequestError as exc:
            raise ApiError(400, str(exc)) from None
        unknown = set(doc) - {"nets", "ports", "timeout", "concurrency"}
        if unknown:
            raise ApiError(400, f"unknown keys: {', '.join(sorted(unknown))}")
        try:
            job = entry.scans.start(connector, scan)
        except TooManyScans as exc:
            raise ApiError(429, str(exc)) from None
        return json_response(job.describe(), status=202)

    async def list_scans(request: web.Request) -> web.Response:
        check_query(request.query, ())
        jobs = [job.describe() for job in reversed(entry.scans.jobs.values())]
        for doc in jobs:
            doc.pop("applications", None)
        return json_response({"scans": jobs})

    def job_or_404(request: web.Request) -> Any:
        job = entry.scans.jobs.get(request.match_info["id"])
        if job is None:
            raise ApiError(404, "no such scan")
        return job

    async def get_scan(request: web.Request) -> web.Response:
        check_query(request.query, ())
        return json_response(job_or_404(request).describe())

    async def cancel_scan(request: web.Request) -> web.Response:
        check_query(request.query, ())
        job = job_or_404(request)
        entry.scans.cancel(job)
        return json_response({"cancelled": job.id})

    router = app.router
    router.add_get("/v1/apps", list_apps)
    router.add_post("/v1/apps", add_app)
    router.add_get("/v1/apps/{name}", get_app)
    router.add_delete("/v1/apps/{name}", delete_app)
    router.add_get("/v1/connectors", connectors)
    router.add_post("/v1/scans", start_scan)
    router.add_get("/v1/scans", list_scans)
    router.add_get("/v1/scans/{id}", get_scan)
    router.add_delete("/v1/scans/{id}", cancel_scan)
    return app
