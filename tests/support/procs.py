"""A subprocess read line by line up to an expected line, with a deadline: for tests that
run the project's commands as users do (the examples, `./dev cluster`)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A subprocess whose output lines are read on demand, up to an expected one."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, name: str, *argv: str, stdin: bool = False, **kwargs: Any) -> Proc:
        """Start `argv` in the checkout (`kwargs` go to create_subprocess_exec: env, ...)."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=kwargs.pop("cwd", ROOT),
            **kwargs,
        )
        return cls(name, process)

    async def expect(self, pattern: str, within: float = 15.0) -> re.Match[str]:
        """Read lines until one matches `pattern`; fail with the output seen so far."""
        assert self.process.stdout is not None
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(within):
                while True:
                    raw = await self.process.stdout.readline()
                    if not raw:
                        raise AssertionError(
                            f"{self.name} exited (rc={await self.process.wait()}) before "
                            f"printing /{pattern}/; output:\n" + "\n".join(self.lines)
                        )
                    line = raw.decode(errors="replace").rstrip("\n")
                    self.lines.append(line)
                    if match := regex.search(line):
                        return match
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no /{pattern}/ within {within} s; output:\n" + "\n".join(self.lines)
            ) from None

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    async def exited(self, within: float = 15.0) -> int:
        """The exit code, once the process ended (its remaining output is kept)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            rest = await self.process.stdout.read()
            self.lines.extend(rest.decode(errors="replace").splitlines())
            return await self.process.wait()

    async def stop(self, within: float = 15.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
        return await self.exited(within)

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
