"""The README's performance section is generated, never edited: it matches
bench/results.json, and `./dev bench` (bench/run_all.py) rewrites the README only when asked
(``--update-readme``), prose and table from the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.source_modules import load_source

ROOT = Path(__file__).resolve().parents[2]


run_all = load_source("bench_run_all", ROOT / "bench" / "run_all.py")

FAKE_BENCH = """
import json, sys
rows = [
    {"bench": "fake", "case": "stream", "variant": "uvloop", "unit": "MB/s", "value": 410.0,
     "baseline": 1000.0, "baseline_name": "a relay", "ratio": 0.41, "better": "higher",
     "target": 0.7},
    {"bench": "fake", "case": "RSS per idle edge", "variant": "uvloop", "unit": "KB",
     "value": 2.5, "baseline": 1.0, "baseline_name": "a bare socket", "ratio": 0.4,
     "better": "lower", "target": 1 / 3},
    {"bench": "fake", "case": "timers", "variant": "asyncio", "unit": "ns/op", "value": 5.0,
     "baseline": 10.0, "baseline_name": "call_later", "ratio": 2.0, "better": "lower"},
]
out = sys.argv[sys.argv.index("--json-out") + 1]
json.dump(rows, open(out, "w"))
"""

README = "# x\n\nprose\n\n<!-- perf:start -->\nold table\n<!-- perf:end -->\n\nafter\n"


def test_the_readme_section_is_what_results_json_renders() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    section = run_all.readme_section((ROOT / "README.md").read_text())
    assert section == run_all.render(results), (
        "README.md's performance section was edited by hand or results.json changed: "
        "regenerate it with `./dev bench --update-readme` (or `--render`)"
    )


def test_the_gateway_sizing_section_is_what_results_json_renders() -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    text = (ROOT / "docs" / "gateway.md").read_text()
    section = run_all.section_of(text, run_all.SIZING_START, run_all.SIZING_END)
    assert section == run_all.render_sizing(results), (
        "docs/gateway.md's sizing section was edited by hand or results.json changed: "
        "regenerate it with `./dev bench --update-readme` (or `--render`)"
    )


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    (tmp_path / "fake.py").write_text(FAKE_BENCH)
    (tmp_path / "_helper.py").write_text("raise SystemExit('not a benchmark')")
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_dev_bench_leaves_the_readme_alone(bench: Path) -> None:
    results = bench / "results.json"
    run_all.main([], bench_dir=bench, readme=bench / "README.md", results_path=results)
    assert (bench / "README.md").read_text() == README
    assert not results.exists()


def test_update_readme_writes_prose_and_table_from_the_same_rows(bench: Path) -> None:
    results = bench / "results.json"
    run_all.main(
        ["--update-readme"], bench_dir=bench, readme=bench / "README.md", results_path=results
    )
    text = (bench / "README.md").read_text()
    assert text.startswith("# x\n\nprose\n\n<!-- perf:start -->\nMeasured ")
    assert text.endswith("<!-- perf:end -->\n\nafter\n")
    section = run_all.readme_section(text)
    assert "old table" not in section
    assert "by `./dev bench`" in section
    assert (
        "**Targets met** (1 of 2): fake RSS per idle edge: 2.5 KB, 2.50x the baseline "
        "(target: at most 3.00x)."
    ) in section
    assert (
        "**Targets missed** (1 of 2): fake stream: 410 MB/s, 0.41x the baseline (target: 0.70x)."
    ) in section
    assert (
        "| fake | stream | uvloop | 410 MB/s | 1,000 MB/s (a relay) | 0.41x | >= 0.70x: missed |"
        in (section)
    )
    assert "| fake | timers | asyncio | 5 ns/op | 10 ns/op (call_later) | 2.00x | - |" in section
    assert section == run_all.render(json.loads(results.read_text()))


def test_render_needs_no_measurement(bench: Path) -> None:
    results = bench / "results.json"
    run_all.main(
        ["--update-readme"], bench_dir=bench, readme=bench / "README.md", results_path=results
    )
    first = (bench / "README.md").read_text()
    (bench / "fake.py").write_text("raise SystemExit('must not run')")
    (bench / "README.md").write_text(README)
    run_all.main(["--render"], bench_dir=bench, readme=bench / "README.md", results_path=results)
    assert (bench / "README.md").read_text() == first
