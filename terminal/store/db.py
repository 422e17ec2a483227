"""Opening the terminal's SQLite database: WAL, synchronous=FULL, one writer.

* WAL keeps readers (the app's screens, the sync thread) off the writer's back.
* synchronous=FULL makes every commit durable on return: a record that the
  engine reports committed survives a power cut or SIGKILL, which is what
  lets the receipt print only after it.
* BEGIN IMMEDIATE takes the write lock at the start of a write transaction,
  so a read-then-write (next sequence number, refund totals) cannot
  interleave; read-only transactions use a plain BEGIN.
  pysqlite's own transaction handling is switched off for that (the
  SQLAlchemy-documented recipe), which also makes DDL transactional.
* An exclusive flock on `terminal.lock` refuses a second till process on
  the same data folder; the kernel releases it when a process dies.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from floreyn.terminal.errors import StoreLocked

BUSY_TIMEOUT_MS = 5_000


def open_sqlite(db_path: Path) -> Engine:
    """One shared connection (StaticPool): the store serialises its own callers with a lock."""
    engine = create_engine(
        f"sqlite:///{db_path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        assert mode == "wal", mode
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Reads take no write lock (plain BEGIN: a WAL snapshot); writes take it at once.
        # On the DBAPI connection itself: a sale opens several transactions, and exec_driver_sql's result
        # machinery cost more than the BEGIN.
        dbapi = conn.connection.dbapi_connection
        assert isinstance(dbapi, sqlite3.Connection), "the till's store is SQLite"
        dbapi.execute("BEGIN" if conn.info.get("read_only") else "BEGIN IMMEDIATE").close()

    return engine


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
