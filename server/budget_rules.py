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
from typing import Final, Iterable, Sequence

from sqlalchemy import Connection, Select, func, select, union_all, update

from floreyn.server import bulk, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid, StateRefused
from floreyn.server.rows import TableRow

APPROVAL_TTL_S: Final = 24 * 3600  # an approval not used within a day lapses
SPEND_KINDS: Final = ("spend", "refund", "void", "reversal")
SPENT_CHUNK: Final = 200  # accounts, and members, per statement of `members_spent`: each list is bound twice,
# so at most 4 x 200 parameters and the kinds (bulk.IN_LIST_CHUNK's reasons)


def month_start_ms(now_ms: int) -> int:
    today = state.local_date(now_ms)
    return state.day_start_ms(dt.date(today.year, today.month, 1))


def member_spent(conn: Connection, budget_id: str, member_id: str, now_ms: int) -> int:
    """What `member_id` spent from the budget this month (net of refunds and voids), plus its active holds."""
    return members_spent(conn, [(budget_id, member_id)], now_ms)[(budget_id, member_id)]


def members_spent(conn: Connection, pairs: Iterable[tuple[str, str]], now_ms: int) -> dict[tuple[str, str], int]:
    """`member_spent` of every (budget, member) pair, 0 for a pair without any: one statement (per SPENT_CHUNK
    of budgets and of members) whatever the number of pairs. A snapshot of 100 cards that share capped group budgets asked
    three queries per budget of each card before (issue 19). A member's spends are those made with any of
    their cards (transactions.card_id), so a blocked or replaced card still counts."""
    wanted = sorted(set(pairs))
    out = dict.fromkeys(wanted, 0)
    budget_of = {ledger.budget_acct(b): b for b, _ in wanted}
    members = sorted({m for _, m in wanted})
    for accounts in bulk.chunks(sorted(budget_of), SPENT_CHUNK):
        for chunk in bulk.chunks(members, SPENT_CHUNK):
            for account, member_id, cents in conn.execute(_spent_sql(accounts, chunk, now_ms)):
                if (budget_of[account], member_id) in out:  # else a member asked about with another budget
                    out[(budget_of[account], member_id)] = int(cents)
    return out


def _spent_sql(accounts: Sequence[str], members: Sequence[str], now_ms: int) -> Select[tuple[str, str, int]]:
    """(budget account, member, spent this month net of refunds + active holds) of the members' cards."""
    p, t, c, h = s.postings, s.transactions, s.cards, s.holds
    posted = (select(p.c.account.label("account"), c.c.member_id.label("member_id"),
                     (-p.c.amount_cents).label("cents"))
              .select_from(p.join(t, t.c.tx_id == p.c.tx_id).join(c, c.c.card_id == t.c.card_id))
              .where(p.c.account.in_(accounts), p.c.created_ms >= month_start_ms(now_ms), p.c.kind.in_(SPEND_KINDS),
                     c.c.member_id.in_(members)))
    held = (select(h.c.account, c.c.member_id, h.c.amount_cents)
            .select_from(h.join(c, c.c.card_id == h.c.card_id))
            .where(h.c.account.in_(accounts), h.c.status == "active", c.c.member_id.in_(members)))
    both = union_all(posted, held).subquery()
    return (select(both.c.account, both.c.member_id, func.sum(both.c.cents))
            .group_by(both.c.account, both.c.member_id))


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


def member_cap_left(owner_group_id: str | None, member_cap_cents: int | None, spent_cents: int) -> int | None:
    """For the snapshot and the card summary: what the member may still spend from a budget this month, given
    what they spent from it (`members_spent`); None when it has no such cap (not a group budget, or none set)."""
    if not has_member_cap(owner_group_id, member_cap_cents):
        return None
    assert member_cap_cents is not None
    return max(0, member_cap_cents - spent_cents)


def has_member_cap(owner_group_id: str | None, member_cap_cents: int | None) -> bool:
    """Whether a budget caps each member per month: a group budget with a cap (what it was granted with)."""
    return owner_group_id is not None and member_cap_cents is not None


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
