"""Exchange rates as data: a history of (ask, bid) rows, each in force from its moment on.

    rate_in_force(conn, at_ms)  -> ExchangeRates    the one function every rate question goes through

A rate is set for a moment that has not passed yet (never retroactively):
what was booked under the old rate stays booked under it, and a statement can
always say which rate applied to what. Before the first row, the rates in the
settings (PATCH /v1/admin/config, the value from before rates were data)
apply; that PATCH now also writes a row from the moment it is made.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import Connection, select

from floreyn.money import ExchangeRates
from floreyn.server import bulk
from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.errors import RequestInvalid, StateRefused

MAX_HISTORY_ROWS: Final = 1_000  # rows `history` returns; rates change a few times a year


# Straight to the driver (bulk.run): every upload asks it once.
_IN_FORCE: Final = f"SELECT ask_bp, bid_bp FROM {s.rates.name} WHERE from_ms <= {{mark}} ORDER BY from_ms DESC LIMIT 1"


def rate_in_force(conn: Connection, at_ms: int, settings: state.Settings | None = None) -> ExchangeRates:
    """The rates that apply at `at_ms` (ms since the epoch): the newest row from at or before it.

    `settings`: the settings when the caller has read them already in this transaction (no rate row yet:
    the settings' rates apply)."""
    row = bulk.run(conn, _IN_FORCE, (at_ms,)).first()
    if row is None:
        return (settings if settings is not None else state.get_settings(conn)).rates
    return ExchangeRates(ask_bp=int(row.ask_bp), bid_bp=int(row.bid_bp))


def from_ms_of(value: str, now_ms: int) -> int:
    """'now', a date (its first moment in Amersfoort) or an ISO date-time with an offset, in ms."""
    if value == "now":
        return now_ms
    try:
        if len(value) == 10:
            return state.day_start_ms(dt.date.fromisoformat(value))
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RequestInvalid(detail="from is 'now', YYYY-MM-DD or an ISO date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=state.TZ)
    return int(when.timestamp() * 1000)


def set_rate(conn: Connection, *, ask_bp: int, bid_bp: int, from_ms: int, now_ms: int,
             replace_same_moment: bool = False) -> dict[str, object]:
    """A new rate from `from_ms`; refused for a moment already past (a rate never applies backwards).

    `replace_same_moment`: PATCH /config sets a rate "from now"; two such calls within one millisecond
    replace the first (nothing can have been booked under it in between: both run under the write lock)."""
    rates = ExchangeRates(ask_bp=ask_bp, bid_bp=bid_bp)  # RateError (422) when bid > ask
    if from_ms < now_ms:
        raise StateRefused(detail="a rate applies from now or later, never to what is already booked")
    prior = conn.execute(select(s.rates).where(s.rates.c.from_ms == from_ms)).first()
    if prior is not None and replace_same_moment and from_ms == now_ms:
        conn.execute(s.rates.update().where(s.rates.c.from_ms == from_ms).values(ask_bp=ask_bp, bid_bp=bid_bp))
    elif prior is not None:
        if (prior.ask_bp, prior.bid_bp) != (ask_bp, bid_bp):
            raise StateRefused(detail="another rate is already set from that moment")
    else:
        conn.execute(s.rates.insert().values(from_ms=from_ms, ask_bp=rates.ask_bp, bid_bp=rates.bid_bp,
                                             set_ms=now_ms))
    state.bump_version(conn)  # tills get the rate in the snapshot
    return {"from_ms": from_ms, "ask_bp": ask_bp, "bid_bp": bid_bp}


def history(conn: Connection, now_ms: int) -> dict[str, object]:
    rows = conn.execute(select(s.rates).order_by(s.rates.c.from_ms).limit(MAX_HISTORY_ROWS)).all()
    current = rate_in_force(conn, now_ms)
    return {"in_force": {"ask_bp": current.ask_bp, "bid_bp": current.bid_bp},
            "history": [{"from_ms": r.from_ms, "from": _local(r.from_ms), "ask_bp": r.ask_bp, "bid_bp": r.bid_bp,
                         "set_ms": r.set_ms, "future": r.from_ms > now_ms} for r in rows]}


def _local(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, state.TZ).isoformat(timespec="minutes")
