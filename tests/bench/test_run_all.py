"""bench/run_all.py's goal lines and goals table: issue 19's figures, each beside its floor, machine-readable.

The benchmarks run for real at their smallest sizes (a till bench and a server bench over HTTP); what is
checked is the shape of what they give, never a timing. SQLite only: the format does not depend on the
database, and PostgreSQL would double the run.
"""

from __future__ import annotations

import json
import operator
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
PREFIX = "BENCH-GOAL "
KEYS = {"goal", "label", "key", "size", "unit", "figure", "floor", "floor_what", "ratio", "rounds", "target",
        "target_on", "target_op", "target_limit", "met", "over_http", "includes", "note"}
OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
# The smallest run that still goes through both interfaces: 20 spends on the scripted till (3 runs), the CSV
# export over HTTP at 1,000 and 2,000 postings (one round).
SMALLEST = ["--set", "till_scripted_spend.n=20", "--set", "server_export.sizes=(1000, 2000)",
            "--set", "server_export.rounds=1", "--set", "server_export.quick=False"]
COLUMNS = ["goal", "over HTTP", "target", "measured (min/med/max)", "floor (same run)", "met"]


@pytest.fixture
def bench_modules(import_bench):
    """bench/run_all.py and bench/common.py imported as the benches import them (bench/ on sys.path)."""
    run_all = import_bench("run_all", "common", "goals")
    return run_all, sys.modules["common"]  # the one run_all imported


def cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [c.strip() for c in line[2:-2].split(" | ")]


def check_goal(g: dict) -> None:
    assert set(g) >= KEYS, KEYS - set(g)
    assert isinstance(g["goal"], int) and 1 <= g["goal"] <= 7
    assert g["label"] and g["unit"] and g["target"] and g["includes"]
    assert isinstance(g["over_http"], bool)
    for part in ("figure", "floor", "ratio"):
        if g[part] is not None:
            low, med, high = g[part]
            assert low <= med <= high, (part, g)
    assert g["rounds"] >= 1
    if g["target_on"] is None:
        assert g["met"] is None
    else:
        held = g["figure"][1] if g["target_on"] == "figure" else g["ratio"][1]
        assert g["met"] is OPS[g["target_op"]](held, g["target_limit"]), g


def test_a_goal_is_one_json_line_with_its_ratio_round_by_round_and_met_by_the_median(bench_modules, capsys):
    _, common = bench_modules
    g = common.emit_goal(4, "till commit", [6.0, 3.0, 9.0], "ms", common.ratio_at_most(3.0, "<= 3x raw"),
                         floor=[2.0, 3.0, 1.0], floor_what="raw", over_http=False, includes="commit_tx", size=10)
    line = capsys.readouterr().out.strip()
    assert line.startswith(PREFIX) and json.loads(line[len(PREFIX):]) == g
    check_goal(g)
    assert g["figure"] == [3.0, 6.0, 9.0] and g["floor"] == [1.0, 2.0, 3.0]
    assert g["ratio"] == [1.0, 3.0, 9.0]  # 6/2, 3/3, 9/1: each round beside its own floor
    assert g["met"] is True  # the median ratio, 3.0, is <= 3 though one round is 9x
    assert common.GOALS[-1] is g
    over = common.emit_goal(6, "p99", [6.0], "ms", common.at_most(5.0, "<= 5 ms"), floor=None, floor_what="",
                            over_http=True, includes="x")
    assert over["met"] is False and over["ratio"] is None


def test_the_table_shows_the_largest_size_of_a_curve_with_the_others_medians(bench_modules):
    run_all, common = bench_modules
    rows = [common.emit_goal(3, f"full snapshot, {n:,} cards", [n / 1e5] * 3, "s", common.at_most(1.0, "<= 1 s"),
                             floor=[0.5] * 3, floor_what="SELECT", over_http=False, includes="pages",
                             key="3|full", size=n) for n in (1_000, 100_000, 10_000)]
    rows.append(common.emit_goal(1, "ingest", [1.0], "records/s", common.Target("none"), floor=None,
                                 floor_what="", over_http=True, includes="HTTP"))
    shown = run_all.largest_of_each_curve(rows)
    assert [(g["goal"], g["size"]) for g in shown] == [(1, None), (3, 100_000)]
    assert shown[1]["curve"] == [(1_000, 0.01), (10_000, 0.1)]
    line = run_all.goal_row(shown[1])
    assert cells(line) == ["3 full snapshot, 100,000 cards", "", "<= 1 s",
                           "1/1/1 s = 2/2/2x (median at 1,000: 0.01; 10,000: 0.1)", "0.5/0.5/0.5 s (SELECT)", "yes"]
    assert cells(run_all.goal_row(shown[0]))[-1] == "–"  # no number to hold it to


@pytest.mark.slow
def test_run_all_gives_goal_lines_and_a_well_formed_goals_table(tmp_path):
    # Not the PostgreSQL variants (the table's format does not depend on the database), and not a `make bench`.
    env = {k: v for k, v in os.environ.items() if k not in ("FLOREYN_TEST_PG_URL", "FLOREYN_BENCH_VIA_MAKE")}
    markdown = tmp_path / "goals.md"
    args = ["--quick", "--results", str(tmp_path / "results"), "--markdown", str(markdown), *SMALLEST,
            "till_scripted_spend", "server_export"]
    run = subprocess.run([sys.executable, str(BENCH / "run_all.py"), *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "FAILED" not in run.stdout, run.stdout[-3000:]

    printed = [json.loads(line[len(PREFIX):]) for line in run.stdout.splitlines() if line.startswith(PREFIX)]
    kept = [json.loads(line) for line in (tmp_path / "results" / "goals.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in g.items() if k != "bench"} for g in kept] == printed
    for g in kept:
        check_goal(g)
    spend = [g for g in kept if g["bench"] == "till_scripted_spend"]
    export = [g for g in kept if g["bench"] == "server_export"]
    assert [g["goal"] for g in spend] == [4] and not spend[0]["over_http"] and spend[0]["rounds"] == 3
    assert {g["goal"] for g in export} == {7} and all(g["over_http"] for g in export)
    assert {g["size"] for g in export} == {2_000}  # the last size is the figure
    assert all("reduced" in g["label"] for g in export if g["key"].startswith("7|time"))

    text = markdown.read_text()
    assert text == (tmp_path / "results" / "goals.md").read_text()
    header, table, includes = text.split("\n\n", 2)
    assert header.startswith("Measured ") and f"{os.cpu_count()} cores" in header
    assert re.search(r"load average \(1/5/15 min\) [\d./]+ at the start, [\d./]+ at the end", header), header
    assert "python bench/run_all.py --quick" in header and "till_scripted_spend server_export`" in header
    lines = table.splitlines()
    assert cells(lines[0]) == COLUMNS and lines[1] == "|---" * len(COLUMNS) + "|"
    rows = [cells(line) for line in lines[2:]]
    assert len(rows) == len(kept) and all(len(r) == len(COLUMNS) for r in rows)
    for row, g in zip(rows, kept, strict=True):  # one goal key each: goal 4 before goal 7, in emitted order
        assert row[0] == f"{g['goal']} {g['label']}"
        assert row[1] == ("yes" if g["over_http"] else "")
        assert re.match(r"[\d,.]+/[\d,.]+/[\d,.]+ " + re.escape(g["unit"]), row[3]), row[3]
        assert row[5] == {True: "yes", False: "no", None: "–"}[g["met"]]
    assert includes.startswith("What each figure includes:") and "export.csv" in includes


def test_tables_go_only_between_markers_on_lines_of_their_own(bench_modules):
    run_all, _ = bench_modules
    begin, end = run_all.GOALS_BEGIN, run_all.GOALS_END
    prose = f"A full run replaces the text between `{begin}` and `{end}` here.\n"
    assert run_all.replace_between(prose, begin, end, "| table |\n") is None
    doc = f"{prose}\n{begin}\nold\n{end}\nafter\n"
    assert run_all.replace_between(doc, begin, end, "| table |\n") == f"{prose}\n{begin}\n| table |\n{end}\nafter\n"


def test_every_listed_bench_loads_as_run_all_loads_it(bench_modules):
    # On 2026-12-07 a dataclass in server_balance.py stopped `make bench` at that bench: run_all ran the file
    # without entering it in sys.modules, where the dataclass decorator looks its module up.
    run_all, _ = bench_modules
    before = set(sys.modules)
    try:
        for path in run_all.modules([]):
            assert callable(run_all.load(path).run), path.name
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("bench_"):
                del sys.modules[name]
