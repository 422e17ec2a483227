"""Run every benchmark and write one table: each figure beside the baseline measured in the same run.

    make bench                      # all benchmarks, table into README.md and bench/results/latest.md
    python bench/run_all.py engine  # only modules whose name contains "engine"

Each module bench/<area>_<what>.py exposes `run() -> list[dict]` with rows
{"name", "value", "unit", "baseline", "baseline_name", "target"}; "baseline"
may be None where the figure is its own floor (a count, a limit).
Benchmarks are not tests: they measure, print and never fail the build.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def modules(filter_text: str) -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py" and filter_text in p.stem)


def load(path: Path):  # noqa: ANN201 - a module
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_row(row: dict, indent: str = "") -> None:
    """One figure beside its baseline and target: what each bench script prints when run alone."""
    print(f"{indent}{row['name']}: {fmt(row['value'])} {row.get('unit', '')}"
          f"  (baseline {fmt(row.get('baseline'))} {row.get('baseline_name', '')}; target {row.get('target', '-')})",
          flush=True)


def table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | measured | baseline (same run) | target |",
        "|---|---|---|---|",
    ]
    for r in rows:
        unit = r.get("unit", "")
        base = r.get("baseline")
        base_text = f"{fmt(base)} {unit} ({r.get('baseline_name', '')})" if base is not None else "–"
        lines.append(f"| {r['name']} | {fmt(r['value'])} {unit} | {base_text} | {r.get('target', '')} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    filter_text = argv[0] if argv else ""
    rows: list[dict] = []
    for path in modules(filter_text):
        print(f"== {path.name}", flush=True)
        started = time.perf_counter()
        try:
            got = load(path).run()
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            rows.append({"name": f"{path.stem}: FAILED", "value": None, "unit": "", "baseline": None})
            continue
        for row in got:
            print_row(row, indent="   ")
        rows.extend(got)
        print(f"   [{time.perf_counter() - started:.1f} s]")
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    text = f"Measured {time.strftime('%Y-%m-%d')} on {machine}:\n\n{table(rows)}\n"
    print("\n" + text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(text)
    if not filter_text and README.exists():
        readme = README.read_text()
        if BEGIN in readme and END in readme:
            head, rest = readme.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
            print(f"table written into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
