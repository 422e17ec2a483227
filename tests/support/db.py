"""Throw-away PostgreSQL databases for tests.

Each test that asks gets its own database (``CREATE DATABASE`` from template0:
about 30 ms here), not a schema: the server code may create schemas, types or
extensions of its own, and a database is the only isolation that covers all of
it. It is dropped WITH (FORCE), so a connection a test forgot to close does not
block the drop. Databases left by a killed run are dropped at the next run,
recognised by the dead pid in their name.
"""
from __future__ import annotations

import os
import uuid

from sqlalchemy.engine import make_url

PREFIX = "floreyn_test_"


def normalise(url: str) -> str:
    """SQLAlchemy URL using psycopg 3 (plain postgresql:// would mean psycopg2)."""
    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect_admin(url: str):
    """Autocommit connection to the server named by ``url`` (CREATE DATABASE needs it)."""
    import psycopg

    return psycopg.connect(_libpq(url), autocommit=True, connect_timeout=5)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale(admin) -> None:
    rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)).fetchall()
    for (name,) in rows:
        pid = name[len(PREFIX):].split("_")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create(admin, url: str) -> tuple[str, str]:
    """Create a fresh database; return (its name, SQLAlchemy URL to it)."""
    name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return name, make_url(normalise(url)).set(database=name).render_as_string(hide_password=False)


def drop(admin, name: str) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
