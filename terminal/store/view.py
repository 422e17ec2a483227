"""Read queries over one connection, usable inside the store's write transaction.

The engine's re-checks (refund totals, offline usage, void eligibility) run
through a StoreView bound to the very transaction that then writes, so what
was checked is what is committed. Plain SQL text through db.Tx: these run
inside every sale's commit re-check.
"""

from __future__ import annotations

from typing import Any

from floreyn.sync.record import Kind
from floreyn.terminal.store.db import Params, Tx
from floreyn.terminal.store.rows import RECORD_COLUMNS, SnapshotReceipt, StoredRecord, StoreState
from floreyn.terminal.store.schema import RECEIPT_COLUMNS, STATE_COLUMNS, column_list

MAX_ROWS = 10_000  # no query the till makes needs more rows than this at once
_SELECT_RECORDS = f"SELECT {column_list(RECORD_COLUMNS)} FROM records"  # rows for StoredRecord.from_values
_SELECT_STATE = f"SELECT {column_list(STATE_COLUMNS)} FROM terminal_state WHERE id = 1"
_SELECT_SNAPSHOT = f"SELECT data, signature, {column_list(RECEIPT_COLUMNS)} FROM snapshot WHERE id = 1"


class StoreView:
    def __init__(self, db: Tx, snapshot_base_seq: int | None = None) -> None:
        self.db = db
        self._snapshot_base_seq = snapshot_base_seq

    def _q(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """The rows of a query inside this view's transaction."""
        return self.db.all(sql, params)

    def state(self) -> StoreState:
        row = self.db.one(_SELECT_STATE)  # every commit reads it
        values = dict(zip(STATE_COLUMNS, row, strict=True))
        return StoreState(**{**values, "head_hash": bytes(values["head_hash"]), "base_hash": bytes(values["base_hash"])})

    def record(self, record_id: str) -> StoredRecord | None:
        rows = self._q(f"{_SELECT_RECORDS} WHERE record_id = ?", (record_id,))
        return StoredRecord.from_values(rows[0]) if rows else None

    def tx(self, tx_id: str) -> list[StoredRecord]:
        return [StoredRecord.from_values(r) for r in self._q(f"{_SELECT_RECORDS} WHERE tx_id = ? ORDER BY seq",
                                                             (tx_id,))]

    def last_tx(self) -> list[StoredRecord]:
        row = self.db.first("SELECT tx_id FROM records ORDER BY seq DESC LIMIT 1")
        return self.tx(row[0]) if row else []

    def by_seq(self, first: int, last: int) -> list[StoredRecord]:
        assert last - first < MAX_ROWS
        rows = self._q(f"{_SELECT_RECORDS} WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last))
        return [StoredRecord.from_values(r) for r in rows]

    def recent_tx_ids(self, limit: int, kinds: list[int]) -> list[str]:
        marks = ", ".join("?" * len(kinds))  # one placeholder per kind; the kinds are parameters
        rows = self._q(f"SELECT tx_id, MAX(seq) AS last FROM records WHERE kind IN ({marks}) "
                       "GROUP BY tx_id ORDER BY last DESC LIMIT ?", (*(int(k) for k in kinds), limit))
        return [r[0] for r in rows]

    def day(self, day_no: int) -> list[StoredRecord]:
        rows = self._q(f"{_SELECT_RECORDS} WHERE day_no = ? ORDER BY seq LIMIT ?", (day_no, MAX_ROWS))
        return [StoredRecord.from_values(r) for r in rows]

    def day_report(self, day_no: int) -> str | None:
        row = self.db.first("SELECT report FROM days WHERE day_no = ?", (day_no,))
        return row[0] if row else None

    def closed_days(self, limit: int = 100) -> list[tuple[int, int]]:
        rows = self._q("SELECT day_no, close_seq FROM days ORDER BY day_no DESC LIMIT ?", (limit,))
        return [(r[0], r[1]) for r in rows]

    def voided(self, record_id: str) -> bool:
        return self.db.first("SELECT seq FROM records WHERE kind = ? AND ref_id = ? LIMIT 1",
                             (int(Kind.VOID), record_id)) is not None

    def refunded(self, record_id: str) -> tuple[int, int]:
        """(fl, eur) cents already refunded against a record, voided refunds not counted."""
        row = self.db.one(
            "SELECT COALESCE(SUM(r.fl_cents), 0), COALESCE(SUM(r.eur_cents), 0) FROM records r "
            "WHERE r.kind = :refund AND r.ref_id = :ref AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = :void AND v.ref_id = r.record_id)",
            {"refund": int(Kind.REFUND), "void": int(Kind.VOID), "ref": record_id})
        return int(row[0]), int(row[1])

    def snapshot_base_seq(self) -> int:
        if self._snapshot_base_seq is not None:  # the store's copy: it writes the row under the same lock
            return self._snapshot_base_seq
        rows = self._q("SELECT base_seq FROM snapshot WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def card_usage(self, card_hex: str, snap_base: int) -> tuple[int, int, int]:
        """Of a card's spends here after `snap_base`, voided ones not counted:
        (fl spent offline since its last online contact, offline taps since then, own-balance fl spent).

        The last online contact is the later of the snapshot and the card's own
        contact mark (an online authorization). Read from the card's kept
        totals (card_usage table, added to at each commit) when they hold for
        these bases; else counted from the records and, in a write
        transaction, kept for the next sale."""
        rows = self._q("SELECT MAX(?, COALESCE((SELECT after_seq FROM card_contact WHERE card_hex = ?), 0)), "
                       "u.snap_base, u.offline_base, u.offline_fl, u.offline_taps, u.own_fl "
                       "FROM (SELECT 1) LEFT JOIN card_usage u ON u.card_hex = ?", (snap_base, card_hex, card_hex))
        offline_base, kept_snap, kept_offline = int(rows[0][0]), rows[0][1], rows[0][2]
        if (kept_snap, kept_offline) == (snap_base, offline_base):
            return int(rows[0][3]), int(rows[0][4]), int(rows[0][5])
        counted = self.card_usage_counted(card_hex, snap_base)
        if not self.db.read_only:
            kept = self.db.execute("INSERT OR REPLACE INTO card_usage (card_hex, snap_base, offline_base, offline_fl, "
                                   "offline_taps, own_fl) VALUES (?, ?, ?, ?, ?, ?)",
                                   (card_hex, snap_base, offline_base, *counted))
            assert kept == 1, card_hex
        return counted

    def card_usage_counted(self, card_hex: str, snap_base: int) -> tuple[int, int, int]:
        """card_usage counted from the records themselves (the kept totals must always equal this)."""
        (row,) = self._q(
            "WITH base AS (SELECT MAX(?, COALESCE((SELECT after_seq FROM card_contact WHERE card_hex = ?), 0)) AS s) "
            "SELECT COALESCE(SUM(CASE WHEN r.offline = 1 AND r.seq > base.s THEN r.fl_cents END), 0), "
            "COUNT(DISTINCT CASE WHEN r.offline = 1 AND r.seq > base.s THEN r.tx_id END), "
            "COALESCE(SUM(CASE WHEN r.budget_id IS NULL THEN r.fl_cents END), 0) "
            "FROM records r, base WHERE r.card_hex = ? AND r.seq > ? AND r.kind = ? AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id)",
            (snap_base, card_hex, card_hex, snap_base, int(Kind.SPEND), int(Kind.VOID)))
        return int(row[0]), int(row[1]), int(row[2])

    def offline_spent_gross(self, card_hex: str, after_seq: int) -> int:
        """fl cents a card spent offline here after `after_seq`, voided spends included: what this
        till wrote on the card's trail (floreyn/cardtrail.py counts every offline spend)."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(fl_cents), 0) FROM records WHERE card_hex = ? AND seq > ? AND kind = ? "
            "AND offline = 1", (card_hex, after_seq, int(Kind.SPEND)))
        return int(row[0])

    def offline_spent_unsent(self, card_hex: str) -> int:
        """fl cents of this card's offline spends here that the server has not acknowledged yet."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(fl_cents), 0) FROM records WHERE card_hex = ? AND kind = ? AND offline = 1 "
            "AND sync_status = 'pending'", (card_hex, int(Kind.SPEND)))
        return int(row[0])

    def card_base_seq(self, card_hex: str) -> int:
        """Offline usage of a card counts from records after its last online contact or snapshot."""
        rows = self._q("SELECT after_seq FROM card_contact WHERE card_hex = ?", (card_hex,))
        return max(self.snapshot_base_seq(), int(rows[0][0]) if rows else 0)

    def offline_usage(self, card_hex: str, after_seq: int) -> tuple[int, int]:
        """(fl cents, taps) a card spent offline after `after_seq`, voided spends not counted."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(r.fl_cents), 0), COUNT(DISTINCT r.tx_id) FROM records r "
            "WHERE r.card_hex = ? AND r.seq > ? AND r.kind = ? AND r.offline = 1 AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id)",
            (card_hex, after_seq, int(Kind.SPEND), int(Kind.VOID)))
        return int(row[0]), int(row[1])

    def budgets_spent(self, budget_ids: list[str], after_seq: int) -> dict[str, int]:
        """fl drawn from each budget here after `after_seq` (any card), voided spends not counted."""
        if not budget_ids:
            return {}
        marks = ", ".join("?" * len(budget_ids))
        rows = self._q(
            f"SELECT r.budget_id, SUM(r.fl_cents) FROM records r WHERE r.budget_id IN ({marks}) AND r.seq > ? "
            "AND r.kind = ? AND NOT EXISTS (SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id) "
            "GROUP BY r.budget_id", (*budget_ids, after_seq, int(Kind.SPEND), int(Kind.VOID)))
        spent = {b: 0 for b in budget_ids}
        spent.update({r[0]: int(r[1]) for r in rows})
        return spent

    def last_charge_mono_ms(self, card_hex: str, kind: Kind) -> int | None:
        rows = self._q("SELECT mono_ms FROM records WHERE card_hex = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                       (card_hex, int(kind)))
        return int(rows[0][0]) if rows else None

    def client_ref(self, ref: str) -> tuple[str, str] | None:
        rows = self._q("SELECT tx_id, fingerprint FROM client_refs WHERE ref = ?", (ref,))
        return (rows[0][0], rows[0][1]) if rows else None

    def receipts_to_print(self, limit: int = 100) -> list[str]:
        """tx ids whose receipt is pending or failed, oldest first."""
        rows = self._q("SELECT tx_id, MIN(seq) AS first FROM records WHERE receipt_status != 'printed' "
                       "GROUP BY tx_id ORDER BY first LIMIT ?", (limit,))
        return [r[0] for r in rows]

    def count(self, sync_status: str | None = None) -> int:
        if sync_status is None:
            return int(self.db.one("SELECT COUNT(*) FROM records")[0])
        return int(self.db.one("SELECT COUNT(*) FROM records WHERE sync_status = ?", (sync_status,))[0])

    def snapshot_row(self) -> tuple[bytes, bytes | None, SnapshotReceipt] | None:
        row = self.db.first(_SELECT_SNAPSHOT)
        if row is None:
            return None
        data, signature, *receipt = row
        return bytes(data), (bytes(signature) if signature is not None else None), SnapshotReceipt(*receipt)
