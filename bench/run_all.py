"""Run every benchmark and write one table: each figure beside the baseline measured in the same run.

    make bench                                  # all benchmarks; the tables into README.md and bench/results/
    python bench/run_all.py --quick             # smaller sizes, one round: a smoke run (bench/results/ only)
    python bench/run_all.py --setting middle    # issue 19's goals in ~30 min on 2 cores (SETTINGS, below)
    python bench/run_all.py engine till         # only benches whose name contains "engine" or "till"
    python bench/run_all.py --set server_http_ingest.records=100 --markdown /tmp/goals.md server_http

Each bench is a module bench/<area>_<what>.py listed in BENCHES (add yours
there; the order is the table's order). It exposes `run() -> list[dict]`
with rows {"name", "value", "unit", "baseline", "baseline_name", "target"};
"baseline" may be None where the figure is its own floor (a count, a limit).
A row measured through an interface users meet over the network (real
HTTP to a `floreyn-server` on loopback) says so with "http": True, or the
module sets OVER_HTTP = True for all its rows; the table has a column for it.
`run` may take `quick: bool` for a shorter run with smaller sizes (or SETTINGS
names the keyword arguments of a shorter run). A bench
that needs PostgreSQL reads FLOREYN_TEST_PG_URL (absent: SQLite only).
What benches share (a scratch SQLite and PostgreSQL database each, loading a
sibling bench, printing rows) is in bench/common.py.

Issue 19's goals: a bench that measures one calls bench/goals.py, which prints
each goal row as one JSON line (common.emit_goal: figure and same-run floor as
min/median/max, ratio, target, met, over HTTP, what it includes). This script
collects them into bench/results/goals.jsonl and a goals table (markdown, with
the date, the machine, its load average at start and end, and the command):
bench/results/goals.md, `--markdown FILE`, and README.md between
<!-- bench-goals:begin --> and <!-- bench-goals:end --> after a full run.
Benchmarks are not tests: they measure, print and never fail the build.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import platform
import re
import shlex
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import common  # bench/common.py: bench/ is sys.path[0] when this runs as a script

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
RESULTS = HERE / "results"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
REDUCED = r" \(reduced: [^)]*\)"  # bench/goals.py's mark on a row below the size
VIA_MAKE_ENV = "FLOREYN_BENCH_VIA_MAKE"  # set to 1 by the Makefile's bench target
GOALS_BEGIN, GOALS_END = "<!-- bench-goals:begin -->", "<!-- bench-goals:end -->"
BENCHES: Final = (
    "app_start",  # issue 19: the app's peak RSS (goal 5)
    "drivers_nfc_read",
    "drivers_print",
    "engine_commit",
    "till_long_day",  # issue 19: commit and start-up over a long offline day (goal 4)
    "till_scripted_spend",  # issue 19: a whole scripted spend (both transactions and the receipt; goal 4)
    "provision_desk",
    "portal_pages",
    "server_ingest",
    "server_http_ingest",  # issue 19: ingest over HTTP from concurrent tills (goals 1 and 2)
    "server_balance",  # issue 19: balance reads over HTTP under an upload load (goal 6)
    "server_export",  # issue 19: the bookkeeping CSV over HTTP, per million postings, peak memory (goal 7)
    "server_snapshot",  # issue 19: snapshots for 100,000 cards: kept pages, deltas, the till's apply (goal 3)
)
# Settings: per bench, the keyword arguments of its run(). "full" is every bench's default (the sizes,
# min/median/max of 3). "quick" is a smoke run: a bench whose run() takes `quick` and is not named here gets
# quick=True. "middle" keeps the sizes where a 2-core machine affords them in about 30 minutes for the
# whole run, and says in the goals table which it reduced (bench/goals.py marks rows below the size):
# the balance reads at 100k postings (1M: +3 min of filling, mostly PostgreSQL), the export at 300k (per
# million either way; 1M: +8 min), 250 records per till for the ingest; every other goal at the size.
# Measured 2026-12-07 on the shared 2-core machine at load 6-18: 38 min (the ingest bench failed early there).
SETTINGS: Final[dict[str, dict[str, dict[str, object]]]] = {
    "full": {},
    "quick": {
        "app_start": {"window_s": 5.0},
        "engine_commit": {"n": 500},
        "till_long_day": {"sizes": (500, 10_000)},
        "till_scripted_spend": {"n": 100},
        "server_ingest": {"terminals": 20, "records": 500, "postings": 100_000},
        "server_http_ingest": {"records": 200, "rounds": 1, "workers": (1,), "sqlite_workers": (1,)},
        "server_snapshot": {"sizes": (1_000, 10_000), "rounds": 1},
    },
    "middle": {
        "app_start": {"window_s": 10.0},  # idle CPU over 10 s instead of 30; peak RSS as in full
        "engine_commit": {"n": 500},
        "till_long_day": {"sizes": (100_000,)},  # the 100k only (its fill alone is 2 min)
        "till_scripted_spend": {"n": 100},
        "server_ingest": {"terminals": 20, "records": 500, "postings": 100_000},  # in-process; not a goal
        "server_http_ingest": {"records": 250},  # 40 tills as the issue, 250 records each instead of 500
        "server_balance": {"quick": True},  # 100k postings instead of 1M, 300 reads a round
        "server_export": {"sizes": (100_000, 300_000)},  # 300k instead of 1M; per million either way
        "server_snapshot": {"sizes": (100_000,)},  # the 100k only: no curve (full shows 1k/10k/100k)
    },
}


def modules(filters: list[str]) -> list[Path]:
    listed = [HERE / f"{name}.py" for name in BENCHES]
    missing = [p.name for p in listed if not p.exists()]
    assert not missing, f"BENCHES names files that do not exist: {missing}"
    unlisted = sorted(p.name for p in HERE.glob("*_*.py")
                      if p.stem not in BENCHES and p.name != "run_all.py" and "\ndef run(" in p.read_text())
    if unlisted:
        print(f"note: not in BENCHES, not run: {', '.join(unlisted)}", flush=True)
    return [p for p in listed if not filters or any(f in p.stem for f in filters)]


def load(path: Path) -> ModuleType:
    return common.load_module(f"bench_{path.stem}", path)


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


# -- the goals table ------------------------------------------------------------------------------------


def num(value: float) -> str:
    """A measured value to about three significant digits, thousands with commas."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 0.001 or value == 0 else f"{value:.2g}"


def spread(values: list[float] | None) -> str:
    return "/".join(num(v) for v in values) if values else "–"


def largest_of_each_curve(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per goal key: the largest size measured, with the medians at the other sizes as its curve."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for g in goals:
        by_key.setdefault(g["key"], []).append(g)
    out = []
    for rows in by_key.values():
        rows = sorted(rows, key=lambda g: g.get("size") or 0)
        last = dict(rows[-1])
        last["curve"] = [(g["size"], g["figure"][1]) for g in rows[:-1] if g.get("size")]
        out.append(last)
    return sorted(out, key=lambda g: g["goal"])  # stable: the benches' order within a goal


def goal_row(g: dict[str, Any]) -> str:
    measured = f"{spread(g['figure'])} {g['unit']}"
    if g["ratio"]:
        measured += f" = {spread(g['ratio'])}x"
    if g.get("curve"):
        measured += " (median at " + "; ".join(f"{size:,}: {num(med)}" for size, med in g["curve"]) + ")"
    if g["note"]:
        measured += f"; {g['note']}"
    floor = f"{spread(g['floor'])} {g['unit']} ({g['floor_what']})" if g["floor"] else "–"
    met = {True: "yes", False: "no", None: "–"}[g["met"]]
    http = "yes" if g["over_http"] else ""
    return f"| {g['goal']} {g['label']} | {http} | {g['target']} | {measured} | {floor} | {met} |"


def goals_markdown(goals: list[dict[str, Any]], header: str, failed: list[str]) -> str:
    lines = [header, "", "| goal | over HTTP | target | measured (min/med/max) | floor (same run) | met |",
             "|---|---|---|---|---|---|"]
    lines += [goal_row(g) for g in largest_of_each_curve(goals)]
    lines += [f"| {name}: FAILED, no figures (see the run's output) | | | | | no |" for name in failed]
    rows_of: dict[str, list[str]] = {}  # what a figure includes -> the rows it is said of
    for g in largest_of_each_curve(goals):
        rows_of.setdefault(g["includes"], []).append(f"{g['goal']} {re.sub(REDUCED, '', g['label'])}")
    what = [f"- {'; '.join(labels)}: {includes}." for includes, labels in rows_of.items()]
    return "\n".join(lines + ["", "What each figure includes:", "", *what]) + "\n"


def machine_header(setting: str, argv: list[str], load_start: tuple[float, ...], load_end: tuple[float, ...],
                   started: float) -> str:
    pg = "SQLite and PostgreSQL" if os.environ.get("FLOREYN_TEST_PG_URL") else "SQLite only (no FLOREYN_TEST_PG_URL)"
    # Said by the Makefile's bench target, not guessed from MAKELEVEL: `make test` runs a test that runs this,
    # and that is no `make bench`.
    via_make = os.environ.get(VIA_MAKE_ENV) == "1"
    command = (f"make bench BENCH_ARGS={shlex.quote(shlex.join(argv))}" if via_make and argv
               else "make bench" if via_make else shlex.join(["python", "bench/run_all.py", *argv]))
    loads = lambda la: "/".join(f"{v:.1f}" for v in la)  # noqa: E731
    return (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} with `{command}` (setting {setting}) in "
            f"{(time.time() - started) / 60:.0f} min on {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}, {pg}; load average (1/5/15 min) "
            f"{loads(load_start)} at the start, {loads(load_end)} at the end. Each figure is min/median/max of its "
            f"rounds beside its floor from the same rounds; \"met\" holds the median to the target; \"over HTTP\": "
            f"through the real HTTP API against `floreyn-server` on loopback.")


# -- running ------------------------------------------------------------------------------------------------


def parse_set(items: list[str]) -> dict[str, dict[str, object]]:
    """--set bench.key=value (a Python literal: 50, 1.5, (500, 1000), True; else a string) -> kwargs per bench."""
    out: dict[str, dict[str, object]] = {}
    for item in items:
        name, _, value = item.partition("=")
        bench, _, key = name.partition(".")
        if not (bench and key and value):
            raise SystemExit(f"--set {item!r}: give bench.key=value")
        if bench not in BENCHES:
            raise SystemExit(f"--set {item!r}: no bench {bench!r} in BENCHES")
        try:
            parsed: object = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(bench, {})[key] = parsed
    return out


def kwargs_for(module: ModuleType, stem: str, setting: str, overrides: dict[str, dict[str, object]]) -> dict:
    kwargs = dict(SETTINGS[setting].get(stem, {}))
    if setting == "quick" and not kwargs and "quick" in inspect.signature(module.run).parameters:
        kwargs = {"quick": True}
    return {**kwargs, **overrides.get(stem, {})}


def run_one(path: Path, setting: str, overrides: dict[str, dict[str, object]]) -> tuple[list[dict], list[dict]]:
    """(table rows, goal rows) of one bench."""
    module = load(path)
    del common.GOALS[:]
    rows = module.run(**kwargs_for(module, path.stem, setting, overrides))
    for row in rows:
        row.setdefault("http", bool(getattr(module, "OVER_HTTP", False)))
    goals = [{**g, "bench": path.stem} for g in common.GOALS]
    return rows, goals


def replace_between(text: str, begin: str, end: str, new: str) -> str | None:
    """`text` with what lies between the lines `begin` and `end` replaced by `new`; None without both lines.

    Only markers on a line of their own count: prose that names a marker (in backticks) is no place for a
    table (a full run on 2026-12-07 wrote the goals table into such a sentence)."""
    found = re.search(rf"^{re.escape(begin)}$(.*?)^{re.escape(end)}$", text, flags=re.MULTILINE | re.DOTALL)
    if found is None:
        return None
    return f"{text[:found.start()]}{begin}\n{new}{end}{text[found.end():]}"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("filter", nargs="*", help="only benches whose name contains one of these")
    p.add_argument("--setting", choices=sorted(SETTINGS), default="full", help="sizes and rounds (SETTINGS)")
    p.add_argument("--quick", action="store_true", help="--setting quick: a smoke run (not the README)")
    p.add_argument("--set", action="append", default=[], metavar="BENCH.KEY=VALUE",
                   help="a keyword argument of one bench's run(), over the setting's")
    p.add_argument("--markdown", type=Path, help="also write the goals table here")
    p.add_argument("--results", type=Path, default=RESULTS, help=f"folder for latest.md, goals.md, goals.jsonl "
                                                                 f"(default {RESULTS.relative_to(HERE.parent)})")
    args = p.parse_args(argv)
    setting = "quick" if args.quick else args.setting
    overrides = parse_set(args.set)
    started, load_start = time.time(), os.getloadavg()
    rows: list[dict] = []
    goals: list[dict] = []
    failed: list[str] = []
    args.results.mkdir(parents=True, exist_ok=True)
    for path in modules(args.filter):
        print(f"== {path.name}", flush=True)
        t0 = time.perf_counter()
        try:
            got, got_goals = run_one(path, setting, overrides)
        except Exception:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            rows.append({"name": f"{path.stem}: FAILED", "value": None, "unit": "", "baseline": None})
            failed.append(path.stem)
            continue
        for row in got:
            print_row(row, indent="   ")
        rows.extend(got)
        goals.extend(got_goals)
        print(f"   [{time.perf_counter() - t0:.1f} s]", flush=True)
    header = machine_header(setting, argv, load_start, os.getloadavg(), started)
    goals_md = goals_markdown(goals, header, failed)
    text = f"{header}\n\n{table(rows)}\n"
    print("\n" + text + "\n" + goals_md)
    (args.results / "latest.md").write_text(f"{text}\n{goals_md}")
    (args.results / "goals.md").write_text(goals_md)
    (args.results / "goals.jsonl").write_text("".join(json.dumps(g) + "\n" for g in goals))
    if args.markdown:
        args.markdown.write_text(goals_md)
        print(f"goals table written to {args.markdown}")
    if not args.filter and setting == "full" and not args.set and README.exists():
        readme = README.read_text()
        for begin, end, new in ((BEGIN, END, text), (GOALS_BEGIN, GOALS_END, goals_md)):
            readme = replace_between(readme, begin, end, new) or readme
        README.write_text(readme)
        print(f"tables written into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
