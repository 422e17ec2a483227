"""Server fixtures: one database and one real server (uvicorn on loopback) per test module and backend.

A module's tests share the database and make their own merchants, members
and terminals (random ids), so they do not see each other's money. The
backends are SQLite always and PostgreSQL when FLOREYN_TEST_PG_URL is set
(a set but unreachable server fails the tests, it never skips them).
"""

import os

import pytest
from support import db as pgdb

from floreyn.server.db import Database
from floreyn.server.testing import ServerThread, World

PG_URL = os.environ.get("FLOREYN_TEST_PG_URL") or None
BACKENDS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)] if PG_URL else [])


@pytest.fixture(scope="module", params=BACKENDS)
def module_db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'floreyn.db'}"
        return
    try:
        admin = pgdb.connect_admin(PG_URL)
    except Exception as exc:
        pytest.fail(f"FLOREYN_TEST_PG_URL is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    name, url = pgdb.create(admin, PG_URL)
    yield url
    pgdb.drop(admin, name)
    admin.close()


@pytest.fixture(scope="module")
def srv(module_db_url, tmp_path_factory):
    with ServerThread(module_db_url, tmp_path_factory.mktemp("data")) as server:
        yield server


@pytest.fixture(scope="module")
def world(srv):
    return World(srv)


@pytest.fixture(scope="module")
def database(module_db_url):
    db = Database(module_db_url)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def pg_database(pg_url):
    """A migrated Database on a fresh PostgreSQL database, for what only PostgreSQL does (no SQLite variant to
    skip); without FLOREYN_TEST_PG_URL the test is skipped by `pg_url`."""
    db = Database(pg_url)
    db.migrate()
    yield db
    db.dispose()
