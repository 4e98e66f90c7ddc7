"""Run every benchmark in bench/; with ``--update-readme``, make the results the README's.

``./dev bench`` runs them all and prints what the README section would say (the targets and
the table): it changes no file. ``./dev bench --update-readme`` also writes
``bench/results.json`` (the rows, with when, where and how they were measured) and
regenerates the README's performance section from it, between ``<!-- perf:start -->`` and
``<!-- perf:end -->``: the targets, met or missed, and the table. Every figure in that
section comes from results.json (a test checks that the README matches it), so the prose
cannot contradict the table and nobody edits either by hand. ``--render`` regenerates the
section from results.json without measuring, after a change to how it is rendered. The
same run regenerates docs/gateway.md's per-edge costs and sizing rule (between
``<!-- sizing:start -->`` and ``<!-- sizing:end -->``) from bench/scale.py's rows.

Each benchmark script takes ``--quick`` and ``--json-out FILE`` and writes rows of the form
``{bench, case, variant, unit, value, baseline, baseline_name, ratio, better, target}``:
``ratio`` is oriented so that > 1 means we beat the baseline, and ``target`` (optional) is the
least acceptable ratio.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from frontier.buildinfo import build_flavour

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
GATEWAY_DOC = HERE.parent / "docs" / "gateway.md"
RESULTS = HERE / "results.json"
START, END = "<!-- perf:start -->", "<!-- perf:end -->"
SIZING_START, SIZING_END = "<!-- sizing:start -->", "<!-- sizing:end -->"

Row = dict[str, Any]


def benchmarks(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.py") if p.name != "run_all.py" and p.name[0] != "_")


def run(script: Path, quick: bool) -> list[Row]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, str(script), "--json-out", out.name]
        if quick:
            cmd.append("--quick")
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        rows: list[Row] = json.loads(Path(out.name).read_text())
    return rows


def fmt(value: float) -> str:
    number = float(value)
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


def measure(directory: Path, quick: bool) -> dict[str, Any]:
    rows: list[Row] = []
    for script in benchmarks(directory):
        rows.extend(run(script, quick))
    return {
        "measured": {
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
            "command": "./dev bench" + (" --quick" if quick else ""),
            # which code ran: the benchmarks' processes import what this one does
            "build": build_flavour(),
        },
        "rows": rows,
    }


# -- the README section: every figure from the results ----------------------------------------


def _figure(row: Row) -> str:
    """``gateway RSS per idle edge (19,000 edges): 3.67 KB, 2.89x the baseline (target: at
    most 3.00x)``: a cost as a multiple of its baseline, a rate as the ratio."""
    variant = "" if row["variant"] == "uvloop" else f" ({row['variant']})"
    value, baseline, target = float(row["value"]), float(row["baseline"]), float(row["target"])
    head = f"{row['bench']} {row['case']}{variant}: {fmt(value)} {row['unit']}"
    if row.get("better") == "lower":
        times = value / baseline if baseline else float("inf")
        return f"{head}, {times:.2f}x the baseline (target: at most {1 / target:.2f}x)"
    return f"{head}, {float(row['ratio']):.2f}x the baseline (target: {target:.2f}x)"


def _verdict(row: Row) -> str:
    target = row.get("target")
    if target is None:
        return "-"
    return f">= {float(target):.2f}x: " + ("met" if float(row["ratio"]) >= target else "missed")


def render(results: dict[str, Any]) -> str:
    """The README's performance section, from `results` alone."""
    measured = results["measured"]
    rows: list[Row] = results["rows"]
    targeted = [row for row in rows if row.get("target") is not None]
    met = [row for row in targeted if float(row["ratio"]) >= row["target"]]
    missed = [row for row in targeted if float(row["ratio"]) < row["target"]]
    build = f" ({measured['build']})" if measured.get("build") else ""
    lines = [
        f"Measured {measured['date']} on {measured['machine']} by `{measured['command']}`"
        f"{build}. Every figure has a baseline measured in the same run; the ratio is "
        "oriented so that > 1 means frontier-py is better; the target column is the least "
        "acceptable ratio (for a cost, at most 3x the baseline is a ratio of at least 0.33x).",
        "",
    ]
    for title, group in (("Targets met", met), ("Targets missed", missed)):
        if group:
            figures = "; ".join(_figure(row) for row in group)
            lines.append(f"**{title}** ({len(group)} of {len(targeted)}): {figures}.")
            lines.append("")
    lines += [
        "| benchmark | case | variant | frontier-py | baseline | ratio | target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        unit = row["unit"]
        lines.append(
            f"| {row['bench']} | {row['case']} | {row['variant']} | {fmt(row['value'])} {unit} "
            f"| {fmt(row['baseline'])} {unit} ({row['baseline_name']}) "
            f"| {float(row['ratio']):.2f}x | {_verdict(row)} |"
        )
    return "\n".join(lines)


def render_sizing(results: dict[str, Any]) -> str:
    """docs/gateway.md's per-edge costs and sizing rule, from bench/scale.py's rows."""
    rows = {(row["case"], row["variant"].split(",")[0]): row for row in results["rows"]}
    needed = [
        (case, kind)
        for case in ("RSS per idle edge", "CPU to admit one edge", "CPU per heartbeat")
        for kind in ("plaintext", "TLS")
    ]
    if any(key not in rows for key in needed):
        return "Not measured yet: `./dev bench --update-readme` runs bench/scale.py."
    measured = results["measured"]
    lines = [
        f"Measured {measured['date']} on {measured['machine']} by `{measured['command']}` "
        "(bench/scale.py; the baseline is a bare uvloop server doing the same):",
        "",
        "| per edge | plaintext | TLS | bare server, plaintext / TLS |",
        "| --- | --- | --- | --- |",
    ]
    for case in ("RSS per idle edge", "CPU to admit one edge", "CPU per heartbeat"):
        plain, tls = rows[(case, "plaintext")], rows[(case, "TLS")]
        unit = plain["unit"]
        lines.append(
            f"| {case.removesuffix(' edge').removesuffix(' one').lower()} "
            f"| {fmt(plain['value'])} {unit} | {fmt(tls['value'])} {unit} "
            f"| {fmt(plain['baseline'])} / {fmt(tls['baseline'])} {unit} |"
        )
    rss_plain = float(rows[("RSS per idle edge", "plaintext")]["value"])
    rss_tls = float(rows[("RSS per idle edge", "TLS")]["value"])
    admit_plain = float(rows[("CPU to admit one edge", "plaintext")]["value"])
    admit_tls = float(rows[("CPU to admit one edge", "TLS")]["value"])
    beat = float(rows[("CPU per heartbeat", "plaintext")]["value"])
    lines += [
        "",
        f"Sizing rule: memory is about {fmt(rss_plain * 10_000 / 1024)} MB per 10,000 idle "
        f"edges in plaintext and {fmt(rss_tls * 10_000 / 1024)} MB with TLS, on top of "
        "the process's own (about 60 MB). Idle edges cost little CPU: at the default 20 s "
        f"heartbeat one core answers the heartbeats of {fmt(20 * 1e6 / beat / 1000)}k edges; "
        "what sizes a gateway is its traffic and its reconnect storms. A restart costs "
        f"{fmt(admit_plain * 10_000 / 1e6)} s of CPU per 10,000 plaintext edges and "
        f"{fmt(admit_tls * 10_000 / 1e6)} s per 10,000 TLS edges (the TLS handshake is most "
        "of it), so plan a core per 10,000 TLS edges if they must all be back within "
        "seconds, and keep the SDK's spread-out backoff.",
    ]
    return "\n".join(lines)


def section_of(text: str, start: str = START, end: str = END) -> str:
    """What `text` holds between the markers (without them)."""
    pattern = re.compile(re.escape(start) + "\n(.*?)\n" + re.escape(end), re.S)
    found = pattern.search(text)
    if found is None:
        raise SystemExit(f"no {start} ... {end} section")
    return found[1]


def readme_section(text: str) -> str:
    """What the README holds between the markers (without them)."""
    return section_of(text)


def update_section(path: Path, section: str, start: str = START, end: str = END) -> None:
    text = path.read_text()
    section_of(text, start, end)  # the markers must be there
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{start}\n{section}\n{end}", text))


def update_readme(readme: Path, section: str) -> None:
    update_section(readme, section)


def main(
    argv: Sequence[str] | None = None,
    *,
    bench_dir: Path = HERE,
    readme: Path = README,
    results_path: Path = RESULTS,
) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick mode")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help=f"write {results_path.name} and regenerate the README's performance section",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help=f"measure nothing: regenerate the README section from {results_path.name}",
    )
    parser.add_argument("--json-out", metavar="FILE", type=Path, help="also save the results")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(results_path.read_text())
    else:
        results = measure(bench_dir, args.quick)
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1) + "\n")
    section = render(results)
    print(section)
    if args.update_readme and not args.render:
        results_path.write_text(json.dumps(results, indent=1) + "\n")
    if args.update_readme or args.render:
        update_readme(readme, section)
        print(f"updated {readme}")
        gateway_doc = readme.parent / "docs" / "gateway.md"  # (GATEWAY_DOC, for the README)
        if gateway_doc.exists():
            update_section(gateway_doc, render_sizing(results), SIZING_START, SIZING_END)
            print(f"updated {gateway_doc}")
    else:
        print(f"({readme.name} unchanged: ./dev bench --update-readme writes it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
