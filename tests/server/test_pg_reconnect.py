"""PostgreSQL drops every connection (restart, failover): the next request still succeeds."""

import psycopg
from sqlalchemy.engine import make_url

from floreyn.server import bulk
from floreyn.server.db import Database
from floreyn.server.testing import ServerThread, World


def test_requests_survive_dropped_database_connections(pg_url, tmp_path):
    with ServerThread(pg_url, tmp_path) as srv:
        world = World(srv)
        member, card = world.member(eur_cents=1_000)
        term = world.terminal()
        term.spend(card, 100)
        client = term.client(srv)
        assert client.upload(term.raws).acked_seq == 1
        name = make_url(pg_url).database
        admin_url = make_url(pg_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchone()[0]
        assert killed >= 1
        term.spend(card, 200)
        assert client.upload(term.raws).acked_seq == 2
        assert world.balance(f"member:{member}") == 700


def test_a_statement_straight_to_the_driver_is_retried_when_its_connection_dropped(pg_url):
    # server/bulk.py sends the upload's statements to psycopg itself: a connection that died under them is
    # invalidated and the write runs again on a new one, as for a statement SQLAlchemy sent.
    db = Database(pg_url)
    attempts = []

    def write(conn):
        attempts.append(conn.connection.dbapi_connection)
        if len(attempts) == 1:
            conn.exec_driver_sql("SELECT 1")  # the transaction holds its connection now
            _terminate_others(pg_url)
        return bulk.run(conn, "SELECT 7").scalar_one()

    try:
        assert db.write(write) == 7
        assert len(attempts) == 2 and attempts[0] is not attempts[1]
        assert db.read(lambda conn: bulk.run(conn, "SELECT 8").scalar_one()) == 8
    finally:
        db.dispose()


def _terminate_others(pg_url):
    name = make_url(pg_url).database
    admin_url = make_url(pg_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                      " AND pid <> pg_backend_pid()", (name,))
