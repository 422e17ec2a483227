"""The server's frequent job (floreyn-housekeeping.timer, every minute): the writes no request should wait on.

Before issue 19 every snapshot request began with a write: lapsed holds were marked expired (their
cards stamped, so a delta carries the money they free) and cards blocked for overspend that the rule
says are due were reinstated (server/reinstate.py). Snapshot requests now only read; this job does both,
then brings the kept snapshot entries and the kept full-snapshot pages up to date
(server/snapshot_cache.py): made in reads, written in short transactions. A till loses nothing by
the delay: a lapsed hold already holds nothing (server/spendable.py), and a card stamped late only
reaches the tills a minute later, with the lower, safe figure until then.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Final

from floreyn.server import reinstate, snapshot_cache, spendable
from floreyn.server.db import Database

MAX_REFRESH_ROUNDS: Final = 1_000  # x REFRESH_CHUNK cards: two million entries in one run, then it stops


@dataclass(frozen=True, slots=True)
class HousekeepingResult:
    holds_expired: int
    cards_reinstated: int
    entries_refreshed: int
    pages_kept: int
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(db: Database, clock: Callable[[], int]) -> HousekeepingResult:
    """One pass; safe to run concurrently with requests and with itself (each step is idempotent)."""
    started = time.perf_counter()
    now = clock()
    expired, reinstated = db.write(lambda conn: (spendable.expire_holds(conn, now), reinstate.review(conn, now)))
    refreshed = 0
    after = ""
    for _ in range(MAX_REFRESH_ROUNDS):  # made in a read, kept in a short write: ingest waits on no making
        made = db.read(lambda conn: snapshot_cache.make_stale(conn, clock(), after=after))  # noqa: B023  # at once
        db.write(lambda conn: snapshot_cache.keep(conn, made))  # noqa: B023  # (same)
        refreshed += len(made)
        if len(made) < snapshot_cache.REFRESH_CHUNK:
            break
        after = made[-1]["card_id"]
    replace_all, pages = db.read(lambda conn: snapshot_cache.plan_pages(conn, clock()))
    db.write(lambda conn: snapshot_cache.keep_pages(conn, replace_all, pages))
    return HousekeepingResult(expired, len(reinstated), refreshed, len(pages), int((time.perf_counter() - started) * 1000))
