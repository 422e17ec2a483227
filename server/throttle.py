"""Events per client address and window, counted in the database: failed authentications, portal sign-ins.

Without a limit every refused admin token appended one row to the append-only
audit log (100-300 a second from one client: gigabytes a day in a table that
refuses DELETE). Now:

- failures are counted per client address in a window of `window_s`; the
  first failure of a window writes one audit row, which also says how many
  failures the previous window of that client held;
- a client with `max_failures` failures in its current window is answered
  429 with Retry-After (seconds until its window ends) for every
  authenticated endpoint, before any token or signature is looked at.

The counts live in the database (`client_counts`, one row per scope and
address), so every server process sees the same ones: `--workers N`, or
several servers behind one proxy against one PostgreSQL, give a client the
limit once, not N times. One upsert per counted event, one primary-key read
per check; rows of windows long past are cleared now and then, so a flood
from many addresses costs rows for a few windows only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, case, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from floreyn.server import bulk
from floreyn.server import schema as s
from floreyn.server.db import Database

DEFAULT_MAX_FAILURES: Final = 50  # per window and client address; a person mistyping never gets near
DEFAULT_WINDOW_S: Final = 60
FAILED_AUTH: Final = "failed_auth"  # scopes: what is counted
PORTAL_SIGNIN: Final = "portal_signin"
# 401s that are no failed authentication: the request's signature checked out, only the till's clock was off
# (a Pi without a real-time clock after a boot); it adopts the server's time from the answer and retries at
# once. Forty tills booting behind one address would otherwise use up most of a minute's limit.
NOT_FAILURES: Final = frozenset({"auth_clock_skew"})
MAX_CLIENT_CHARS: Final = 64  # client_counts.client; an address is at most 45 (IPv6)
PRUNE_EVERY: Final = 200  # on average, one counted event in this many clears rows of windows long past
PRUNE_AFTER_WINDOWS: Final = 10  # a row this many windows old says nothing about its client's next burst


@dataclass(frozen=True, slots=True)
class Count:
    events: int  # in the client's current window, this one included
    previous: int  # in the client's window before it
    window_start_ms: int


def count_event(conn: Connection, scope: str, client: str, now_ms: int, window_ms: int) -> Count:
    """Count one event for `client`; a new window starts when the current one is over. Atomic per row."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    t = s.client_counts
    stmt = insert(t).values(scope=scope, client=client[:MAX_CLIENT_CHARS], window_start_ms=now_ms, events=1,
                            previous_events=0)
    over = stmt.excluded.window_start_ms - t.c.window_start_ms >= window_ms
    upsert = stmt.on_conflict_do_update(index_elements=[t.c.scope, t.c.client], set_={
        "events": case((over, 1), else_=t.c.events + 1),
        "previous_events": case((over, t.c.events), else_=t.c.previous_events),
        "window_start_ms": case((over, stmt.excluded.window_start_ms), else_=t.c.window_start_ms),
    }).returning(t.c.events, t.c.previous_events, t.c.window_start_ms)
    row = conn.execute(upsert).one()
    if random.randrange(PRUNE_EVERY) == 0:
        conn.execute(delete(t).where(t.c.scope == scope,
                                     t.c.window_start_ms < now_ms - PRUNE_AFTER_WINDOWS * max(window_ms, 1)))
    return Count(int(row.events), int(row.previous_events), int(row.window_start_ms))


# Every authenticated request asks this before anything else: straight to the driver (bulk.run).
_CURRENT: Final = ("SELECT events, previous_events, window_start_ms"
                   f" FROM {s.client_counts.name} WHERE scope = {{mark}} AND client = {{mark}}")


def current(conn: Connection, scope: str, client: str) -> Count | None:
    row = bulk.run(conn, _CURRENT, (scope, client[:MAX_CLIENT_CHARS])).first()
    return Count(int(row.events), int(row.previous_events), int(row.window_start_ms)) if row else None


@dataclass(frozen=True, slots=True)
class Burst:
    """The first failure of a window: what its one audit row says."""

    client: str
    previous_failures: int


class FailedAuthLimiter:
    """Failed authentications per client address (blocking: call it from a worker thread)."""

    def __init__(self, db: Database, max_failures: int = DEFAULT_MAX_FAILURES,
                 window_s: int = DEFAULT_WINDOW_S) -> None:
        assert max_failures >= 1 and window_s >= 1
        self.db = db
        self.max_failures = max_failures
        self.window_ms = window_s * 1000

    def retry_after_s(self, client: str, now_ms: int) -> int | None:
        """Seconds to wait when this client is over the limit now, else None."""
        return self.db.read(lambda conn: self.retry_after_s_in(conn, client, now_ms))

    def retry_after_s_in(self, conn: Connection, client: str, now_ms: int) -> int | None:
        """retry_after_s in the caller's read (a route that reads more in the same trip: api_terminal)."""
        w = current(conn, FAILED_AUTH, client)
        if w is None or now_ms - w.window_start_ms >= self.window_ms or w.events < self.max_failures:
            return None
        return max(1, -(-(w.window_start_ms + self.window_ms - now_ms) // 1000))

    def failed(self, client: str, now_ms: int) -> Burst | None:
        """Count one failed authentication; a Burst when it opens a new window (audit it), else None."""
        w = self.db.write(lambda conn: count_event(conn, FAILED_AUTH, client, now_ms, self.window_ms))
        return Burst(client, w.previous) if w.events == 1 else None
