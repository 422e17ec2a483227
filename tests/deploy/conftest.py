"""Fixtures for the operations tests: deploy files, backup/restore, upgrades, metrics and logs.

`db_url` (tests/conftest.py) runs a test on SQLite, and on PostgreSQL too when
FLOREYN_TEST_PG_URL is set; `other_db_url` gives a second, empty database of
the other backend when there is one (cross-backend restores), else of the same.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "terminal"))  # till_helpers
sys.path.insert(0, str(HERE.parent / "terminal" / "app"))  # till_ui (the app's UI test base)
REPO = HERE.parent.parent
PG_URL = os.environ.get("FLOREYN_TEST_PG_URL") or None


@pytest.fixture
def other_db_url(request, tmp_path):
    """A new, empty database for a restore target: PostgreSQL when configured (else SQLite)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'other' / 'floreyn.db'}"
        return
    from support import db as pgdb

    admin = request.getfixturevalue("_pg_admin")
    name, url = pgdb.create(admin, PG_URL)
    yield url
    pgdb.drop(admin, name)


@pytest.fixture
def exe():
    """The installed console scripts of this venv."""
    return Path(sys.executable).parent
