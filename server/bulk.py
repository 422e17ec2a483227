"""Hot-path SQL for ingest: many rows per statement, straight to the driver.

SQLAlchemy's per-row parameter processing cost more than the database work
itself for the ledger's small rows. These helpers send plain positional
parameters: SQLite gets one executemany; PostgreSQL gets COPY for plain
inserts and a pipelined executemany otherwise.
Identifiers come from the schema module, never from input.
"""

from __future__ import annotations

from typing import Final, Iterator, Sequence, TypeVar

from sqlalchemy import Connection, Table

T = TypeVar("T")

# Values in one `IN (...)` list. SQLite before 3.32 allows 999 bound parameters per
# statement and PostgreSQL plans long lists slowly; a longer list is sent as several
# statements of this many (chunks()), never cut.
IN_LIST_CHUNK: Final = 500


def chunks(values: Sequence[T], n: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in consecutive slices of at most `n`, for bounded IN lists."""
    for i in range(0, len(values), n):
        yield values[i : i + n]

def rows_in(conn: Connection, sql: str, before: Sequence[object], values: Sequence[object]) -> list[tuple]:
    """Run `sql` for `values` in chunks (one statement per IN_LIST_CHUNK); the rows it returns, if any.

    In `sql`, `{mark}` stands for each parameter in `before` (they come before the list) and `{values}`
    for the list's placeholders. Ingest reads and writes by lists of a batch's cards and ids several
    times per batch; built by SQLAlchemy, each such statement coerced and rendered every value first.
    """
    mark = _mark(conn)
    found: list[tuple] = []
    for chunk in chunks(values):
        result = conn.exec_driver_sql(sql.format(mark=mark, values=", ".join([mark] * len(chunk))),
                                      (*before, *chunk))
        if result.returns_rows:
            found.extend(result.tuples().all())
    return found


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple],
                *, ignore_existing: bool = False) -> None:
    if not rows:
        return
    for name in columns:
        assert name in table.c, (table.name, name)
    if conn.dialect.name == "postgresql" and not ignore_existing:
        _copy(conn, table, columns, rows)
        return
    mark = _mark(conn)
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
           + (f" ON CONFLICT ({table.primary_key.columns[0].name}) DO NOTHING" if ignore_existing else ""))
    conn.exec_driver_sql(sql, list(rows))  # psycopg 3 pipelines an executemany: one round trip


def insert_or_add(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple], add: str) -> None:
    """Insert each row; where its primary key exists already, add the row's `add` value to the stored one.

    One executemany, rows taken in the order given (on PostgreSQL each existing row is locked in that
    order). A row adding 0 to an existing one writes nothing (and locks nothing).
    """
    if not rows:
        return
    for name in columns:
        assert name in table.c, (table.name, name)
    assert add in columns, (table.name, add)
    mark = _mark(conn)
    key = table.primary_key.columns[0].name
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
           f" ON CONFLICT ({key}) DO UPDATE SET {add} = {table.name}.{add} + excluded.{add}"
           f" WHERE excluded.{add} <> 0")
    conn.exec_driver_sql(sql, list(rows))


def _copy(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """PostgreSQL COPY FROM STDIN on the transaction's own connection: the fastest bulk insert it has."""
    raw = conn.connection.dbapi_connection
    assert raw is not None, "a connection inside a transaction has its driver connection"
    cursor = raw.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def add_to_column(conn: Connection, table: str, column: str, key_column: str,
                  deltas: Sequence[tuple[str, int]]) -> None:
    """`column += delta` for each (key, delta): one executemany, rows taken in the order given.

    Every key must name an existing row (asserted). Names come from the schema module, never from input.
    """
    if not deltas:
        return
    mark = _mark(conn)
    sql = f"UPDATE {table} SET {column} = {column} + {mark} WHERE {key_column} = {mark}"
    result = conn.exec_driver_sql(sql, [(d, k) for k, d in deltas])
    assert result.rowcount in (-1, len(deltas)), (f"a {table} row to update is missing", result.rowcount, len(deltas))
