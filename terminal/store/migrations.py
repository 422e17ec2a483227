"""Numbered, explicit schema steps for the terminal's SQLite store.

Each step is a list of SQL statements run in one transaction (SQLite DDL is
transactional), followed by recording its number in `schema_migrations`;
a crash mid-step leaves the store at the previous version, and the next
start runs the step again. Before the first pending step, the database file
is copied with SQLite's online backup API to `terminal.db.pre-v<N>`, so an
upgrade that goes wrong in a way no test foresaw still loses no record.

Never edit a step that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from floreyn.terminal.errors import StoreCorrupt
from floreyn.terminal.store.db import Tx, transaction

STEPS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the first schema: records, chain state, snapshot, days, PIN lock-out.
    (
        """CREATE TABLE terminal_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            terminal_id TEXT NOT NULL,
            head_seq INTEGER NOT NULL,
            head_hash BLOB NOT NULL,
            base_seq INTEGER NOT NULL,      -- records up to here are pruned; chain resumes from base_hash
            base_hash BLOB NOT NULL,
            mono_ms INTEGER NOT NULL,       -- last persisted value of the monotonic counter
            day_no INTEGER NOT NULL,        -- the open business day
            acked_seq INTEGER NOT NULL)""",
        """CREATE TABLE records (
            seq INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL UNIQUE,
            tx_id TEXT NOT NULL,            -- record_id of the first record of its transaction
            kind INTEGER NOT NULL,
            card_hex TEXT,
            fl_cents INTEGER NOT NULL CHECK (fl_cents >= 0),
            eur_cents INTEGER NOT NULL CHECK (eur_cents >= 0),
            tender INTEGER NOT NULL,
            budget_id TEXT,
            ref_id TEXT,
            wall_ms INTEGER NOT NULL,
            mono_ms INTEGER NOT NULL,
            day_no INTEGER NOT NULL,
            offline INTEGER NOT NULL,       -- 1: accepted under the offline risk policy
            raw BLOB NOT NULL,
            hash BLOB NOT NULL,
            receipt_status TEXT NOT NULL CHECK (receipt_status IN ('pending', 'printed', 'failed')),
            sync_status TEXT NOT NULL CHECK (sync_status IN ('pending', 'acknowledged')))""",
        "CREATE INDEX records_sync ON records (sync_status, seq)",
        "CREATE INDEX records_card ON records (card_hex, seq)",
        "CREATE INDEX records_tx ON records (tx_id)",
        """CREATE TABLE snapshot (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            data BLOB NOT NULL,
            signature BLOB,                 -- present when stored from signed bytes
            received_wall_ms INTEGER NOT NULL,
            received_boot_id TEXT NOT NULL,
            received_monotonic_ms INTEGER NOT NULL,
            base_seq INTEGER NOT NULL)      -- records up to here were acknowledged when it arrived""",
        """CREATE TABLE days (
            day_no INTEGER PRIMARY KEY,
            close_seq INTEGER,
            report TEXT)                    -- the Z-report as JSON, frozen at close""",
        """CREATE TABLE pin_lockout (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            failures INTEGER NOT NULL,
            locked_until_mono_ms INTEGER NOT NULL)""",
    ),
    # 2: resumable requests, per-card online contact, receipt details.
    (
        """CREATE TABLE client_refs (
            ref TEXT PRIMARY KEY,
            tx_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL)      -- what was asked, to tell a retry from a different request""",
        """CREATE TABLE card_contact (
            card_hex TEXT PRIMARY KEY,
            after_seq INTEGER NOT NULL)     -- offline usage counts from records after this""",
        "ALTER TABLE records ADD COLUMN balance_after_cents INTEGER",
        "ALTER TABLE records ADD COLUMN receipt_error TEXT",
        "CREATE INDEX records_ref ON records (ref_id)",
    ),
    # 3: the monotonic counter's offset and the boot it belongs to (see engine/clock.py).
    (
        "ALTER TABLE terminal_state ADD COLUMN mono_boot_id TEXT",
        "ALTER TABLE terminal_state ADD COLUMN mono_offset_ms INTEGER",
    ),
    # 4: what a receipt names that the records do not carry, kept as it was at commit, so a reprint
    # matches the first print after a budget is spent (gone from the snapshot) or the shop renamed.
    # NULL in records written before: their reprint looks the names up as before.
    (
        "ALTER TABLE records ADD COLUMN budget_label TEXT",
        "ALTER TABLE records ADD COLUMN merchant_name TEXT",
    ),
    # 5: where the start-up chain check last ended (integrity.verify_store resumes there): the record before
    # the head it verified. NULL: never verified since the upgrade, so the next start checks from the base.
    (
        "ALTER TABLE terminal_state ADD COLUMN verified_seq INTEGER",
        "ALTER TABLE terminal_state ADD COLUMN verified_hash BLOB",
    ),
    # 6: each card's offline usage kept up to date at commit (StoreView.card_usage), so a sale does not scan
    # the card's spends of the whole offline day. A row holds for the bases it names; any other base, a void,
    # or pruning makes it be counted again from the records.
    (
        """CREATE TABLE card_usage (
            card_hex TEXT PRIMARY KEY,
            snap_base INTEGER NOT NULL,     -- spends after this seq: own_fl
            offline_base INTEGER NOT NULL,  -- spends after this seq: offline_fl, offline_taps
            offline_fl INTEGER NOT NULL,
            offline_taps INTEGER NOT NULL,
            own_fl INTEGER NOT NULL)""",
    ),
    # 7: the snapshot's cards one row each, as the server's compact entries (sync/snapshot_pages.py), so a
    # city's snapshot is neither held in memory nor rewritten whole per delta; pages of a fetch wait in
    # snapshot_staging until the last one has arrived, then go over in one transaction.
    (
        "CREATE TABLE snapshot_cards (card_id TEXT PRIMARY KEY, entry BLOB NOT NULL) WITHOUT ROWID",
        """CREATE TABLE snapshot_staging (
            card_id TEXT PRIMARY KEY,
            fetch TEXT NOT NULL,            -- the fetch the page came in (sync/snapshot_pages.py)
            entry BLOB NOT NULL) WITHOUT ROWID""",
    ),
    # 8: what a receipt tells beyond the signed fields, kept as it was at commit: what is left of a budget
    # and its last day; what a joint campaign's pot pays for the record (its name and amount, booked by the
    # server on upload); and the second member's card that confirmed a group-budget payment (also signed, in
    # a version 2 record: sync/record.py). NULL in records written before, and where it does not apply.
    (
        "ALTER TABLE records ADD COLUMN budget_left_cents INTEGER",
        "ALTER TABLE records ADD COLUMN budget_expires_on TEXT",
        "ALTER TABLE records ADD COLUMN confirm_card_hex TEXT",
        "ALTER TABLE records ADD COLUMN pot_campaign TEXT",
        "ALTER TABLE records ADD COLUMN pot_cents INTEGER",
    ),
    # 9: indexes for what a sale's re-checks search, over only the records they can find.
    # records_ref holds only the records that name another (refunds and voids). Every sale's record has
    # ref_id NULL, and each added an entry to it: an index insert and a page in the WAL at each commit (9.2
    # pages a sale before, 8.1 after). records_budget: what each budget paid here since the snapshot
    # (StoreView.budgets_spent, in the quote and in the re-check of a spend by a card with budgets) was a
    # scan of every record since the snapshot (an offline budget spend's confirm after 10,000 of them: 2.4 ms
    # of CPU, 0.48 with the index); now the budget's own.
    # Only records that name a budget are in it. Every query that searches either compares the column with
    # values, which SQLite knows implies IS NOT NULL (tests/terminal/test_store.py checks the plans).
    (
        "DROP INDEX records_ref",
        "CREATE INDEX records_ref ON records (ref_id) WHERE ref_id IS NOT NULL",
        "CREATE INDEX records_budget ON records (budget_id, seq) WHERE budget_id IS NOT NULL",
    ),
)

LATEST: Final = len(STEPS)


def current_version(tx: Tx) -> int:
    exists = tx.first("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    if exists is None:
        return 0
    return int(tx.one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0])


def migrate(conn: sqlite3.Connection, *, db_path: Path | None = None, upto: int = LATEST, wall_ms: int = 0) -> int:
    """Bring the schema to `upto`; returns the version before. `conn` must not be in a transaction."""
    assert 0 <= upto <= LATEST
    assert not conn.in_transaction
    with transaction(conn) as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_wall_ms INTEGER NOT NULL)"
        )
        before = current_version(tx)
    if before > LATEST:
        raise StoreCorrupt(detail=f"schema version {before} is newer than this software ({LATEST})")
    if before < upto and before > 0 and db_path is not None:
        _backup(conn, db_path.with_name(f"{db_path.name}.pre-v{before + 1}"))
    for version in range(before + 1, upto + 1):
        with transaction(conn) as tx:
            for statement in STEPS[version - 1]:
                tx.execute(statement)
            done = tx.execute("INSERT INTO schema_migrations (version, applied_wall_ms) VALUES (:v, :w)",
                              {"v": version, "w": wall_ms})
            assert done == 1, version
    with transaction(conn, read_only=True) as tx:
        assert current_version(tx) == max(before, upto)
    return before


def _backup(source: sqlite3.Connection, target: Path) -> None:
    """A consistent copy of the live database (WAL included) before an upgrade touches it."""
    dest = sqlite3.connect(str(target))
    try:
        source.backup(dest)
    finally:
        dest.close()
