"""Hot-path SQL for ingest: many rows per statement, straight to the driver.

SQLAlchemy's per-row parameter processing cost more than the database work
itself for the ledger's small rows. These helpers send plain positional
parameters: SQLite gets one executemany; PostgreSQL gets COPY for plain
inserts and a pipelined executemany otherwise.
They go to the driver's connection itself (sqlite3, psycopg), inside the
transaction SQLAlchemy began: even exec_driver_sql's execution context cost
~13 us per statement, six times SQLite's own work for a primary-key read,
and an upload sends about twenty of them while it holds the write lock. The
driver's errors are raised as SQLAlchemy's (DBAPIError.instance), so
IntegrityError and the retried deadlock or locked database work as for every
other statement. Statements sent this way are not seen by SQLAlchemy's
events (before_cursor_execute).
Identifiers come from the schema module, never from input.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Final, Iterator, Mapping, Sequence, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

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
        cursor = _cursor(conn, _with_list(sql, mark, len(chunk)), (*before, *chunk))
        if cursor.description is not None:
            found.extend(cursor.fetchall())
    return found


def _with_list(sql: str, mark: str, count: int) -> str:
    """rows_in's `sql` with `{mark}` made `mark` and `{values}` made `count` of them."""
    return sql.format(mark=mark, values=", ".join([mark] * count))


class Rows:
    """A statement's rows, with what callers use of SQLAlchemy's result: each row's columns by position and by
    name, first(), one(), all(), scalar_one(), scalars().all(), tuples().all() and iteration."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def all(self) -> list[Any]:
        return self._rows

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> Rows:
        return Rows([row[0] for row in self._rows])

    def tuples(self) -> Rows:
        return self


_row_types: dict[tuple[str, ...], type] = {}  # column names -> the row type with them as attributes


def run(conn: Connection, sql: str, params: Sequence[object] = ()) -> Rows:
    """One small statement straight to the driver, `{mark}` standing for each parameter.

    For the statements every upload runs once (the terminal's row, the terms, the version counter):
    SQLAlchemy's cache-key walk and result processing cost more than the database's own work for them.
    """
    return _rows(_cursor(conn, sql.format(mark=_mark(conn)), tuple(params)))


def _rows(cursor: Any) -> Rows:
    """The cursor's rows, each a named tuple of its columns."""
    if cursor.description is None:
        return Rows([])
    names = tuple(d[0] for d in cursor.description)
    row_type = _row_types.get(names)
    if row_type is None:
        row_type = _row_types.setdefault(names, namedtuple("Row", names, rename=True))
    return Rows([row_type._make(row) for row in cursor.fetchall()])  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Rendered:
    sql: str
    defaults: dict[str, Any]  # every bound parameter by name: the statement's literals, None for those to give
    order: tuple[str, ...] | None  # a positional driver's (sqlite3's) parameters by name, in order; None: by name


class Compiled:
    """A statement SQLAlchemy built, compiled once per dialect and sent straight to the driver, as run() sends one.

    For a statement every request sends that is worth writing in SQLAlchemy's expression language (the card
    summary: authz.py): executed through SQLAlchemy, even cached, its parameter and result processing cost twice
    SQLite's own work. Neither is done here: parameters go as given, columns come back as the driver gives them
    (ints, strings; PostgreSQL's sums are Decimal), by name and by position.
    """

    __slots__ = ("statement", "_by_dialect")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Rendered] = {}

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Rows:
        rendered = self._by_dialect.get(conn.dialect.name) or self._render(conn)
        values = {**rendered.defaults, **params}
        args = values if rendered.order is None else tuple(values[name] for name in rendered.order)
        return _rows(_cursor(conn, rendered.sql, args))

    def _render(self, conn: Connection) -> _Rendered:
        compiled = self.statement.compile(dialect=conn.dialect)
        assert isinstance(compiled, SQLCompiler)  # a SELECT, INSERT, UPDATE or DELETE, not DDL
        if compiled.post_compile_params:
            raise ValueError("an expanding IN list is rendered per execution: send it with rows_in")
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        rendered = _Rendered(compiled.string, dict(compiled.construct_params(_check=False)), order)
        return self._by_dialect.setdefault(conn.dialect.name, rendered)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _cursor(conn: Connection, sql: str, params: Sequence[object] | Sequence[Sequence[object]] | Mapping[str, object],
            *, many: bool = False) -> Any:
    """`sql` on the driver's connection under `conn` (sqlite3 or psycopg), in the transaction SQLAlchemy began;
    the driver's cursor, with its errors raised as SQLAlchemy's."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        assert isinstance(driver, sqlite3.Connection)
        try:
            return driver.executemany(sql, params) if many else driver.execute(sql, params)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            raise _as_sqlalchemys(conn, sql, params, exc, sqlite3.Error) from exc
    import psycopg

    assert isinstance(driver, psycopg.Connection)
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(sql, params)  # type: ignore[arg-type]  # psycopg 3 pipelines it: one round trip
        else:
            cursor.execute(sql, params)
    except psycopg.Error as exc:
        raise _as_sqlalchemys(conn, sql, params, exc, psycopg.Error) from exc
    return cursor


def _as_sqlalchemys(conn: Connection, sql: str, params: Any, exc: Exception,
                    base: type[Exception]) -> BaseException:
    """The driver's error as SQLAlchemy raises it: its class (IntegrityError, OperationalError, ...) and, when the
    connection is gone (a database restart), the connection invalidated, so the write is retried on a new one."""
    gone = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)  # type: ignore[arg-type]
    if gone:
        conn.invalidate(exc)
    return DBAPIError.instance(sql, params, exc, base, connection_invalidated=gone, dialect=conn.dialect)


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
    _many(conn, sql, rows)


def _many(conn: Connection, sql: str, rows: Sequence[tuple]) -> int:
    """One executemany; the rows it changed (-1: not known)."""
    return int(_cursor(conn, sql, rows, many=True).rowcount)


def insert_or_add(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple], add: str) -> None:
    """Insert each row; where its primary key exists already, add the row's `add` value to the stored one.

    One executemany, rows taken in the order given (on PostgreSQL each existing row is locked in that
    order). A row adding 0 to an existing one writes nothing (and locks nothing).
    """
    if rows:
        _many(conn, insert_or_add_sql(table, columns, add).format(mark=_mark(conn)), rows)


def insert_or_add_sql(table: Table, columns: Sequence[str], add: str) -> str:
    """insert_or_add's statement for one row, `{mark}` standing for each parameter."""
    for name in columns:
        assert name in table.c, (table.name, name)
    assert add in columns, (table.name, add)
    key = table.primary_key.columns[0].name
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(['{mark}'] * len(columns))})"
            f" ON CONFLICT ({key}) DO UPDATE SET {add} = {table.name}.{add} + excluded.{add}"
            f" WHERE excluded.{add} <> 0")


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a pipeline (pipelined): `{mark}` stands for each parameter; `many`: params is a list of
    rows, one execution each."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


@dataclass(frozen=True, slots=True)
class Done:
    """What one pipelined statement gave: its rows (None: it returns none) and the rows it changed."""

    rows: list[tuple] | None
    rowcount: int


def statements_in(sql: str, values: Sequence[object]) -> list[Statement]:
    """rows_in's statements for a pipeline: `sql` (with `{values}`, no parameters before the list) once per
    IN_LIST_CHUNK of `values`."""
    return [Statement(_with_list(sql, "{mark}", len(chunk)), chunk) for chunk in chunks(values)]


def pipelined(conn: Connection, statements: Sequence[Statement]) -> list[Done]:
    """PostgreSQL: the statements sent in one round trip (psycopg's pipeline), run in order in the transaction
    SQLAlchemy began; what each gave, in the same order. Its errors are raised as SQLAlchemy's.

    For the statements an upload runs while it holds the shared rows: each round trip there (and each wait
    for the GIL behind the other uploads on its way back) made every other upload wait as long."""
    import psycopg

    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "pipelines are PostgreSQL's"
    cursors = []
    try:
        with driver.pipeline():
            for st in statements:
                cursor = driver.cursor()
                sql = st.sql.format(mark="%s")
                if st.many:
                    cursor.executemany(sql, st.params)
                else:
                    cursor.execute(sql, st.params)
                cursors.append(cursor)
        return [Done(cursor.fetchall() if cursor.description is not None else None, cursor.rowcount)
                for cursor in cursors]
    except psycopg.Error as exc:
        raise _as_sqlalchemys(conn, "; ".join(st.sql for st in statements), (), exc, psycopg.Error) from exc


def _copy(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """PostgreSQL COPY FROM STDIN on the transaction's own connection: the fastest bulk insert it has.

    Its errors are raised as SQLAlchemy's, as an INSERT's would be: a record id another terminal used is an
    IntegrityError, which ingest answers with its refusal (the driver's own UniqueViolation was a 500)."""
    import psycopg

    raw = conn.connection.dbapi_connection
    assert raw is not None, "a connection inside a transaction has its driver connection"
    cursor = raw.cursor()
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise _as_sqlalchemys(conn, sql, (), exc, psycopg.Error) from exc
    finally:
        cursor.close()


def add_to_column(conn: Connection, table: str, column: str, key_column: str,
                  deltas: Sequence[tuple[str, int]]) -> None:
    """`column += delta` for each (key, delta): one executemany, rows taken in the order given.

    Every key must name an existing row (asserted). Names come from the schema module, never from input.
    """
    if not deltas:
        return
    changed = _many(conn, add_to_column_sql(table, column, key_column).format(mark=_mark(conn)),
                    add_to_column_rows(deltas))
    assert changed in (-1, len(deltas)), (f"a {table} row to update is missing", changed, len(deltas))


def add_to_column_sql(table: str, column: str, key_column: str) -> str:
    """add_to_column's statement for one key, `{mark}` standing for each parameter (add_to_column_rows)."""
    return f"UPDATE {table} SET {column} = {column} + {{mark}} WHERE {key_column} = {{mark}}"


def add_to_column_rows(deltas: Sequence[tuple[str, int]]) -> list[tuple[int, str]]:
    return [(d, k) for k, d in deltas]
