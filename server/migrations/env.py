"""Alembic environment: runs on the connection the server hands over (or the configured URL)."""

from alembic import context
from sqlalchemy import create_engine

from floreyn.server.schema import metadata

config = context.config


def _run(connection) -> None:
    # Batch mode lets later migrations ALTER tables on SQLite (copy-and-move).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "alembic.ini or the caller sets sqlalchemy.url"
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
