"""Which source pays, and how much a save or top-up brings: pure functions over integer cents.

Budgets: a labeled budget pays only at merchants of its categories (a
budget without categories pays anywhere, as on the server) and up to and
including its expiry day. Without a choice, usable budgets pay first,
soonest expiry first (ties by budget id, so the order is stable), then the
member's own balance. A chosen source pays first, then the own balance.

One record names at most one budget, so a spend that several sources pay
is split into one record per source, committed together as one transaction
(one receipt, one void). Any euro remainder (mixed payment) rides on the
last record, with its tender.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from floreyn.errors import FloreynError
from floreyn.sync import rules
from floreyn.sync.snapshot import BudgetInfo, Campaign, MerchantConfig
from floreyn.terminal.engine.errors import BudgetExpired, BudgetNotUsableHere, BudgetUnknown

OWN = "own"  # the source name of the member's own balance


@dataclass(frozen=True, slots=True)
class Source:
    budget_id: str | None  # None: own balance
    label: str
    available_cents: int
    expires_on: str = ""


def _category_ok(budget: BudgetInfo, merchant: MerchantConfig) -> bool:
    # One definition with the server's re-check (floreyn.sync.rules): a parent category covers its subs.
    return rules.budget_pays_at(budget.categories, merchant.all_categories())


def budget_usable(budget: BudgetInfo, merchant: MerchantConfig, today: dt.date) -> FloreynError | None:
    """None when the budget may pay here today, else why not: typed, so the app words it in its language."""
    if not _category_ok(budget, merchant):
        return BudgetNotUsableHere(label=budget.label, category=merchant.category,
                                   for_categories=",".join(budget.categories))
    if not rules.budget_live_on(budget.expires_on, today):
        return BudgetExpired(label=budget.label, expires_on=budget.expires_on)
    return None


def check_chosen_budget(budget_id: str, budgets: tuple[BudgetInfo, ...], merchant: MerchantConfig,
                        today: dt.date) -> BudgetInfo:
    for b in budgets:
        if b.budget_id == budget_id:
            if not _category_ok(b, merchant):
                raise BudgetNotUsableHere(label=b.label, category=merchant.category,
                                          for_categories=",".join(b.categories))
            if not rules.budget_live_on(b.expires_on, today):
                raise BudgetExpired(label=b.label, expires_on=b.expires_on)
            return b
    raise BudgetUnknown()


def order_sources(budgets: list[Source], own: Source, choice: str | None) -> list[Source]:
    by_expiry = sorted(budgets, key=lambda s: (s.expires_on, s.budget_id or ""))
    if choice is None:
        return [*by_expiry, own]
    if choice == OWN:
        return [own]
    chosen = [s for s in budgets if s.budget_id == choice]
    assert len(chosen) == 1, "check_chosen_budget runs first"
    return [chosen[0], own]


def allocate(amount_cents: int, sources: list[Source]) -> list[tuple[Source, int]]:
    """Take from sources in order until the amount is paid; returns only non-zero takes."""
    assert amount_cents > 0
    left, parts = amount_cents, []
    for src in sources:
        take = min(left, max(0, src.available_cents))
        if take:
            parts.append((src, take))
            left -= take
        if left == 0:
            break
    assert sum(t for _, t in parts) <= amount_cents
    return parts


def active_multiplier(campaigns: tuple[Campaign, ...], merchant_id: str, today: dt.date) -> tuple[int, str]:
    """The highest active campaign factor here today (campaigns do not stack), and its name."""
    return rules.best_campaign(campaigns, merchant_id, today)
