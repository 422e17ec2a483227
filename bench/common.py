"""What the benchmarks share; not a benchmark itself (bench/run_all.py runs the modules in its BENCHES).

    from common import backends, sibling   # bench/ is on sys.path when a bench runs as a script or from run_all

Each of issue 19's goals a bench measures is also given as one machine-readable line (`emit_goal`): the
figure and its floor from the same run as min/median/max, their ratio, the target and whether the median
meets it, whether it went over HTTP and what it includes. bench/run_all.py collects them into the goals table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import operator
import os
import statistics
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Literal, Sequence

import psutil

HERE = Path(__file__).resolve().parent


def load_module(module_name: str, path: Path) -> ModuleType:
    """The file at `path` run as the module `module_name`, entered in sys.modules first as an import does:
    a dataclass defined in it looks its module up there while the file runs."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def sibling(name: str) -> ModuleType:
    """bench/<name>.py loaded as a module (bench/ is not a package)."""
    return load_module(f"bench_{name}_shared", HERE / f"{name}.py")


def backends(pg_url: str | None) -> Iterator[tuple[str, str]]:
    """("SQLite", a file in a temporary folder), then ("PostgreSQL", a scratch database, dropped afterwards)
    when `pg_url` or FLOREYN_TEST_PG_URL names a server."""
    pg_url = pg_url or os.environ.get("FLOREYN_TEST_PG_URL") or None
    with tempfile.TemporaryDirectory() as tmp:
        yield "SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}"
    if pg_url:
        url, drop = scratch_pg_database(pg_url)
        try:
            yield "PostgreSQL", url
        finally:
            drop()


def scratch_pg_database(pg_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the PostgreSQL server at `pg_url`: (its URL, a function that drops it)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from floreyn.server.db import normalise_url

    url = make_url(normalise_url(pg_url))
    name = f"floreyn_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return url.set(database=name).render_as_string(hide_password=False), drop


def min_med_max(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def pct_ms(samples_s: list[float], pct: int) -> float:
    """The pct-th percentile of samples in seconds, in milliseconds (one sample is its own percentile)."""
    return statistics.quantiles(samples_s, n=100)[pct - 1] * 1000 if len(samples_s) > 1 else samples_s[0] * 1000


def backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pg", help="PostgreSQL URL (default: $FLOREYN_TEST_PG_URL; absent: SQLite only)")
    p.add_argument("--sqlite-only", action="store_true")


def pg_url_of(args: argparse.Namespace) -> str | None:
    if args.sqlite_only:
        os.environ.pop("FLOREYN_TEST_PG_URL", None)
        return None
    return args.pg


def print_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['baseline_name']}; "
              f"target {row['target']})")


# -- issue 19's goals: one JSON line each ---------------------------------------------------------------

GOAL_PREFIX = "BENCH-GOAL "  # a goal's line on stdout: this, then one JSON object
GOALS: list[dict[str, Any]] = []  # every goal emitted in this process, in order (bench/run_all.py reads them)
_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt,
                                                   ">": operator.gt}


@dataclass(frozen=True)
class Target:
    """A goal's target as the issue words it (`text`), and the test a run's median is held to: `on` the
    figure or on its ratio to the floor, `op` `limit`. `on=None`: no number to hold it to (met is null)."""

    text: str
    on: Literal["figure", "ratio"] | None = None
    op: Literal["<=", ">=", "<", ">"] = "<="
    limit: float = 0.0

    def met(self, figure_med: float, ratio_med: float | None) -> bool | None:
        value = figure_med if self.on == "figure" else ratio_med
        return None if self.on is None or value is None else _OPS[self.op](value, self.limit)


def at_most(limit: float, text: str) -> Target:
    return Target(text, "figure", "<=", limit)


def at_least(limit: float, text: str) -> Target:
    return Target(text, "figure", ">=", limit)


def ratio_at_most(limit: float, text: str) -> Target:
    return Target(text, "ratio", "<=", limit)


def ratio_at_least(limit: float, text: str) -> Target:
    return Target(text, "ratio", ">=", limit)


def emit_goal(goal: int, label: str, figure: Sequence[float], unit: str, target: Target, *,
              floor: Sequence[float] | None, floor_what: str, over_http: bool, includes: str,
              ratio: Sequence[float] | None = None, size: int | None = None, key: str | None = None,
              note: str = "") -> dict[str, Any]:
    """One goal row of issue 19 (`goal` is its number there): printed as GOAL_PREFIX + JSON and kept in GOALS.

    `figure` and `floor` are the rounds' values (each in `unit`; a floor in another unit says so in
    `floor_what` and gives `ratio` itself); `ratio` defaults to figure / floor round by round (same round,
    same load). `met` holds the median to `target`. `size` is the count the row was measured at (cards,
    postings, records); rows with the same `key` (default: goal and label) at several sizes are one curve,
    of which the goals table shows the largest. `includes`: what the figure's clock or meter covers.
    """
    fig = [float(v) for v in figure]
    flo = [float(v) for v in floor] if floor else None
    if ratio is None and flo and len(flo) == len(fig) and all(flo):
        ratio = [f / b for f, b in zip(fig, flo, strict=True)]
    rat = [float(v) for v in ratio] if ratio else None
    med = statistics.median(fig)
    result = {
        "goal": goal, "label": label, "key": key or f"{goal}|{label}", "size": size, "unit": unit,
        "figure": list(min_med_max(fig)), "floor": list(min_med_max(flo)) if flo else None, "floor_what": floor_what,
        "ratio": list(min_med_max(rat)) if rat else None, "rounds": len(fig),
        "target": target.text, "target_on": target.on, "target_op": target.op, "target_limit": target.limit,
        "met": target.met(med, statistics.median(rat) if rat else None),
        "over_http": over_http, "includes": includes, "note": note,
    }
    GOALS.append(result)
    print(GOAL_PREFIX + json.dumps(result), flush=True)
    return result


def process_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (a server and its workers), every thread: to the nanosecond
    from the scheduler's own count (/proc/PID/task/TID/schedstat) where Linux has it, else the kernel's 10 ms
    ticks (psutil): a block of 50 uploads is some 25 ticks, too coarse to compare two servers block by block."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    try:
        total_ns = 0
        for p in procs:
            for task in Path(f"/proc/{p.pid}/task").iterdir():
                try:
                    total_ns += int((task / "schedstat").read_text().split()[0])
                except FileNotFoundError:  # a thread that ended meanwhile: its time is the process's
                    pass
        return total_ns / 1e9
    except OSError:
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def analyze_like_autovacuum(db: Any) -> None:
    """PostgreSQL statistics after a bench's bulk fill, as autovacuum keeps them on a live database (it
    analyses a table soon after a big fill). Without them the planner guesses: this machine's PostgreSQL runs
    with autovacuum off, and an export of a freshly filled million rows sorted them on disk instead of reading
    them in order. `db`: floreyn.server.db.Database; SQLite is left as the server leaves it."""
    if db.is_sqlite:
        return
    from sqlalchemy import text

    with db.reader.connect() as conn:  # autocommit: ANALYZE outside a transaction
        conn.execute(text("ANALYZE"))
