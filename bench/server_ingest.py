"""Server ingest: signed records verified and posted per second, beside a raw SQL baseline; balance read p99.

    python bench/server_ingest.py                      # SQLite; PostgreSQL too when FLOREYN_TEST_PG_URL is set
    python bench/server_ingest.py --pg postgresql://postgres@127.0.0.1/test --terminals 20 --records 500

Ingest goes through the real code path (floreyn.server.ingest.ingest: decode,
chain and signature check, postings, balances, overspend check, snapshot
versioning), one batch of 250 per call, terminal after terminal, as the
upload endpoint does it: half the terminals in one process, the other half
split over two processes (as `floreyn-server --workers 2` runs; it pays on
PostgreSQL, while on SQLite one process is faster because every write
invalidates the other process's page cache). The baseline, measured in the same run on the same
database, is what the bare database does for the same batches: one INSERT
per record plus one UPDATE per touched balance, committed per batch, with
no verification and no ledger. Then the postings table is filled to one
million rows and single balance reads (ledger.balance in a read
transaction) are timed; the baseline is the bare primary-key SELECT.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import text

from common import backends  # bench/common.py: bench/ is on sys.path as a script and under run_all

from floreyn import keys
from floreyn.server import admin_business, admin_money, admin_people, ledger
from floreyn.server.db import Database
from floreyn.server.ingest import ingest
from floreyn.sync.record import ChainHead, Kind, RecordContent, Tender

BATCH = 250
NOW = 1_790_000_000_000
POSTINGS_TARGET = 1_000_000
READS = 3_000


def make_records(terminals: int, per_terminal: int, cards: list[str], merchants: list[str], seed: int = 1,
                 prefix: str = "T"):
    rng = random.Random(seed)
    out = []
    for t in range(terminals):
        key = keys.new_private_key()
        tid, mid = f"{prefix}-{t:05d}", merchants[t % len(merchants)]
        head, raws = ChainHead(), []
        for _ in range(per_terminal):
            roll, card = rng.random(), bytes.fromhex(rng.choice(cards))
            if roll < 0.6:
                fields = dict(kind=Kind.SPEND, card_id=card, fl_cents=rng.randint(50, 2_500))
            elif roll < 0.9:
                eur = rng.randint(100, 10_000)
                fields = dict(kind=Kind.SAVE, card_id=card, fl_cents=eur // 20, eur_cents=eur)
            else:
                amount = rng.randint(500, 5_000)
                fields = dict(kind=Kind.TOPUP, card_id=card, fl_cents=amount, eur_cents=amount, tender=Tender.CASH)
            rec = head.next_record(RecordContent(record_id=uuid.uuid4(), **fields), terminal_id=tid, merchant_id=mid,
                                   mono_ms=head.seq)
            signed = rec.sign(key)
            head = head.advance(signed)
            raws.append(signed.raw)
        out.append((tid, mid, key, raws))
    return out


def setup(db: Database, n_cards: int, merchants: list[str]) -> list[str]:
    cards = [uuid.UUID(int=i + 1).hex for i in range(n_cards)]

    def run(conn):  # type: ignore[no-untyped-def]
        for mid in merchants:
            admin_business.create_merchant(conn, mid, {"name": mid, "category": "winkel", "save_rate_bp": 500,
                                                       "topup_allowed": True}, NOW)
        for i, card in enumerate(cards):
            member = f"m-{i:06d}"
            admin_people.create_member(conn, {"member_id": member}, NOW)
            admin_people.issue_card(conn, card, member, NOW, "bench")
            admin_money.topup(conn, member_id=member, funder_id=None, eur_cents=1_000_000, request_id="bench",
                              now=NOW)
    db.write(run)
    return cards


def enroll(db: Database, dataset) -> None:  # type: ignore[no-untyped-def]
    def run(conn):  # type: ignore[no-untyped-def]
        for tid, mid, key, _ in dataset:
            admin_business.enroll_terminal(conn, tid, mid, keys.public_raw(key).hex(), NOW)
    db.write(run)


def measure_ingest(db: Database, dataset) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of this process) to ingest the dataset batch by batch."""
    started, cpu = time.perf_counter(), time.process_time()
    for tid, _, _, raws in dataset:
        for i in range(0, len(raws), BATCH):
            ack = ingest(db, tid, raws[i : i + BATCH], NOW)
            assert ack.acked_seq == min(i + BATCH, len(raws)), ack
    return time.perf_counter() - started, time.process_time() - cpu


def _ingest_part(url: str, part, start, done) -> None:  # type: ignore[no-untyped-def]
    db = Database(url)  # each process opens its own connections, as each server worker does
    start.wait()
    measure_ingest(db, part)
    db.dispose()
    done.put(time.perf_counter())


def measure_ingest_parallel(url: str, dataset, processes: int) -> float:  # type: ignore[no-untyped-def]
    """The same ingest split over server worker processes (floreyn-server --workers N), terminals interleaved."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start, done = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_ingest_part, args=(url, dataset[i::processes], start, done))
             for i in range(processes)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let every process import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    ends = [done.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0, "an ingest process failed"
    return max(ends) - began


def measure_verify_only(dataset) -> float:  # type: ignore[no-untyped-def]
    """Records/s that decoding and Ed25519-verifying alone allow on one core: the ceiling for ingest.

    Shown beside the raw SQL baseline because that baseline verifies nothing:
    ingest can never be faster than this, whatever the database does.
    """
    from floreyn.sync.record import decode

    records = [(key.public_key(), raw) for _, _, key, raws in dataset for raw in raws[:200]]
    t0 = time.perf_counter()
    for public, raw in records:
        decode(raw).verify(public)
    return len(records) / (time.perf_counter() - t0)


def measure_baseline(db: Database, dataset, tag: str = "bl",  # type: ignore[no-untyped-def]
                     batch: int = BATCH) -> float:
    """The same batches, bare: INSERT each record, UPDATE each touched balance, COMMIT per batch (seconds).

    `tag` names the scratch tables, so one database can hold several rounds' floors; `batch`: records per commit.
    """
    from floreyn.sync.record import decode

    batches = []
    for tid, mid, _, raws in dataset:  # decoding is not part of the baseline; done before timing
        for i in range(0, len(raws), batch):
            rows, deltas = [], defaultdict(int)
            for j, raw in enumerate(raws[i : i + batch]):
                rec = decode(raw).record
                rows.append({"t": tid, "s": i + j + 1, "r": raw})
                deltas["c:" + rec.card_id.hex()] -= rec.fl_cents
                deltas["m:" + mid] += rec.fl_cents
            batches.append((rows, [{"k": k, "d": d} for k, d in sorted(deltas.items())]))
    blob = "BLOB" if db.is_sqlite else "BYTEA"
    records, balances = f"{tag}_records", f"{tag}_balances"
    with db.writer.begin() as conn:
        conn.execute(text(f"CREATE TABLE {records} (terminal_id VARCHAR(64), seq BIGINT, raw {blob}, "
                          "PRIMARY KEY (terminal_id, seq))"))
        conn.execute(text(f"CREATE TABLE {balances} (key VARCHAR(128) PRIMARY KEY, balance BIGINT NOT NULL)"))
        keys_all = sorted({d["k"] for _, ds in batches for d in ds})
        conn.execute(text(f"INSERT INTO {balances} (key, balance) VALUES (:k, 0)"), [{"k": k} for k in keys_all])
    insert = text(f"INSERT INTO {records} (terminal_id, seq, raw) VALUES (:t, :s, :r)")
    update = text(f"UPDATE {balances} SET balance = balance + :d WHERE key = :k")
    started = time.perf_counter()
    for rows, deltas in batches:
        with db.writer.begin() as conn:
            conn.execute(insert, rows)
            conn.execute(update, deltas)
    return time.perf_counter() - started


def fill_postings(db: Database, target: int) -> int:
    """Balanced synthetic transfers between member wallets until the postings table holds `target` rows."""
    have = db.read(lambda c: c.execute(text("SELECT COUNT(*) FROM postings")).scalar_one())
    pairs = max(0, (target - have) // 2)
    members = db.read(lambda c: list(c.execute(text("SELECT key FROM accounts WHERE kind = 'member'")).scalars()))
    rng = random.Random(3)
    deltas: dict[str, int] = defaultdict(int)
    chunk = 50_000
    for start in range(0, pairs, chunk):
        txs, postings = [], []
        for n in range(start, min(pairs, start + chunk)):
            a, b, amount, tx_id = rng.choice(members), rng.choice(members), rng.randint(1, 100), f"fill-{n}"
            txs.append({"tx_id": tx_id, "kind": "reversal", "created_ms": NOW, "memo": "bench fill"})
            postings += [{"tx_id": tx_id, "account": a, "currency": "fl", "amount_cents": -amount,
                          "kind": "reversal", "created_ms": NOW},
                         {"tx_id": tx_id, "account": b, "currency": "fl", "amount_cents": amount,
                          "kind": "reversal", "created_ms": NOW}]
            deltas[a] -= amount
            deltas[b] += amount

        def write(conn, txs=txs, postings=postings):  # type: ignore[no-untyped-def]
            from floreyn.server import schema as s
            conn.execute(s.transactions.insert(), txs)
            conn.execute(s.postings.insert(), postings)
        db.write(write)
    db.write(lambda c: c.execute(text("UPDATE accounts SET balance_cents = balance_cents + :d WHERE key = :k"),
                                 [{"k": k, "d": d} for k, d in sorted(deltas.items())]))
    return db.read(lambda c: c.execute(text("SELECT COUNT(*) FROM postings")).scalar_one())


def p99_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1000


def measure_reads(db: Database) -> tuple[float, float]:
    members = db.read(lambda c: list(c.execute(text("SELECT key FROM accounts WHERE kind = 'member'")).scalars()))
    rng = random.Random(4)
    picks = [rng.choice(members) for _ in range(READS)]
    timed = []
    for key in picks:
        t0 = time.perf_counter()
        db.read(lambda c, key=key: ledger.balance(c, key))
        timed.append(time.perf_counter() - t0)
    raw = []
    with db.reader.connect() as conn:
        stmt = text("SELECT balance_cents FROM accounts WHERE key = :k")
        for key in picks:
            t0 = time.perf_counter()
            conn.execute(stmt, {"k": key}).scalar_one()
            raw.append(time.perf_counter() - t0)
    return p99_ms(timed), p99_ms(raw)


def bench_backend(label: str, url: str, dataset_args: tuple[int, int],
                  postings: int = POSTINGS_TARGET) -> list[dict[str, Any]]:
    terminals, per_terminal = dataset_args
    db = Database(url)
    db.migrate()
    merchants = [f"M-{i:02d}" for i in range(10)]
    cards = setup(db, 1_000, merchants)
    t0 = time.perf_counter()
    dataset = make_records(terminals, per_terminal, cards, merchants)
    print(f"  [{label}] signed {terminals * per_terminal:,} records in {time.perf_counter() - t0:.1f} s", flush=True)
    enroll(db, dataset)
    total = terminals * per_terminal
    half = len(dataset) // 2
    one_s, one_cpu_s = measure_ingest(db, dataset[:half])  # one server process
    two_s = measure_ingest_parallel(url, dataset[half:], 2)  # two server worker processes, one per core
    baseline_s = measure_baseline(db, dataset)
    one_rps = half * per_terminal / one_s
    cpu_rps = half * per_terminal / one_cpu_s  # what one core does when nothing else runs on it
    rps = (len(dataset) - half) * per_terminal / two_s
    base_rps = total / baseline_s
    verify_rps = measure_verify_only(dataset)
    print(f"  [{label}] ingest {rps:,.0f} records/s with 2 worker processes, {one_rps:,.0f} with one "
          f"({cpu_rps:,.0f} per CPU-second); raw baseline {base_rps:,.0f} records/s", flush=True)
    count = fill_postings(db, postings)
    p99, raw_p99 = measure_reads(db)
    print(f"  [{label}] balance read p99 {p99:.2f} ms over {count:,} postings (raw SELECT {raw_p99:.2f} ms)",
          flush=True)
    db.dispose()
    return [
        {"name": f"server ingest, {label}, 1 process ({terminals}x{per_terminal} records in all)",
         "value": round(one_rps), "unit": "records/s", "baseline": round(base_rps),
         "baseline_name": "raw INSERT+UPDATE", "target": ">= 5,000 records/s (SQLite, 2 cores)" if label == "SQLite"
         else "-"},
        {"name": f"server ingest, {label}, 2 worker processes (--workers 2)", "value": round(rps),
         "unit": "records/s", "baseline": round(base_rps), "baseline_name": "raw INSERT+UPDATE", "target": "-"},
        {"name": f"server ingest, {label}, per CPU-second of the server process", "value": round(cpu_rps),
         "unit": "records/s", "baseline": None, "baseline_name": "", "target": "-"},
        {"name": f"server ingest, {label}, 1 process, beside decode+verify alone", "value": round(one_rps),
         "unit": "records/s", "baseline": round(verify_rps), "baseline_name": "decode + Ed25519 verify, no DB",
         "target": "-"},
        {"name": f"server ingest / raw baseline, {label}", "value": round(max(rps, one_rps) / base_rps, 3), "unit": "x",
         "baseline": 1.0, "baseline_name": "raw", "target": ">= 0.1"},
        {"name": f"balance read p99, {label} ({count:,} postings)", "value": round(p99, 3), "unit": "ms",
         "baseline": round(raw_p99, 3), "baseline_name": "raw PK SELECT", "target": "<= 5 ms"},
    ]


def run(pg_url: str | None = None, terminals: int = 100, records: int = 1_000,
        postings: int = POSTINGS_TARGET) -> list[dict[str, Any]]:
    """`postings`: the ledger's size for the in-process balance reads (issue 19's goal 6 is measured over HTTP
    by bench/server_balance.py; a shorter run fills fewer)."""
    rows = []
    for label, url in backends(pg_url):
        rows += bench_backend(label, url, (terminals, records), postings)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg", help="PostgreSQL URL (default: $FLOREYN_TEST_PG_URL; absent: SQLite only)")
    p.add_argument("--terminals", type=int, default=100)
    p.add_argument("--records", type=int, default=1_000)
    args = p.parse_args(argv)
    for row in run(args.pg, args.terminals, args.records):
        base = f"baseline {row['baseline']:,} {row['baseline_name']}; " if row["baseline"] is not None else ""
        print(f"{row['name']}: {row['value']:,} {row['unit']}  ({base}target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
