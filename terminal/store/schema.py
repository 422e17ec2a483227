"""The store's tables as SQLAlchemy Core sees them, at the latest schema version.

The DDL that creates them lives in migrations.py (explicit numbered steps);
a test checks that a migrated database has exactly these columns.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, Text

metadata = MetaData()

terminal_state = Table(
    "terminal_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("terminal_id", Text, nullable=False),
    Column("head_seq", Integer, nullable=False),
    Column("head_hash", LargeBinary, nullable=False),
    Column("base_seq", Integer, nullable=False),
    Column("base_hash", LargeBinary, nullable=False),
    Column("mono_ms", Integer, nullable=False),
    Column("day_no", Integer, nullable=False),
    Column("acked_seq", Integer, nullable=False),
    Column("mono_boot_id", Text),
    Column("mono_offset_ms", Integer),
    Column("verified_seq", Integer),  # the start-up chain check resumes after this record (integrity.py)
    Column("verified_hash", LargeBinary),
)

records = Table(
    "records", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("record_id", Text, nullable=False, unique=True),
    Column("tx_id", Text, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("card_hex", Text),
    Column("fl_cents", Integer, nullable=False),
    Column("eur_cents", Integer, nullable=False),
    Column("tender", Integer, nullable=False),
    Column("budget_id", Text),
    Column("ref_id", Text),
    Column("wall_ms", Integer, nullable=False),
    Column("mono_ms", Integer, nullable=False),
    Column("day_no", Integer, nullable=False),
    Column("offline", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("receipt_status", Text, nullable=False),
    Column("sync_status", Text, nullable=False),
    Column("balance_after_cents", Integer),
    Column("receipt_error", Text),
    Column("budget_label", Text),
    Column("merchant_name", Text),
    Column("budget_left_cents", Integer),
    Column("budget_expires_on", Text),
    Column("confirm_card_hex", Text),
    Column("pot_campaign", Text),
    Column("pot_cents", Integer),
)

snapshot = Table(
    "snapshot", metadata,
    Column("id", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("signature", LargeBinary),
    Column("received_wall_ms", Integer, nullable=False),
    Column("received_boot_id", Text, nullable=False),
    Column("received_monotonic_ms", Integer, nullable=False),
    Column("base_seq", Integer, nullable=False),
)

days = Table(
    "days", metadata,
    Column("day_no", Integer, primary_key=True),
    Column("close_seq", Integer),
    Column("report", Text),
)

pin_lockout = Table(
    "pin_lockout", metadata,
    Column("id", Integer, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until_mono_ms", Integer, nullable=False),
)

client_refs = Table(
    "client_refs", metadata,
    Column("ref", Text, primary_key=True),
    Column("tx_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
)

card_contact = Table(
    "card_contact", metadata,
    Column("card_hex", Text, primary_key=True),
    Column("after_seq", Integer, nullable=False),
)

card_usage = Table(  # kept by the store at commit; see StoreView.card_usage
    "card_usage", metadata,
    Column("card_hex", Text, primary_key=True),
    Column("snap_base", Integer, nullable=False),
    Column("offline_base", Integer, nullable=False),
    Column("offline_fl", Integer, nullable=False),
    Column("offline_taps", Integer, nullable=False),
    Column("own_fl", Integer, nullable=False),
)

schema_migrations = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_wall_ms", Integer, nullable=False),
)
