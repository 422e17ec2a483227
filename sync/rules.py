"""The cooperative's rules that the till applies and the server re-checks: one definition for both.

The till (floreyn.terminal.engine.pricing and quoting) decides with these
functions before it signs a record; the server (floreyn.server.rules)
re-checks every uploaded record with the same functions, so the two cannot
drift. Conversions themselves live in floreyn.money (save_reward,
ExchangeRates.topup_fl_for_eur): they round in the cooperative's favour.

All pure functions over plain values.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from floreyn.categories import covers
from floreyn.money import BP_ONE, ExchangeRates, Money, save_reward
from floreyn.sync.snapshot import Campaign


def iso_date(iso: str) -> dt.date:
    """A stored ISO date; an unreadable one counts as long past (the safe side for expiry and campaigns)."""
    try:
        return dt.date.fromisoformat(iso)
    except ValueError:
        return dt.date.min


def budget_pays_at(categories: Iterable[str], merchant_categories: Iterable[str]) -> bool:
    """A labeled budget pays only at merchants of its categories (a parent covers its sub-categories);
    no categories means anywhere (floreyn/categories.py)."""
    return covers(categories, merchant_categories)


def group_budget_room(available_cents: int, spent_since_snapshot_cents: int, member_cap_left_cents: int | None,
                      confirm_above_cents: int | None) -> int:
    """What one payment may take from a group budget at a till without a second card: its balance, at most
    the member's cap left this month (less what this till spent from the budget since the snapshot: the safe
    side, it may be another member's), and at most the amount above which a second member must confirm
    (server/budget_rules.py checks the same online and for the payments API)."""
    room = available_cents
    if member_cap_left_cents is not None:
        room = min(room, member_cap_left_cents - spent_since_snapshot_cents)
    if confirm_above_cents is not None:
        room = min(room, confirm_above_cents)
    return max(0, room)


def budget_live_on(expires_on: str, day: dt.date) -> bool:
    """A budget pays up to and including its expiry day."""
    return day <= iso_date(expires_on)


def best_campaign(campaigns: Iterable[Campaign], merchant_id: str, day: dt.date) -> tuple[int, str]:
    """The highest campaign factor active at this merchant on `day` (campaigns do not stack), and its name."""
    best, name = BP_ONE, ""
    for c in campaigns:
        if c.merchant_ids and merchant_id not in c.merchant_ids:
            continue
        if c.pot_left_cents is not None and c.pot_left_cents <= 0:
            continue  # a dry pot: the till stops offering its extra (server/campaign_pots.py)
        if iso_date(c.starts_on) <= day <= iso_date(c.ends_on) and c.multiplier_bp > best:
            best, name = c.multiplier_bp, c.name
    return best, name


def pot_payout(campaigns: Iterable[Campaign], merchant_id: str, day: dt.date, *, save: bool, fl_cents: int,
               eur_cents: int, save_rate_bp: int) -> tuple[Campaign | None, int]:
    """What a joint campaign's pot pays for one record, as the server books it (server/campaign_pots.py):
    the first pot by campaign id that is active at this merchant on `day` and has Floreyn left pays a save's
    extra above the merchant's own rate (to the merchant), or a spend's redeeming bonus (to the payer);
    never more than the pot holds. (campaign, cents), or (None, 0) when no pot pays."""
    for c in sorted(campaigns, key=lambda c: c.campaign_id):
        if c.pot_left_cents is None or c.pot_left_cents <= 0:
            continue
        if (c.merchant_ids and merchant_id not in c.merchant_ids) or not (
                iso_date(c.starts_on) <= day <= iso_date(c.ends_on)):
            continue
        if save:
            want = max(0, fl_cents - save_reward(Money.eur(eur_cents), save_rate_bp).cents)
        elif c.redeem_bonus_bp:
            want = fl_cents * c.redeem_bonus_bp // BP_ONE
        else:
            continue
        return c, min(want, c.pot_left_cents)
    return None, 0


def max_save_reward_cents(eur_cents: int, rate_bp: int, multiplier_bp: int) -> int:
    """The most Floreyn a save on `eur_cents` may bring: the merchant's rate x the campaign factor."""
    return save_reward(Money.eur(eur_cents), rate_bp, multiplier_bp).cents


def topup_fl_cents(eur_cents: int, rates: ExchangeRates) -> int:
    """The Floreyn a till gives for euros taken: the ask-rate conversion, rounded down."""
    return rates.topup_fl_for_eur(Money.eur(eur_cents)).cents
