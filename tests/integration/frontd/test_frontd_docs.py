"""docs/frontd.md's quick start, run as written: its shell blocks in order as one session
(the ports swapped for free ones), each checked against the output block that follows it;
its Python block is examples/frontd/client.py, which the session runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "frontd.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks_of(path: Path, heading: str) -> list[tuple[str, str]]:
    """(language, body) of the fenced blocks under ``## heading``."""
    section = path.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(section)]


def quick_start() -> list[tuple[str, str]]:
    return blocks_of(DOC, "Quick start")


def test_the_python_block_is_the_example_file() -> None:
    blocks = [body for kind, body in quick_start() if kind == "python"]
    assert blocks == [(ROOT / "examples" / "frontd" / "client.py").read_text()]


needs_tools = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")),
    reason="the examples use curl and openssl (./dev test installs them)",
)


def run_session(blocks: list[tuple[str, str]], tmp_path: Path, ports: list[str]) -> None:
    """The shell blocks as one bash session (background jobs killed at the end), each
    checked against the ``text`` block after it; `ports` are swapped for free ones."""
    swap = {port: str(free_port()) for port in ports}
    script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT"]
    expected: list[list[str]] = []
    for kind, body in blocks:
        for old, new in swap.items():
            body = body.replace(old, new)
        if kind == "sh":
            script += [f"echo @@block{len(expected)}", body]
            expected.append([])
        elif kind == "text":
            expected[-1] = body.strip().splitlines()
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("FRONTD_SECRET", None)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = re.split(r"^@@block\d+\n", result.stdout, flags=re.M)[1:]
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        if want:  # a block with no output block after it is only checked for success
            assert sorted(got.strip().splitlines()) == sorted(want), (got, want)


@needs_tools
def test_the_quick_start_runs_as_documented(tmp_path: Path) -> None:
    run_session(quick_start(), tmp_path, ["4043", "9093", "8000"])


def test_the_readme_example_runs(tmp_path: Path) -> None:
    blocks = blocks_of(ROOT / "README.md", "frontd: the encrypted-address TCP gateway")
    assert [kind for kind, _ in blocks] == ["sh"]
    # frontd's default ports, swapped: the README shows the defaults
    body = blocks[0][1].replace("frontd --allow", "frontd --addr 127.0.0.1:4043 --allow")
    body = body.replace("&", "--observability 127.0.0.1:9093 &", 1)
    run_session([("sh", body)], tmp_path, ["4043", "9093"])
