"""The store's tables and their columns, in order, at the latest schema version.

The DDL that creates them lives in migrations.py (explicit numbered steps); a test checks that a
migrated database has exactly these tables and columns. Where a row comes back as a value of rows.py,
its columns are that class's fields, so the class, the INSERT and the SELECT cannot drift apart.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Final

from floreyn.terminal.store.rows import RECORD_COLUMNS, SnapshotReceipt, StoreState

STATE_COLUMNS: Final = tuple(f.name for f in fields(StoreState))  # terminal_state as StoreView.state reads it
RECEIPT_COLUMNS: Final = tuple(f.name for f in fields(SnapshotReceipt))  # snapshot's row beside its bytes

TABLES: Final[dict[str, tuple[str, ...]]] = {
    "schema_migrations": ("version", "applied_wall_ms"),
    # verified_seq/hash: the start-up chain check resumes after this record (integrity.py)
    "terminal_state": ("id", *STATE_COLUMNS, "mono_boot_id", "mono_offset_ms", "verified_seq", "verified_hash"),
    "records": RECORD_COLUMNS,
    "snapshot": ("id", "data", "signature", *RECEIPT_COLUMNS),
    "days": ("day_no", "close_seq", "report"),
    "pin_lockout": ("id", "failures", "locked_until_mono_ms"),
    "client_refs": ("ref", "tx_id", "fingerprint"),
    "card_contact": ("card_hex", "after_seq"),
    # kept by the store at commit; see StoreView.card_usage
    "card_usage": ("card_hex", "snap_base", "offline_base", "offline_fl", "offline_taps", "own_fl"),
    "snapshot_cards": ("card_id", "entry"),
    "snapshot_staging": ("card_id", "fetch", "entry"),
}


def column_list(names: tuple[str, ...]) -> str:
    """A SELECT's or INSERT's column list, from the names above (never from input)."""
    return ", ".join(names)
