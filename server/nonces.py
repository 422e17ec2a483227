"""Request nonces: each signed terminal request is taken once (sync/auth.py); they live in the database,
so every server process (serve --workers N, or several servers behind the proxy) sees the same ones."""

from __future__ import annotations

import random
from typing import Final

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from floreyn.server import schema as s
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
