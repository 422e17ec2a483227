"""The WAL is copied into the database file after writes, off the write path (server/db.py _Checkpointer)."""

import os

from floreyn.server import bulk
from floreyn.server import schema as s
from floreyn.server.db import CHECKPOINT_EVERY_WRITES, Database
from support import wait

ROWS = 2_000
VALUE = "x" * 1_000  # ~2 MB in all: well past SQLite's 1,000-page automatic checkpoint


def test_writes_are_checkpointed_apart_from_the_commit(tmp_path):
    path = tmp_path / "ledger.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.migrate()
        # The writer's own commits never checkpoint: the write lock is not held for it.
        assert db.write(lambda conn: bulk.run(conn, "PRAGMA wal_autocheckpoint").scalar_one()) == 0
        before = os.path.getsize(path)
        db.write(lambda conn: bulk.insert_rows(conn, s.settings, ("key", "value"),
                                               [(f"cp-{i}", VALUE) for i in range(ROWS)]))
        for i in range(CHECKPOINT_EVERY_WRITES - 1):  # the writes that make the next checkpoint due
            db.write(lambda conn, i=i: bulk.run(conn, "UPDATE settings SET value = {mark} WHERE key = 'cp-0'", (str(i),)))
        wait.until(lambda: os.path.getsize(path) > before + ROWS * len(VALUE), 10, "the checkpoint into the file")
        # Checked while the server runs: SQLite checkpoints on its last connection's close anyway.
    finally:
        db.dispose()
