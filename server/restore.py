"""`floreyn-server restore FILE`: put a backup (server/backup.py) back, into SQLite or PostgreSQL.

Steps, all or nothing:
1. the backup is checked whole (integrity, row counts, a schema revision this
   server knows) before anything is touched;
2. the schema is created at the backup's revision, every table copied in,
   and the schema upgraded to this release (the same migrations a live
   server runs), then the restore is marked (below);
3. on PostgreSQL that is one transaction: a failure leaves the old database
   as it was. On SQLite it is built in a new file beside the database and
   renamed over it (a kill leaves the old or the new file, never none); a
   copy of the old file is kept as `<name>.before-restore-<time>`.
A restore never merges: the target must be empty, or `replace=True`.

A restored server is behind what it told terminals, so the restore is marked
for them:
- the data version jumps by RESTORE_VERSION_GAP and every card is stamped
  with it, so every terminal's next snapshot is newer than anything the lost
  history gave out (a till keeps the newest) and any delta carries all cards;
- each terminal's upload answer now reports the restored head, lower than
  what it was told before; the terminal marks the records above it unsent
  and uploads them again (sync/worker.py SyncWorker, TerminalStore.resend_after).
  They are the same signed bytes, so they post exactly once. Records a
  terminal has already pruned (acknowledged and older than its
  [store] retention_days) cannot come back: restore from a backup younger
  than that (README "Backups").
- an alert `restored` tells the admins; desk work done after the backup
  (top-ups, cards, members) is not in it and must be done again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, create_engine, func, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.backup import (
    MANIFEST, BackupError, BackupInvalid, Manifest, copy_rows, fsync_path, read_manifest,
)
from floreyn.server.db import MIGRATIONS, Database, alembic_config, normalise_url

RESTORE_VERSION_GAP: Final = 1 << 40  # more data versions than any lost history could have handed out
LOCK_SUFFIX: Final = "-serverlock"


class RestoreRefused(BackupError):
    code = "restore_refused"
    msgid = "Restore refused: {detail}."


class RestoreTargetNotEmpty(RestoreRefused):
    code = "restore_target_not_empty"
    msgid = "The database {target} already holds data. Restore only with --replace."


class ServerRunning(RestoreRefused):
    code = "server_running"
    msgid = "The server still uses the database ({detail}). Stop the server first (systemctl stop floreyn-server)."


class BackupTooNew(RestoreRefused):
    code = "backup_too_new"
    msgid = "The backup has schema revision {revision}, unknown to this server. Install the newer release first."


class ServerKeyMissing(RestoreRefused):
    code = "server_key_missing"
    msgid = "{path} is missing. Put the saved server key back first (public half {public}): the terminals trust " \
         "only that one. Only --new-key goes on without it (every terminal must then get the new key)."


class ServerKeyMismatch(RestoreRefused):
    code = "server_key_mismatch"
    msgid = "The key in {path} ({here}) is not the backup's ({public}); the terminals would refuse every answer. " \
         "Put the right key back, or restore with --new-key and give every terminal the new key."


@dataclass(frozen=True, slots=True)
class RestoreReport:
    backup_revision: str
    revision: str
    rows: dict[str, int]
    data_version: int
    kept_old: str | None  # where the replaced SQLite file went
    duration_ms: int

    def to_dict(self) -> dict[str, object]:
        return {"backup_revision": self.backup_revision, "revision": self.revision, "rows": self.rows,
                "data_version": self.data_version, "kept_old": self.kept_old, "duration_ms": self.duration_ms}


def restore(path: Path, db_url: str, *, replace: bool = False, now_ms: int | None = None) -> RestoreReport:
    started = time.monotonic()
    now_ms = now_ms if now_ms is not None else state.now_ms()
    manifest = read_manifest(path)
    url = normalise_url(db_url)
    _known_revision(manifest.revision)
    if make_url(url).get_backend_name() == "sqlite":
        kept, version, rows, head = _restore_sqlite(path, url, manifest, replace, now_ms)
    else:
        kept, version, rows, head = _restore_postgres(path, url, manifest, replace, now_ms)
    return RestoreReport(manifest.revision, head, rows, version, kept, int((time.monotonic() - started) * 1000))


# -- targets --------------------------------------------------------------------------------------


def _restore_sqlite(path: Path, url: str, manifest: Manifest, replace: bool, now_ms: int
                    ) -> tuple[str | None, int, dict[str, int], str]:
    target = Path(make_url(url).database or "")
    if not target.name or target.name == ":memory:":
        raise RestoreRefused(detail="restore needs a database file")
    exists = target.exists() and _sqlite_has_tables(target)
    if exists and not replace:
        raise RestoreTargetNotEmpty(target=str(target))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = _take_server_lock(target)  # held until the new file is in place: no server starts meanwhile
    try:
        building = target.with_name(target.name + ".restoring")
        for p in [*_sqlite_files(building), *target.parent.glob(target.name + ".before-restore-*.partial")]:
            p.unlink(missing_ok=True)  # left by a restore that was killed
        db = Database(f"sqlite:///{building}")
        try:
            with db.writer.begin() as conn:
                version, rows, head = _load(conn, db, path, manifest, now_ms)
        finally:
            db.dispose()
        _checkpoint(building)
        kept = None
        if target.exists():
            # The old file stays whole and in place until the rename below, so a kill at any moment leaves
            # the old or the new database, never none. Its WAL is folded in first: a stale -wal beside the
            # new file would be replayed onto it.
            _checkpoint(target)
            stamp = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            old = target.with_name(f"{target.name}.before-restore-{stamp}")
            copying = old.with_name(old.name + ".partial")  # a kill mid-copy leaves no half copy by that name
            shutil.copyfile(target, copying)
            fsync_path(copying)
            os.replace(copying, old)
            kept = str(old)
        os.replace(building, target)
        fsync_path(target.parent)
        return kept, version, rows, head
    finally:
        os.close(lock)


def _restore_postgres(path: Path, url: str, manifest: Manifest, replace: bool, now_ms: int
                      ) -> tuple[str | None, int, dict[str, int], str]:
    engine = create_engine(url, poolclass=NullPool)
    db = Database(url)
    try:
        with engine.begin() as conn:
            tables = inspect(conn).get_table_names()
            if tables and not replace:
                raise RestoreTargetNotEmpty(target=make_url(url).render_as_string(hide_password=True))
            others = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()")).scalar_one()
            if others:
                raise ServerRunning(detail=f"{others} other connection(s) to this database")
            if tables:  # same transaction: if anything below fails, the old data is back
                old = MetaData()
                old.reflect(conn)
                old.drop_all(conn)
                conn.execute(text("DROP FUNCTION IF EXISTS floreyn_append_only() CASCADE"))
            version, rows, head = _load(conn, db, path, manifest, now_ms)
        # Statistics for the planner now, not when autovacuum gets round to it (if it is on at all): without
        # them a freshly loaded ledger was read in the wrong order and sorted on disk (bench/server_export.py).
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        return None, version, rows, head
    finally:
        db.dispose()
        engine.dispose()


# -- the load itself, on one connection in one transaction -------------------------------------------


def _load(conn: Connection, db: Database, path: Path, manifest: Manifest, now_ms: int
          ) -> tuple[int, dict[str, int], str]:
    cfg = alembic_config(db)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, manifest.revision)
    target = MetaData()
    target.reflect(conn)
    backup = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=NullPool)
    rows: dict[str, int] = {}
    try:
        with backup.connect() as src_conn:
            source = MetaData()
            source.reflect(src_conn)
            _same_tables(target, source, manifest.revision)
            for table in target.sorted_tables:
                if table.name == "alembic_version":
                    continue
                if conn.execute(select(func.count()).select_from(table)).scalar_one():
                    conn.execute(table.delete())  # rows a migration seeded (meta): the backup has them
                rows[table.name] = copy_rows(src_conn, source.tables[table.name], conn, table)
                expected = manifest.row_counts.get(table.name)
                if rows[table.name] != expected:
                    raise BackupInvalid(path=str(path), detail=f"{table.name}: copied {rows[table.name]} rows, "
                                                               f"the manifest says {expected}")
    finally:
        backup.dispose()
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn, target)
    command.upgrade(cfg, "head")
    head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return _mark_restored(conn, manifest, now_ms), rows, head


def _same_tables(target: MetaData, source: MetaData, revision: str) -> None:
    """Every table and column of schema `revision` is in the backup and nothing else: nothing is dropped silently."""
    want = set(target.tables) - {"alembic_version"}
    have = set(source.tables) - {"alembic_version", MANIFEST}
    if want != have:
        raise BackupInvalid(path="backup", detail=f"tables differ from schema {revision}: missing "
                                                  f"{sorted(want - have)}, unknown {sorted(have - want)}")
    for name in sorted(want):
        a = {c.name for c in target.tables[name].columns}
        b = {c.name for c in source.tables[name].columns}
        if a != b:
            raise BackupInvalid(path="backup", detail=f"columns of {name} differ from schema {revision}: "
                                                      f"missing {sorted(a - b)}, unknown {sorted(b - a)}")


def _reset_sequences(conn: Connection, tables: MetaData) -> None:
    """Rows were inserted with their ids: move each id sequence past them."""
    for table in tables.sorted_tables:
        for col in table.primary_key.columns:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name}).scalar()
            if seq:
                conn.execute(text(f'SELECT setval(:seq, COALESCE((SELECT MAX("{col.name}") FROM "{table.name}"), 0) '
                                  f'+ 1, false)'), {"seq": seq})


def _mark_restored(conn: Connection, manifest: Manifest, now_ms: int) -> int:
    """See the module docstring: snapshots newer than anything handed out since the backup, and an alert."""
    version = state.current_version(conn) + RESTORE_VERSION_GAP
    conn.execute(update(s.meta).where(s.meta.c.key == "data_version").values(value=version))
    state.touch_all_cards(conn, version)
    state.alert(conn, "restored", now_ms, backup_created_ms=manifest.created_ms, backup_revision=manifest.revision,
                terminal_heads=manifest.terminal_heads)
    return version


# -- helpers --------------------------------------------------------------------------------------------


def _known_revision(revision: str) -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    try:
        found = script.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BackupTooNew(revision=revision)


def server_lock(db_url: str) -> int | None:
    """For `serve` on SQLite: a shared lock beside the database for the life of the process (restore checks it)."""
    u = make_url(normalise_url(db_url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(u.database + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a restore runs
    return fd


def _take_server_lock(target: Path) -> int:
    fd = os.open(str(target) + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ServerRunning(detail=f"a floreyn-server process holds {target}{LOCK_SUFFIX}") from None
    return fd


def _sqlite_has_tables(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    finally:
        conn.close()


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file before it is renamed (the -wal file would not follow the rename)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    fsync_path(path)
    for p in _sqlite_files(path)[1:]:
        p.unlink(missing_ok=True)

