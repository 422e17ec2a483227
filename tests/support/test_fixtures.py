"""The shared fixtures themselves work: a fresh, writable database per backend."""
import socket

import pytest
from support import net

from sqlalchemy import create_engine, inspect, text


def test_db_url_is_fresh_and_writable(db_url):
    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing left from another test
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, label VARCHAR(20))"))
            conn.execute(text("INSERT INTO t (id, label) VALUES (1, '12,50 €')"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT label FROM t")).scalar_one() == "12,50 €"
    finally:
        engine.dispose()


def test_db_url_backend(db_url):
    assert db_url.startswith(("sqlite:///", "postgresql+psycopg://"))


def test_free_port_can_be_bound(free_port):
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port))


def test_free_port_is_below_the_ephemeral_range(free_port):
    # No outgoing connection can be given it between the pick and the server's bind (support/net.py).
    assert net.LOWEST_TEST_PORT <= free_port < net._ephemeral_low()


def test_free_port_skips_a_port_a_server_holds(monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        picks = iter([taken, taken + 1 if taken + 1 < 32_768 else taken - 1])
        monkeypatch.setattr(net.random, "randrange", lambda low, high: next(picks))
        monkeypatch.setattr(net, "_ephemeral_low", lambda: 65_000)
        assert net.free_port() != taken


def test_run_dir_is_empty(run_dir):
    assert run_dir.is_dir() and not any(run_dir.iterdir())


def test_every_test_has_a_timeout(request):
    # pytest-timeout from pyproject: a hang fails the test instead of blocking CI.
    assert float(request.config.getini("timeout")) == 300
    assert request.node.get_closest_marker("timeout") is None  # an ordinary test: the default


@pytest.mark.slow
def test_a_slow_test_gets_the_longer_timeout(request):
    assert request.node.get_closest_marker("timeout").args == (1200,)
