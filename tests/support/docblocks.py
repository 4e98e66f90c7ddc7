"""The code blocks of the Markdown docs that say they run ("Docs that run" in
docs/architecture.md): found by their fence's info string, pure parsing, no I/O but
reading the file.

    ```python run                 a complete program; runs by itself
    ```python run=gateway         runs while the file's `serve=gateway` block serves
    ```sh run                     a bash script (set -euo pipefail); must exit 0
    ```sh serve=gateway           starts servers and leaves them running (ready when the
                                  test's readiness check for `gateway` passes)

GitHub highlights by the first word and ignores the rest, so tagged blocks render like any
other. A block without a tag is illustrative and never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "DocError", "blocks", "runnable"]

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
TAGS = frozenset({"run", "serve"})
LANGS = {"run": {"python", "sh"}, "serve": {"sh"}}


class DocError(ValueError):
    """A tagged block that cannot be run as tagged (the message names file:line)."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    tags: dict[str, str]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def run(self) -> str | None:
        """None: not run; "": run by itself; a name: run while that server serves."""
        return self.tags.get("run")

    @property
    def serve(self) -> str | None:
        return self.tags.get("serve")


def blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, tagged or not, in order."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        words = opening["info"].split()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].startswith(fence[0] * len(fence)) and not lines[j].strip(fence[0]).strip()
        ):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise DocError(f"{path.name}:{i + 1}: the block is never closed")
        lang = words[0] if words else ""
        found.append(Block(path, i + 1, lang, _tags(path, i + 1, words[1:]), "\n".join(body)))
        i = j + 1
    return found


def _tags(path: Path, line: int, words: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for word in words:
        name, _, value = word.partition("=")
        if name not in TAGS:
            continue  # other info-string words (a title, attributes) are not ours
        if name in tags:
            raise DocError(f"{path.name}:{line}: {name!r} given twice")
        if name == "serve" and not value:
            raise DocError(f"{path.name}:{line}: serve needs a name (serve=NAME)")
        tags[name] = value
    return tags


def runnable(path: Path) -> list[Block]:
    """The tagged blocks of `path`, checked: `run`/`serve` only on the languages that
    support them, `run=NAME` only where the file has a `serve=NAME` block, no block both
    serving and running, python blocks that compile."""
    tagged = [block for block in blocks(path) if block.tags]
    served = {block.serve for block in tagged if block.serve}
    for block in tagged:
        for tag in block.tags:
            if block.lang not in LANGS[tag]:
                langs = " or ".join(sorted(LANGS[tag]))
                raise DocError(
                    f"{block.where}: {tag!r} works on {langs} blocks, not {block.lang!r}"
                )
        if block.run is not None and block.serve is not None:
            raise DocError(f"{block.where}: a block either runs or serves")
        if block.run and block.run not in served:
            raise DocError(f"{block.where}: run={block.run} but no block says serve={block.run}")
        if block.lang == "python":
            try:
                compile(block.text, block.where, "exec")
            except SyntaxError as exc:
                raise DocError(f"{block.where}: not a complete program: {exc}") from exc
    names = [block.serve for block in tagged if block.serve]
    if len(names) != len(set(names)):
        raise DocError(f"{path.name}: two blocks serve the same name: {sorted(names)}")
    return tagged
