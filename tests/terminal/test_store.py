"""The local store: durable chained commits, Outbox, pruning, integrity checks, migrations, locking."""

from __future__ import annotations

import sqlite3
import uuid

import hypothesis as hyp
import pytest
from hypothesis import strategies as st
from till_helpers import TERMINAL_SEED

from floreyn import keys
from floreyn.sync.record import BrokenChain, ChainHead, Kind, RecordContent, Tender, decode, verify_chain
from floreyn.sync.snapshot import SnapshotError
from floreyn.terminal import demo_setup
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.engine.errors import ClientRefConflict, StoreCorrupt, StoreLocked
from floreyn.terminal.store import Draft, TerminalStore, migrations
from floreyn.terminal.store.db import open_sqlite, transaction
from floreyn.terminal.store.schema import TABLES

KEY = keys.private_from_seed(TERMINAL_SEED)
CARD = bytes(range(16))


def spend(cents: int, **kw: object) -> Draft:
    return Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=CARD, fl_cents=cents, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path):
    s = TerminalStore(tmp_path / "terminal.db", "T-test-01", FakeClock())
    yield s
    s.close()


def commit(store: TerminalStore, *drafts: Draft, **kw: object):
    return store.commit_tx(list(drafts), key=KEY, merchant_id="M-test", **kw)  # type: ignore[arg-type]


def test_commit_signs_chains_and_reads_back(store):
    recs, existed = commit(store, spend(100), spend(50, eur_cents=20, tender=Tender.CASH))
    assert not existed and [r.seq for r in recs] == [1, 2]
    assert recs[0].tx_id == recs[1].tx_id == recs[0].record_id
    assert recs[0].receipt_status == "pending" and recs[0].sync_status == "pending"
    head = verify_chain([r.signed for r in recs], KEY.public_key())
    assert (head.seq, head.hash) == (store.head.seq, store.head.hash) == (2, recs[1].hash)
    assert store.verify(KEY.public_key(), all_signatures=True).seq == 2


def test_a_refusing_check_writes_nothing(store):
    commit(store, spend(100))

    def refuse(_view):
        raise ClientRefConflict(ref="x")

    with pytest.raises(ClientRefConflict):
        commit(store, spend(1), check=refuse)
    assert store.head.seq == 1 and len(store.all_records()) == 1
    assert commit(store, spend(2))[0][0].seq == 2  # the chain continues without a gap


def test_client_ref_makes_a_retry_return_the_first_result(store):
    first, existed = commit(store, spend(100), client_ref=("run:a1", "fp1"))
    again, existed_again = commit(store, spend(100), client_ref=("run:a1", "fp1"))
    assert not existed and existed_again and [r.raw for r in again] == [r.raw for r in first]
    with pytest.raises(ClientRefConflict):
        commit(store, spend(999), client_ref=("run:a1", "other"))
    assert store.head.seq == 1


def test_outbox_unsent_acknowledge(store):
    for i in range(5):
        commit(store, spend(100 + i))
    raws = store.unsent(3)
    assert [decode(r).record.seq for r in raws] == [1, 2, 3]
    store.acknowledge(3)
    assert [decode(r).record.seq for r in store.unsent(10)] == [4, 5]
    store.acknowledge(2)  # a late, smaller acknowledgement changes nothing
    assert store.state().acked_seq == 3
    with pytest.raises(StoreCorrupt):
        store.acknowledge(6)  # beyond the head: the server is confused, we do not pretend
    store.acknowledge(5)
    assert store.unsent(10) == []


def test_outbox_snapshot_round_trip_and_order(store):
    assert store.current_snapshot() is None
    snap = demo_setup.demo_snapshot("T-test-01", 1_785_000_000_000, version=3)
    store.store_snapshot(snap)
    assert store.current_snapshot() == snap
    store.store_snapshot(demo_setup.demo_snapshot("T-test-01", 1_785_000_000_000, version=2))
    assert store.current_snapshot().snapshot_version == 3  # an older one arriving late is ignored
    with pytest.raises(SnapshotError):
        store.store_snapshot(demo_setup.demo_snapshot("T-other", 1_785_000_000_000, version=9))


def test_signed_snapshot_is_verified(store):
    data, sig = demo_setup.signed_demo_snapshot("T-test-01", 1_785_000_000_000)
    with pytest.raises(SnapshotError):
        store.store_signed_snapshot(data, bytes(64), demo_setup.demo_server_key().public_key())
    assert store.current_snapshot() is None
    store.store_signed_snapshot(data, sig, demo_setup.demo_server_key().public_key())
    assert store.current_snapshot().terminal_id == "T-test-01"


def test_prune_keeps_head_unacknowledged_and_whole_transactions(tmp_path):
    clock = FakeClock()
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    commit(store, spend(1))  # 1
    commit(store, spend(2), spend(3))  # 2, 3: one transaction
    commit(store, spend(4))  # 4
    commit(store, spend(5))  # 5
    clock.advance(10 * 86_400)
    commit(store, spend(6))  # 6, recent
    store.acknowledge(2)  # splits the transaction 2-3: it must stay whole
    assert store.prune(retention_ms=86_400_000) == 1
    assert [r.seq for r in store.all_records()] == [2, 3, 4, 5, 6]
    store.acknowledge(6)
    assert store.prune(retention_ms=86_400_000) == 4  # 2..5 old; 6 is recent (and the head)
    assert [r.seq for r in store.all_records()] == [6]
    state = store.state()
    assert (state.base_seq, state.head_seq) == (5, 6)
    assert store.verify(KEY.public_key()).seq == 6  # the kept chain still verifies from its base
    recs, _ = commit(store, spend(7))
    assert recs[0].seq == 7 and store.verify(KEY.public_key(), all_signatures=True).seq == 7
    clock.advance(10 * 86_400)
    store.acknowledge(7)
    assert store.prune(retention_ms=86_400_000) == 1  # never the head
    assert [r.seq for r in store.all_records()] == [7]
    store.close()


def test_verify_detects_tampering(store):
    commit(store, spend(100))
    commit(store, spend(200))
    con = sqlite3.connect(str(store.db_path))
    con.execute("UPDATE records SET fl_cents = 1 WHERE seq = 1")
    con.commit()
    with pytest.raises(StoreCorrupt):
        store.verify(KEY.public_key())
    con.execute("UPDATE records SET fl_cents = 100 WHERE seq = 1")
    raw = bytearray(con.execute("SELECT raw FROM records WHERE seq = 2").fetchone()[0])
    raw[-1] ^= 1
    con.execute("UPDATE records SET raw = ?, hash = ? WHERE seq = 2",
                (bytes(raw), __import__("hashlib").sha256(bytes(raw)).digest()))
    con.commit()
    con.close()
    with pytest.raises(Exception) as info:  # bad signature on an unacknowledged record
        store.verify(KEY.public_key())
    assert getattr(info.value, "code", "") in ("record_bad_signature", "store_corrupt")


def test_second_process_on_the_same_folder_is_refused(store, tmp_path):
    with pytest.raises(StoreLocked):
        TerminalStore(tmp_path / "terminal.db", "T-test-01", FakeClock())


def test_store_belongs_to_one_terminal(tmp_path):
    TerminalStore(tmp_path / "terminal.db", "T-test-01", FakeClock()).close()
    with pytest.raises(StoreCorrupt):
        TerminalStore(tmp_path / "terminal.db", "T-other-02", FakeClock())


def test_mono_counter_never_goes_back_across_restart_and_reboot(tmp_path):
    clock = FakeClock(monotonic_ms=10_000_000)
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    r1 = commit(store, spend(1))[0][0]
    store.close()
    clock.reboot()  # monotonic time restarts near zero
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    r2 = commit(store, spend(2))[0][0]
    assert r2.mono_ms > r1.mono_ms
    clock.advance(3)
    r3 = commit(store, spend(3))[0][0]
    assert r3.mono_ms - r2.mono_ms >= 3000
    store.close()


def test_downtime_counts_within_a_boot_but_not_across_a_reboot(tmp_path):
    clock = FakeClock()
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    r1 = commit(store, spend(1))[0][0]
    store.close()
    clock.advance(600)  # the process is down for ten minutes, the machine is not
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    assert store.mono.peek_ms() - r1.mono_ms >= 600_000
    store.close()
    clock.reboot()
    clock.advance(600)
    store = TerminalStore(tmp_path / "terminal.db", "T-test-01", clock)
    before = store.mono.peek_ms()
    assert before - r1.mono_ms < 700_000  # the reboot's downtime is unknowable: not counted
    clock.advance(5)
    assert store.mono.peek_ms() - before >= 5_000
    store.close()


def test_pragmas_wal_and_full_sync(store):
    raw = store._conn  # noqa: SLF001 - checking the real connection
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_migrated_schema_has_exactly_the_tables_and_columns_the_store_names(store):
    con = sqlite3.connect(str(store.db_path))
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    assert tables == sorted(TABLES)
    for name, columns in TABLES.items():
        assert tuple(r[1] for r in con.execute(f"PRAGMA table_info({name})")) == columns, name
    con.close()


def test_records_ref_holds_only_records_that_name_another(store):
    """A sale's record (ref_id NULL) adds no entry to it: an index write and a WAL page less per commit."""
    con = sqlite3.connect(str(store.db_path))
    (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'records_ref'").fetchone()
    con.close()
    assert sql.endswith("WHERE ref_id IS NOT NULL")


def test_every_query_by_ref_id_still_searches_records_ref(store):
    (sale,), _ = commit(store, spend(500))
    void = Draft(record_id=uuid.uuid4(), kind=Kind.VOID, ref_id=uuid.UUID(sale.record_id))
    commit(store, void)
    ran: list[str] = []
    store._conn.set_trace_callback(ran.append)  # noqa: SLF001 - the SQL the views send, parameters bound
    try:
        with store.read() as view:
            assert view.voided(sale.record_id) and view.refunded(sale.record_id) == (0, 0)
            assert view.card_usage_counted(CARD.hex(), 0) == (0, 0, 0)  # voided: not counted
            assert view.offline_usage(CARD.hex(), 0) == (0, 0) and view.budgets_spent(["B-1"], 0) == {"B-1": 0}
    finally:
        store._conn.set_trace_callback(None)  # noqa: SLF001
    by_ref = [sql for sql in ran if "ref_id = " in sql]
    assert len(by_ref) == 5, by_ref
    for sql in by_ref:
        plan = [row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {sql}")]  # noqa: SLF001
        assert any("USING INDEX records_ref (ref_id=?)" in step for step in plan), (sql, plan)


def test_what_budgets_paid_since_the_snapshot_is_searched_by_budget_not_scanned(store):
    """StoreView.budgets_spent runs in the quote and the re-check of every spend by a card with budgets: a
    scan of every record since the snapshot (1.7 ms a sale after 10,000) before records_budget."""
    commit(store, spend(500, budget_id="B-1"), spend(200))
    commit(store, spend(300, budget_id="B-2"))
    ran: list[str] = []
    store._conn.set_trace_callback(ran.append)  # noqa: SLF001 - the SQL the view sends, parameters bound
    try:
        with store.read() as view:
            assert view.budgets_spent(["B-1", "B-2", "B-3"], 0) == {"B-1": 500, "B-2": 300, "B-3": 0}
            assert view.budgets_spent(["B-1"], 1) == {"B-1": 0}  # after the snapshot's base only
    finally:
        store._conn.set_trace_callback(None)  # noqa: SLF001
    searches = [sql for sql in ran if sql.startswith("SELECT")]
    assert len(searches) == 2, ran
    for sql in searches:
        plan = [row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {sql}")]  # noqa: SLF001
        assert plan[0].startswith("SEARCH r USING INDEX records_budget (budget_id=? AND seq>?)"), (sql, plan)


def _v1_database(path, n_records: int, version: int = 1) -> list[bytes]:
    """A store as schema `version` (default the first) wrote it, with records in it (written with plain SQL)."""
    conn = open_sqlite(path)
    migrations.migrate(conn, upto=version)
    head, raws = ChainHead(), []
    with transaction(conn) as tx:
        for i in range(1, n_records + 1):
            rec = head.next_record(RecordContent(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=CARD, fl_cents=i * 10),
                                   terminal_id="T-test-01", merchant_id="M-test", wall_ms=i, mono_ms=i)
            signed = rec.sign(KEY)
            tx.execute(
                "INSERT INTO records (seq, record_id, tx_id, kind, card_hex, fl_cents, eur_cents, tender, budget_id,"
                " ref_id, wall_ms, mono_ms, day_no, offline, raw, hash, receipt_status, sync_status) VALUES"
                " (?, ?, ?, 1, ?, ?, 0, 0, NULL, NULL, ?, ?, 1, 1, ?, ?, 'printed', ?)",
                (i, str(rec.record_id), str(rec.record_id), CARD.hex(), i * 10, i, i, signed.raw, signed.hash,
                 "acknowledged" if i <= 2 else "pending"))
            head = head.advance(signed)
            raws.append(signed.raw)
        tx.execute(
            "INSERT INTO terminal_state (id, terminal_id, head_seq, head_hash, base_seq, base_hash, mono_ms, day_no,"
            " acked_seq) VALUES (1, 'T-test-01', ?, ?, 0, ?, ?, 1, 2)",
            (head.seq, head.hash, bytes(32), n_records))
        tx.execute("INSERT INTO pin_lockout VALUES (1, 0, 0)")
    conn.close()
    return raws


def test_upgrade_from_the_first_schema_keeps_every_record(tmp_path):
    path = tmp_path / "terminal.db"
    raws = _v1_database(path, 5)
    store = TerminalStore(path, "T-test-01", FakeClock())
    assert store.migrated_from == 1
    assert (tmp_path / "terminal.db.pre-v2").exists()  # a copy from before the upgrade
    assert [r.raw for r in store.all_records()] == raws
    assert store.verify(KEY.public_key(), all_signatures=True).seq == 5
    assert [decode(r).record.seq for r in store.unsent(10)] == [3, 4, 5]
    recs, _ = commit(store, spend(60), client_ref=("r", "f"))  # new columns and tables work
    assert recs[0].seq == 6 and recs[0].balance_after_cents is None
    store.close()
    backup = sqlite3.connect(str(tmp_path / "terminal.db.pre-v2"))
    assert backup.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 5
    backup.close()


def test_upgrade_from_schema_3_keeps_records_and_stores_receipt_names_from_then_on(tmp_path):
    path = tmp_path / "terminal.db"
    raws = _v1_database(path, 3, version=3)
    store = TerminalStore(path, "T-test-01", FakeClock())
    assert store.migrated_from == 3
    assert (tmp_path / "terminal.db.pre-v4").exists()
    old = store.all_records()
    assert [r.raw for r in old] == raws and {(r.budget_label, r.merchant_name) for r in old} == {(None, None)}
    assert store.verify(KEY.public_key(), all_signatures=True).seq == 3
    recs, _ = commit(store, spend(60, budget_id="B-1", budget_label="Boodschappen"), spend(40),
                     merchant_name="Bakkerij De Korenbloem")
    assert [(r.budget_label, r.merchant_name) for r in recs] == [
        ("Boodschappen", "Bakkerij De Korenbloem"), (None, "Bakkerij De Korenbloem")]  # no label without a budget
    store.close()
    store = TerminalStore(path, "T-test-01", FakeClock())
    assert store.migrated_from == migrations.LATEST and store.tx(recs[0].tx_id) == recs  # read back as written
    store.close()


def test_a_failing_migration_step_leaves_the_old_schema_and_its_records(tmp_path, monkeypatch):
    path = tmp_path / "terminal.db"
    raws = _v1_database(path, 3)
    broken = (migrations.STEPS[0], migrations.STEPS[1][:2] + ("CREATE TABLE broken (",))
    monkeypatch.setattr(migrations, "STEPS", broken)
    with pytest.raises(sqlite3.OperationalError, match="incomplete input"):  # the broken step
        TerminalStore(path, "T-test-01", FakeClock())
    con = sqlite3.connect(str(path))
    assert con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == 1
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'client_refs'").fetchone() is None
    assert [r[0] for r in con.execute("SELECT raw FROM records ORDER BY seq")] == raws
    con.close()
    monkeypatch.undo()
    store = TerminalStore(path, "T-test-01", FakeClock())
    assert store.verify(KEY.public_key()).seq == 3
    store.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "terminal.db"
    TerminalStore(path, "T-test-01", FakeClock()).close()
    con = sqlite3.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (99, 0)")
    con.commit()
    con.close()
    with pytest.raises(StoreCorrupt):
        TerminalStore(path, "T-test-01", FakeClock())


def test_the_store_and_the_test_outbox_implement_the_whole_outbox_protocol(store):
    from floreyn.server.testing import MemoryOutbox
    from floreyn.sync.client import Outbox

    members = {n for n in vars(Outbox) if not n.startswith("_")}
    assert {"unsent", "count_unsent", "acknowledge", "resend_after", "head", "store_snapshot",
            "current_snapshot"} == members
    for outbox in (store, MemoryOutbox()):
        assert all(hasattr(outbox, n) for n in members), type(outbox).__name__
    assert store.head.seq == 0 and MemoryOutbox().head is None and MemoryOutbox().resend_after(0) == 0


def test_a_resumed_chain_check_starts_at_the_last_verified_point_and_still_catches_tampering_after_it(store):
    for i in range(6):
        commit(store, spend(100 + i))
    assert store.verify(KEY.public_key()).seq == 6  # first check: from the base; the point is now record 5
    con = sqlite3.connect(str(store.db_path))
    assert con.execute("SELECT verified_seq FROM terminal_state").fetchone()[0] == 5
    # Before the point: not read again at start (the full check still sees it).
    con.execute("UPDATE records SET fl_cents = 1 WHERE seq = 2")
    con.commit()
    for i in range(3):
        commit(store, spend(300 + i))
    assert store.verify(KEY.public_key()).seq == 9
    with pytest.raises(StoreCorrupt):
        store.verify(KEY.public_key(), all_signatures=True)
    con.execute("UPDATE records SET fl_cents = 101 WHERE seq = 2")
    con.commit()
    assert con.execute("SELECT verified_seq FROM terminal_state").fetchone()[0] == 8
    commit(store, spend(400))
    commit(store, spend(401))
    # After the point (record 10 of 11): caught, by column and by signature.
    con.execute("UPDATE records SET fl_cents = 1 WHERE seq = 10")
    con.commit()
    with pytest.raises(StoreCorrupt):
        store.verify(KEY.public_key())
    con.execute("UPDATE records SET fl_cents = 400 WHERE seq = 10")
    con.commit()
    assert store.verify(KEY.public_key()).seq == 11
    raw = bytearray(con.execute("SELECT raw FROM records WHERE seq = 11").fetchone()[0])
    raw[-1] ^= 1
    con.execute("UPDATE records SET raw = ?, hash = ? WHERE seq = 11",
                (bytes(raw), __import__("hashlib").sha256(bytes(raw)).digest()))
    con.commit()
    with pytest.raises(Exception) as info:  # the head is re-checked, signature included, at every start
        store.verify(KEY.public_key())
    assert getattr(info.value, "code", "") in ("record_bad_signature", "store_corrupt")
    con.close()


def test_a_tampered_verified_point_breaks_the_chain_after_it(store):
    for i in range(4):
        commit(store, spend(100 + i))
    store.verify(KEY.public_key())
    con = sqlite3.connect(str(store.db_path))
    con.execute("UPDATE terminal_state SET verified_hash = zeroblob(32)")  # a point that is not the chain's
    con.commit()
    con.close()
    commit(store, spend(500))
    with pytest.raises(BrokenChain):
        store.verify(KEY.public_key())


CARDS_UNDER_TEST = [bytes([i]) * 16 for i in range(3)]


@hyp.settings(max_examples=40, deadline=None, suppress_health_check=[hyp.HealthCheck.function_scoped_fixture])
@hyp.given(ops=st.lists(st.tuples(st.sampled_from(["spend", "split", "void", "contact", "ack", "prune", "read"]),
                                  st.integers(0, 2), st.booleans(), st.integers(1, 5_000), st.integers(0, 10**6)),
                        min_size=1, max_size=40), base=st.integers(0, 3))
def test_kept_card_usage_equals_a_full_recount_under_any_operations(tmp_path_factory, ops, base):
    store = TerminalStore(tmp_path_factory.mktemp("usage") / "terminal.db", "T-test-01", FakeClock())
    spends: list[uuid.UUID] = []
    try:
        for op, card_no, offline, cents, pick in ops:
            card = CARDS_UNDER_TEST[card_no]
            if op == "spend":
                recs, _ = commit(store, Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=card, fl_cents=cents,
                                              offline=offline, budget_id="B-1" if pick % 3 == 0 else None))
                spends.append(recs[0].record_id)
            elif op == "split":  # one tap, own balance and a budget
                recs, _ = commit(store, Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=card, fl_cents=cents,
                                              offline=offline, budget_id="B-1"),
                                 Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=card, fl_cents=cents + 1,
                                       offline=offline))
                spends += [r.record_id for r in recs]
            elif op == "void" and spends:
                ref = spends[pick % len(spends)]
                commit(store, Draft(record_id=uuid.uuid4(), kind=Kind.VOID, card_id=card, ref_id=uuid.UUID(ref)))
            elif op == "contact":
                store.set_contact(card.hex())
            elif op == "ack" and store.head.seq:
                store.acknowledge(1 + pick % store.head.seq)
            elif op == "prune":
                store.prune(retention_ms=0)
                spends = [r.record_id for r in store.all_records() if r.kind == Kind.SPEND]
            with store.txn() as view:  # a sale's re-check: reads and keeps the totals
                head = view.state().head_seq
                # The snapshot's base stays put over most operations (kept totals carry across commits) and
                # moves now and then (a new snapshot: counted again).
                snap_base = min(base, head) if op != "read" else pick % (head + 1)
                for c in CARDS_UNDER_TEST:
                    assert view.card_usage(c.hex(), snap_base) == view.card_usage_counted(c.hex(), snap_base)
    finally:
        store.close()


CHECK_WAIT_S = 30.0  # a bounded wait for the background check of a handful of records


def _long_span_store(tmp_path, monkeypatch, n: int = 12) -> TerminalStore:
    """A store whose next start owes more than the inline check takes (the limit made small)."""
    from floreyn.terminal.store import integrity

    monkeypatch.setattr(integrity, "INLINE_CHECK_RECORDS", 3)
    path = tmp_path / "terminal.db"
    s = TerminalStore(path, "T-test-01", FakeClock())
    for i in range(n):
        commit(s, spend(100 + i))
    s.close()
    return TerminalStore(path, "T-test-01", FakeClock())


def test_a_long_unchecked_span_is_checked_in_the_background_and_uploads_wait_for_it(tmp_path, monkeypatch):
    s = _long_span_store(tmp_path, monkeypatch)
    try:
        assert s.unsent(100) == []  # held from the open: the sync worker may run before verify
        assert s.verify(KEY.public_key()).seq == 12
        assert s.wait_checked(CHECK_WAIT_S) and s.check_error is None
        assert len(s.unsent(100)) == 12
        con = sqlite3.connect(str(s.db_path))
        assert con.execute("SELECT verified_seq FROM terminal_state").fetchone()[0] == 11  # the point moved
        con.close()
    finally:
        s.close()


def test_a_column_changed_in_the_middle_is_caught_by_the_background_check_and_nothing_is_uploaded(
        tmp_path, monkeypatch):
    s = _long_span_store(tmp_path, monkeypatch)
    try:
        con = sqlite3.connect(str(s.db_path))
        con.execute("UPDATE records SET fl_cents = 1 WHERE seq = 6")  # the signed bytes and links are intact
        con.commit()
        assert s.verify(KEY.public_key()).seq == 12  # the links and the head hold: the till may sell
        assert not s.wait_checked(CHECK_WAIT_S) and s.check_error is not None  # bounded: the thread ends
        assert s.check_error.code == "store_corrupt" and s.unsent(100) == []
        assert con.execute("SELECT verified_seq FROM terminal_state").fetchone()[0] is None  # not moved
        con.close()
    finally:
        s.close()


def test_a_record_rewritten_in_the_middle_is_caught_before_the_start_returns(tmp_path, monkeypatch):
    import hashlib

    s = _long_span_store(tmp_path, monkeypatch)
    try:
        con = sqlite3.connect(str(s.db_path))
        raw = bytearray(con.execute("SELECT raw FROM records WHERE seq = 6").fetchone()[0])
        raw[-1] ^= 1  # its signature, and so its hash: the next record's prev_hash no longer matches
        con.execute("UPDATE records SET raw = ?, hash = ? WHERE seq = 6", (bytes(raw), hashlib.sha256(raw).digest()))
        con.commit()
        con.close()
        with pytest.raises(BrokenChain):
            s.verify(KEY.public_key())
        assert s.unsent(100) == [] and s.check_error is not None
    finally:
        s.close()


def test_a_till_whose_background_check_failed_reports_it_and_keeps_selling(tmp_path, monkeypatch):
    from till_helpers import fast_config

    from floreyn.terminal.drivers.virtual import VirtualPrinter
    from floreyn.terminal.engine.build import build_engine
    from floreyn.terminal.store import integrity

    monkeypatch.setattr(integrity, "INLINE_CHECK_RECORDS", 3)
    config = fast_config(tmp_path / "till")
    engine = build_engine(config, VirtualPrinter())
    key = engine._key  # noqa: SLF001 - the till's own key signs these records
    for i in range(10):
        engine.store.commit_tx([spend(100 + i)], key=key, merchant_id="M-test")
    engine.store.close()
    con = sqlite3.connect(str(config.data_dir / "terminal.db"))
    con.execute("UPDATE records SET fl_cents = 1 WHERE seq = 5")
    con.commit()
    con.close()
    engine = build_engine(config, VirtualPrinter())
    try:
        assert engine.start()["head_seq"] == 10
        assert not engine.store.wait_checked(CHECK_WAIT_S)
        assert engine.status().store_damaged  # the banner says so (tests/terminal/app/test_app_units.py)
        engine.store.commit_tx([spend(500)], key=key, merchant_id="M-test")  # records chain onto the checked head
        assert engine.store.unsent(100) == []
    finally:
        engine.store.close()
