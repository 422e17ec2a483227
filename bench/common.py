"""What the benchmarks share; not a benchmark itself (bench/run_all.py runs the modules in its BENCHES).

    from common import backends, sibling   # bench/ is on sys.path when a bench runs as a script or from run_all
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent


def sibling(name: str) -> ModuleType:
    """bench/<name>.py loaded as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}_shared", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
