"""Request nonces: each signed terminal request is taken once (sync/auth.py); they live in the database,
so every server process (serve --workers N, or several servers behind the proxy) sees the same ones.

An upload takes its nonce inside its own ledger transaction (one write per batch). Every other request
(card summary, snapshot, authorize, release) takes it with `remember_apart`, in the database's separate
write path (Database.write_apart): on SQLite a till asking for a card's balance would otherwise wait
behind every upload queued for the ledger's single write lock (seconds under load, bench/server_balance.py).
The two stores never need to see each other's nonces: the signature covers the method and path, so an
upload's request can never be replayed as another request or the other way round.
"""

from __future__ import annotations

import random
from typing import Final

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.sync import auth

PRUNE_EVERY: Final = 200  # on average, one request in this many clears expired nonces


def remember(conn: Connection, terminal_id: str, nonce: str, now: int) -> bool:
    """Record the nonce; False when this terminal already used it (a replay)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    inserted = conn.execute(insert(s.request_nonces).values(terminal_id=terminal_id, nonce=nonce, time_ms=now)
                            .on_conflict_do_nothing().returning(s.request_nonces.c.nonce)).first()
    if random.randrange(PRUNE_EVERY) == 0:
        conn.execute(delete(s.request_nonces).where(s.request_nonces.c.time_ms < now - auth.NONCE_TTL_MS))
    return inserted is not None


def remember_apart(db: Database, terminal_id: str, nonce: str, now: int) -> bool:
    """`remember` in the database's separate write path (see the module docstring)."""
    def take(conn: Connection) -> bool:
        if not conn.info.get("nonces_ready"):  # once per pooled connection: the apart file starts empty
            s.request_nonces.create(conn, checkfirst=True)
            conn.info["nonces_ready"] = True
        return remember(conn, terminal_id, nonce, now)
    return db.write_apart(take)
