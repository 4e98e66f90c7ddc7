"""The parser of runnable doc blocks (support.docblocks): which blocks run, how they are
tagged, and the mistakes it refuses (so a broken tag fails a test instead of silently
turning a block into an illustration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.docblocks import DocError, blocks, runnable


def doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_tags_and_untagged_blocks(tmp_path: Path) -> None:
    path = doc(
        tmp_path,
        "# Title\n\n"
        "```sh serve=gateway\n./dev run\n```\n\n"
        "```python run=gateway\nprint('hi')\n```\n\n"
        "```python\nawait something()  # illustrative: never compiled\n```\n\n"
        "~~~sh run title=x\necho ok\n~~~\n\n"
        "````python run\nprint('```')\n````\n"
        "```\nplain\n```\n",
    )
    everything = blocks(path)
    assert [(b.lang, b.tags, b.line) for b in everything] == [
        ("sh", {"serve": "gateway"}, 3),
        ("python", {"run": "gateway"}, 7),
        ("python", {}, 11),
        ("sh", {"run": ""}, 15),
        ("python", {"run": ""}, 19),
        ("", {}, 22),
    ]
    assert everything[4].text == "print('```')"  # a longer fence holds a shorter one
    tagged = runnable(path)
    assert [b.line for b in tagged] == [3, 7, 15, 19]
    assert tagged[1].run == "gateway"
    assert tagged[0].serve == "gateway"
    assert tagged[2].run == ""
    assert tagged[2].where == "doc.md:15"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```python run\nasync with x:\n    pass\n```\n", "not a complete program"),
        ("```yaml run\na: 1\n```\n", "'run' works on python or sh blocks, not 'yaml'"),
        ("```python serve=x\nprint()\n```\n", "'serve' works on sh blocks"),
        ("```python run=cluster\nprint()\n```\n", "no block says serve=cluster"),
        ("```sh serve\nx\n```\n", "serve needs a name"),
        ("```sh run run\nx\n```\n", "'run' given twice"),
        ("```sh run serve=a\nx\n```\n", "either runs or serves"),
        ("```sh serve=a\nx\n```\n```sh serve=a\ny\n```\n", "two blocks serve the same name"),
        ("```python run\nprint()\n", "never closed"),
    ],
)
def test_mistakes_are_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DocError, match=r"doc\.md") as caught:
        runnable(doc(tmp_path, text))
    assert message in str(caught.value)
