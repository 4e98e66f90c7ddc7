"""Every documented logging mode of both daemons, as real processes: ``log.output`` stdout,
stderr, file and both (and the same through the flags and the environment), the file's
rotation, pruning and compression at start-up, and a clear error for a file that cannot be
written. Each run waits for the daemon's "up" line where it must appear, then stops it."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.ports import free_port

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@dataclass(frozen=True)
class Daemon:
    module: str
    up: str  # the log line that says it is serving
    config: dict[str, Any]


def daemons() -> dict[str, Daemon]:
    return {
        "frontier": Daemon(
            "frontier.gateway.cli",
            "frontier up: servicebound",
            {
                "servicebound": {"listen": {"addr": "127.0.0.1:0"}},
                "edgebound": {"listen": {"addr": "127.0.0.1:0"}},
                "observability": {"enable": False},
                "daemon": {"drain_seconds": 0},
            },
        ),
        "frontlas": Daemon(
            "frontier.frontlas.cli",
            "frontlas up: cluster API",
            {
                "control_plane": {"listen": {"addr": "127.0.0.1:0"}},
                "frontier_plane": {"listen": {"addr": "127.0.0.1:0"}},
                "observability": {"addr": "127.0.0.1:0"},
                "redis": {"standalone": {"addr": f"127.0.0.1:{free_port()}"}},  # nobody there
            },
        ),
    }


@dataclass
class Run:
    stdout: str
    stderr: str
    returncode: int


class Started:
    """A daemon process with stdout and stderr going to files, stopped on exit."""

    def __init__(self, argv: list[str], tmp: Path, env: dict[str, str]) -> None:
        self.out_path, self.err_path = tmp / "stdout", tmp / "stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)

    def output(self) -> tuple[str, str]:
        return self.out_path.read_text(), self.err_path.read_text()

    def wait_for(self, path: Path, text: str, timeout: float = 30) -> None:
        """Until `text` shows in `path` (fails with both streams if the process ends)."""
        deadline = time.monotonic() + timeout
        while not (path.exists() and text in path.read_text(errors="replace")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.output()
                raise AssertionError(
                    f"no {text!r} in {path.name} (rc={self.proc.poll()})\n"
                    f"stdout:\n{out}\nstderr:\n{err}"
                )
            time.sleep(0.02)

    def stop(self, signal_it: bool = True) -> Run:
        """SIGTERM (unless `signal_it` is false: it must end by itself), then the outcome."""
        if signal_it and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        out, err = self.output()
        return Run(out, err, code)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Started] = []

    def run(
        name: str, log: dict[str, Any], *flags: str, env: dict[str, str] | None = None
    ) -> Started:
        daemon = daemons()[name]
        config = tmp_path / f"{name}.yaml"
        config.write_text(yaml.safe_dump({**daemon.config, "log": log}))
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LOG_")}
        process = Started(
            [sys.executable, "-m", daemon.module, "--config", str(config), *flags],
            tmp_path,
            {**clean, **(env or {})},
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@pytest.mark.parametrize("name", ["frontier", "frontlas"])
@pytest.mark.parametrize("output", ["stdout", "stderr", "file", "both"])
def test_log_output_goes_where_the_config_says(
    name: str, output: str, start: Any, tmp_path: Path
) -> None:
    up = daemons()[name].up
    log_file = tmp_path / "logs" / f"{name}.log"  # the directory is created
    process = start(name, {"output": output, "file": {"path": str(log_file)}})
    where = {"stdout": process.out_path, "stderr": process.err_path}.get(output, log_file)
    process.wait_for(where, up)
    run = process.stop()
    assert run.returncode == 0, run
    assert (up in run.stdout) is (output in ("stdout", "both"))
    assert (up in run.stderr) is (output == "stderr")
    in_file = log_file.exists() and up in log_file.read_text()
    assert in_file is (output in ("file", "both"))
    if output in ("file", "both"):
        assert "signal received" in log_file.read_text()  # written up to the end
    if output == "file":
        assert run.stdout == run.stderr == ""


@pytest.mark.parametrize("name", ["frontier", "frontlas"])
def test_flags_beat_the_environment_which_beats_the_file(
    name: str, start: Any, tmp_path: Path
) -> None:
    up = daemons()[name].up
    flagged = tmp_path / "flag.log"
    process = start(
        name,
        {"output": "stdout", "level": "error", "format": "text"},
        "--log-output", "file", "--log-file", str(flagged), "--log-level", "INFO",
        "--log-format", "json",
        env={"LOG_OUTPUT": "stderr", "LOG_LEVEL": "error", "LOG_FILE": str(tmp_path / "env.log")},
    )  # fmt: skip
    process.wait_for(flagged, up)
    run = process.stop()
    assert run.returncode == 0
    assert run.stdout == run.stderr == ""
    assert not (tmp_path / "env.log").exists()
    first = flagged.read_text().splitlines()[0]
    assert first.startswith("{")  # --log-format json
    assert '"level": "info"' in first


@pytest.mark.parametrize("name", ["frontier", "frontlas"])
def test_environment_beats_the_file(name: str, start: Any, tmp_path: Path) -> None:
    up = daemons()[name].up
    env_log = tmp_path / "env.log"
    process = start(
        name,
        {"output": "stdout", "file": {"path": str(tmp_path / "file.log")}},
        env={"LOG_OUTPUT": "both", "LOG_FILE": str(env_log), "LOG_FORMAT": "json"},
    )
    process.wait_for(env_log, up)
    run = process.stop()
    assert run.returncode == 0
    assert up in run.stdout  # both
    assert not (tmp_path / "file.log").exists()
    assert all(line.startswith("{") for line in env_log.read_text().splitlines())


def test_rotation_pruning_and_compression_with_a_real_process(start: Any, tmp_path: Path) -> None:
    """A log already at max_size rotates on the first line; backups beyond max_backups
    and older than max_age go; the rotated file is gzipped."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "frontier.log"
    filler = b"x" * 99 + b"\n"
    path.write_bytes(filler * (MIB // len(filler)))  # just under 1 MiB: the next line rotates
    now = time.time()
    for days_ago, extension in ((1, ".log"), (2, ".log.gz"), (3, ".log"), (40, ".log")):
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(now - days_ago * 86400))
        (logs / f"frontier-{stamp}.000{extension}").write_bytes(b"old\n")
    (logs / "unrelated.txt").write_text("kept")
    process = start(
        "frontier",
        {
            "output": "file",
            "file": {
                "path": str(path),
                "max_size": 1,
                "max_backups": 3,
                "max_age": 30,
                "compress": True,
            },
        },
    )
    process.wait_for(path, "frontier up")
    run = process.stop()  # close() waits for the compression in progress
    assert run.returncode == 0, run
    names = sorted(p.name for p in logs.iterdir())
    backups = [n for n in names if n.startswith("frontier-")]
    assert len(backups) == 3, names  # the new one and the two newest old ones
    assert all(n.endswith(".log.gz") for n in backups), names  # every kept backup gzipped
    assert "unrelated.txt" in names
    newest = max(backups)
    with gzip.open(logs / newest) as rotated:
        assert rotated.read() == filler * (MIB // len(filler))
    text = path.read_text()
    assert "frontier up" in text
    assert "x" * 99 not in text


@pytest.mark.parametrize("name", ["frontier", "frontlas"])
def test_an_unusable_log_file_is_a_clear_error(name: str, start: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    process = start(name, {"output": "file", "file": {"path": str(blocker / "x.log")}})
    run = process.stop(signal_it=False)
    assert run.returncode == 2
    assert f"{name}: cannot open the log file" in run.stderr
    assert "not-a-directory" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("key", ["max_size", "max_backups", "max_age"])
def test_negative_log_file_limits_are_config_errors(key: str, start: Any) -> None:
    process = start("frontier", {"output": "file", "file": {key: -1}})
    run = process.stop(signal_it=False)
    assert run.returncode == 2
    assert f"log.file.{key}" in run.stderr
