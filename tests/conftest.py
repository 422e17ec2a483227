"""Shared fixtures for the whole suite (role-specific fixtures live beside their tests).

- db_url:      parametrised; "sqlite" (a file in tmp_path) always, plus a fresh
               PostgreSQL database when FLOREYN_TEST_PG_URL is set.
- pg_url:      a fresh PostgreSQL database only (skips when the variable is unset).
               Set but unreachable server => the tests FAIL, never skip.
- free_port, run_dir, artifacts_dir, kivy_window: see each fixture.
"""
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

TESTS = Path(__file__).resolve().parent
# Test folders carry no __init__.py and must not be named like a top-level
# package: tests/ goes on sys.path (for `support`), so a tests/floreyn/ would
# shadow the real `floreyn` as an empty namespace package. Hence tests/core/.
if str(TESTS) not in sys.path:  # tests/support importable as `support`
    sys.path.insert(0, str(TESTS))

from support import kivy_env  # noqa: E402

# Before any test module can import kivy (this file is loaded first).
kivy_env.configure_environment()
# The till keeps python-escpos's profiles under $XDG_CACHE_HOME (terminal/drivers/escpos_cache.py): the tests'
# copy goes to a folder of their own, removed when pytest exits, never the user's ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="floreyn-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)

from support import db, net  # noqa: E402

PG_URL = os.environ.get("FLOREYN_TEST_PG_URL") or None

# Hypothesis measures time per example by default (a 200 ms deadline, a health check on
# slow input generation); on a loaded 2-core machine those fail tests whose code is right.
# The properties are about values, not speed: neither applies here (benchmarks time things).
settings.register_profile("floreyn", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("floreyn")


# A test marked slow (a whole day of tills, the demo, crash loops) may take this long before
# pytest-timeout fails it; every other test gets pyproject's `timeout`. An explicit
# @pytest.mark.timeout on a test wins over both.
SLOW_TIMEOUT_S = 1200


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


def pytest_report_header(config):
    from sqlalchemy.engine import make_url

    pg = make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else "off (FLOREYN_TEST_PG_URL unset)"
    return [f"floreyn: PostgreSQL tests: {pg}; Kivy video: {os.environ.get('SDL_VIDEODRIVER', 'display')}"]


@pytest.fixture(scope="session")
def _pg_admin():
    if not PG_URL:
        pytest.skip("FLOREYN_TEST_PG_URL is not set")
    try:
        admin, error = db.connect_admin(PG_URL), None
    except Exception as exc:  # a configured but dead server is a failure, not a skip
        error = exc
    if error:
        pytest.fail(f"FLOREYN_TEST_PG_URL is set but PostgreSQL is unreachable: {error}", pytrace=False)
    db.drop_stale(admin)
    yield admin
    admin.close()


@pytest.fixture
def pg_url(_pg_admin):
    """SQLAlchemy URL (postgresql+psycopg) of a new, empty database, dropped afterwards."""
    name, url = db.create(_pg_admin, PG_URL)
    yield url
    db.drop(_pg_admin, name)


DB_PARAMS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)] if PG_URL else [])


@pytest.fixture(params=DB_PARAMS)
def db_url(request, tmp_path):
    """SQLAlchemy URL of a fresh, empty database: each test runs once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'floreyn.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def free_port():
    """A free TCP port on 127.0.0.1."""
    return net.free_port()


@pytest.fixture
def run_dir(tmp_path):
    """An empty folder for a test's runtime state (spool, keys, sockets, logs)."""
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where screenshots and other files worth keeping after CI go (gitignored)."""
    return kivy_env.artifacts_dir()


@pytest.fixture
def kivy_window(request):
    """Kivy's shared offscreen Window, empty, at 800x480; parametrise indirectly
    with a (w, h) tuple for another size, e.g. kivy_env.SIZES["1024x600"]."""
    window = kivy_env.get_window(getattr(request, "param", kivy_env.SIZES["800x480"]))
    yield window
    kivy_env.clear_window(window)
