"""How Floreyn moved, per calendar month: the cooperative's evidence that the neighbourhood economy works.

Per month (Amersfoort), from the postings booked in it:

    issued           Floreyn created: top-ups, and Floreyn merchants bought at settlement (coop:issued credits)
    spent            paid at merchants and self-employed: till spends and payments into merchant:* accounts
                     from members and budgets
    respent          paid onward by merchants to other merchants, self-employed or members (not savings
                     rewards, refunds or corrections: those are not a merchant spending what it earned)
    cashed_out       Floreyn handed back for euros (desk cash-outs, settlement): coop:issued debits
    stock            Floreyn in circulation at the start and the end of the month; average = their mean
    velocity         (spent + respent) / average stock; 0 when there was no stock
    twice_share      of the Floreyn cashed out in the month, the share the cashing merchant had received from
                     another merchant (a second hand at least) in that month: per merchant
                     min(cashed out, received from merchants), summed, over all cashed out. A lower bound:
                     a member paying a member first is not counted as a hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import aliased

from floreyn.server import ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import RequestInvalid

MAX_MONTHS: Final = 36  # one report covers at most three years, one row a month
NOT_RESPENDING: Final = ("save", "refund", "void", "reversal", "settle", "cashout", "dispute", "expiry")


def _month_starts(first: str, last: str) -> list[dt.date]:
    try:
        start, end = dt.date.fromisoformat(first + "-01"), dt.date.fromisoformat(last + "-01")
    except ValueError:
        raise RequestInvalid(detail="months are YYYY-MM") from None
    if end < start:
        raise RequestInvalid(detail="the last month is before the first")
    out = [start]
    while out[-1] < end:
        d = out[-1]
        out.append(dt.date(d.year + d.month // 12, d.month % 12 + 1, 1))
        if len(out) > MAX_MONTHS:
            raise RequestInvalid(detail=f"at most {MAX_MONTHS} months in one report")
    return out


def _issued_before(conn: Connection, ms: int) -> int:
    return -int(conn.execute(select(func.coalesce(func.sum(s.postings.c.amount_cents), 0)).where(
        s.postings.c.account == ledger.ISSUED, s.postings.c.created_ms < ms)).scalar_one())


def _issued_moves(conn: Connection, start: int, end: int) -> tuple[int, int]:
    p = s.postings.c
    rows = conn.execute(select(func.coalesce(func.sum(p.amount_cents), 0)).where(
        p.account == ledger.ISSUED, p.created_ms >= start, p.created_ms < end, p.amount_cents < 0)).scalar_one()
    back = conn.execute(select(func.coalesce(func.sum(p.amount_cents), 0)).where(
        p.account == ledger.ISSUED, p.created_ms >= start, p.created_ms < end, p.amount_cents > 0)).scalar_one()
    return -int(rows), int(back)


def _flows(conn: Connection, start: int, end: int) -> tuple[int, int, dict[str, int]]:
    """(spent at merchants, respent by merchants, received from other merchants per merchant)."""
    into, out_ = aliased(s.postings), aliased(s.postings)
    pair = select(into.c.account, out_.c.account, into.c.amount_cents, out_.c.amount_cents, into.c.kind).select_from(
        into.join(out_, and_(out_.c.tx_id == into.c.tx_id, out_.c.amount_cents < 0, out_.c.currency == "fl",
                             out_.c.account != into.c.account))
    ).where(into.c.created_ms >= start, into.c.created_ms < end, into.c.amount_cents > 0, into.c.currency == "fl",
            into.c.kind.not_in(NOT_RESPENDING))
    spent = respent = 0
    from_merchants: dict[str, int] = {}
    for to_acct, from_acct, in_cents, out_cents, _kind in conn.execute(pair):
        to_kind, from_kind = to_acct.split(":", 1)[0], from_acct.split(":", 1)[0]
        amount = min(int(in_cents), -int(out_cents))  # a two-leg payment: both sides are the same amount
        if from_kind == "merchant" and to_kind in ("merchant", "member"):
            respent += amount
            if to_kind == "merchant":
                from_merchants[to_acct] = from_merchants.get(to_acct, 0) + amount
        elif to_kind == "merchant" and from_kind in ("member", "budget", "card"):
            spent += amount
    return spent, respent, from_merchants


def _cashed_out_by_merchant(conn: Connection, start: int, end: int) -> dict[str, int]:
    p = s.postings.c
    rows = conn.execute(select(p.account, func.sum(p.amount_cents)).where(
        p.account.like("merchant:%"), p.kind.in_(("cashout", "settle")), p.amount_cents < 0,
        p.created_ms >= start, p.created_ms < end).group_by(p.account))
    return {a: -int(v) for a, v in rows}


def month(conn: Connection, first_day: dt.date) -> dict[str, object]:
    nxt = dt.date(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)
    start, end = state.day_start_ms(first_day), state.day_start_ms(nxt)
    issued, cashed = _issued_moves(conn, start, end)
    spent, respent, from_merchants = _flows(conn, start, end)
    stock_start, stock_end = _issued_before(conn, start), _issued_before(conn, end)
    average = (stock_start + stock_end) // 2
    by_merchant = _cashed_out_by_merchant(conn, start, end)
    cashed_by_merchants = sum(by_merchant.values())
    twice = sum(min(c, from_merchants.get(a, 0)) for a, c in by_merchant.items())
    return {"month": first_day.isoformat()[:7], "issued_cents": issued, "spent_cents": spent,
            "respent_cents": respent, "cashed_out_cents": cashed, "stock_start_cents": stock_start,
            "stock_end_cents": stock_end, "stock_average_cents": average,
            "velocity": round((spent + respent) / average, 3) if average > 0 else 0.0,
            "twice_share": round(twice / cashed_by_merchants, 3) if cashed_by_merchants else 0.0,
            "twice_cents": twice}


def report(conn: Connection, first: str, last: str) -> dict[str, object]:
    months = [month(conn, m) for m in _month_starts(first, last)]
    return {"from": first, "to": last, "months": months,
            "note": "velocity = (spent + respent) / average stock; twice_share: of the fl merchants cashed out, "
                    "the share they had received from another merchant that month (a lower bound)"}
