"""Hot-path SQL for ingest: many rows per statement, straight to the driver.

SQLAlchemy's per-row parameter processing cost more than the database work
itself for the ledger's small rows. These helpers send plain positional
parameters: SQLite gets one executemany; PostgreSQL gets multi-row VALUES
statements of at most ROWS_PER_STATEMENT rows (one round trip each).
Identifiers come from the schema module, never from input.
"""

from __future__ import annotations

from typing import Final, Sequence

from sqlalchemy import Connection, Table

ROWS_PER_STATEMENT: Final = 500


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple],  # type: ignore[type-arg]
                *, ignore_existing: bool = False) -> None:
    if not rows:
        return
    for name in columns:
        assert name in table.c, (table.name, name)
    mark = _mark(conn)
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join([mark] * len(columns)) + ")"
    tail = f" ON CONFLICT ({table.primary_key.columns[0].name}) DO NOTHING" if ignore_existing else ""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(head + one + tail, list(rows))
        return
    for i in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[i : i + ROWS_PER_STATEMENT]
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail,
                             tuple(v for row in chunk for v in row))


def add_to_balances(conn: Connection, deltas: Sequence[tuple[str, int]]) -> None:
    """balance_cents += delta for each (key, delta), in the order given (callers sort by key)."""
    if not deltas:
        return
    mark = _mark(conn)
    sql = f"UPDATE accounts SET balance_cents = balance_cents + {mark} WHERE key = {mark}"
    result = conn.exec_driver_sql(sql, [(d, k) for k, d in deltas])
    assert result.rowcount in (-1, len(deltas)), ("an account to update is missing", result.rowcount, len(deltas))
