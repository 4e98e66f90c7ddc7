"""Scans the entry asked connectors for (``scan_application``), kept for the API.

A scan is a tunnel of its own (op ``scan``): the connector answers with a `wire.Status`,
then REPORT frames (``running`` with progress, at most one a second, then ``completed``
with what it found) and EOF. The progress and the result go back to the entry that asked
and to nothing else on the gateway. The book keeps the last `KEEP` scans; at most
`MAX_RUNNING` run at once (the connector has its own bound too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from .metrics import EntryMetrics
from .relay import TunnelStream
from .tunnels import TunnelOpener, TunnelOpenError
from .wire import Abort, Eof, Report, ScanRequest, TunnelProtocolError

__all__ = ["KEEP", "MAX_RUNNING", "ScanBook", "ScanJob", "TooManyScans"]

log = logging.getLogger("frontier.tunnel.scans")

KEEP: Final = 64
MAX_RUNNING: Final = 4


class TooManyScans(Exception):
    pass


@dataclass
class ScanJob:
    id: str
    connector: str
    request: ScanRequest
    status: str = "starting"
    """starting, running, completed, failed, cancelled"""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "connector": self.connector,
            "status": self.status,
            "nets": list(self.request.nets),
            "ports": list(self.request.ports),
            "started": self.started,
            "finished": self.finished,
        }
        source = self.result if self.result is not None else self.progress
        for key in ("scanned", "total", "found", "skipped", "seconds", "truncated"):
            if key in source:
                doc[key] = source[key]
        if self.result is not None:
            doc["applications"] = self.result.get("applications", [])
        if self.error:
            doc["error"] = self.error
        return doc


class ScanBook:
    def __init__(self, opener: TunnelOpener, metrics: EntryMetrics) -> None:
        self.opener = opener
        self.metrics = metrics
        self.jobs: OrderedDict[str, ScanJob] = OrderedDict()

    def running(self) -> int:
        return sum(1 for job in self.jobs.values() if job.finished is None)

    def start(self, connector: str, request: ScanRequest) -> ScanJob:
        if self.running() >= MAX_RUNNING:
            raise TooManyScans(f"{MAX_RUNNING} scans are running; wait for one to finish")
        job = ScanJob(secrets.token_hex(8), connector, request)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP:
            oldest = next((k for k, j in self.jobs.items() if j.finished is not None), None)
            if oldest is None:
                break
            del self.jobs[oldest]
        job.task = asyncio.ensure_future(self._run(job))
        return job

    def cancel(self, job: ScanJob) -> None:
        if job.task is not None and not job.task.done():
            job.task.cancel()

    async def _run(self, job: ScanJob) -> None:
        tunnel: TunnelStream | None = None
        try:
            tunnel = await self.opener.open_scan(job.connector, job.request)
            job.status = "running"
            await self._follow(job, tunnel)
        except TunnelOpenError as exc:
            job.status, job.error = "failed", exc.text
        except TunnelProtocolError as exc:
            job.status, job.error = "failed", f"protocol error: {exc}"
        except asyncio.CancelledError:
            job.status, job.error = "cancelled", "cancelled"
        finally:
            job.finished = time.time()
            if tunnel is not None:
                tunnel.stream.dismiss()
            result = (
                "completed"
                if job.status == "completed"
                else ("refused" if tunnel is None else "failed")
            )
            self.metrics.scans.labels(job.connector, result).inc()
            log.info("scan %s on connector %r: %s%s", job.id, job.connector, job.status,
                     f" ({job.error})" if job.error else "")  # fmt: skip

    async def _follow(self, job: ScanJob, tunnel: TunnelStream) -> None:
        while True:
            events = await tunnel.next_events()
            if events is None:
                if job.result is None:
                    job.status, job.error = "failed", "the connector went away"
                return
            for event in events:
                if isinstance(event, Report):
                    if event.doc.get("status") == "completed":
                        job.result = event.doc
                        job.status = "completed"
                    else:
                        job.progress = event.doc
                elif isinstance(event, Eof):
                    if job.result is None:
                        job.status, job.error = "failed", "the scan ended without a result"
                    return
                elif isinstance(event, Abort):
                    job.status, job.error = "failed", event.reason
                    return

    async def close(self) -> None:
        tasks = [job.task for job in self.jobs.values() if job.task and not job.task.done()]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
