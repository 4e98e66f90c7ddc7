"""Every code block of README.md and docs/*.md that says it runs, runs ("Docs that run" in
docs/architecture.md; the tags are parsed by support.docblocks).

Each block runs as written, with two adjustments that keep it off ports other people use:
the project's standard ports all move by one free offset (literal port numbers in the block
are rewritten, and every daemon gets the environment overrides for its listeners, so
`./dev run` and `./dev cluster` land on the moved ports too), and it runs in a scratch
directory that mirrors the checkout (symlinks; `.venv` is this interpreter's virtualenv,
first on PATH), so a block may write files without touching the repository.

- ``python run`` / ``python run=NAME``: the program runs with this interpreter and must
  exit 0 within a deadline (a deadlocked snippet fails here); with ``=NAME``, while the
  file's ``serve=NAME`` block serves.
- ``sh run``: a bash script (``set -euo pipefail``); exit 0; what it left in the
  background is stopped afterwards.
- ``sh serve=NAME``: started, ready when `READY[NAME]` says so, then stopped with SIGTERM,
  which must end every process it started. A serve block no block uses is still started
  and stopped once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.docblocks import Block, DocError, runnable
from support.ports import free_shift

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
START_TIMEOUT = 120.0
RUN_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0

LISTENERS = {
    30010: "FRONTIER_CONTROLPLANE_PORT",
    30011: "FRONTIER_SERVICEBOUND_PORT",
    30012: "FRONTIER_EDGEBOUND_PORT",
    30013: "FRONTIER_EDGEBOUND_WEBSOCKET_PORT",
    9091: "FRONTIER_OBSERVABILITY_PORT",
    40011: "FRONTLAS_CONTROLPLANE_PORT",
    40012: "FRONTLAS_FRONTIERPLANE_PORT",
    9092: "FRONTLAS_OBSERVABILITY_PORT",
}
"""Standard ports and the variables that move a daemon's listener there."""
OTHER_PORTS = (31011, 31012, 10091, 39999, 16379, 30080, 30081, 9094, 9095, 18000, 30022)
"""Ports the docs name without a variable: ./dev cluster's frontier-b (frontier-a + 1000),
the probe's echo server, deploy/local's Redis; the tunnel walkthrough's entry (HTTP front,
API, observability), connector (observability), demo app and TCP app."""


@dataclass(frozen=True)
class Ports:
    shift: int

    def __call__(self, port: int) -> int:
        return port + self.shift

    def rewrite(self, text: str) -> str:
        known = "|".join(str(p) for p in (*LISTENERS, *OTHER_PORTS))
        return re.sub(rf"(?<![\w.])({known})(?!\w)", lambda m: str(self(int(m[1]))), text)

    def env(self) -> dict[str, str]:
        return {name: str(self(port)) for port, name in LISTENERS.items()}


# ------------------------------------------------------------------- readiness checks


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def http_json(url: str) -> object:
    with suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())
    return None


def gateway_ready(ports: Ports) -> bool:
    return http_status(f"http://127.0.0.1:{ports(9091)}/readyz") == 200


def cluster_ready(ports: Ports) -> bool:
    listing = http_json(f"http://127.0.0.1:{ports(40011)}/cluster/v1/frontiers")
    frontiers = listing.get("frontiers") if isinstance(listing, dict) else None
    return (
        isinstance(frontiers, list)
        and len(frontiers) == 2
        and all(http_status(f"http://127.0.0.1:{ports(p)}/readyz") == 200 for p in (9091, 10091))
    )


def control_api_ready(ports: Ports) -> bool:
    return gateway_ready(ports) and (
        http_status(f"http://127.0.0.1:{ports(30010)}/openapi.json") == 200
    )


def tunnel_ready(ports: Ports) -> bool:
    """The walkthrough's app answers through entry, gateway and connector."""
    return http_status(f"http://127.0.0.1:{ports(30080)}/hello.txt") == 200


def frontlas_alive(ports: Ports) -> bool:
    """frontlas and a frontier up, Redis or not (alive, not necessarily ready)."""
    return all(http_status(f"http://127.0.0.1:{ports(p)}/healthz") == 200 for p in (9092, 9091))


READY: dict[str, Callable[[Ports], bool]] = {
    "gateway": gateway_ready,  # a standalone frontier on the standard ports
    "websocket": gateway_ready,  # the same with its WebSocket listener (readiness: both up)
    "control-api": control_api_ready,  # the same with its control API on :30010
    "cluster": cluster_ready,  # frontlas + frontier-a + frontier-b (./dev cluster)
    "frontlas": frontlas_alive,  # frontlas and one frontier, by hand
    "tunnel": tunnel_ready,  # docs/tunnel.md: gateway, entry, connector and an app
}
"""What "serving" means for each `serve=NAME`: a new name needs an entry here."""


# ------------------------------------------------------------------------- collection


def _collect() -> tuple[list[Block], list[Block]]:
    runs: list[Block] = []
    lone_serves: list[Block] = []
    for path in DOCS:
        try:
            tagged = runnable(path)
        except DocError:
            continue  # test_docs_tags_are_well_formed reports it
        runs.extend(b for b in tagged if b.run is not None)
        used = {b.run for b in tagged if b.run}
        lone_serves.extend(b for b in tagged if b.serve and b.serve not in used)
    return runs, lone_serves


RUNS, LONE_SERVES = _collect()


def _id(block: Block) -> str:
    return block.where


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_tags_are_well_formed(path: Path) -> None:
    for block in runnable(path):
        if block.serve is not None:
            assert block.serve in READY, (
                f"{block.where}: no readiness check for serve={block.serve}: add one to READY"
            )


def test_the_docs_have_runnable_blocks() -> None:
    """The mechanism finds what it should (a typo in a tag would silently skip a block)."""
    by_file: dict[str, int] = {}
    for block in RUNS:
        by_file[block.path.name] = by_file.get(block.path.name, 0) + 1
    assert by_file.get("README.md", 0) >= 4, by_file
    assert by_file.get("sdk.md", 0) >= 3, by_file


def test_ports_move_together_and_only_whole_numbers() -> None:
    ports = Ports(-7000)
    text = "127.0.0.1:30011 FRONTIER_EDGEBOUND_PORT=31012 v0.30011 130011 30011x :9091 40012"
    assert ports.rewrite(text) == (
        "127.0.0.1:23011 FRONTIER_EDGEBOUND_PORT=24012 v0.30011 130011 30011x :2091 33012"
    )
    assert ports.env()["FRONTLAS_FRONTIERPLANE_PORT"] == "33012"


# ---------------------------------------------------------------------------- running


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A directory that looks like the checkout (relative paths in the docs work) but
    whose writes go nowhere near it."""
    mirror = tmp_path / "checkout"
    mirror.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git", ".venv"):
            (mirror / entry.name).symlink_to(entry)
    (mirror / ".venv").symlink_to(Path(sys.prefix))
    return mirror


@pytest.fixture
def ports() -> Ports:
    return Ports(free_shift([*LISTENERS, *OTHER_PORTS]))


def block_env(ports: Ports) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FRONTIER_", "FRONTLAS_", "REDIS_", "LOG_"))
        and k not in ("MASTER_NAME", "NODE_NAME")
    }
    bin_dir = str(Path(sys.prefix) / "bin")
    return {
        **inherited,
        **ports.env(),
        "PATH": os.pathsep.join([bin_dir, inherited.get("PATH", "")]),
        "VIRTUAL_ENV": sys.prefix,
        "FRONTIER_VENV": sys.prefix,  # ./dev uses this interpreter's virtualenv
        "PYTHONUNBUFFERED": "1",
    }


REQUIRES = {"redis-server": ("redis-server", "./dev cluster"), "curl": ("curl ",)}
"""Commands a block may need (./dev test installs them with apt): a block that uses one
skips, saying so, where it is missing."""


def needs(block: Block) -> None:
    for command, signs in REQUIRES.items():
        if any(sign in block.text for sign in signs) and shutil.which(command) is None:
            pytest.skip(f"{block.where} needs {command} (./dev installs it with apt)")


class Group:
    """A bash script in its own process group, output to a file."""

    def __init__(self, block: Block, ports: Ports, cwd: Path, log: Path) -> None:
        self.block = block
        self.log = log
        script = "set -euo pipefail\n" + ports.rewrite(block.text) + "\n"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["bash", "-c", script],
                cwd=cwd,
                env=block_env(ports),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> bool:
        """SIGTERM to the group; True if every process ended within STOP_TIMEOUT (else
        SIGKILL, and False)."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not group_members(self.proc.pid):
                self.proc.wait(STOP_TIMEOUT)  # bash itself: exited, maybe not reaped yet
                return True
            time.sleep(0.05)
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`: an orphan that exited but
    that its new parent has not reaped yet does not count."""
    members: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


@contextmanager
def serving(block: Block, ports: Ports, cwd: Path, logs: Path) -> Iterator[Group]:
    assert block.serve is not None
    needs(block)
    group = Group(block, ports, cwd, logs / f"serve-{block.serve}.log")
    try:
        ready = READY[block.serve]
        deadline = time.monotonic() + START_TIMEOUT
        while not ready(ports):
            code = group.proc.poll()
            if code not in (None, 0):
                raise AssertionError(
                    f"{block.where} (serve={block.serve}) exited {code} before it was "
                    f"ready:\n{group.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{block.where} (serve={block.serve}) not ready within {START_TIMEOUT} s:"
                    f"\n{group.output()}"
                )
            time.sleep(0.05)
        yield group
    finally:
        stopped = group.stop()
    assert stopped, f"{block.where}: processes left after SIGTERM:\n{group.output()}"
    code = group.proc.returncode
    assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), (code, group.output())


def server_block(block: Block) -> Block:
    (serve,) = [b for b in runnable(block.path) if b.serve == block.run]
    return serve


def run_block(block: Block, ports: Ports, cwd: Path, logs: Path) -> None:
    needs(block)
    if block.lang == "python":
        program = cwd / f"snippet-{block.line}.py"
        program.write_text(ports.rewrite(block.text) + "\n")
        try:
            done = subprocess.run(
                [sys.executable, str(program)],
                cwd=cwd,
                env=block_env(ports),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"{block.where}: still running after {RUN_TIMEOUT} s (deadlocked?)\n"
                f"{exc.stdout!r}\n{exc.stderr!r}"
            ) from None
        assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{done.stderr}"
        return
    group = Group(block, ports, cwd, logs / f"run-{block.line}.log")
    try:
        code = group.proc.wait(RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        group.stop()  # what it started in the background
    assert code == 0, f"{block.where} exited {code}:\n{group.output()}"


@pytest.mark.parametrize("block", RUNS, ids=_id)
def test_doc_block_runs(block: Block, ports: Ports, scratch: Path, tmp_path: Path) -> None:
    if not block.run:
        run_block(block, ports, scratch, tmp_path)
        return
    with serving(server_block(block), ports, scratch, tmp_path):
        run_block(block, ports, scratch, tmp_path)


@pytest.mark.parametrize("block", LONE_SERVES, ids=_id)
def test_doc_serve_block_starts_and_stops(
    block: Block, ports: Ports, scratch: Path, tmp_path: Path
) -> None:
    with serving(block, ports, scratch, tmp_path):
        pass
