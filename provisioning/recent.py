"""The desk's memory of its last top-ups, for the repeat guard of `desk topup`.

The same member (or funder), the same amount, the same day, within
REPEAT_WINDOW_S of a top-up this desk booked is far more often a command run
twice (arrow-up, Enter) than a second real payment, so the tool asks first,
like the till's repeat guard. The memory is a small JSON file in the tool's
folder, one entry per top-up, kept only for the window; a damaged file is
treated as empty (the guard is a help, not a ledger: the server's request
ids are what keep a rerun of a lost answer from booking twice, and such a
rerun is never asked about).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from floreyn.provisioning.tomlw import write_private

RECENT_FILE: Final = "recent-topups.json"
REPEAT_WINDOW_S: Final = 15 * 60  # a repeat after this is a new visit to the desk, not a double command
MAX_REMEMBERED: Final = 200  # entries kept (a busy desk does ~50 top-ups an hour); the oldest go first


@dataclass(frozen=True)
class Topup:
    holder: str  # "member:m-1" or "funder:F-1"
    eur_cents: int
    at_s: int
    day: str  # the desk's local date, YYYY-MM-DD


def _now() -> tuple[int, str]:
    now = dt.datetime.now().astimezone()
    return int(now.timestamp()), now.date().isoformat()


def load(home: Path) -> list[Topup]:
    try:
        raw = json.loads((home / RECENT_FILE).read_text("utf-8"))
        return [Topup(str(r["holder"]), int(r["eur_cents"]), int(r["at_s"]), str(r["day"])) for r in raw]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def repeat_of(home: Path, holder: str, eur_cents: int) -> Topup | None:
    """The last top-up this desk booked with the same holder and amount, today, within the window."""
    now_s, today = _now()
    hits = [
        t
        for t in load(home)
        if t.holder == holder and t.eur_cents == eur_cents and t.day == today and 0 <= now_s - t.at_s <= REPEAT_WINDOW_S
    ]
    return max(hits, key=lambda t: t.at_s, default=None)


def remember(home: Path, holder: str, eur_cents: int) -> None:
    now_s, today = _now()
    kept = [t for t in load(home) if now_s - t.at_s <= REPEAT_WINDOW_S][-(MAX_REMEMBERED - 1) :]
    kept.append(Topup(holder, eur_cents, now_s, today))
    data = [{"holder": t.holder, "eur_cents": t.eur_cents, "at_s": t.at_s, "day": t.day} for t in kept]
    write_private(home / RECENT_FILE, json.dumps(data).encode(), 0o600)
