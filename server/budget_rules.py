"""The funder's rules for a group (block) budget, checked wherever it pays: till authorizations, and the
payments API (portal) through `check_spend`.

    member cap      one member spends at most member_cap_cents from the budget per calendar month
                    (Amersfoort), counting spends minus refunds, and what is held for it right now
    confirmation    a spend above confirm_above_cents needs a second member of the group: at the till a
                    second card (of another member) tapped; elsewhere an approval given beforehand
                    (POST /v1/admin/budgets/{id}/approvals), used once, valid APPROVAL_TTL_S

A member's own budget has no caps beyond its balance; the rules apply to
group budgets. Offline, the till enforces the same rules on the figures in
its snapshot (BudgetInfo.member_cap_left_cents, confirm_above_cents).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final

from sqlalchemy import Connection, func, select, update

from floreyn.server import ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid, StateRefused
from floreyn.server.rows import TableRow

APPROVAL_TTL_S: Final = 24 * 3600  # an approval not used within a day lapses
SPEND_KINDS: Final = ("spend", "refund", "void", "reversal")


def month_start_ms(now_ms: int) -> int:
    today = state.local_date(now_ms)
    return state.day_start_ms(dt.date(today.year, today.month, 1))


def _cards_of(conn: Connection, member_id: str) -> list[str]:
    return list(conn.execute(select(s.cards.c.card_id).where(s.cards.c.member_id == member_id)).scalars())


def member_spent(conn: Connection, budget_id: str, member_id: str, now_ms: int) -> int:
    """What `member_id` spent from the budget this month (net of refunds and voids), plus its active holds."""
    cards = _cards_of(conn, member_id)
    if not cards:
        return 0
    acct = ledger.budget_acct(budget_id)
    posted = conn.execute(
        select(func.coalesce(func.sum(s.postings.c.amount_cents), 0))
        .select_from(s.postings.join(s.transactions, s.transactions.c.tx_id == s.postings.c.tx_id))
        .where(s.postings.c.account == acct, s.postings.c.created_ms >= month_start_ms(now_ms),
               s.postings.c.kind.in_(SPEND_KINDS), s.transactions.c.card_id.in_(cards))).scalar_one()
    held = conn.execute(select(func.coalesce(func.sum(s.holds.c.amount_cents), 0)).where(
        s.holds.c.account == acct, s.holds.c.status == "active", s.holds.c.card_id.in_(cards))).scalar_one()
    return int(-posted) + int(held)


def _group_members(conn: Connection, group_id: str) -> set[str]:
    return set(conn.execute(select(s.group_members.c.member_id)
                            .where(s.group_members.c.group_id == group_id)).scalars())


def check_spend(conn: Connection, budget: TableRow, member_id: str, amount_cents: int, now_ms: int, *,
                confirmer_member_id: str | None = None) -> str | None:
    """None when the rules let `member_id` spend `amount_cents` from `budget` now, else the refusal reason:
    budget_member_cap | budget_needs_confirmation | budget_confirmer_invalid."""
    if budget.owner_group_id is None:
        return None
    if budget.member_cap_cents is not None:
        if member_spent(conn, budget.budget_id, member_id, now_ms) + amount_cents > budget.member_cap_cents:
            return "budget_member_cap"
    if budget.confirm_above_cents is not None and amount_cents > budget.confirm_above_cents:
        if confirmer_member_id is None:
            return None if _approval(conn, budget.budget_id, member_id, amount_cents, now_ms) else \
                "budget_needs_confirmation"
        members = _group_members(conn, budget.owner_group_id)
        if confirmer_member_id == member_id or confirmer_member_id not in members:
            return "budget_confirmer_invalid"
    return None


def member_cap_left(conn: Connection, budget: TableRow, member_id: str, now_ms: int) -> int | None:
    """For the snapshot: what the member may still spend from a group budget this month (None: no cap)."""
    if budget.owner_group_id is None or budget.member_cap_cents is None:
        return None
    return max(0, budget.member_cap_cents - member_spent(conn, budget.budget_id, member_id, now_ms))


# -- approvals (the second member's confirmation outside a till) ---------------------


def _approval(conn: Connection, budget_id: str, member_id: str, amount_cents: int, now_ms: int) -> str | None:
    return conn.execute(select(s.budget_approvals.c.approval_id).where(
        s.budget_approvals.c.budget_id == budget_id, s.budget_approvals.c.member_id == member_id,
        s.budget_approvals.c.amount_cents >= amount_cents, s.budget_approvals.c.used_ms.is_(None),
        s.budget_approvals.c.expires_ms > now_ms).order_by(s.budget_approvals.c.amount_cents).limit(1)).scalar()


def use_approval(conn: Connection, budget_id: str, member_id: str, amount_cents: int, now_ms: int) -> str | None:
    """Mark the approval that covers this spend used (the caller posts the spend in the same transaction)."""
    approval_id = _approval(conn, budget_id, member_id, amount_cents, now_ms)
    if approval_id is not None:
        conn.execute(update(s.budget_approvals).where(s.budget_approvals.c.approval_id == approval_id)
                     .values(used_ms=now_ms))
    return approval_id


def approve(conn: Connection, *, budget_id: str, member_id: str, approver_member_id: str, amount_cents: int,
            now: int) -> dict[str, object]:
    """A second member of the group confirms one spend of up to `amount_cents` by `member_id`."""
    b = conn.execute(select(s.budgets).where(s.budgets.c.budget_id == budget_id)).first()
    if b is None:
        raise NotFound(what="budget", id=budget_id)
    if b.owner_group_id is None or b.status != "active":
        raise StateRefused(detail="only an active group budget takes approvals")
    members = _group_members(conn, b.owner_group_id)
    if member_id not in members or approver_member_id not in members:
        raise StateRefused(detail="both members must belong to the budget's group")
    if member_id == approver_member_id:
        raise RequestInvalid(detail="a second member must confirm, not the spender")
    approval_id = str(uuid.uuid4())
    conn.execute(s.budget_approvals.insert().values(
        approval_id=approval_id, budget_id=budget_id, member_id=member_id, approver_member_id=approver_member_id,
        amount_cents=amount_cents, created_ms=now, expires_ms=now + APPROVAL_TTL_S * 1000))
    return {"approval_id": approval_id, "budget_id": budget_id, "member_id": member_id,
            "approver_member_id": approver_member_id, "amount_cents": amount_cents,
            "expires_ms": now + APPROVAL_TTL_S * 1000}
