"""What the portal's pages read: plain functions of a connection, returning plain values.

Each page reads a bounded amount: a statement is one month of one member's
accounts (at most MAX_STATEMENT_ROWS), a shop's sales one month, a funder's
report the postings of its own budgets. Funders see aggregates only: every
figure covers at least MIN_RECIPIENTS recipients (budget holders), a smaller
group is withheld, so no single member's purchases can be read off.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from sqlalchemy import Connection, Table, and_, func, select

from floreyn.server import ledger, payments, reports, snapshots, state
from floreyn.server import schema as s
from floreyn.server.rows import TableRow

MAX_STATEMENT_ROWS: Final = 2_000  # a month of one member's transactions; more is cut (and said so)
MIN_RECIPIENTS: Final = 5  # a funder sees no figure over fewer budget holders than this
MAX_ALERTS: Final = 50
MAX_CAMPAIGNS: Final = 100  # campaigns running in one month; more are not listed
SPENT_KINDS: Final = ("spend", "payment", "refund", "void", "reversal")


def month_bounds(month: str) -> tuple[int, int, dt.date]:
    """[start, end) in ms of a month "YYYY-MM" in Amersfoort; a bad month is the current one's caller's problem."""
    first = dt.date.fromisoformat(month + "-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return state.day_start_ms(first), state.day_start_ms(nxt), first


def this_month(now_ms: int) -> str:
    return state.local_date(now_ms).strftime("%Y-%m")


def valid_month(text: str | None, now_ms: int) -> str:
    if text and len(text) == 7:
        try:
            dt.date.fromisoformat(text + "-01")
            return text
        except ValueError:
            pass
    return this_month(now_ms)


def shift_month(month: str, delta: int) -> str:
    y, m = int(month[:4]), int(month[5:]) + delta
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return f"{y:04d}-{m:02d}"


class MonthLinks(TypedDict):
    prev: str
    next: str | None


def month_links(month: str, now_ms: int) -> MonthLinks:
    """A month page's `prev` and `next` (no next beyond the current month)."""
    return {"prev": shift_month(month, -1),
            "next": shift_month(month, 1) if month < this_month(now_ms) else None}


# -- members -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetLine:
    budget_id: str
    label: str
    categories: tuple[str, ...]
    left_cents: int
    expires_on: str
    funder: str


def member_overview(conn: Connection, member_id: str, now: int) -> dict[str, Any]:
    alias = conn.execute(select(s.members.c.alias).where(s.members.c.member_id == member_id)).scalar() or ""
    today = state.local_date(now).isoformat()
    budgets = snapshots.member_budgets(conn, [member_id], today)[member_id]
    keys = [ledger.member_acct(member_id)] + [ledger.budget_acct(b.budget_id) for b in budgets]
    balances = ledger.balances(conn, keys)
    funders = dict(conn.execute(select(s.funders.c.funder_id, s.funders.c.name)).tuples().all()) if budgets else {}
    lines = [BudgetLine(b.budget_id, b.label, tuple(json.loads(b.categories)),
                        balances[ledger.budget_acct(b.budget_id)], b.expires_on, funders.get(b.funder_id, ""))
             for b in sorted(budgets, key=lambda b: (b.expires_on, b.label))]
    cards = conn.execute(select(s.cards.c.card_id, s.cards.c.status).where(s.cards.c.member_id == member_id)
                         .order_by(s.cards.c.created_ms)).all()
    return {"alias": alias, "balance_cents": balances[ledger.member_acct(member_id)], "budgets": lines,
            "cards": [{"card_id": c.card_id, "status": c.status, "tail": c.card_id[-4:].upper()} for c in cards]}


def statement(conn: Connection, member_id: str, month: str) -> dict[str, Any]:
    """Every posting on the member's wallet and budgets in the month, with shop, budget and receipt number."""
    start, end, _ = month_bounds(month)
    budget_rows = list(conn.execute(select(s.budgets.c.budget_id, s.budgets.c.label).where(
        s.budgets.c.owner_member_id == member_id)).all())
    group_ids = list(conn.execute(select(s.group_members.c.group_id)
                                  .where(s.group_members.c.member_id == member_id)).scalars())
    if group_ids:
        budget_rows += list(conn.execute(select(s.budgets.c.budget_id, s.budgets.c.label).where(
            s.budgets.c.owner_group_id.in_(group_ids))).all())
    labels = {ledger.budget_acct(b.budget_id): b.label for b in budget_rows}
    accounts = [ledger.member_acct(member_id), *labels]
    p, t = s.postings, s.transactions
    rows = conn.execute(
        select(p.c.account, p.c.amount_cents, p.c.kind, p.c.created_ms, p.c.tx_id, t.c.terminal_id,
               t.c.record_seq, t.c.merchant_id, t.c.memo)
        .join(t, t.c.tx_id == p.c.tx_id)
        .where(p.c.account.in_(accounts), p.c.created_ms >= start, p.c.created_ms < end)
        .order_by(p.c.created_ms, p.c.id).limit(MAX_STATEMENT_ROWS + 1)).all()
    cut = len(rows) > MAX_STATEMENT_ROWS
    rows = rows[:MAX_STATEMENT_ROWS]
    merchants = _names(conn, s.merchants, "merchant_id", {r.merchant_id for r in rows if r.merchant_id})
    counterparts = _payment_counterparts(conn, [r.tx_id for r in rows if r.kind == "payment"], set(accounts))
    lines = []
    for r in rows:
        other = counterparts.get(r.tx_id) or merchants.get(r.merchant_id or "", "")
        lines.append({"ms": r.created_ms, "kind": r.kind, "amount_cents": r.amount_cents,
                      "budget": labels.get(r.account, ""), "other": other,
                      "receipt": f"{r.terminal_id} #{r.record_seq}" if r.terminal_id else "",
                      "memo": r.memo if r.kind == "payment" else ""})
    totals = {"in_cents": sum(x["amount_cents"] for x in lines if x["amount_cents"] > 0),
              "out_cents": -sum(x["amount_cents"] for x in lines if x["amount_cents"] < 0)}
    return {"month": month, "lines": lines, "cut": cut, **totals}


def _names(conn: Connection, table: Table, col: str, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    name = table.c.name if "name" in table.c else table.c.alias
    return dict(conn.execute(select(table.c[col], name).where(table.c[col].in_(sorted(ids)))).tuples().all())


def _payment_counterparts(conn: Connection, tx_ids: list[str], mine: set[str]) -> dict[str, str]:
    """For payments: the name of the other side (a member's alias or a merchant's name)."""
    out: dict[str, str] = {}
    if not tx_ids:
        return out
    for row in conn.execute(select(s.payments).where(s.payments.c.payment_id.in_(tx_ids[:MAX_STATEMENT_ROWS]))):
        other = row.to_account if row.from_account in mine else row.payer
        kind, _, ident = other.partition(":")
        if kind in payments.PARTY_KINDS:
            try:
                out[row.payment_id] = payments.party_name(conn, payments.Party(kind, ident))
            except Exception:  # noqa: BLE001 - a name is decoration; the amount is what matters
                out[row.payment_id] = ident
    return out


# -- shops and self-employed -------------------------------------------------------------------


def merchant_sales(conn: Connection, merchant_id: str, month: str) -> dict[str, Any]:
    """Per day and per till: Floreyn received (spends, payments in), refunds, savings granted."""
    start, end, _ = month_bounds(month)
    p, t = s.postings, s.transactions
    rows = conn.execute(
        select(p.c.amount_cents, p.c.kind, p.c.created_ms, t.c.terminal_id)
        .join(t, t.c.tx_id == p.c.tx_id)
        .where(p.c.account == ledger.merchant_acct(merchant_id), p.c.created_ms >= start, p.c.created_ms < end)
    ).all()
    days: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        key = (state.local_date(r.created_ms).isoformat(), r.terminal_id or "portal")
        days[key][r.kind] += r.amount_cents
        days[key]["count"] += 1
    lines = [{"day": d, "till": till, "received_cents": v.get("spend", 0) + max(v.get("payment", 0), 0),
              "refunded_cents": -v.get("refund", 0), "saved_cents": -v.get("save", 0), "count": v["count"],
              "net_cents": sum(c for k, c in v.items() if k != "count")}
             for (d, till), v in sorted(days.items())]
    closes = conn.execute(select(s.records.c.terminal_id, s.records.c.seq, s.records.c.received_ms)
                          .join(s.terminals, s.terminals.c.terminal_id == s.records.c.terminal_id)
                          .where(s.terminals.c.merchant_id == merchant_id, s.records.c.kind == 6,
                                 s.records.c.received_ms >= start, s.records.c.received_ms < end)
                          .order_by(s.records.c.received_ms)).all()
    payouts = conn.execute(select(s.transactions.c.tx_id, s.transactions.c.created_ms, s.transactions.c.memo,
                                  p.c.amount_cents)
                           .join(p, p.c.tx_id == s.transactions.c.tx_id)
                           .where(s.transactions.c.merchant_id == merchant_id, s.transactions.c.kind == "cashout",
                                  p.c.account == ledger.merchant_acct(merchant_id),
                                  s.transactions.c.created_ms >= start, s.transactions.c.created_ms < end)).all()
    first = state.local_date(start).isoformat()
    last = (state.local_date(end) - dt.timedelta(days=1)).isoformat()
    campaigns = [{"name": c.name, "multiplier_bp": c.multiplier_bp, "starts_on": c.starts_on, "ends_on": c.ends_on}
                 for c in conn.execute(select(s.campaigns).where(s.campaigns.c.starts_on <= last,
                                                                 s.campaigns.c.ends_on >= first)
                                       .order_by(s.campaigns.c.starts_on).limit(MAX_CAMPAIGNS))
                 if merchant_id in json.loads(c.merchant_ids) or not json.loads(c.merchant_ids)]
    return {"month": month, "lines": lines, "campaigns": campaigns,
            "z_reports": [{"till": c.terminal_id, "seq": c.seq, "ms": c.received_ms} for c in closes],
            "payouts": [{"ms": x.created_ms, "fl_cents": -x.amount_cents, "memo": x.memo} for x in payouts],
            "settlement": reports.settlement(conn, merchant_id, first, last),
            "balance_cents": ledger.balance(conn, ledger.merchant_acct(merchant_id)).cents,
            "total_received_cents": sum(x["received_cents"] for x in lines)}


# -- funders -----------------------------------------------------------------------------------


def funder_report(conn: Connection, funder_id: str) -> list[dict[str, Any]]:
    """Per programme (the funder's budgets with one label): granted, spent, left, expired-and-returned,
    and spent by category, by merchant and by month; every figure over >= MIN_RECIPIENTS holders."""
    budgets = conn.execute(select(s.budgets).where(s.budgets.c.funder_id == funder_id)).all()
    programmes: dict[str, list[TableRow]] = defaultdict(list)
    for b in budgets:
        programmes[b.label].append(b)
    return [_programme(conn, label, rows) for label, rows in sorted(programmes.items())]


def _holder(b: TableRow) -> str:
    return f"m:{b.owner_member_id}" if b.owner_member_id else f"g:{b.owner_group_id}"


def _programme(conn: Connection, label: str, budgets: list[TableRow]) -> dict[str, Any]:
    holder_of = {ledger.budget_acct(b.budget_id): _holder(b) for b in budgets}
    recipients = len(set(holder_of.values()))
    if recipients < MIN_RECIPIENTS:
        return {"label": label, "recipients": recipients, "shown": False}
    p, t, m = s.postings, s.transactions, s.merchants
    totals: dict[str, int] = defaultdict(int)
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    accounts = sorted(holder_of)
    for i in range(0, len(accounts), 500):
        rows = conn.execute(select(p.c.account, p.c.kind, p.c.amount_cents, p.c.created_ms, t.c.merchant_id,
                                   m.c.name, m.c.category)
                            .join(t, t.c.tx_id == p.c.tx_id).outerjoin(m, m.c.merchant_id == t.c.merchant_id)
                            .where(p.c.account.in_(accounts[i : i + 500]))).all()
        for r in rows:
            totals[r.kind] += r.amount_cents
            if r.kind not in SPENT_KINDS:
                continue
            for dim, value in (("category", r.category or "-"), ("merchant", r.name or "-"),
                               ("month", state.local_date(r.created_ms).strftime("%Y-%m"))):
                cell = cells.setdefault((dim, value), {"spent_cents": 0, "holders": set()})
                cell["spent_cents"] -= r.amount_cents
                cell["holders"].add(holder_of[r.account])
    left = sum(ledger.balances(conn, accounts).values())

    def breakdown(dim: str) -> dict[str, Any]:
        shown, withheld = [], 0
        for (d, value), cell in sorted(cells.items()):
            if d != dim:
                continue
            if len(cell["holders"]) >= MIN_RECIPIENTS:
                shown.append({"name": value, "spent_cents": cell["spent_cents"], "recipients": len(cell["holders"])})
            else:
                withheld += 1
        return {"rows": shown, "withheld": withheld}

    return {"label": label, "recipients": recipients, "shown": True, "budgets": len(budgets),
            "granted_cents": totals.get("grant", 0), "spent_cents": -sum(totals.get(k, 0) for k in SPENT_KINDS),
            "expired_cents": -totals.get("expiry", 0), "left_cents": left,
            "by_category": breakdown("category"), "by_merchant": breakdown("merchant"),
            "by_month": breakdown("month")}


# -- the treasurer -----------------------------------------------------------------------------


def treasurer(conn: Connection, now: int) -> dict[str, Any]:
    circ = reports.circulation(conn)
    by_holder = circ["fl_by_holder_cents"]
    alerts = conn.execute(select(s.alerts).order_by(s.alerts.c.id.desc()).limit(MAX_ALERTS)).all()
    tills = conn.execute(select(s.terminals.c.terminal_id, s.terminals.c.merchant_id, s.terminals.c.status,
                                s.terminals.c.last_seen_ms, s.terminals.c.head_seq,
                                s.terminals.c.reported_head_seq).order_by(s.terminals.c.terminal_id)).all()
    disputes = conn.execute(select(s.disputes).where(s.disputes.c.status == "open")
                            .order_by(s.disputes.c.created_ms.desc()).limit(MAX_ALERTS)).all()
    months = []
    month = this_month(now)
    for _ in range(6):
        start, end, _first = month_bounds(month)
        issued = conn.execute(select(func.coalesce(func.sum(s.postings.c.amount_cents), 0)).where(and_(
            s.postings.c.account == ledger.ISSUED, s.postings.c.created_ms < end))).scalar_one()
        months.append({"name": month, "circulation_cents": -int(issued)})
        month = shift_month(month, -1)
    return {
        "issued_cents": circ["fl_issued_cents"], "wallets_cents": by_holder.get("member", 0),
        "budgets_cents": by_holder.get("budget", 0), "merchants_cents": by_holder.get("merchant", 0),
        "funders_cents": by_holder.get("funder", 0), "reserve_eur_cents": circ["eur_reserve_cents"],
        "coverage_eur_cents": circ["eur_coverage_cents"], "bid_value_eur_cents": circ["eur_bid_value_of_held_cents"],
        "alerts": [{"ms": a.at_ms, "kind": a.kind, "terminal": a.terminal_id or "", "card": (a.card_id or "")[-4:]}
                   for a in alerts],
        "tills": [{"id": x.terminal_id, "merchant": x.merchant_id, "status": x.status, "last_seen_ms": x.last_seen_ms,
                   "behind": max(0, (x.reported_head_seq or x.head_seq) - x.head_seq)} for x in tills],
        "months": list(reversed(months)),
        "disputes": [{"ms": d.created_ms, "terminal": d.terminal_id, "rules": d.rules, "amount_cents": d.amount_cents}
                     for d in disputes],
    }
