"""Upgrading a database written by the previous release (schema 0001) to this one: nothing lost, it keeps working.

tests/deploy/data/floreyn-0001.db was written by the 0001 release itself (see
make_fixture_0001.py): members, desk top-ups, a budget grant, a campaign, a
blocked card and a terminal's signed records. On SQLite the test upgrades a
copy of that file, as a server of the new release does on its first start;
on PostgreSQL the same rows are first loaded into a database at schema 0001.
Both run the real `floreyn-server migrate`. Then: every row of every old
table is still there unchanged, the new columns have their defaults, the
ledger replays clean, and the terminal's chain continues on the upgraded server.
"""

from __future__ import annotations


import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from floreyn.server.db import head_revision
from floreyn import keys
from floreyn.server import backup, restore
from floreyn.server.db import Database, migrate
from floreyn.server.replay import replay
from floreyn.server.testing import ServerThread, SimTerminal, World
from floreyn.sync.record import ChainHead

DATA = Path(__file__).parent / "data"
FACTS = json.loads((DATA / "floreyn-0001.json").read_text())


def old_rows() -> dict[str, tuple[list[str], list[tuple]]]:
    conn = sqlite3.connect(f"file:{DATA / 'floreyn-0001.db'}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        return {n: ([r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')],
                    [tuple(r) for r in conn.execute(f'SELECT * FROM "{n}"')]) for n in names}
    finally:
        conn.close()


def rows_now(url: str, table: str, columns: list[str]) -> list[tuple]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            cols = ", ".join(f'"{c}"' for c in columns)
            return [tuple(r) for r in conn.execute(text(f'SELECT {cols} FROM "{table}"'))]
    finally:
        engine.dispose()


def norm(rows: list[tuple]) -> list[tuple]:
    def v(x: object) -> object:
        if isinstance(x, bool):
            return int(x)
        if isinstance(x, (bytes, memoryview)):
            return bytes(x).hex()
        return x
    return sorted(tuple(v(x) for x in r) for r in rows)


def load_0001(url: str) -> None:
    """A PostgreSQL database as the 0001 release left it: its schema, with the fixture's rows."""
    db = Database(url)
    try:
        migrate(db, "0001")
        src = create_engine(f"sqlite:///file:{DATA / 'floreyn-0001.db'}?mode=ro&uri=true", poolclass=NullPool)
        source, target = MetaData(), MetaData()
        with src.connect() as s_conn, db.writer.begin() as conn:
            source.reflect(s_conn)
            target.reflect(conn)
            conn.execute(text("DELETE FROM meta"))  # seeded by the migration; the fixture has its own row
            for table in target.sorted_tables:
                if table.name != "alembic_version":
                    backup.copy_rows(s_conn, source.tables[table.name], conn, table)
            restore._reset_sequences(conn, target)  # noqa: SLF001
        src.dispose()
    finally:
        db.dispose()


def test_upgrade_from_0001_keeps_everything_and_the_chain_continues(db_url, tmp_path, exe):
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "floreyn-0001.db", path)
    else:
        load_0001(db_url)
    assert rows_now(db_url, "alembic_version", ["version_num"]) == [("0001",)]
    done = subprocess.run([exe / "floreyn-server", "--db", db_url, "--data-dir", str(tmp_path / "data"), "migrate"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert rows_now(db_url, "alembic_version", ["version_num"]) == [(head_revision(),)]

    old = old_rows()
    assert set(old) - {"alembic_version"} == set(FACTS["row_counts"])
    for table, (columns, rows) in old.items():
        if table != "alembic_version":
            assert norm(rows_now(db_url, table, columns)) == norm(rows), table
    assert rows_now(db_url, "terminals", ["reported_head_seq", "rejected_uploads"]) == [(None, 0)]
    assert rows_now(db_url, "backups", ["id"]) == []
    db = Database(db_url)
    try:
        assert replay(db).ok
    finally:
        db.dispose()

    made = subprocess.run([exe / "floreyn-server", "--db", db_url, "token", "create", "--name", "upgrade-test",
                           "--role", "admin"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "admin_token").write_text(made.stdout)  # where the test client looks for it
    with ServerThread(db_url, tmp_path / "data") as srv:  # the new release serves the old data
        world = World(srv)
        for account, cents in FACTS["balances"].items():
            assert world.balance(account) == cents, account
        term = SimTerminal(FACTS["terminal_id"], FACTS["merchant_id"],
                           keys.private_from_seed(bytes.fromhex(FACTS["terminal_private_seed_hex"])))
        term.head = ChainHead(FACTS["head_seq"], bytes.fromhex(FACTS["head_hash_hex"]))
        anna = FACTS["members"]["anna"]
        term.spend(FACTS["cards"]["anna"], 500)
        ack = term.client(srv).upload(term.raws)
        assert (ack.acked_seq, ack.accepted) == (FACTS["head_seq"] + 1, 1)
        assert world.balance(f"member:{anna}") == FACTS["balances"][f"member:{anna}"] - 500
        assert srv.admin("GET", f"/v1/admin/cards/{FACTS['cards']['bram']}")["status"] == "blocked"
        world.member(eur_cents=1_000)  # new rows get ids past the old ones
        assert replay(srv.ctx.db).ok


def test_a_backup_of_the_old_release_restores_into_this_one(db_url, tmp_path):
    old = tmp_path / "old.db"
    shutil.copy(DATA / "floreyn-0001.db", old)
    made = backup.backup(Database(f"sqlite:///{old}"), tmp_path / "old.floreyn-backup", server_public_key=None)
    assert made.manifest.revision == "0001"
    report = restore.restore(made.path, db_url)
    assert (report.backup_revision, report.revision) == ("0001", head_revision())
    assert report.rows == {k: v for k, v in FACTS["row_counts"].items()}
    db = Database(db_url)
    try:
        assert replay(db).ok
    finally:
        db.dispose()
