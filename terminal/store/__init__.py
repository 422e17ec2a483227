"""The terminal's local store: SQLite (WAL, synchronous=FULL), numbered migrations, the sync Outbox."""

from floreyn.terminal.store.rows import Draft, SnapshotReceipt, StoredRecord, StoreState
from floreyn.terminal.store.store import TerminalStore
from floreyn.terminal.store.view import StoreView

__all__ = ["Draft", "SnapshotReceipt", "StoreState", "StoredRecord", "StoreView", "TerminalStore"]
