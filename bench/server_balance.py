"""Balance reads over real HTTP at 1M postings while tills upload at the same time.

    python bench/server_balance.py                 # SQLite; PostgreSQL too with FLOREYN_TEST_PG_URL
    python bench/server_balance.py --quick         # 100k postings, fewer reads

What a till meets when it shows a card's balance: `floreyn-server` as its own
process (uvicorn, one worker), the real SyncClient calling GET
/v1/terminal/cards/{card} (signed request, signed answer checked: the till's
card summary, balance minus open holds plus budgets), one read at a time,
while a separate process runs LOAD_TILLS tills uploading signed records with
the real SyncClient as fast as the server takes them. The floor, timed
interleaved with the HTTP reads under the same load and on the same
database: the bare primary-key SELECT of the same balance through the driver.
p50 and p99 over the reads made while the uploads ran (at most READS per
round), min/median/max of the rounds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import backend_args, backends, min_med_max, pct_ms, pg_url_of, print_rows, sibling

from floreyn import keys
from floreyn.server import admin_business
from floreyn.server.db import Database
from floreyn.sync.client import SyncClient

POSTINGS = 1_000_000
QUICK_POSTINGS = 100_000
READS = 1_000
QUICK_READS = 300
ROUNDS = 3
LOAD_TILLS = 10
LOAD_RECORDS = 3_000  # per till and round; the reads stop when the uploads end
CARDS = 1_000
TILL_TIMEOUT_S = 3.0


hi = sibling("server_http_ingest")  # Server, measure_http (the tills' upload load), min/median/max
si = hi.si  # dataset, setup, fill_postings, PostgreSQL scratch databases


def _load(base_url: str, dataset, started, finished) -> None:  # type: ignore[no-untyped-def]
    started.set()
    hi.measure_http(base_url, dataset)
    finished.set()


def measure_quiet(reader: SyncClient, cards: list[str], reads: int) -> dict[str, float]:
    """The same reads with nothing else running on the server: what the load adds."""
    rng = random.Random(1)
    http = []
    for _ in range(reads):
        card = rng.choice(cards)
        t0 = time.perf_counter()
        reader.card_summary(card)
        http.append(time.perf_counter() - t0)
    return {"p50": pct_ms(http, 50), "p99": pct_ms(http, 99)}


def measure_round(db: Database, load_url: str, reader: SyncClient, cards: list[str], dataset,  # type: ignore[no-untyped-def]
                  reads: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("fork")
    started, finished = ctx.Event(), ctx.Event()
    load = ctx.Process(target=_load, args=(load_url, dataset, started, finished))
    load.start()
    started.wait(60)
    time.sleep(1.5)  # measure_http lets every till make first contact (1 s) before the uploads start
    rng = random.Random(len(dataset))
    http, floor = [], []
    raw = db.reader.raw_connection()
    try:
        cur = raw.cursor()
        param = "?" if db.is_sqlite else "%s"
        sql = f"SELECT balance_cents FROM accounts WHERE key = {param}"
        while len(http) < reads and not finished.is_set():  # every read timed while the uploads run
            i = rng.randrange(len(cards))
            card, wallet = cards[i], f"member:m-{i:06d}"  # si.setup gave card i to member m-{i:06d}
            t0 = time.perf_counter()
            answer = reader.card_summary(card)
            http.append(time.perf_counter() - t0)
            assert "balance_cents" in answer
            t0 = time.perf_counter()
            cur.execute(sql, (wallet,))
            cur.fetchall()
            if not db.is_sqlite:
                raw.commit()  # one statement, one transaction, as the server's autocommit reader does
            floor.append(time.perf_counter() - t0)
        cur.close()
    finally:
        raw.close()
    load.join(timeout=900)
    return {"p50": pct_ms(http, 50), "p99": pct_ms(http, 99), "floor_p50": pct_ms(floor, 50),
            "floor_p99": pct_ms(floor, 99), "reads": float(len(http))}


def bench_backend(label: str, url: str, postings: int, reads: int, rounds: int) -> list[dict[str, Any]]:
    db = Database(url)
    db.migrate()
    merchants = [f"M-{i:02d}" for i in range(10)]
    cards = si.setup(db, CARDS, merchants)
    t0 = time.perf_counter()
    count = si.fill_postings(db, postings)
    print(f"  [{label}] {count:,} postings in {time.perf_counter() - t0:.0f} s", flush=True)
    reader_key = keys.new_private_key()
    db.write(lambda conn: admin_business.enroll_terminal(conn, "T-reader", merchants[0],
                                                         keys.public_raw(reader_key).hex(), si.NOW))
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-balance-bench-"))
    server = hi.Server(url, data_dir, 1)
    results = []
    try:
        reader = SyncClient(server.base_url, "T-reader", reader_key, server_key=None, timeout_s=TILL_TIMEOUT_S)
        for _ in range(50):  # pins the server key, warms the connection and the server's caches
            reader.card_summary(cards[0])
        quiet = measure_quiet(reader, cards, reads)
        print(f"  [{label}] quiet: card summary over HTTP p50 {quiet['p50']:.2f} ms, p99 {quiet['p99']:.2f} ms",
              flush=True)
        for r in range(rounds):
            dataset = si.make_records(LOAD_TILLS, LOAD_RECORDS, cards, merchants, seed=200 + r, prefix=f"B{r}")
            si.enroll(db, dataset)
            res = measure_round(db, server.base_url, reader, cards, dataset, reads)
            results.append(res)
            print(f"  [{label}] round {r + 1}: card summary over HTTP p50 {res['p50']:.2f} ms, p99 "
                  f"{res['p99']:.2f} ms; floor p50 {res['floor_p50']:.3f} ms, p99 {res['floor_p99']:.3f} ms; "
                  f"{res['reads']:.0f} reads while the uploads ran",
                  flush=True)
        # The diagnosis: the same load sent to a second server process on the same database while this one
        # only reads. Fast here but slow above means the reads wait inside the process that ingests (CPU, GIL,
        # threadpool), not for the database.
        (data_dir / "load").mkdir()
        other = hi.Server(url, data_dir / "load", 1)
        try:
            dataset = si.make_records(LOAD_TILLS, LOAD_RECORDS, cards, merchants, seed=300, prefix="BS")
            si.enroll(db, dataset)
            split = measure_round(db, other.base_url, reader, cards, dataset, reads)
        finally:
            other.stop()
        print(f"  [{label}] uploads to a second server process: card summary p50 {split['p50']:.2f} ms, p99 "
              f"{split['p99']:.2f} ms; floor p99 {split['floor_p99']:.3f} ms", flush=True)
        reader.session.close()
    finally:
        server.stop()
        db.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
    goals.balance(label, count, results, LOAD_TILLS)

    def mmm(key: str, digits: int) -> str:
        return "/".join(f"{v:.{digits}f}" for v in min_med_max([r[key] for r in results]))

    reads_done = "/".join(f"{r['reads']:.0f}" for r in results)
    return [
        {"name": f"balance read p99 over HTTP under upload load, {label} ({count:,} postings, {LOAD_TILLS} tills "
                 f"uploading; min/med/max of {rounds} rounds of {reads_done} reads)",
         "value": mmm("p99", 2), "unit": "ms", "http": True, "baseline": mmm("floor_p99", 3),
         "baseline_name": "bare PK SELECT, interleaved, same load", "target": "<= 5 ms"},
        {"name": f"balance read p50 over HTTP under upload load, {label}", "value": mmm("p50", 2), "unit": "ms",
         "http": True, "baseline": mmm("floor_p50", 3), "baseline_name": "bare PK SELECT", "target": "-"},
        {"name": f"balance read p50 / p99 over HTTP, uploads sent to a second server process, {label} (one round)",
         "value": f"{split['p50']:.2f} / {split['p99']:.2f}", "unit": "ms", "http": True,
         "baseline": f"{split['floor_p50']:.3f} / {split['floor_p99']:.3f}", "baseline_name": "bare PK SELECT",
         "target": "diagnosis"},
        {"name": f"balance read p50 / p99 over HTTP, quiet server, {label}",
         "value": f"{quiet['p50']:.2f} / {quiet['p99']:.2f}", "unit": "ms", "http": True, "baseline": None,
         "baseline_name": "", "target": "-"},
    ]


def run(pg_url: str | None = None, quick: bool = False, rounds: int = ROUNDS) -> list[dict[str, Any]]:
    postings, reads = (QUICK_POSTINGS, QUICK_READS) if quick else (POSTINGS, READS)
    rows = []
    for label, url in backends(pg_url):
        rows += bench_backend(label, url, postings, reads, rounds)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backend_args(p)
    p.add_argument("--quick", action="store_true", help=f"{QUICK_POSTINGS:,} postings, {QUICK_READS} reads")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    args = p.parse_args(argv)
    print_rows(run(pg_url_of(args), args.quick, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
