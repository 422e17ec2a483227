"""Alembic: the migrations build exactly the tables the code declares, and go back down cleanly."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from floreyn.server.db import Database, alembic_config
from floreyn.server.schema import metadata


def test_upgrade_matches_the_schema_and_downgrade_removes_it(db_url):
    db = Database(db_url)
    try:
        db.migrate()
        db.migrate()  # running it again on every start is harmless
        with db.writer.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
        cfg = alembic_config(db)
        with db.writer.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(db.writer).get_table_names()) <= {"alembic_version"}
    finally:
        db.dispose()
