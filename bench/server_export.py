"""The bookkeeping CSV export over real HTTP: seconds per million postings and the server's peak memory.

    python bench/server_export.py                  # 100k and 1M postings; SQLite, PostgreSQL too with FLOREYN_TEST_PG_URL
    python bench/server_export.py --sizes 10000 100000 --rounds 3

What the treasurer's desk tool meets: `floreyn-server` as its own process
(uvicorn, one worker), GET /v1/admin/reports/export.csv for the whole period,
read to the end over loopback (requests, 1 MB chunks), plain and Dutch
dialects. The floors, measured in the same run on the same database,
interleaved with the exports: "scan", the same joined SELECT through the bare
driver (sqlite3; psycopg with a server-side cursor planned for the whole
result), every row fetched and dropped, no formatting, no HTTP; and on
PostgreSQL "copy", the same joined rows unformatted through COPY ... TO STDOUT
(CSV), read to the end; on SQLite "csv", the scan with each batch through
csv.writer as fetched, unformatted, into a sink that drops it: what writing
the joined rows through Python's csv module costs. It is no lower bound for
the export any more: SQLite's export reads the postings and their
transactions apart and writes most cells without csv.writer
(server/export.py), and comes in under it; and on SQLite "apart", what that
export reads at the least: the period's postings alone in id order (the
export's own query) and then the transactions alone in rowid order, each
through the bare sqlite3 cursor, fetched as the export fetches
(export.SQLITE_FETCH_ROWS) and dropped, nothing formatted. SQLite's goal row
stands beside "apart", PostgreSQL's beside "scan". Memory: the server
process's peak RSS (VmHWM) after the exports, in a fresh server per size, so
100k beside 1M shows whether memory grows with the export. Wall seconds on
this shared 2-core machine swing with the other load; the server's CPU
seconds (every thread, common.process_cpu_s) beside the floor's are the
steadier comparison.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import (analyze_like_autovacuum, backend_args, backends, min_med_max, pg_url_of, print_rows,
                    process_cpu_s, sibling)

from floreyn.server import admin_auth, export
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.server.reports import period

SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
ROUNDS = 3
FILL_CHUNK = 20_000  # transactions per write while filling
START_MS = 1_893_456_000_000  # 2030-01-01
SPAN_MS = 365 * 86_400_000
PERIOD = {"from": "2029-12-31", "to": "2031-01-01"}
FLOOR_SQL = ("SELECT p.created_ms, p.tx_id, p.kind, p.account, p.currency, p.amount_cents, t.terminal_id, "
             "t.record_seq, t.merchant_id, t.card_id, t.reverses, t.memo FROM postings p "
             "JOIN transactions t ON t.tx_id = p.tx_id WHERE {where} ORDER BY p.id")
DOWNLOAD_CHUNK_BYTES = 1 << 20
FLOOR_BATCH_ROWS = 5_000
FLOOR_WHAT = {  # each floor as the table names it
    "scan": "bare driver SELECT of the same rows",
    "copy": "bare COPY of the same rows",
    "csv": "bare SELECT through csv.writer, unformatted",
    "apart": "bare SELECTs of the postings and of the transactions apart, unformatted",
}


hi = sibling("server_http_ingest")  # Server (floreyn-server as a process), min/median/max


def fill(db: Database, have: int, target: int) -> int:
    """Till sales as the ledger books them (2 postings each; every fifth with a memo) until `target` postings."""
    rng = random.Random(have)
    n_tx = (target - have) // 2
    step_ms = SPAN_MS // max(n_tx, 1)
    for first in range(0, n_tx, FILL_CHUNK):
        txs, postings = [], []
        for n in range(first, min(n_tx, first + FILL_CHUNK)):
            at_ms = START_MS + (have // 2 + n) * step_ms % SPAN_MS
            tx_id, cents, term = str(uuid.uuid4()), rng.randint(50, 5_000), rng.randrange(500)
            card = f"{rng.randrange(100_000):032x}"
            txs.append({"tx_id": tx_id, "kind": "spend", "created_ms": at_ms, "terminal_id": f"T-{term:04d}",
                        "record_seq": n, "merchant_id": f"M-{term % 100:03d}", "card_id": card,
                        "memo": "koffie, twee broodjes; \"vers\"" if n % 5 == 0 else ""})
            postings += [{"tx_id": tx_id, "account": f"card:{card}", "currency": "fl", "amount_cents": -cents,
                          "kind": "spend", "created_ms": at_ms},
                         {"tx_id": tx_id, "account": f"merchant:M-{term % 100:03d}", "currency": "fl",
                          "amount_cents": cents, "kind": "spend", "created_ms": at_ms}]

        def write(conn, txs=txs, postings=postings):  # type: ignore[no-untyped-def]
            conn.execute(s.transactions.insert(), txs)
            conn.execute(s.postings.insert(), postings)
        db.write(write)
    return have + 2 * n_tx


def _floor_sql(db: Database) -> str:
    """The floors' query, planned as the export plans its own: on SQLite the period's id range read in id order
    (server/export.py ID_RANGE_SQL; no sort of the whole period), on PostgreSQL the period."""
    start, end = period(PERIOD["from"], PERIOD["to"])
    if not db.is_sqlite:
        return FLOOR_SQL.format(where=f"p.created_ms >= {start} AND p.created_ms < {end}")
    first, last = db.read(lambda conn: conn.exec_driver_sql(export.ID_RANGE_SQL.format(start=start, end=end)).one())
    return FLOOR_SQL.format(where=export.IN_ID_RANGE_SQL.format(first=first, last=last, start=start, end=end))


def scan_floor_s(db: Database) -> tuple[float, float]:
    """(wall, CPU seconds): the joined rows through the bare driver, fetched and dropped."""
    raw = db.reader.raw_connection()
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        if db.is_sqlite:
            cur = raw.cursor()
        else:  # a server-side cursor, as an export must use; planned for all rows, not the first 10 %
            driver = raw.driver_connection
            assert driver is not None
            driver.autocommit = False  # a named cursor needs a transaction
            raw.cursor().execute("SET LOCAL cursor_tuple_fraction = 1")
            cur = driver.cursor(name="floor")
        cur.execute(_floor_sql(db))
        while cur.fetchmany(FLOOR_BATCH_ROWS):
            pass
        cur.close()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        raw.rollback()
        return wall, cpu
    finally:
        raw.close()


def apart_floor_s(db: Database) -> tuple[float, float]:
    """(wall, CPU seconds), SQLite: the period's postings alone by the export's query, then every transaction
    (the bench's period holds them all) in rowid order, through the bare sqlite3 cursor, fetched and dropped."""
    start, end = period(PERIOD["from"], PERIOD["to"])
    raw = db.reader.raw_connection()
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        cur = raw.cursor()
        first, last = cur.execute(export.ID_RANGE_SQL.format(start=start, end=end)).fetchone()
        for sql, params in ((export.sqlite_select_sql(start, end, first, last), ()),
                            (export.SQLITE_TX_RANGE_SQL, (0, -1))):  # LIMIT -1: no limit
            cur.execute(sql, params)
            while cur.fetchmany(export.SQLITE_FETCH_ROWS):
                pass
        cur.close()
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        raw.close()


class _Discard:
    def write(self, text: str) -> int:
        return len(text)


def csv_floor_s(db: Database) -> tuple[float, float]:
    """(wall, CPU seconds), SQLite: the scan, each batch through csv.writer as fetched (the driver's values
    written as they come: no dates, no euros, no formula guard) into a sink that drops it. What the joined
    rows through Python's csv module cost (the export avoids both the join and most of csv.writer)."""
    raw = db.reader.raw_connection()
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        cur = raw.cursor()
        cur.execute(_floor_sql(db))
        out = csv.writer(_Discard(), lineterminator="\r\n")
        while batch := cur.fetchmany(FLOOR_BATCH_ROWS):
            out.writerows(batch)
        cur.close()
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        raw.close()


def copy_floor_s(db: Database) -> tuple[float, float]:
    """(wall, CPU seconds), PostgreSQL: the joined rows, unformatted, through COPY TO STDOUT as CSV."""
    raw = db.reader.raw_connection()
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        driver = raw.driver_connection
        assert driver is not None
        cur = driver.cursor()
        with cur.copy(f"COPY ({_floor_sql(db)}) TO STDOUT WITH (FORMAT csv)") as copy:
            for _ in copy:
                pass
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        raw.rollback()
        return wall, cpu
    finally:
        raw.close()


def http_s(base_url: str, token: str, dialect: str) -> tuple[float, int]:
    """(seconds, bytes) to download the whole export over HTTP."""
    t0 = time.perf_counter()
    size = 0
    with requests.get(base_url + "/v1/admin/reports/export.csv", params={**PERIOD, "dialect": dialect},
                      headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=600) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_content(DOWNLOAD_CHUNK_BYTES):
            size += len(chunk)
    return time.perf_counter() - t0, size


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _per_m(values: list[float], count: int) -> list[float]:
    return [v * 1_000_000 / count for v in values]


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def measure_size(label: str, url: str, db: Database, token: str, count: int, rounds: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-export-bench-"))
    server = hi.Server(url, data_dir, 1)  # a fresh process per size: its peak RSS is this size's
    floors = ({"scan": scan_floor_s, "csv": csv_floor_s, "apart": apart_floor_s} if db.is_sqlite
              else {"scan": scan_floor_s, "copy": copy_floor_s})
    try:
        idle_mb = peak_rss_mb(server.proc.pid)
        http: list[float] = []
        http_cpu: list[float] = []
        floor_wall: dict[str, list[float]] = {name: [] for name in floors}
        floor_cpu: dict[str, list[float]] = {name: [] for name in floors}
        for _ in range(rounds):  # interleaved, so all meet the same load on this shared machine
            before = process_cpu_s(server.proc.pid)
            seconds, size = http_s(server.base_url, token, "plain")
            http_cpu.append(process_cpu_s(server.proc.pid) - before)
            http.append(seconds)
            for name, floor in floors.items():
                wall, cpu = floor(db)
                floor_wall[name].append(wall)
                floor_cpu[name].append(cpu)
        nl_s, nl_size = http_s(server.base_url, token, "nl")
        peak_mb = peak_rss_mb(server.proc.pid)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    per_m, cpu_per_m = _per_m(http, count), _per_m(http_cpu, count)
    floor_per_m = {name: _per_m(v, count) for name, v in floor_wall.items()}
    floor_cpu_per_m = {name: _per_m(v, count) for name, v in floor_cpu.items()}
    floors_text = "; ".join(f"floor {name} {_fmt(floor_per_m[name])} s (CPU {_fmt(floor_cpu_per_m[name])} s)"
                            for name in floors)
    print(f"  [{label}] {count:,} postings: HTTP {_fmt(per_m)} s per million "
          f"({size / 1e6:.0f} MB; nl {nl_s * 1_000_000 / count:.2f} s, {nl_size / 1e6:.0f} MB); {floors_text}; "
          f"server peak RSS {peak_mb:.0f} MB (idle {idle_mb:.0f} MB); server CPU {_fmt(cpu_per_m)} s per million",
          flush=True)
    goal_floor = "apart" if db.is_sqlite else "scan"
    return {"count": count, "per_m": per_m, "floor_per_m": floor_per_m, "cpu_per_m": cpu_per_m,
            "goal_floor": goal_floor, "goal_floor_what": FLOOR_WHAT[goal_floor],
            "floor_cpu_per_m": floor_cpu_per_m, "nl_per_m": nl_s * 1_000_000 / count,
            "peak_mb": peak_mb, "idle_mb": idle_mb}


def bench_backend(label: str, url: str, sizes: tuple[int, ...], rounds: int) -> list[dict[str, Any]]:
    db = Database(url)
    db.migrate()
    token = db.write(lambda conn: admin_auth.create_token(conn, "bench", "admin", int(time.time() * 1000)))
    have, results = 0, []
    try:
        for size in sizes:
            t0 = time.perf_counter()
            have = fill(db, have, size)
            analyze_like_autovacuum(db)
            print(f"  [{label}] filled to {have:,} postings in {time.perf_counter() - t0:.0f} s", flush=True)
            results.append(measure_size(label, url, db, token, have, rounds))
    finally:
        db.dispose()
    big, small = results[-1], results[0]
    goals.export(label, big, small)
    mmm = min_med_max
    goal_floor, goal_what = big["goal_floor"], big["goal_floor_what"]
    rows = [
        {"name": f"CSV export over HTTP, {label}, {big['count']:,} postings, s per million (min/med/max of {rounds})",
         "value": _fmt(list(mmm(big["per_m"]))), "unit": "s", "http": True,
         "baseline": _fmt(list(mmm(big["floor_per_m"][goal_floor]))),
         "baseline_name": f"floor: {goal_what}, same run", "target": "<= 5 s per million"},
    ]
    for name, what in FLOOR_WHAT.items():
        if name not in big["floor_per_m"]:
            continue
        ratios = [h / f for h, f in zip(big["per_m"], big["floor_per_m"][name], strict=True)]
        rows.append({"name": f"CSV export / floor ({what}), {label}", "value": _fmt(list(mmm(ratios))),
                     "unit": "x", "http": True, "baseline": _fmt(list(mmm(big["floor_per_m"][name]))),
                     "baseline_name": f"{what}, s per million, same run", "target": "-"})
    rows += [
        {"name": f"CSV export over HTTP, {label}, server CPU seconds per million postings (min/med/max of {rounds})",
         "value": _fmt(list(mmm(big["cpu_per_m"]))), "unit": "s", "http": True,
         "baseline": _fmt(list(mmm(big["floor_cpu_per_m"][goal_floor]))),
         "baseline_name": f"CPU of the floor {goal_floor} (client side)", "target": "<= 5 s per million"},
        {"name": f"CSV export over HTTP, Dutch dialect, {label}, s per million (one run)",
         "value": round(big["nl_per_m"], 2), "unit": "s", "http": True,
         "baseline": round(statistics.median(big["floor_per_m"][goal_floor]), 2),
         "baseline_name": f"floor {goal_floor} (median)", "target": "<= 5 s per million"},
        {"name": f"server peak RSS with the export, {label}: {small['count']:,} vs {big['count']:,} postings",
         "value": f"{small['peak_mb']:.0f} / {big['peak_mb']:.0f}", "unit": "MB", "http": True,
         "baseline": f"{small['idle_mb']:.0f} / {big['idle_mb']:.0f}", "baseline_name": "the same server idle",
         "target": "constant"},
    ]
    return rows


def run(pg_url: str | None = None, sizes: tuple[int, ...] = SIZES, rounds: int = ROUNDS,
        quick: bool = False) -> list[dict[str, Any]]:
    sizes = QUICK_SIZES if quick else sizes
    rows = []
    for label, url in backends(pg_url):
        rows += bench_backend(label, url, sizes, rounds)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backend_args(p)
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="postings; the last is the figure")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    args = p.parse_args(argv)
    print_rows(run(pg_url_of(args), tuple(args.sizes), args.rounds, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
