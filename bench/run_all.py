"""Run every benchmark and write one table: each figure beside the baseline measured in the same run.

    make bench                           # all benchmarks; the table into README.md and bench/results/latest.md
    python bench/run_all.py --quick      # smaller sizes where a bench offers them; bench/results/latest.md only
    python bench/run_all.py engine       # only benches whose name contains "engine"; latest.md only

Each bench is a module bench/<area>_<what>.py listed in BENCHES (add yours
there; the order is the table's order). It exposes `run() -> list[dict]`
with rows {"name", "value", "unit", "baseline", "baseline_name", "target"};
"baseline" may be None where the figure is its own floor (a count, a limit).
A row measured through an interface users meet over the network (real
HTTP to a `floreyn-server` on loopback) says so with "http": True, or the
module sets OVER_HTTP = True for all its rows; the table has a column for it.
`run` may take `quick: bool` for a shorter run with smaller sizes (or QUICK_ARGS
names the keyword arguments of a shorter run). A bench
that needs PostgreSQL reads FLOREYN_TEST_PG_URL (absent: SQLite only).
What benches share (a scratch SQLite and PostgreSQL database each, loading a
sibling bench, printing rows) is in bench/common.py.
Benchmarks are not tests: they measure, print and never fail the build.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Final

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
BENCHES: Final = (
    "app_start",
    "drivers_nfc_read",
    "drivers_print",
    "engine_commit",
    "till_long_day",  # issue 19: commit and start-up over a long offline day
    "till_scripted_spend",  # issue 19: a whole scripted spend (both transactions and the receipt)
    "provision_desk",
    "portal_pages",
    "server_ingest",
    "server_http_ingest",  # issue 19: ingest over HTTP from concurrent tills
    "server_balance",  # issue 19: balance reads over HTTP under an upload load
    "server_export",  # issue 19: the bookkeeping CSV over HTTP, per million postings, peak memory
    "server_snapshot",  # issue 19: snapshots for 100,000 cards: kept pages, deltas, the till's apply
)
# --quick for benches whose run() has no `quick` parameter: the keyword arguments of a shorter run.
QUICK_ARGS: Final[dict[str, dict[str, object]]] = {
    "app_start": {"window_s": 5.0},
    "engine_commit": {"n": 500},
    "till_long_day": {"sizes": (500, 10_000)},
    "till_scripted_spend": {"n": 100},
    "server_ingest": {"terminals": 20, "records": 500},
    "server_http_ingest": {"records": 200, "rounds": 1, "workers": (1,)},
    "server_snapshot": {"sizes": (1_000, 10_000), "rounds": 1},
}


def modules(filter_text: str) -> list[Path]:
    listed = [HERE / f"{name}.py" for name in BENCHES]
    missing = [p.name for p in listed if not p.exists()]
    assert not missing, f"BENCHES names files that do not exist: {missing}"
    unlisted = sorted(p.name for p in HERE.glob("*_*.py")
                      if p.stem not in BENCHES and p.name != "run_all.py" and "\ndef run(" in p.read_text())
    if unlisted:
        print(f"note: not in BENCHES, not run: {', '.join(unlisted)}", flush=True)
    return [p for p in listed if filter_text in p.stem]


def load(path: Path) -> ModuleType:
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
        "| benchmark | over HTTP | measured | baseline (same run) | target |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        unit = r.get("unit", "")
        base = r.get("baseline")
        base_text = f"{fmt(base)} {unit} ({r.get('baseline_name', '')})" if base is not None else "–"
        http = "yes" if r.get("http") else ""
        lines.append(f"| {r['name']} | {http} | {fmt(r['value'])} {unit} | {base_text} | {r.get('target', '')} |")
    return "\n".join(lines)


def run_one(path: Path, quick: bool) -> list[dict]:
    module = load(path)
    kwargs: dict[str, object] = {}
    if quick:
        takes_quick = "quick" in inspect.signature(module.run).parameters
        kwargs = {"quick": True} if takes_quick else QUICK_ARGS.get(path.stem, {})
    rows = module.run(**kwargs)
    for row in rows:
        row.setdefault("http", bool(getattr(module, "OVER_HTTP", False)))
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("filter", nargs="?", default="", help="only benches whose name contains this")
    p.add_argument("--quick", action="store_true", help="smaller sizes where a bench offers them (not the README)")
    args = p.parse_args(argv)
    rows: list[dict] = []
    for path in modules(args.filter):
        print(f"== {path.name}", flush=True)
        started = time.perf_counter()
        try:
            got = run_one(path, args.quick)
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            rows.append({"name": f"{path.stem}: FAILED", "value": None, "unit": "", "baseline": None})
            continue
        for row in got:
            print_row(row, indent="   ")
        rows.extend(got)
        print(f"   [{time.perf_counter() - started:.1f} s]", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} " \
              f"{platform.python_version()}"
    pg = "SQLite and PostgreSQL" if os.environ.get("FLOREYN_TEST_PG_URL") else "SQLite only (no FLOREYN_TEST_PG_URL)"
    text = (f"Measured {time.strftime('%Y-%m-%d')} with `make bench` on {machine}, {pg}"
            f"{' (--quick)' if args.quick else ''}. \"over HTTP\": measured through the real HTTP API against "
            f"`floreyn-server` on loopback, as a till, the desk tool or a browser meets it; the others call the "
            f"code in-process. The machine may be shared: compare each figure with its baseline from the same run."
            f"\n\n{table(rows)}\n")
    print("\n" + text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(text)
    if not args.filter and not args.quick and README.exists():
        readme = README.read_text()
        if BEGIN in readme and END in readme:
            head, rest = readme.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
            print(f"table written into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
