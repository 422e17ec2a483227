"""The till's crash-proof local store, and its Outbox for the sync worker.

A transaction (one to a few records) is signed, chained and committed in a
single SQLite transaction together with the new chain head; only then does
the engine print its receipt. Everything runs on one connection behind one
lock, so the engine's worker thread and the sync thread never interleave a
read-then-write.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Sequence


from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey
from floreyn.sync.record import GENESIS_HASH, ChainHead, Kind, SignedRecord, TxRecord
from floreyn.sync.snapshot import (
    SHORT_ID_HEX, CardInfo, Snapshot, SnapshotError, canonical_json, pick, short_id_range, snapshot_from_dict,
    verify_snapshot,
)
from floreyn.sync.snapshot_pages import decode_card, encode_card
from floreyn.terminal.clock import Clock, MonoCounter
from floreyn.terminal.errors import ClientRefConflict, StoreCorrupt
from floreyn.terminal.store import integrity, migrations
from floreyn.terminal.store.db import ProcessLock, Tx, open_sqlite, transaction
from floreyn.terminal.store.rows import RECORD_COLUMNS, Draft, SnapshotReceipt, StoredRecord, StoreState, record_columns
from floreyn.terminal.store.schema import RECEIPT_COLUMNS, column_list
from floreyn.terminal.store.view import StoreView
from floreyn.terminal.store.zreport import z_report

# Applying a fetch's cards named by short or full ids (sync/snapshot_entry.py `superseded`, the same rule):
_STAGED_SHORT_IDS = "SELECT card_id FROM snapshot_staging WHERE fetch = ? AND length(card_id) = ?"
_DROP_BY_SHORT_ID = "DELETE FROM snapshot_cards WHERE card_id > ? AND card_id < ?"  # its full-id rows
_DROP_SHORT_OF_FULL = ("DELETE FROM snapshot_cards WHERE card_id IN (SELECT substr(card_id, 1, ?) FROM "
                       "snapshot_staging WHERE fetch = ? AND length(card_id) > ?)")

CARDS_IN_TABLE = "cards_in_table"  # in the stored snapshot row: its cards are in snapshot_cards (migration 7)
MAX_TX_RECORDS = 8  # a split spend is at most a few budgets plus own balance
MAX_UNSENT_BATCH = 500
CHECK_JOIN_S = 5.0  # close() waits this long for the background check to stop (it stops between batches)

log = logging.getLogger("floreyn.terminal")

Check = Callable[[StoreView], None]


class TerminalStore:
    """SQLite store of one terminal. Implements floreyn.sync.client.Outbox."""

    def __init__(self, db_path: Path, terminal_id: str, clock: Clock, *, lock: bool = True) -> None:
        self.db_path = db_path
        self.terminal_id = terminal_id
        self._clock = clock
        self._lock = threading.RLock()
        self._plock = ProcessLock(db_path.with_name("terminal.lock")) if lock else None
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = open_sqlite(db_path)
            self.migrated_from = migrations.migrate(self._conn, db_path=db_path, wall_ms=clock.wall_ms())
            self._init_state()
        except BaseException:
            if getattr(self, "_conn", None) is not None:
                self._conn.close()
            if self._plock:
                self._plock.release()
            raise
        state = self.state()
        self._head = ChainHead(state.head_seq, state.head_hash)
        self._day_no = state.day_no  # changes only through _close_day in this process
        with self.read() as view:
            boot = view.db.one("SELECT mono_boot_id, mono_offset_ms FROM terminal_state WHERE id = 1")
        self.mono = MonoCounter(clock, state.mono_ms, boot_id=boot[0], offset_ms=boot[1])
        with self.txn() as view:
            _update_state(view.db, "UPDATE terminal_state SET mono_boot_id = ?, mono_offset_ms = ? WHERE id = 1",
                          (self.mono.boot_id, self.mono.offset_ms))
        self._snapshot: tuple[Snapshot, SnapshotReceipt] | None = None
        self._stored_cards = _StoredCards(self)
        self._load_snapshot()
        # Uploads wait for the start's chain check (verify) when it owes more than it checks inline; then
        # they may have begun before verify runs (the sync worker starts beside the engine).
        self._uploads = threading.Event()
        self._check_thread: threading.Thread | None = None
        self._check_ended = threading.Event()  # clear while a background check runs
        self._check_ended.set()
        self._closing = threading.Event()
        self.check_error: FloreynError | None = None  # what the chain check found wrong; uploads then stay held
        with self.read() as view:
            if integrity.unchecked_span(view) <= integrity.INLINE_CHECK_RECORDS:
                self._uploads.set()

    def close(self) -> None:
        self._closing.set()
        if self._check_thread is not None:
            self._check_thread.join(CHECK_JOIN_S)
        with self._lock:
            self._conn.close()
            if self._plock:
                self._plock.release()

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def txn(self, *, durable: bool = True) -> Iterator[StoreView]:
        """A write transaction (BEGIN IMMEDIATE) on the store's connection, under the store's lock.

        durable=False commits with synchronous=NORMAL (no fsync; a later durable
        commit or checkpoint carries it to disk): only for bookkeeping whose loss
        costs a duplicate receipt or a re-upload the server recognises, never
        for a money record.
        """
        with self._lock:
            if not durable:
                self._pragma("PRAGMA synchronous=NORMAL")
            try:
                with transaction(self._conn) as tx:
                    yield StoreView(tx, self._snapshot_base())
            finally:
                if not durable:
                    self._pragma("PRAGMA synchronous=FULL")

    @contextmanager
    def read(self) -> Iterator[StoreView]:
        """A read-only transaction: one consistent view, no write lock."""
        with self._lock, transaction(self._conn, read_only=True) as tx:
            yield StoreView(tx, self._snapshot_base())

    def _snapshot_base(self) -> int | None:
        snap = getattr(self, "_snapshot", None)  # None while opening: the view then reads the row
        return snap[1].base_seq if snap is not None else None

    def _pragma(self, statement: str) -> None:
        assert not self._conn.in_transaction
        self._conn.execute(statement).close()

    def _init_state(self) -> None:
        with self.txn() as view:
            row = view.db.first("SELECT terminal_id FROM terminal_state WHERE id = 1")
            if row is None:
                view.db.execute(
                    "INSERT INTO terminal_state (id, terminal_id, head_seq, head_hash, base_seq, base_hash, mono_ms, "
                    "day_no, acked_seq) VALUES (1, :terminal_id, 0, :genesis, 0, :genesis, 0, 1, 0)",
                    {"terminal_id": self.terminal_id, "genesis": GENESIS_HASH})
                view.db.execute("INSERT INTO pin_lockout (id, failures, locked_until_mono_ms) VALUES (1, 0, 0)")
            elif row[0] != self.terminal_id:
                raise StoreCorrupt(detail=f"this data folder belongs to terminal {row[0]}, not {self.terminal_id}")

    def state(self) -> StoreState:
        with self.read() as view:
            return view.state()

    @property
    def head(self) -> ChainHead:
        return self._head

    # -- committing ----------------------------------------------------------------------

    def commit_tx(
        self,
        drafts: Sequence[Draft],
        *,
        key: PrivateKey,
        merchant_id: str,
        check: Check | None = None,
        client_ref: tuple[str, str] | None = None,
        contact_card: str | None = None,
        merchant_name: str | None = None,
    ) -> tuple[list[StoredRecord], bool]:
        """Sign, chain and durably commit one transaction; returns (records, existed).

        `check` re-validates inside the write transaction and may raise a
        refusal (nothing is written then). `client_ref` = (ref, fingerprint)
        makes a retry return the first result instead of a second transaction.
        `merchant_name` is kept with the records for the receipt's header (reprints).
        """
        assert 1 <= len(drafts) <= MAX_TX_RECORDS
        with self.txn() as view:
            if client_ref is not None:
                found = view.client_ref(client_ref[0])
                if found is not None:
                    if found[1] != client_ref[1]:
                        raise ClientRefConflict(ref=client_ref[0])
                    return view.tx(found[0]), True
            if check is not None:
                check(view)
            old = head = self._head
            wall_ms, day_no, tx_id = self._clock.wall_ms(), self._day_no, str(drafts[0].record_id)
            signed_all, rows = [], []
            for draft in drafts:
                signed = _sign(draft, head, key, self.terminal_id, merchant_id, wall_ms, self.mono.next_ms())
                row = _row(draft, signed, tx_id, day_no, merchant_name)
                rows.append(row)
                digest = row["hash"]  # the record's SHA-256, taken once for its row and the head (head.advance)
                assert isinstance(digest, bytes) and len(digest) == 32
                head = ChainHead(signed.record.seq, digest)
                signed_all.append(signed)
            db = view.db
            added = db.many(_INSERT_RECORD, [tuple(r.values()) for r in rows])
            assert added == len(rows), f"{added} of {len(rows)} records inserted"
            done = db.execute(
                "UPDATE terminal_state SET head_seq = ?, head_hash = ?, mono_ms = ? "
                "WHERE id = 1 AND head_seq = ? AND head_hash = ?",
                (head.seq, head.hash, self.mono.last_ms, old.seq, old.hash))
            assert done == 1, "the chain head in the database is not the one this process holds"
            _add_usage(db, drafts)
            if contact_card is not None:
                _upsert_contact(view, contact_card, head.seq)
            if client_ref is not None:
                db.execute("INSERT INTO client_refs (ref, tx_id, fingerprint) VALUES (?, ?, ?)",
                           (client_ref[0], tx_id, client_ref[1]))
            if drafts[-1].kind is Kind.DAY_CLOSE:
                self._close_day(view, day_no, head.seq)
            back = db.all("SELECT raw FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq", (old.seq + 1, head.seq))
            assert [bytes(r[0]) for r in back] == [s.raw for s in signed_all], "read back differs from the signed"
        self._head = head
        if drafts[-1].kind is Kind.DAY_CLOSE:
            self._day_no = day_no + 1
        return [StoredRecord(**r) for r in rows], False  # type: ignore[arg-type]  # _row(): one value per field

    def _close_day(self, view: StoreView, day_no: int, close_seq: int) -> None:
        report = z_report(day_no, self.terminal_id, view.day(day_no))
        view.db.execute("INSERT INTO days (day_no, close_seq, report) VALUES (?, ?, ?)",
                        (day_no, close_seq, json.dumps(report, sort_keys=True)))
        _update_state(view.db, "UPDATE terminal_state SET day_no = ? WHERE id = 1", (day_no + 1,))

    def save_mono(self) -> None:
        """Persist the counter (e.g. before a lock-out deadline is stored against it)."""
        with self.txn() as view:
            _update_state(view.db, "UPDATE terminal_state SET mono_ms = ? WHERE id = 1", (self.mono.next_ms(),))

    # -- receipts ------------------------------------------------------------------------

    def set_receipt_status(self, tx_id: str, status: str, error: str | None = None) -> None:
        assert status in ("pending", "printed", "failed")
        with self.txn(durable=False) as view:  # after every sale's receipt
            done = view.db.execute("UPDATE records SET receipt_status = ?, receipt_error = ? WHERE tx_id = ?",
                                   (status, error, tx_id))
            assert done >= 1, tx_id

    def set_contact(self, card_hex: str) -> None:
        """The server vouched for this card just now: its offline usage starts again."""
        with self.txn() as view:
            _upsert_contact(view, card_hex, view.state().head_seq)

    # -- PIN lock-out ----------------------------------------------------------------------

    def lockout(self) -> tuple[int, int]:
        with self.read() as view:
            row = view.db.one("SELECT failures, locked_until_mono_ms FROM pin_lockout WHERE id = 1")
            return int(row[0]), int(row[1])

    def set_lockout(self, failures: int, locked_until_mono_ms: int) -> None:
        with self.txn() as view:
            done = view.db.execute("UPDATE pin_lockout SET failures = ?, locked_until_mono_ms = ? WHERE id = 1",
                                   (failures, locked_until_mono_ms))
            assert done == 1, "no pin_lockout row"
            # The deadline is in counter time: persist the counter with it, so a restart resumes above it.
            _update_state(view.db, "UPDATE terminal_state SET mono_ms = ? WHERE id = 1", (self.mono.next_ms(),))

    # -- Outbox (floreyn.sync.client.Outbox) ---------------------------------------------------

    def unsent(self, limit: int) -> list[bytes]:
        """Pending records in chain order; none while the start's chain check has not passed (verify)."""
        if not self._uploads.is_set():
            return []
        limit = max(0, min(limit, MAX_UNSENT_BATCH))
        with self.read() as view:
            rows = view.db.all("SELECT raw FROM records WHERE sync_status = 'pending' ORDER BY seq LIMIT ?", (limit,))
            return [bytes(r[0]) for r in rows]

    def count_unsent(self) -> int:
        """Exact number of records the server has not acknowledged (SyncWorker's optional extra)."""
        with self.read() as view:
            return view.count("pending")

    def acknowledge(self, up_to_seq: int) -> None:
        with self.txn(durable=False) as view:
            state = view.state()
            if not 0 <= up_to_seq <= state.head_seq:
                raise StoreCorrupt(detail=f"server acknowledged seq {up_to_seq}, beyond our head {state.head_seq}")
            if up_to_seq <= state.acked_seq:
                return  # a repeated or late acknowledgement changes nothing
            view.db.execute("UPDATE records SET sync_status = 'acknowledged' WHERE seq <= ? AND sync_status = 'pending'",
                            (up_to_seq,))
            _update_state(view.db, "UPDATE terminal_state SET acked_seq = ? WHERE id = 1", (up_to_seq,))

    def resend_after(self, server_seq: int) -> int:
        """The server holds records only up to `server_seq`, below what it acknowledged before (it was restored
        from a backup): mark every kept record above it unsent again, so the sync worker uploads them once more.
        They are the same signed bytes, so the server posts each exactly once. Returns how many were re-marked;
        records pruned here already cannot come back (0 then; the worker reports sync_server_behind).
        """
        with self.txn() as view:
            state = view.state()
            if not 0 <= server_seq < state.acked_seq:
                return 0  # not behind (or nonsense): nothing to do
            done = view.db.execute("UPDATE records SET sync_status = 'pending' "
                                   "WHERE seq > ? AND sync_status = 'acknowledged'", (server_seq,))
            _update_state(view.db, "UPDATE terminal_state SET acked_seq = ? WHERE id = 1", (server_seq,))
            return done

    def store_snapshot(self, snap: Snapshot, *, data: bytes | None = None, signature: bytes | None = None) -> None:
        """Keep the server's latest snapshot and when it arrived (boot id + monotonic time, for its age)."""
        if snap.terminal_id != self.terminal_id:
            raise SnapshotError(detail=f"snapshot is for {snap.terminal_id}, not {self.terminal_id}")
        current = self.current_snapshot()
        if current is not None and snap.snapshot_version < current.snapshot_version:
            return  # an older snapshot arriving late must not replace a newer one
        blob = data if data is not None else canonical_json(snap.to_dict())
        with self._lock:  # the row and the in-memory copy change together
            with self.txn() as view:
                receipt = self._write_snapshot_row(view, blob, signature)
            self._snapshot = (snap, receipt)

    def _write_snapshot_row(self, view: StoreView, blob: bytes, signature: bytes | None) -> SnapshotReceipt:
        receipt = SnapshotReceipt(self._clock.wall_ms(), self._clock.boot_id(), self._clock.monotonic_ms(),
                                  view.state().acked_seq)
        done = view.db.execute(_UPSERT_SNAPSHOT, (blob, signature, *(getattr(receipt, c) for c in RECEIPT_COLUMNS)))
        assert done == 1, "the snapshot row was not written"
        return receipt

    # -- a paged snapshot (floreyn.sync.snapshot_pages.SnapshotSink) ------------------------------

    def stage_snapshot_cards(self, fetch: str, pairs: list[tuple[str, bytes]], *, first: bool) -> None:
        """Keep a page's cards aside until the fetch's last page; the snapshot in use is untouched."""
        with self.txn(durable=False) as view:  # lost in a crash: the fetch starts over, nothing else is
            if first:
                view.db.execute("DELETE FROM snapshot_staging")
            if pairs:
                view.db.many("INSERT OR REPLACE INTO snapshot_staging (card_id, fetch, entry) VALUES (?, ?, ?)",
                             [(c, fetch, e) for c, e in pairs])

    def apply_staged_snapshot(self, fetch: str, snap: Snapshot, *, full: bool) -> Snapshot:
        """The fetch's staged cards become the snapshot's, with its header, in one transaction."""
        if snap.terminal_id != self.terminal_id:
            raise SnapshotError(detail=f"snapshot is for {snap.terminal_id}, not {self.terminal_id}")
        header = replace(snap, cards=(), blocklist=(), card_source=None)
        blob = canonical_json({**header.to_dict(), CARDS_IN_TABLE: True})
        with self._lock:
            current = self.current_snapshot()
            with self.txn() as view:
                db = view.db
                if current is not None and snap.snapshot_version < current.snapshot_version:
                    db.execute("DELETE FROM snapshot_staging")  # a late fetch must not go back
                    return current
                if full or current is None or current.card_source is None:
                    db.execute("DELETE FROM snapshot_cards")
                if not full and current is not None and current.card_source is None and current.cards:
                    # a delta onto a snapshot that holds its cards inline (stored before migration 7)
                    db.many("INSERT INTO snapshot_cards (card_id, entry) VALUES (?, ?)",
                            [(c.card_id, encode_card(c)) for c in current.cards])
                if not full:  # a card now by its short id: its full-id row goes (see sync/snapshot_entry.py superseded)
                    db.many(_DROP_BY_SHORT_ID, [short_id_range(k) for k, in db.all(_STAGED_SHORT_IDS, (fetch, SHORT_ID_HEX))])
                db.execute("INSERT OR REPLACE INTO snapshot_cards (card_id, entry) "
                           "SELECT card_id, entry FROM snapshot_staging WHERE fetch = ?", (fetch,))
                db.execute(_DROP_SHORT_OF_FULL, (SHORT_ID_HEX, fetch, SHORT_ID_HEX))  # a card now by its full id
                db.execute("DELETE FROM snapshot_staging")
                receipt = self._write_snapshot_row(view, blob, None)
            applied = replace(header, card_source=self._stored_cards)
            self._snapshot = (applied, receipt)
            return applied

    def stored_card(self, card_hex: str) -> CardInfo | None:
        """One card of the applied paged snapshot, read from the store (floreyn.sync.snapshot.CardSource)."""
        with self._lock:
            if self._conn.in_transaction:  # asked from inside a transaction of this store: read in it
                return self._card_row(Tx(self._conn), card_hex)
            with self.read() as view:
                return self._card_row(view.db, card_hex)

    @staticmethod
    def _card_row(db: Tx, card_hex: str) -> CardInfo | None:
        """The entries keyed by the card's full id or by ids starting with its short id (`short_id_range`),
        and of those the card's own (`pick`: a short id matches only when it is alone)."""
        rows = db.all("SELECT card_id, entry FROM snapshot_cards WHERE card_id >= ? AND card_id < ?",
                      short_id_range(card_hex))
        return pick(card_hex, [(str(key), decode_card(bytes(entry))) for key, entry in rows])

    def store_signed_snapshot(self, data: bytes, signature: bytes, server_key: PublicKey) -> Snapshot:
        snap = verify_snapshot(data, signature, server_key)
        self.store_snapshot(snap, data=data, signature=signature)
        return snap

    def current_snapshot(self) -> Snapshot | None:
        found = self.snapshot_with_receipt()
        return found[0] if found else None

    def snapshot_with_receipt(self) -> tuple[Snapshot, SnapshotReceipt] | None:
        """From memory: this process is the only writer of its data folder (ProcessLock)."""
        with self._lock:
            return self._snapshot

    def _load_snapshot(self) -> None:
        with self.read() as view:
            row = view.snapshot_row()
        if row is None:
            return
        blob, _sig, receipt = row
        try:
            d = json.loads(blob.decode("utf-8"))
            snap = snapshot_from_dict(d)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreCorrupt(detail=f"stored snapshot unreadable: {exc}") from None
        if d.get(CARDS_IN_TABLE):
            snap = replace(snap, card_source=self._stored_cards)
        self._snapshot = (snap, receipt)

    # -- reads -----------------------------------------------------------------------------

    def tx(self, tx_id: str) -> list[StoredRecord]:
        with self.read() as view:
            return view.tx(tx_id)

    def tx_of_record(self, record_id: str) -> list[StoredRecord]:
        with self.read() as view:
            rec = view.record(record_id)
            return view.tx(rec.tx_id) if rec else []

    def all_records(self) -> list[StoredRecord]:
        """Every kept record in order (tests, tools; bounded by retention)."""
        with self.read() as view:
            state = view.state()
            return view.by_seq(state.base_seq + 1, state.head_seq) if state.head_seq > state.base_seq else []

    # -- integrity and pruning (store/integrity.py) ---------------------------------------

    def verify(self, public: PublicKey, *, all_signatures: bool = False) -> ChainHead:
        """Check the kept chain from the last verified point (integrity.py); the head it ends at.

        The hash chain and the head are checked before this returns. The records' own checks (columns,
        signatures) too, unless they are more than INLINE_CHECK_RECORDS (the first start after the
        upgrade that brought the verified point, after a long offline day): those then run in a
        background thread while the till sells, and unsent() gives nothing until they have passed.
        all_signatures: everything, every signature, before this returns.
        """
        self._uploads.clear()
        self.check_error = None
        try:
            with self.txn(durable=False) as view:  # losing the new point costs only a longer check next start
                check = integrity.check_links(view, public, all_signatures=all_signatures)
                inline = all_signatures or check.owed <= integrity.INLINE_CHECK_RECORDS
                if inline:
                    integrity.check_span(view, check, public, all_signatures=all_signatures)
        except FloreynError as exc:
            self.check_error = exc
            raise
        if inline:
            self._uploads.set()
        elif self._check_thread is None or not self._check_thread.is_alive():
            self._check_ended.clear()
            self._check_thread = threading.Thread(target=self._check_in_background, args=(check, public),
                                                  name="floreyn-store-check", daemon=True)
            self._check_thread.start()
        return check.head

    def wait_checked(self, timeout_s: float) -> bool:
        """Whether the chain check has passed (uploads go), waiting at most timeout_s for a background one."""
        self._check_ended.wait(timeout_s)
        return self._uploads.is_set()

    def _check_in_background(self, check: integrity.StartCheck, public: PublicKey) -> None:
        """check_records over the span verify left, a batch at a time: read under the lock, checked outside it."""
        public_raw = keys.public_raw(public)
        signatures = ThreadPoolExecutor(1, thread_name_prefix="floreyn-store-sig")  # beside the decoding
        try:
            seq, checking = check.point.seq + 1, None
            while seq <= check.head.seq:
                if self._closing.is_set():
                    return  # the point stays: the next start checks this span again
                last = min(seq + integrity.VERIFY_BATCH - 1, check.head.seq)
                with self.read() as view:
                    rows = view.by_seq(seq, last)  # pruned meanwhile: gone, and they were acknowledged
                signed = integrity.decode_records(rows)
                if checking is not None:
                    checking.result()  # the batch before: raises its first bad signature
                checking = signatures.submit(integrity.check_signatures, signed, public_raw)
                seq = last + 1
            if checking is not None:
                checking.result()
            with self.txn(durable=False) as view:
                integrity.mark_verified(view, check)
            self._uploads.set()
        except FloreynError as exc:
            self.check_error = exc
            log.error("the store's chain check failed; uploads are held: %s", exc.message("en"))
        finally:
            signatures.shutdown(cancel_futures=True)
            self._check_ended.set()

    def prune(self, *, retention_ms: int) -> int:
        """Delete old acknowledged records; see integrity.prune_store."""
        now_ms = self.mono.peek_ms()
        with self.txn() as view:
            return integrity.prune_store(view, now_ms=now_ms, retention_ms=retention_ms)


def _sign(draft: Draft, head: ChainHead, key: PrivateKey, terminal_id: str, merchant_id: str,
          wall_ms: int, mono_ms: int) -> SignedRecord:
    rec = head.next_record(draft, terminal_id=terminal_id, merchant_id=merchant_id, wall_ms=wall_ms, mono_ms=mono_ms)
    return rec.sign(key)


_COLUMNS = RECORD_COLUMNS  # the fields of StoredRecord (rows.py)
_INSERT_RECORD = f"INSERT INTO records ({column_list(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
# The one snapshot row, whole: its bytes, their signature and the receipt's fields (SnapshotReceipt).
_UPSERT_SNAPSHOT = (f"INSERT OR REPLACE INTO snapshot (id, data, signature, {column_list(RECEIPT_COLUMNS)}) "
                    f"VALUES (1, ?, ?, {', '.join('?' * len(RECEIPT_COLUMNS))})")


def _row(draft: Draft, signed: SignedRecord, tx_id: str, day_no: int, merchant_name: str | None
         ) -> dict[str, object]:
    """The row of a record, in _COLUMNS order; also the fields of its StoredRecord."""
    rec: TxRecord = signed.record
    values = record_columns(rec) | dict(
        tx_id=tx_id, day_no=day_no, offline=draft.offline, raw=signed.raw, hash=signed.hash,
        receipt_status="pending", sync_status="pending", balance_after_cents=draft.balance_after_cents,
        receipt_error=None, budget_label=draft.budget_label if rec.budget_id else None, merchant_name=merchant_name,
        budget_left_cents=draft.budget_left_cents if rec.budget_id else None,
        budget_expires_on=draft.budget_expires_on if rec.budget_id else None,
        pot_campaign=draft.pot_campaign if draft.pot_cents else None, pot_cents=draft.pot_cents or None,
    )
    assert len(values) == len(_COLUMNS), f"a record field without a column: {sorted(set(values) - set(_COLUMNS))}"
    return {name: values[name] for name in _COLUMNS}


def _add_usage(db: Tx, drafts: Sequence[Draft]) -> None:
    """Keep each card's usage totals (StoreView.card_usage) up to date with this transaction's records.

    Every new record is above any base a kept row names (bases are at or below the head), so a spend adds
    to the row as it stands; one transaction is one tap. A void makes its card's row be counted again.
    """
    added: dict[str, list[int]] = {}  # card -> [offline fl, offline tap, own fl]
    for d in drafts:
        if d.kind is Kind.VOID and d.ref_id is not None:
            db.execute("DELETE FROM card_usage WHERE card_hex IN (SELECT card_hex FROM records WHERE record_id = ?)",
                       (str(d.ref_id),))
        elif d.kind is Kind.SPEND and d.card_id is not None:
            total = added.setdefault(d.card_id.hex(), [0, 0, 0])
            if d.offline:
                total[0] += d.fl_cents
                total[1] = 1
            if d.budget_id is None:
                total[2] += d.fl_cents
    for card_hex, (offline_fl, taps, own_fl) in added.items():
        db.execute("UPDATE card_usage SET offline_fl = offline_fl + ?, offline_taps = offline_taps + ?, "
                   "own_fl = own_fl + ? WHERE card_hex = ?", (offline_fl, taps, own_fl, card_hex))


def _upsert_contact(view: StoreView, card_hex: str, after_seq: int) -> None:
    done = view.db.execute(
        "INSERT INTO card_contact (card_hex, after_seq) VALUES (?, ?) "
        "ON CONFLICT (card_hex) DO UPDATE SET after_seq = excluded.after_seq", (card_hex, after_seq))
    assert done == 1, card_hex


def _update_state(db: Tx, sql: str, params: tuple[object, ...]) -> None:
    """An UPDATE of the one terminal_state row: it must find it (a store without it is not this till's)."""
    done = db.execute(sql, params)
    assert done == 1, f"{done} terminal_state rows updated: {sql}"


class _StoredCards:
    """The store as a snapshot's CardSource: one indexed read per card laid on the reader."""

    __slots__ = ("_store",)

    def __init__(self, store: TerminalStore) -> None:
        self._store = store

    def card(self, card_hex: str) -> CardInfo | None:
        return self._store.stored_card(card_hex)
