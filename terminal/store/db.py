"""Opening the terminal's SQLite database: WAL, synchronous=FULL, one writer.

* WAL keeps readers (the app's screens, the sync thread) off the writer's back.
* synchronous=FULL makes every commit durable on return: a record that the
  engine reports committed survives a power cut or SIGKILL, which is what
  lets the receipt print only after it.
* BEGIN IMMEDIATE takes the write lock at the start of a write transaction,
  so a read-then-write (next sequence number, refund totals) cannot
  interleave; read-only transactions use a plain BEGIN.
  sqlite3's own transaction handling is switched off for that
  (isolation_level=None: no implicit BEGIN or COMMIT), which also makes DDL
  transactional.
* One connection for the whole store, shared by its threads: the store
  serialises its callers with its own lock.
* An exclusive flock on `terminal.lock` refuses a second till process on
  the same data folder; the kernel releases it when a process dies.

Bare sqlite3, no SQLAlchemy: the till's process never imports it (issue 19, the app's peak RSS; the
server keeps it). Every statement is SQL text with qmark or named parameters, through Tx.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from floreyn.terminal.errors import StoreLocked

BUSY_TIMEOUT_MS = 5_000

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]


def open_sqlite(db_path: Path) -> sqlite3.Connection:
    """The store's one connection, usable from its threads (the store's lock serialises them)."""
    conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        assert mode == "wal", mode
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


class Tx:
    """Statements inside one transaction of the store's connection (see transaction()).

    read_only: the transaction began with a plain BEGIN; a read that would keep what it counted
    (StoreView.card_usage) then leaves it.
    """

    __slots__ = ("conn", "read_only")

    def __init__(self, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        self.conn = conn
        self.read_only = read_only

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self.conn.execute(sql, params)
        try:
            rows: list[Row] = cur.fetchall()
            return rows
        finally:
            cur.close()

    def first(self, sql: str, params: Params = ()) -> Row | None:
        cur = self.conn.execute(sql, params)
        try:
            row: Row | None = cur.fetchone()
            return row
        finally:
            cur.close()

    def one(self, sql: str, params: Params = ()) -> Row:
        """Exactly one row: none or a second one is a broken store, not an answer."""
        rows = self.all(sql, params)
        assert len(rows) == 1, f"{len(rows)} rows, one expected: {sql}"
        return rows[0]

    def execute(self, sql: str, params: Params = ()) -> int:
        """A statement that returns no rows; how many rows it changed."""
        cur = self.conn.execute(sql, params)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def many(self, sql: str, rows: Iterable[Params]) -> int:
        cur = self.conn.executemany(sql, rows)
        try:
            return cur.rowcount
        finally:
            cur.close()


@contextmanager
def transaction(conn: sqlite3.Connection, *, read_only: bool = False) -> Iterator[Tx]:
    """One transaction: committed when the block ends, rolled back when it raises (or its COMMIT fails).

    Reads take no write lock (plain BEGIN: a WAL snapshot); writes take it at once (BEGIN IMMEDIATE).
    """
    conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE").close()
    try:
        yield Tx(conn, read_only=read_only)
        conn.execute("COMMIT").close()
    except BaseException:
        if conn.in_transaction:  # SQLite itself may have rolled back already (a full disk, an I/O error)
            conn.execute("ROLLBACK").close()
        raise


class ProcessLock:
    """An exclusive, non-blocking flock held for the life of the store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise StoreLocked(path=str(path.parent)) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
