"""A SIGTERM that lands during start-up (Kubernetes stops pods whenever it likes) is a
clean stop with exit code 0, for both daemons, not death by the default action. Each run
is a child process whose `start()` raises SIGTERM at itself before doing its work: a
regression kills only that child (exit code -15), never the test runner."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from support.ports import free_port

pytestmark = pytest.mark.integration

CHILD = """
import signal, sys
from {app_module} import {cls} as Daemon
from {cli_module} import main

started = Daemon.start

async def start(self):
    signal.raise_signal(signal.SIGTERM)  # as if the pod were stopped mid-start-up
    await started(self)

Daemon.start = start
sys.exit(main(["--config", sys.argv[1]]))
"""

DAEMONS = {
    "frontier": (
        "frontier.gateway.app",
        "Gateway",
        "frontier.gateway.cli",
        {
            "servicebound": {"listen": {"addr": "127.0.0.1:0"}},
            "edgebound": {"listen": {"addr": "127.0.0.1:0"}},
            "observability": {"enable": False},
        },
    ),
    "frontlas": (
        "frontier.frontlas.app",
        "Frontlas",
        "frontier.frontlas.cli",
        {
            "control_plane": {"listen": {"addr": "127.0.0.1:0"}},
            "frontier_plane": {"listen": {"addr": "127.0.0.1:0"}},
            "observability": {"addr": "127.0.0.1:0"},
            "redis": {"standalone": {"addr": "127.0.0.1:PORT"}},  # nobody there
        },
    ),
}


@pytest.mark.parametrize("daemon", sorted(DAEMONS))
def test_sigterm_during_start_up_is_a_clean_stop(daemon: str, tmp_path: Path) -> None:
    app_module, cls, cli_module, config = DAEMONS[daemon]
    path = tmp_path / f"{daemon}.yaml"
    path.write_text(yaml.safe_dump(config).replace("PORT", str(free_port())))
    child = textwrap.dedent(CHILD).format(app_module=app_module, cls=cls, cli_module=cli_module)
    result = subprocess.run(
        [sys.executable, "-c", child, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "signal received" in result.stdout  # log.output's default
