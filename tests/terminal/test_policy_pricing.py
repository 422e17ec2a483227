"""The offline risk policy and source allocation as pure arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floreyn.sync.snapshot import BudgetInfo, Campaign, MerchantConfig, OfflineLimits
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine.policy import OfflineUsage, offline_capacity, offline_headroom
from floreyn.terminal.engine.pricing import (
    OWN, Source, active_multiplier, allocate, budget_usable, check_chosen_budget, order_sources,
)

LIMITS = OfflineLimits()  # fl 25 per tap, fl 50 cumulative, 5 taps, 24 h


def cap(**kw):
    args = dict(known=True, allowance_cents=10_000, usage=OfflineUsage(), snapshot_age_s=60.0)
    args.update(kw)
    return offline_capacity(LIMITS, **args)


def test_per_tap_limit_binds_first():
    c = cap()
    assert (c.total_cents, c.own_cents) == (2_500, 2_500) and isinstance(c.total_reason, E.OfflinePerTxLimit)


def test_cumulative_limit():
    c = cap(usage=OfflineUsage(spent_cents=4_000, taps=2))
    assert c.total_cents == 1_000 and isinstance(c.total_reason, E.OfflineCumulativeLimit)


def test_on_a_tie_the_per_tap_limit_names_the_cap():
    c = cap(usage=OfflineUsage(spent_cents=2_500, taps=1))  # fl 25 left of fl 50, fl 25 a tap
    assert c.total_cents == 2_500 and isinstance(c.total_reason, E.OfflinePerTxLimit)
    assert c.own_reason is c.total_reason  # the allowance (fl 100) does not cap


def test_count_limit():
    c = cap(usage=OfflineUsage(spent_cents=100, taps=5))
    assert c.total_cents == 0 and isinstance(c.total_reason, E.OfflineCountLimit)


def test_allowance_bounds_only_the_own_part():
    c = cap(allowance_cents=1_000, usage=OfflineUsage(own_spent_since_snapshot_cents=400))
    assert (c.total_cents, c.own_cents) == (2_500, 600) and isinstance(c.own_reason, E.OfflineAllowanceUsed)


@pytest.mark.parametrize("age", [None, 24 * 3600 + 1])
def test_stale_or_unknown_age(age):
    c = cap(snapshot_age_s=age)
    assert c.total_cents == 0 and isinstance(c.total_reason, E.SnapshotStale)


def test_unknown_card_gets_the_configured_allowance():
    assert isinstance(cap(known=False).total_reason, E.UnknownCardOffline)
    limits = OfflineLimits(unknown_card_allowance_cents=700)
    c = offline_capacity(limits, known=False, allowance_cents=0, usage=OfflineUsage(), snapshot_age_s=1.0)
    assert (c.total_cents, c.own_cents) == (2_500, 700)


@given(spent=st.integers(0, 10_000), taps=st.integers(0, 10), own=st.integers(0, 10_000),
       allowance=st.integers(0, 10_000), age=st.one_of(st.none(), st.floats(0, 200_000)))
def test_capacity_never_exceeds_any_limit(spent, taps, own, allowance, age):
    c = cap(usage=OfflineUsage(spent, taps, own), allowance_cents=allowance, snapshot_age_s=age)
    assert 0 <= c.own_cents <= c.total_cents <= LIMITS.per_tx_cents
    assert c.total_cents <= max(0, LIMITS.cumulative_cents - spent)
    assert c.own_cents <= max(0, allowance - own)
    if taps >= LIMITS.max_count or age is None or age > LIMITS.max_snapshot_age_s:
        assert c.total_cents == 0


@given(amount=st.integers(1, 100_000), avail=st.lists(st.integers(-5, 50_000), min_size=1, max_size=5))
def test_allocation_is_exact_and_in_order(amount, avail):
    sources = [Source(f"B{i}", "", a, f"2026-0{i + 1}-01") for i, a in enumerate(avail)]
    parts = allocate(amount, sources)
    paid = sum(t for _, t in parts)
    assert paid == min(amount, sum(max(0, a) for a in avail))
    assert all(0 < t <= s.available_cents for s, t in parts)
    names = [s.budget_id for s, _ in parts]
    assert names == sorted(names)  # never skips ahead of a source that still had money


def test_order_soonest_expiry_then_own_and_choices():
    b1, b2 = Source("B-late", "", 1, "2026-12-31"), Source("B-soon", "", 1, "2026-08-01")
    own = Source(None, "Eigen saldo", 1)
    assert [s.budget_id for s in order_sources([b1, b2], own, None)] == ["B-soon", "B-late", None]
    assert [s.budget_id for s in order_sources([b1, b2], own, OWN)] == [None]
    assert [s.budget_id for s in order_sources([b1, b2], own, "B-late")] == ["B-late", None]


def test_budget_rules():
    shop = MerchantConfig("M-x", "X", "winkel")
    today = dt.date(2026, 7, 25)
    ok = BudgetInfo("B1", "Budget", ("winkel",), "2026-07-25", 100)  # its last valid day
    assert budget_usable(ok, shop, today) is None
    expired = budget_usable(BudgetInfo("B2", "Oud", ("winkel",), "2026-07-24", 100), shop, today)
    assert isinstance(expired, E.BudgetExpired) and expired.params == {"label": "Oud", "expires_on": "2026-07-24"}
    elsewhere = budget_usable(BudgetInfo("B3", "Klus", ("klussen",), "2027-01-01", 1), shop, today)
    assert isinstance(elsewhere, E.BudgetNotUsableHere) and elsewhere.params["category"] == "winkel"
    assert "alleen voor" in elsewhere.message("nl") and "only for" in elsewhere.message("en")
    assert isinstance(budget_usable(BudgetInfo("B4", "Raar", ("winkel",), "morgen", 1), shop, today), E.BudgetExpired)
    with pytest.raises(E.BudgetUnknown):
        check_chosen_budget("B9", (ok,), shop, today)


def test_campaigns_take_the_best_active_one_not_a_product():
    today = dt.date(2026, 7, 25)
    cs = (Campaign("a", "Dubbel", 20_000, "2026-07-01", "2026-07-31"),
          Campaign("b", "Driedubbel", 30_000, "2026-07-01", "2026-07-31"),
          Campaign("c", "Voorbij", 50_000, "2026-01-01", "2026-07-24"),
          Campaign("d", "Elders", 90_000, "2026-07-01", "2026-07-31", ("M-other",)))
    assert active_multiplier(cs, "M-x", today) == (30_000, "Driedubbel")
    assert active_multiplier((), "M-x", today) == (10_000, "")


def test_near_the_offline_limits_at_one_tap_or_a_fifth_of_the_cumulative_amount_left():
    fresh = offline_headroom(LIMITS, OfflineUsage())
    assert (fresh.taps_left, fresh.cumulative_left_cents, fresh.near) == (5, 5_000, False)
    assert not offline_headroom(LIMITS, OfflineUsage(spent_cents=400, taps=3)).near  # 2 taps, fl 46 left
    four = offline_headroom(LIMITS, OfflineUsage(spent_cents=400, taps=4))
    assert (four.taps_left, four.cumulative_left_cents, four.near) == (1, 4_600, True)
    assert not offline_headroom(LIMITS, OfflineUsage(spent_cents=3_999, taps=2)).near  # fl 10,01 left: 20,02 %
    assert offline_headroom(LIMITS, OfflineUsage(spent_cents=4_000, taps=2)).near  # fl 10 left: exactly 20 %
    done = offline_headroom(LIMITS, OfflineUsage(spent_cents=6_000, taps=7))  # over (online spends): none left
    assert (done.taps_left, done.cumulative_left_cents, done.near) == (0, 0, True)


def test_offline_refusals_carry_cents_and_both_languages():
    c = cap(usage=OfflineUsage(spent_cents=4_000, taps=1))
    assert isinstance(c.total_reason, E.OfflineCumulativeLimit)
    assert (c.total_reason.params["left_cents"], c.total_reason.params["max_cents"]) == (1_000, 5_000)
    stale = cap(snapshot_age_s=30 * 3600.0).total_reason
    assert stale.params["age_s"] == 108_000
    assert "30,0 uur" in stale.message("nl") and "30.0 h" in stale.message("en") and "uur" not in stale.message("en")
    assert E.SnapshotStale.of(None).params["age_en"].startswith("unknown")
    assert E.SnapshotStale.of(600).params["age_en"] == "10 min"
    count = cap(usage=OfflineUsage(taps=5)).total_reason
    assert isinstance(count, E.OfflineCountLimit) and count.params == {"count": 5, "max_count": 5}
