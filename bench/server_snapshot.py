"""Snapshots for a city (issue 19, goal 3): kept entries, paged full and delta, the till's apply.

    python bench/server_snapshot.py                    # 1k / 10k / 100k cards, SQLite (+ PG with FLOREYN_TEST_PG_URL)
    python bench/server_snapshot.py --sizes 1000 1000000 --rounds 1
    python bench/server_snapshot.py --no-sqlite --pg postgresql+psycopg://postgres@127.0.0.1/bench
    python bench/server_snapshot.py --sizes 100000 --delta-only   # the delta rows alone (no full fetch, no till)

Dataset: N members, each with one card (random 16-byte id) and two personal budgets (ids as the desk tool
makes them: "B-" and 20 random hex digits; two labels and categories), wallet and budget balances;
inserted as rows (the admin API per member would take an hour at 100k), everything the snapshot reads.
One merchant, one terminal.

Per size, min/median/max of `rounds`, each figure beside a floor measured in the same round:
- keeping entries: the housekeeping job making every card's entry from nothing (what a new day or a first
  start costs; normally it makes only the changed cards) vs one raw SELECT joining the same rows;
- full snapshot, server time: every page as the page endpoint serves it (the job's kept pages, the
  cards changed since as overlays, signed) vs SELECT of the kept entries + zlib of the same bytes (the
  least a per-request rebuild from kept entries costs);
- bytes on the wire of the full snapshot vs the JSON snapshot of the same cards zlib'd (the old encoding,
  which also had the 8 MiB cliff), the incompressible floor (the random bytes of the ids a page must
  carry: a card's short id, its first 8 bytes, and its two budgets' 10 each: 28 bytes a card), and the
  information floor (those plus the entropy of the balances the bench draws at random: no encoding that
  names cards by short ids goes below it; one that carried every full card id, as format 3 did, had 8
  bytes a card more, 3.98 MiB at 100k);
- delta, server time: 100 cards topped up through the ledger, fetched by a till at the version before,
  before the job has refreshed their entries (the request makes them) and after, vs a SELECT of the
  changed rows;
- the till's apply over real HTTP (floreyn-server as its own process, the real SyncClient and
  TerminalStore): fetch + verify + stage + one atomic apply vs decompressing the same pages and one
  executemany of the same entries into a fresh SQLite table; and the till's Python heap peak during the
  fetch (tracemalloc) vs one page's compressed + plain bytes.
The JSON full snapshot tills before pages fetch (from the kept entries) is timed at the sizes it still fits.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import text

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import analyze_like_autovacuum, min_med_max, sibling  # bench/ is on sys.path as a script and in run_all

from floreyn import keys
from floreyn.server import admin_business, admin_money, housekeeping, ledger, snapshot_cache, state
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.sync.client import SyncClient
from floreyn.sync.snapshot import MAX_SNAPSHOT_BYTES, SHORT_ID_BYTES, SnapshotError, canonical_json, sign_snapshot
from floreyn.sync import snapshot_columns
from floreyn.sync.snapshot_pages import COMPRESS_LEVEL, decode_card, entry_card_id, sign_page, verify_page
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.store.store import TerminalStore

HERE = Path(__file__).resolve().parent
SIZES = (1_000, 10_000, 100_000)
ROUNDS = 3
DELTA_CARDS = 100
TERMINAL = "T-bench"
MERCHANT = "M-bench"
FUNDER = "F-bench"
# The random bytes a page must carry per card: the card's short id (sync/snapshot.py SHORT_ID_BYTES; the
# till finds the tapped card by it, the card itself brings its full id) and its two budgets' 10 random
# bytes (in full: the till's records name the budget that paid). Full ids of cards sharing a short id are
# left out (none among the bench's random ids: one pair in ~10^9 snapshots of 100k cards).
ID_FLOOR_BYTES = SHORT_ID_BYTES + 2 * 10
WALLET_RANGE, BUDGET_RANGE = 20_000, 50_000  # balances drawn uniformly below these (cents)
# ... and none beats their entropy either: the ids plus log2 of each drawn balance's range (a lower bound:
# the aliases' numbers and the order of the ids are left out)
INFO_FLOOR_BYTES = ID_FLOOR_BYTES + (math.log2(WALLET_RANGE) + 2 * math.log2(BUDGET_RANGE)) / 8
INSERT_CHUNK = 5_000
BENCH_KEY = keys.new_private_key()
JSON_COMPARED_UP_TO = 100_000  # beyond, the JSON of the same cards alone takes gigabytes to make
OLD_JSON_UP_TO = 10_000  # the JSON snapshot is timed up to here (beyond, it nears its 8 MiB limit)


def setup(db: Database, n: int, now: int, seed: int = 7) -> tuple[list[str], Any]:
    """(member ids, terminal key): the dataset as rows, plus merchant, funder and terminal made the real way."""
    rng = random.Random(seed)
    key = keys.new_private_key()

    def base(conn):  # type: ignore[no-untyped-def]
        admin_business.create_merchant(conn, MERCHANT, {"name": "Bakker", "category": "klussen", "save_rate_bp": 500,
                                                        "topup_allowed": True}, now)
        admin_business.create_funder(conn, FUNDER, "Woningstichting", now)
        admin_business.enroll_terminal(conn, TERMINAL, MERCHANT, keys.public_raw(key).hex(), now)
    db.write(base)
    version = db.write(state.bump_version)
    members = [f"m-{i:07d}" for i in range(n)]
    for lo in range(0, n, INSERT_CHUNK):
        chunk = members[lo:lo + INSERT_CHUNK]
        member_rows, card_rows, budget_rows, accounts = [], [], [], []
        for m in chunk:
            member_rows.append({"member_id": m, "alias": f"Lid {m[-5:]}", "created_ms": now})
            card_rows.append({"card_id": uuid.UUID(int=rng.getrandbits(128)).hex, "member_id": m, "status": "active",
                              "changed_version": version, "created_ms": now, "offline_spent_cents": 0})
            accounts.append({"key": ledger.member_acct(m), "kind": "member", "currency": "FL", "owner_id": m,
                             "balance_cents": rng.randrange(0, WALLET_RANGE), "created_ms": now})
            for label, cat in (("Onderhoudsbudget", "klussen"), ("Tuinbudget", "groen")):
                bid = f"B-{rng.getrandbits(80):020x}"  # as the desk tool makes them (provisioning/cmd_budget.py)
                budget_rows.append({"budget_id": bid, "funder_id": FUNDER, "owner_member_id": m, "label": label,
                                    "categories": json.dumps([cat]), "expires_on": "2099-12-31", "status": "active",
                                    "granted_ms": now, "keep_share_bp": 0})
                accounts.append({"key": ledger.budget_acct(bid), "kind": "budget", "currency": "FL", "owner_id": bid,
                                 "balance_cents": rng.randrange(0, BUDGET_RANGE), "created_ms": now})

        def put(conn, m=member_rows, c=card_rows, b=budget_rows, a=accounts):  # type: ignore[no-untyped-def]
            conn.execute(s.members.insert(), m)
            conn.execute(s.cards.insert(), c)
            conn.execute(s.budgets.insert(), b)
            conn.execute(s.accounts.insert(), a)
        db.write(put)
    analyze_like_autovacuum(db)
    return members, key


def _mmm(values: list[float], digits: int = 3) -> str:
    return "/".join(f"{v:,.{digits}f}" for v in min_med_max(values))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, this process's CPU s, result): on a loaded machine the CPU is the figure the code controls
    (PostgreSQL's own CPU is in its processes, not here)."""
    c0 = time.process_time()
    took, out = _timed(fn)
    return took, time.process_time() - c0, out


def serve_all(db: Database, since: int | None, now: int) -> tuple[list[bytes], int]:
    """Every page as the endpoint makes it (read, pack, sign): (wire pages, cards)."""
    pages, after, count = [], "", 0
    while True:
        served = db.read(lambda conn, a=after: snapshot_cache.page(  # type: ignore[misc]
            conn, TERMINAL, fetch="ab" * 16, since=since, after=a, now_ms=now))
        wire = served.wire()
        sign_page(wire, BENCH_KEY)
        pages.append(wire)
        count += served.header.count + served.header.overlay
        if served.header.next is None:
            return pages, count
        after = served.header.next


def floor_full(db: Database) -> float:
    def read(conn):  # type: ignore[no-untyped-def]
        return conn.execute(text("SELECT card_id, entry FROM snapshot_cards ORDER BY card_id")).all()
    t, rows = _timed(lambda: db.read(read))
    t2, _ = _timed(lambda: zlib.compress(b"".join(bytes(r[1]) for r in rows), COMPRESS_LEVEL))
    return t + t2


def floor_build(db: Database) -> float:
    sql = text("SELECT c.card_id, c.status, c.changed_version, m.alias, b.budget_id, b.label, b.categories, "
               "b.expires_on, a.balance_cents, ab.balance_cents FROM cards c JOIN members m ON m.member_id = c.member_id "
               "JOIN accounts a ON a.key = 'member:' || c.member_id "
               "JOIN budgets b ON b.owner_member_id = c.member_id JOIN accounts ab ON ab.key = 'budget:' || b.budget_id")
    return _timed(lambda: db.read(lambda conn: conn.execute(sql).all()))[0]


def floor_apply(pages: list[bytes], tmp: Path) -> float:
    """Decompress the same pages and insert the same entries into a fresh SQLite table, one transaction."""
    path = tmp / f"floor-{uuid.uuid4().hex}.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (card_id TEXT PRIMARY KEY, entry BLOB) WITHOUT ROWID")
    t0 = time.perf_counter()
    entries = [(entry_card_id(e), e) for wire in pages for part in _split(wire)[1:]  # the real path reads only
               for e in snapshot_columns.unpack(zlib.decompress(part), 10**6)]  # the ids too
    with con:
        con.executemany("INSERT INTO t VALUES (?, ?)", entries)
    took = time.perf_counter() - t0
    con.close()
    path.unlink()
    return took


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n >> 1, pos  # lengths are never negative: zigzag is a shift
        shift += 7


def _split(plain: bytes) -> list[bytes]:
    """Varint-prefixed pieces: a page's header, body and overlay (no signature check: the floor's own parsing)."""
    out, pos = [], 0
    while pos < len(plain):
        size, pos = _varint(plain, pos)
        out.append(plain[pos:pos + size])
        pos += size
    return out


def _entries_of(pages: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for wire in pages:
        page = verify_page(wire, sign_page(wire, BENCH_KEY), BENCH_KEY.public_key())
        out += page.entries + page.overlay
    return out


def old_json(db: Database, now: int) -> tuple[float, int | str]:
    """The JSON full snapshot tills before pages fetch, from the kept entries: seconds and bytes (or the refusal)."""
    key = keys.new_private_key()
    t0 = time.perf_counter()
    snap = db.read(lambda conn: snapshot_cache.json_snapshot(conn, TERMINAL, None, now))
    try:
        data, _ = sign_snapshot(snap, key)
    except SnapshotError:
        return time.perf_counter() - t0, f"> {MAX_SNAPSHOT_BYTES:,} (refused)"
    return time.perf_counter() - t0, len(data)


def topup_some(db: Database, members: list[str], now: int, rng: random.Random) -> None:
    for m in rng.sample(members, DELTA_CARDS):
        db.write(lambda conn, m=m: admin_money.topup(conn, member_id=m, funder_id=None, eur_cents=100,  # type: ignore[misc]
                                                      request_id=uuid.uuid4().hex, now=now))


def till_fetch(base_url: str, key: Any, tmp: Path, *, trace: bool) -> tuple[float, int]:
    """A new till's first fetch into its store over HTTP: (seconds, Python heap peak bytes when traced)."""
    store = TerminalStore(tmp / f"till-{uuid.uuid4().hex}" / "terminal.db", TERMINAL, FakeClock())
    client = SyncClient(base_url, TERMINAL, key, server_key=None, timeout_s=30)
    client.upload([])  # first contact: pins the server key, syncs the clock
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    snap = client.fetch_snapshot(store)
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    assert snap.card_source is not None
    store.close()
    client.session.close()
    return took, peak


def measure_delta(db: Database, members: list[str], rng: random.Random, m: dict[str, list[float]]) -> None:
    """One round of the delta: DELTA_CARDS topped up, served before the job made their entries and after."""
    since = db.read(state.current_version)
    topup_some(db, members, state.now_ms(), rng)
    took, cpu, (_, changed) = _timed_cpu(lambda: serve_all(db, since, state.now_ms()))
    assert changed == DELTA_CARDS, changed
    m["delta"].append(took)
    m["delta_cpu"].append(cpu)
    m["delta_floor"].append(_timed(lambda: db.read(lambda conn: conn.execute(
        s.cards.select().where(s.cards.c.changed_version > since)).all()))[0])
    housekeeping.run(db, state.now_ms)
    took, cpu, _ = _timed_cpu(lambda: serve_all(db, since, state.now_ms()))
    m["delta_kept"].append(took)
    m["delta_kept_cpu"].append(cpu)


def _dataset(url: str, n: int, label: str) -> tuple[Database, list[str], Any]:
    db = Database(url)
    db.migrate()
    t0 = time.perf_counter()
    members, key = setup(db, n, state.now_ms())
    print(f"   [{label}] {n:,} members with two budgets each in {time.perf_counter() - t0:.1f} s", flush=True)
    return db, members, key


def _measures() -> dict[str, list[float]]:
    return {k: [] for k in ("build", "build_floor", "full", "full_floor", "delta", "delta_cpu", "delta_floor",
                            "apply", "apply_floor", "mem", "mem_floor", "wire", "old_s", "delta_kept",
                            "delta_kept_cpu")}


def bench_delta(url: str, n: int, rounds: int, label: str) -> list[dict[str, Any]]:
    """The delta rows alone (`--delta-only`): the entries made once by the job, then `rounds` deltas."""
    db, members, _ = _dataset(url, n, label)
    rng = random.Random(n)
    m = _measures()
    try:
        took, result = _timed(lambda: housekeeping.run(db, state.now_ms))
        assert result.entries_refreshed == n, result
        print(f"   [{label} {n:,}] entries and pages made by the job in {took:.2f} s", flush=True)
        for r in range(rounds):
            measure_delta(db, members, rng, m)
            print(f"   [{label} {n:,}] round {r + 1}: delta {m['delta'][-1] * 1000:.1f} ms "
                  f"(CPU {m['delta_cpu'][-1] * 1000:.1f} ms), once kept {m['delta_kept'][-1] * 1000:.1f} ms "
                  f"(CPU {m['delta_kept_cpu'][-1] * 1000:.1f} ms)", flush=True)
    finally:
        db.dispose()
    return delta_rows(f"{n:,} cards x 2 budgets, {label} (min/med/max of {rounds})", m)


def bench_size(url: str, n: int, rounds: int, label: str) -> list[dict[str, Any]]:
    db, members, key = _dataset(url, n, label)
    tmp = Path(tempfile.mkdtemp(prefix="floreyn-snap-bench-"))
    rng = random.Random(n)
    m = _measures()
    wire_json = 0
    old_bytes: int | str = "-"
    http = sibling("server_http_ingest")
    server = http.Server(url, tmp, 1)
    try:
        for r in range(rounds):
            db.write(lambda conn: (conn.execute(s.snapshot_cards.delete()), conn.execute(s.snapshot_pages.delete())))
            took, result = _timed(lambda: housekeeping.run(db, state.now_ms))
            assert result.entries_refreshed == n, result
            m["build"].append(took)
            m["build_floor"].append(floor_build(db))
            took, (pages, count) = _timed(lambda: serve_all(db, None, state.now_ms()))
            assert count == n
            m["full"].append(took)
            m["full_floor"].append(floor_full(db))
            m["wire"].append(sum(len(p) for p in pages))
            if r == 0 and n <= JSON_COMPARED_UP_TO:
                cards = [decode_card(bytes(e)) for e in db.read(lambda conn: conn.execute(  # full ids, as JSON has
                    text("SELECT entry FROM snapshot_cards ORDER BY card_id")).scalars().all())]
                wire_json = len(zlib.compress(canonical_json([asdict(c) for c in cards]), COMPRESS_LEVEL))
                del cards
                if n <= OLD_JSON_UP_TO:
                    old_t, old_bytes = old_json(db, state.now_ms())
                    m["old_s"].append(old_t)
            measure_delta(db, members, rng, m)
            took, _ = till_fetch(server.base_url, key, tmp, trace=False)
            m["apply"].append(took)
            m["apply_floor"].append(floor_apply(pages, tmp))
            if r == 0:
                _, peak = till_fetch(server.base_url, key, tmp, trace=True)
                m["mem"].append(peak / 2**20)
                biggest = max(pages, key=len)
                plain = sum(len(e) + 2 for e in _entries_of([biggest]))
                m["mem_floor"].append((len(biggest) + plain) / 2**20)
            print(f"   [{label} {n:,}] round {r + 1}: entries {m['build'][-1]:.2f} s, full {m['full'][-1]:.3f} s "
                  f"({m['wire'][-1] / 2**20:.2f} MiB), delta {m['delta'][-1] * 1000:.1f} ms, "
                  f"till apply {m['apply'][-1]:.2f} s", flush=True)
    finally:
        server.stop()
        db.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    goals.snapshot(n, label, m, INFO_FLOOR_BYTES)
    return rows_for(n, label, rounds, m, wire_json, old_bytes)


def delta_rows(tag: str, m: dict[str, list[float]]) -> list[dict[str, Any]]:
    """The delta's rows: server time and the CPU of the bench's process, before the job kept the changed
    cards' entries and after, each beside the SELECT of the changed rows."""
    kinds = (("delta", f"delta of {DELTA_CARDS} changed cards, server time", "<= 50 ms"),
             ("delta_cpu", "CPU of that delta in the server's process", "-"),
             ("delta_kept", "the same delta once the job has kept their entries", "<= 50 ms"),
             ("delta_kept_cpu", "CPU of that kept delta in the server's process", "-"))
    return [{"name": f"{name}, {tag}", "value": _mmm([v * 1000 for v in m[key]], 1), "unit": "ms",
             "baseline": _mmm([v * 1000 for v in m["delta_floor"]], 1),
             "baseline_name": "SELECT of the changed card rows", "target": target} for key, name, target in kinds]


def rows_for(n: int, label: str, rounds: int, m: dict[str, list[float]], wire_json: int,
             old_bytes: int | str) -> list[dict[str, Any]]:
    tag = f"{n:,} cards x 2 budgets, {label} (min/med/max of {rounds})"
    wire_mib = statistics.median(m["wire"]) / 2**20
    rows = [
        {"name": f"snapshot entries and pages made by the job from nothing, {tag}", "value": _mmm(m["build"]), "unit": "s",
         "baseline": _mmm(m["build_floor"]), "baseline_name": "one raw SELECT joining the same rows",
         "target": "background; per change only the changed cards"},
        {"name": f"full snapshot, server time, {tag}", "value": _mmm(m["full"]), "unit": "s",
         "baseline": _mmm(m["full_floor"]), "baseline_name": "SELECT of the kept entries + zlib of the same bytes",
         "target": "<= 1 s at 100k"},
        {"name": f"full snapshot on the wire, {n:,} cards x 2 budgets (= {wire_mib * 2**20 / 1e6:.2f} MB)",
         "value": round(wire_mib, 2), "unit": "MiB",
         "baseline": f"{wire_json / 2**20:.2f} / {n * ID_FLOOR_BYTES / 2**20:.2f} / {n * INFO_FLOOR_BYTES / 2**20:.2f}",
         "baseline_name": "the JSON of the same cards zlib'd (0: not made) / the random bytes of their ids as a "
                          "page must carry them (short card ids, full budget ids) / those and the entropy of "
                          "their random balances (no encoding by short card ids goes below)",
         "target": "<= 4 MB at 100k"},
        *delta_rows(tag, m),
        {"name": f"new till's full fetch + atomic apply over HTTP, {tag}", "value": _mmm(m["apply"]), "unit": "s",
         "http": True,
         "baseline": _mmm(m["apply_floor"]), "baseline_name": "decompress the pages + one executemany of the entries",
         "target": "-"},
        {"name": f"till's Python heap peak during that fetch, {n:,} cards", "value": round(m["mem"][0], 1),
         "unit": "MiB", "baseline": round(m["mem_floor"][0], 1), "baseline_name": "one page, compressed + plain",
         "target": "<= 20 MB"},
    ]
    if m["old_s"]:
        rows.append({"name": f"JSON full snapshot (tills before pages) from the kept entries, {n:,} cards, {label} "
                             f"({old_bytes} bytes; the limit is 8 MiB)",
                     "value": round(m["old_s"][0], 3), "unit": "s", "baseline": None, "target": "-"})
    return rows


def run(sizes: tuple[int, ...] = SIZES, rounds: int = ROUNDS, pg_url: str | None = None,
        sqlite: bool = True, delta_only: bool = False) -> list[dict[str, Any]]:
    """SQLite, and PostgreSQL when a URL is given or FLOREYN_TEST_PG_URL is set (a database per size beside it)."""
    pg_url = pg_url or os.environ.get("FLOREYN_TEST_PG_URL") or None
    bench = bench_delta if delta_only else bench_size
    rows: list[dict[str, Any]] = []
    for n in sizes:
        if sqlite:
            with tempfile.TemporaryDirectory(prefix="floreyn-snap-db-") as tmp:
                rows += bench(f"sqlite:///{tmp}/floreyn.db", n, rounds, "SQLite")
        if pg_url:
            rows += _on_postgresql(pg_url, n, rounds, bench)
    return rows


def _on_postgresql(pg_url: str, n: int, rounds: int,
                   bench: Callable[[str, int, int, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine

    name = f"{pg_url.rsplit('/', 1)[1] or 'floreyn'}_snap_bench_{n}"  # beside the given db: runs side by side never collide
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(text(f"CREATE DATABASE {name}"))
    try:
        return bench(pg_url.rsplit("/", 1)[0] + f"/{name}", n, rounds, "PostgreSQL")
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--pg", default=None, help="a PostgreSQL URL (a database per size is made beside it); "
                                              "default $FLOREYN_TEST_PG_URL")
    p.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    p.add_argument("--delta-only", action="store_true", help="only the delta rows (the job makes the entries once; "
                                                             "no full fetch, no till, no goal lines)")
    args = p.parse_args(argv)
    from run_all import print_row

    for row in run(tuple(args.sizes), args.rounds, args.pg, sqlite=not args.no_sqlite, delta_only=args.delta_only):
        print_row(row)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("FLOREYN_LOG_FORMAT", "text")
    sys.exit(main(sys.argv[1:]))
