"""The three commands spell their common flags the same way (`frontier.cli_flags`):
``--version`` with the build, ``--log-level`` (upstream's ``--loglevel`` too) and
``--log-format``, values in any case; and frontier-operator without credentials says in one
line where it looked, instead of retrying forever."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from frontier.version import package_version

pytestmark = pytest.mark.integration

COMMANDS = {
    "frontier": "frontier.gateway.cli",
    "frontlas": "frontier.frontlas.cli",
    "frontier-operator": "frontier_operator.cli",
}


def run(
    command: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", COMMANDS[command], *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_version_names_the_package_version_and_the_build(command: str) -> None:
    done = run(command, "--version")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert re.fullmatch(
        rf"{re.escape(command)} {re.escape(package_version())} "
        rf"\((compiled with mypyc and Cython: \d+ modules|pure Python: [^;()]+)"
        rf"; \w+ 3\.\d+\.\d+\S*\)",
        line,
    ), line
    assert package_version() != "unknown"  # from the installed distribution's metadata


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    "flags",
    [
        ("--log-level", "debug"),
        ("--log-level", "WARN"),
        ("--loglevel", "Warning"),  # upstream's spelling
        ("--log-level=error", "--log-format", "json"),
        ("--log-format", "TEXT"),
    ],
)
def test_log_flags_are_accepted_in_every_spelling(command: str, flags: tuple[str, ...]) -> None:
    done = run(command, *flags, "--version")  # --version exits once the flags parsed
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("flag", "value"), [("--log-level", "loud"), ("--log-format", "xml")])
def test_bad_log_flag_values_list_the_choices(command: str, flag: str, value: str) -> None:
    done = run(command, flag, value, "--version")
    assert done.returncode == 2
    assert f"'{value}' is not one of" in done.stderr
    assert ("debug" in done.stderr.lower()) is (flag == "--log-level")
    assert ("json" in done.stderr) is (flag == "--log-format")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_the_shared_flags(command: str) -> None:
    done = run(command, "--help")
    assert done.returncode == 0
    for flag in ("--version", "--log-level", "--loglevel", "--log-format"):
        assert flag in done.stdout


needs_operator = pytest.mark.skipif(
    importlib.util.find_spec("kopf") is None, reason="the operator extra (kopf) is not installed"
)


def no_credentials_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "KUBECONFIG" and not k.startswith("KUBERNETES_SERVICE")
    }
    env["HOME"] = str(home)  # no ~/.kube/config there
    return env


@needs_operator
def test_operator_without_credentials_exits_with_one_line(tmp_path: Path) -> None:
    done = run("frontier-operator", env=no_credentials_env(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("frontier-operator: no Kubernetes credentials: ")
    assert "in-cluster service account" in lines[0]
    assert "~/.kube/config" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


@needs_operator
@pytest.mark.parametrize("how", ["flag", "env"])
def test_operator_names_the_kubeconfig_it_could_not_use(how: str, tmp_path: Path) -> None:
    bogus = tmp_path / "kubeconfig"
    bogus.write_text("- not: a kubeconfig\n")
    env = no_credentials_env(tmp_path)
    args: list[str] = []
    if how == "flag":
        args = ["--kubeconfig", str(bogus)]
        expected = f"--kubeconfig {bogus}"
    else:
        env["KUBECONFIG"] = str(bogus)
        expected = f"KUBECONFIG={bogus}"
    done = run("frontier-operator", *args, env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert expected in lines[0]
