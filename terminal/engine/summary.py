"""The member summary and the offline state of a card, from the snapshot or live from the server."""

from __future__ import annotations

from dataclasses import dataclass

from floreyn.card import Card
from floreyn.money import Money
from floreyn.sync.snapshot import BudgetInfo, CardInfo, OfflineLimits, Snapshot
from floreyn.terminal.engine.context import TillContext
from floreyn.terminal.engine.model import BudgetView, CardSession, MemberSummary
from floreyn.terminal.engine.online import LiveCard
from floreyn.terminal.engine.policy import Capacity, Headroom, OfflineUsage, offline_capacity, offline_headroom
from floreyn.terminal.engine import trail
from floreyn.terminal.engine.pricing import budget_usable
from floreyn.terminal.engine.trail import TapTrail
from floreyn.terminal.store import StoreView

UNKNOWN_ALIAS = "Onbekende pas"


@dataclass(frozen=True, slots=True)
class OfflineState:
    capacity: Capacity
    budget_left: dict[str, int]  # budget_id -> what this terminal may still draw offline
    headroom: Headroom
    local_cents: int = 0  # this till's offline spend on the card since its snapshot (own and budgets)


def offline_state(view: StoreView, snap: Snapshot | None, card_hex: str, info: CardInfo | None,
                  age_s: float | None, tap: TapTrail | None) -> OfflineState:
    """Read inside a store transaction, so the commit re-check sees exactly what it writes over.

    `tap`: the card's trail as read at this tap (terminal/engine/trail.py lowers the figures by
    what other tills spent; None or an unwritable card: no offline spend)."""
    snap_base = view.snapshot_base_seq()
    spent, taps, own_spent = view.card_usage(card_hex, snap_base)
    usage = OfflineUsage(spent, taps, own_spent)
    limits = snap.limits if snap is not None else OfflineLimits()
    cap = offline_capacity(limits, known=info is not None,
                           allowance_cents=info.offline_allowance_cents if info else 0, usage=usage,
                           snapshot_age_s=age_s if snap is not None else None)
    budgets = info.budgets if info else ()
    drawn = view.budgets_spent([b.budget_id for b in budgets], snap_base)
    left = {b.budget_id: max(0, b.remaining_cents - drawn[b.budget_id]) for b in budgets}
    local = view.offline_spent_gross(card_hex, snap_base)  # what this till itself wrote on the card's trail
    cap, left = trail.adjust(cap, left, tap=tap, info=info, limits=limits, local_cents=local)
    return OfflineState(cap, left, offline_headroom(limits, usage), local)


def summarize(ctx: TillContext, card: Card, info: CardInfo | None, live: LiveCard | None,
              state: OfflineState | None) -> CardSession:
    """What the shopkeeper sees of a card: from the server's live answer, else from the snapshot and the
    card's offline state (`state`, read by the engine in a store transaction; None when live)."""
    alias = (live.alias if live and live.alias else None) or (info.alias if info else UNKNOWN_ALIAS)

    def views(budgets: tuple[BudgetInfo, ...], left: dict[str, int] | None) -> tuple[BudgetView, ...]:
        out = []
        for b in budgets:
            why = budget_usable(b, ctx.merchant, ctx.today)
            remaining = b.remaining_cents if left is None else left.get(b.budget_id, 0)
            out.append(BudgetView(b.budget_id, b.label, Money.fl(remaining), b.expires_on, why is None, why))
        return tuple(out)

    if live is not None:
        budgets = live.budgets or (info.budgets if info else ())
        summary = MemberSummary(card.card_hex, card.masked, alias, True, True, Money.fl(live.balance_cents),
                                views(budgets, None), ctx.age_s)
        return CardSession(card, summary, info, live.balance_cents, budgets)
    assert state is not None, "an offline summary needs the card's offline state"
    cap, room = state.capacity, state.headroom
    reason = None
    if cap.total_cents == 0 and cap.total_reason is not None:
        reason = cap.total_reason
    elif cap.own_cents == 0 and cap.own_reason is not None and info is not None:
        reason = cap.own_reason
    budgets = info.budgets if info else ()
    shown = views(budgets, state.budget_left)  # what is left; `spendable` applies the per-payment cap
    summary = MemberSummary(card.card_hex, card.masked, alias, info is not None, False, Money.fl(cap.own_cents),
                            shown, ctx.age_s, offline_reason=reason, spend_cap_cents=cap.total_cents,
                            offline_taps_left=room.taps_left, offline_left_cents=room.cumulative_left_cents,
                            near_offline_limits=room.near, balance_cents=info.balance_cents if info else None)
    return CardSession(card, summary, info, None, budgets)
