"""Run every benchmark in bench/ and regenerate the README's performance table from it.

Each benchmark script takes ``--quick`` and ``--json-out FILE`` and writes rows of the form
``{bench, case, variant, unit, value, baseline, baseline_name, ratio, better}``, where ratio
is oriented so that > 1 means we beat the baseline. The table goes between the markers
``<!-- perf:start -->`` and ``<!-- perf:end -->`` of README.md, with the machine and the
command that produced it, so the README never carries figures nobody can reproduce.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START, END = "<!-- perf:start -->", "<!-- perf:end -->"


def benchmarks() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py" and p.name[0] != "_")


def run(script: Path, quick: bool) -> list[dict[str, object]]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(script), "--json-out", out.name]
        if quick:
            cmd.append("--quick")
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        rows: list[dict[str, object]] = json.loads(Path(out.name).read_text())
    return rows


def fmt(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    if number >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} x {cpu}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def render(rows: list[dict[str, object]], quick: bool) -> str:
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()} by "
        f"`./dev bench{' --quick' if quick else ''}`. Every figure has a baseline measured in "
        "the same run; the ratio is oriented so that > 1 means frontier-py is better.",
        "",
        "| benchmark | case | variant | frontier-py | baseline | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        unit = row["unit"]
        lines.append(
            f"| {row['bench']} | {row['case']} | {row['variant']} | {fmt(row['value'])} {unit} "
            f"| {fmt(row['baseline'])} {unit} ({row['baseline_name']}) "
            f"| {float(row['ratio']):.2f}x |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def update_readme(table: str) -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START} ... {END} section")
    README.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick mode")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    for script in benchmarks():
        rows.extend(run(script, args.quick))
    table = render(rows, args.quick)
    print(table)
    if not args.no_readme:
        update_readme(table)
        print(f"updated {README}")


if __name__ == "__main__":
    main()
