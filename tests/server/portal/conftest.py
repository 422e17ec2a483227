"""Portal fixtures: one real server (SQLite) per module, one chromium per session, a context per use.

The portal's money paths run on PostgreSQL in tests/server/test_payments.py
and test_portal_services.py; the browser tests use SQLite so the suite stays
within a 2-core machine's time.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright
from support import browser as support_browser

from floreyn.server.config import Limits
from floreyn.server.testing import ServerThread, World

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'floreyn.db'}"
    # Every test signs in from 127.0.0.1: the per-address limit is raised here (tested on its own).
    with ServerThread(url, tmp_path_factory.mktemp("data"), limits=Limits(portal_signins_per_window=10_000)) as server:
        yield server


@pytest.fixture(scope="module")
def world(srv):
    return World(srv)


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as pw:
        b = support_browser.launch(pw)
        yield b
        b.close()


@pytest.fixture
def new_context(chromium):
    """new_context(size="390x844") -> a fresh browser context (its own cookies), closed after the test."""
    made = []

    def make(size: str = "390x844", javascript: bool = True):
        ctx = chromium.new_context(viewport=support_browser.SIZES[size], locale="nl-NL",
                                   java_script_enabled=javascript)
        ctx.set_default_timeout(support_browser.WAIT_MS)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()
