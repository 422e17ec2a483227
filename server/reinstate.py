"""Cards blocked for offline overspend come back by themselves when the cooperative's rule says so.

Ingest blocks a card whose spend took its wallet or a budget more than
`overspend_block_cents` below zero (server/ingest.py). Before this module
such a card stayed blocked after a top-up or a later upload brought it back,
and nothing told the desk. Now:

- the desk sees every card blocked for overspend with its balance and, when
  the rule applies, since when it has been back at >= 0 and when it will be
  reinstated (`overspend_cards`, GET /v1/admin/reports/overspend,
  `floreyn-provision report overspend`); `floreyn-provision card unblock`
  lifts a block at once (an audited admin write);
- `review` reinstates a card whose member's wallet and live budgets have all
  stayed >= 0 for `reinstate_after_s` (a setting, default 24 h; 0 = only the
  desk reinstates). The every-minute housekeeping job runs it
  (server/housekeeping.py), so it acts within a minute or two of being due; each reinstatement is an alert
  (kind card_reinstated) the cooperative can read back.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Connection, select, update

from floreyn.server import ledger, snapshots, state
from floreyn.server import schema as s
from floreyn.server.rows import TableRow

OVERSPEND: Final = "overspend"  # cards.blocked_reason ingest writes
MAX_REVIEW: Final = 5_000  # cards looked at per call; more wait for the next housekeeping run


def _accounts(conn: Connection, member_id: str, now_ms: int) -> list[str]:
    today = state.local_date(now_ms).isoformat()
    budgets = snapshots.member_budgets(conn, [member_id], today)[member_id]
    return [ledger.member_acct(member_id)] + [ledger.budget_acct(b.budget_id) for b in budgets]


def lowest_balance(conn: Connection, member_id: str, now_ms: int) -> int:
    """The lowest balance among the member's wallet and live budgets: the rule's figure."""
    return min(ledger.balances(conn, _accounts(conn, member_id, now_ms)).values())


def reinstate_due(nonneg_since_ms: int | None, now_ms: int, after_s: int) -> bool:
    """Pure rule: back at >= 0 for long enough, and the rule switched on."""
    return after_s > 0 and nonneg_since_ms is not None and now_ms - nonneg_since_ms >= after_s * 1000


def _blocked_for_overspend(conn: Connection) -> list[TableRow]:
    return list(conn.execute(select(s.cards).where(s.cards.c.status == "blocked",
                                                   s.cards.c.blocked_reason == OVERSPEND)
                             .order_by(s.cards.c.card_id).limit(MAX_REVIEW)))


def review(conn: Connection, now_ms: int) -> list[str]:
    """Note when blocked cards came back to >= 0 and reinstate those due; the cards reinstated."""
    after_s = state.get_settings(conn).reinstate_after_s
    done: list[str] = []
    for card in _blocked_for_overspend(conn):
        lowest = lowest_balance(conn, card.member_id, now_ms)
        since = (card.nonneg_since_ms if card.nonneg_since_ms is not None else now_ms) if lowest >= 0 else None
        if reinstate_due(since, now_ms, after_s):
            version = state.bump_version(conn)
            conn.execute(update(s.cards).where(s.cards.c.card_id == card.card_id).values(
                status="active", blocked_reason=None, flagged_ms=None, nonneg_since_ms=None,
                changed_version=version))
            state.alert(conn, "card_reinstated", now_ms, card_id=card.card_id, rule_after_s=after_s,
                        nonneg_since_ms=since, lowest_balance_cents=lowest)
            done.append(card.card_id)
        elif since != card.nonneg_since_ms:
            conn.execute(update(s.cards).where(s.cards.c.card_id == card.card_id).values(nonneg_since_ms=since))
    return done


def overspend_cards(conn: Connection) -> list[dict[str, object]]:
    """Every card blocked for overspend, for the desk: balance, since when >= 0, when it comes back."""
    after_s = state.get_settings(conn).reinstate_after_s
    out = []
    for card in _blocked_for_overspend(conn):
        wallet = ledger.balance(conn, ledger.member_acct(card.member_id)).cents
        since = card.nonneg_since_ms
        out.append({"card_id": card.card_id, "member_id": card.member_id, "balance_cents": wallet,
                    "flagged_ms": card.flagged_ms, "nonneg_since_ms": since,
                    "reinstate_at_ms": since + after_s * 1000 if since is not None and after_s > 0 else None})
    return out
