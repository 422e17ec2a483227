"""`floreyn-server backup`: one consistent copy of the server's database, in one SQLite file.

Why one format for both backends (and not pg_dump on PostgreSQL):
- a backup is one self-contained file that `sqlite3` opens anywhere, that
  `restore` checks (SQLite integrity check, row counts in its manifest, the
  schema revision) before touching anything, and that restores into either
  backend: a cooperative that starts on SQLite moves to PostgreSQL with
  `backup` + `restore`;
- no client tools whose version must match the server's (pg_dump refuses a
  newer server), nothing to install on the machine that runs the backup;
- the schema revision travels with the data: an older backup is restored at
  its own revision and then upgraded by the same migrations as a live server.
For a ledger this size (millions of rows at most) the row copy takes seconds
to minutes. Large installations may add PostgreSQL's own tools beside it.

Consistency: on SQLite the online backup API copies the database in one step
under one read transaction (WAL: the server keeps writing meanwhile); on
PostgreSQL every table is read in one REPEATABLE READ transaction, i.e. one
snapshot. The file is written beside its destination as `*.partial`, fsynced
and renamed, so a backup with the final name is always complete.

Not in the backup: the server's signing key (data folder, server_key.pem).
It never changes, and whoever holds it can answer terminals as the server,
so it is saved once, separately and offline (README "Backups"). The manifest
records its public half, and `restore` refuses a data folder whose key is
another one: the terminals would refuse every answer signed with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import floreyn
from floreyn.errors import FloreynError
from floreyn.server.db import Database

FORMAT: Final = 1
MANIFEST: Final = "floreyn_backup"  # key/value table in the backup file (JSON values)
SUFFIX: Final = ".floreyn-backup"
COPY_BATCH_ROWS: Final = 2_000
MAX_KEEP: Final = 10_000
STALE_PARTIAL_S: Final = 6 * 3600


class BackupError(FloreynError):
    code = "backup_failed"
    msgid = "Backup failed: {detail}."


class BackupInvalid(BackupError):
    code = "backup_invalid"
    msgid = "{path} is not a usable Floreyn backup: {detail}."


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    created_ms: int
    source: str  # "sqlite" | "postgresql"
    revision: str  # Alembic revision of the copied schema
    row_counts: dict[str, int]
    server_public_key: str | None  # hex; the key the terminals were enrolled against
    floreyn_version: str = floreyn.__version__
    terminal_heads: dict[str, int] = field(default_factory=dict)  # terminal id -> highest record held

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    size_bytes: int
    sha256: str
    duration_ms: int
    manifest: Manifest

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "size_bytes": self.size_bytes, "sha256": self.sha256,
                "duration_ms": self.duration_ms, **self.manifest.to_json()}


def default_name(now_ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"floreyn-{stamp}{SUFFIX}"


def backup(db: Database, dest: Path, *, server_public_key: str | None, now_ms: int | None = None) -> BackupInfo:
    """Write a consistent copy of `db` to `dest`: a file named *.floreyn-backup, or else a folder (made if
    missing) that gets a new file named with the time."""
    started = time.monotonic()
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if dest.is_dir() or not dest.name.endswith(SUFFIX):
        dest = dest / default_name(now_ms)
    if dest.exists():
        raise BackupError(detail=f"{dest} exists already")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if db.is_sqlite:
            _copy_sqlite(db, partial)
        else:
            _copy_database(db, partial)
        manifest = _write_manifest(partial, db, server_public_key, now_ms)
        fsync_path(partial)
        os.replace(partial, dest)
        fsync_path(dest.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.chmod(dest, 0o600)  # members' personal data is in it
    return BackupInfo(dest, dest.stat().st_size, sha256_file(dest), int((time.monotonic() - started) * 1000),
                      manifest)


def _copy_sqlite(db: Database, out: Path) -> None:
    path = make_url(db.url).database
    if not path or path == ":memory:":
        raise BackupError(detail="an in-memory database cannot be backed up")
    if not Path(path).is_file():
        raise BackupError(detail=f"there is no database at {path}")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst, pages=-1)  # one step: one read transaction, one consistent moment
        dst.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
        dst.commit()
    finally:
        dst.close()
        src.close()


def _copy_database(db: Database, out: Path) -> None:
    """Every table of a PostgreSQL database, read in one REPEATABLE READ snapshot, into a SQLite file."""
    target = create_engine(f"sqlite:///{out}", poolclass=NullPool)
    try:
        with db.snapshot_reader.connect() as conn, conn.begin(), target.begin() as out_conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            source = MetaData()
            source.reflect(conn)
            copy = MetaData()
            for table in source.sorted_tables:  # portable types; constraints are not needed to hold data
                Table(table.name, copy, *[Column(c.name, c.type.as_generic(), primary_key=c.primary_key,
                                                 nullable=c.nullable, autoincrement=False) for c in table.columns])
            copy.create_all(out_conn)
            for table in source.sorted_tables:
                copy_rows(conn, table, out_conn, copy.tables[table.name])
    finally:
        target.dispose()


def copy_rows(src_conn: Any, src: Table, dst_conn: Any, dst: Table) -> int:
    """Copy every row of `src` into `dst` in bounded batches, in primary-key order; returns the count."""
    order = list(src.primary_key.columns) or list(src.columns)
    names = [c.name for c in src.columns if c.name in dst.columns]
    result = src_conn.execution_options(stream_results=True, yield_per=COPY_BATCH_ROWS).execute(
        select(*[src.c[n] for n in names]).order_by(*order))
    count = 0
    for part in result.partitions(COPY_BATCH_ROWS):
        dst_conn.execute(dst.insert(), [dict(zip(names, row, strict=True)) for row in part])
        count += len(part)
    return count


def _write_manifest(out: Path, db: Database, server_public_key: str | None, now_ms: int) -> Manifest:
    conn = sqlite3.connect(out)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        if "alembic_version" not in tables:
            raise BackupError(detail="the database has no schema (run floreyn-server migrate)")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        heads = dict(conn.execute("SELECT terminal_id, head_seq FROM terminals ORDER BY terminal_id").fetchall()) \
            if "terminals" in tables else {}
        manifest = Manifest(FORMAT, now_ms, "sqlite" if db.is_sqlite else "postgresql", revision, counts,
                            server_public_key, terminal_heads=heads)
        conn.execute(f"CREATE TABLE {MANIFEST} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany(f"INSERT INTO {MANIFEST} VALUES (?, ?)",
                         [(k, json.dumps(v, sort_keys=True)) for k, v in manifest.to_json().items()])
        conn.commit()
        return manifest
    finally:
        conn.close()


def read_manifest(path: Path) -> Manifest:
    """The manifest of a backup file, after checking the file is whole (integrity, row counts)."""
    if not path.is_file():
        raise BackupInvalid(path=str(path), detail="no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupInvalid(path=str(path), detail=str(exc)) from None
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupInvalid(path=str(path), detail="the SQLite integrity check fails")
        raw = dict(conn.execute(f"SELECT key, value FROM {MANIFEST}").fetchall())
        values = {k: json.loads(v) for k, v in raw.items()}
        if values.get("format") != FORMAT:
            raise BackupInvalid(path=str(path), detail=f"format {values.get('format')!r}, this server reads {FORMAT}")
        manifest = Manifest(**values)
        for table, expected in manifest.row_counts.items():
            found = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if found != expected:
                raise BackupInvalid(path=str(path), detail=f"{table} has {found} rows, the manifest says {expected}")
        return manifest
    except (sqlite3.Error, ValueError, TypeError) as exc:
        raise BackupInvalid(path=str(path), detail=f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `folder` (by the time in their name); returns the deleted."""
    if not 1 <= keep <= MAX_KEEP:
        raise BackupError(detail=f"keep must be 1..{MAX_KEEP}")
    found = sorted(p for p in folder.glob(f"floreyn-*{SUFFIX}") if p.is_file())
    gone = found[:-keep]
    stale_before = time.time() - STALE_PARTIAL_S  # left by a killed backup; a running one is younger
    gone += [p for p in folder.glob(f"floreyn-*{SUFFIX}.partial") if p.stat().st_mtime < stale_before]
    for p in gone:
        p.unlink()
    return gone


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries (after a rename), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def has_table(db: Database, name: str) -> bool:
    return name in inspect(db.reader).get_table_names()
