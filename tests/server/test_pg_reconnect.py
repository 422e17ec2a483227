"""PostgreSQL drops every connection (restart, failover): the next request still succeeds."""

import psycopg
from sqlalchemy.engine import make_url

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
