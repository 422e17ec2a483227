"""TillContext: one operation decides from one reading of the snapshot, the shop and the date."""

from __future__ import annotations

import datetime as dt

import pytest

from floreyn.money import Money
from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import MerchantConfig, OfflineLimits
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.base import CardPresented
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine.context import business_date, till_context


def counting_snapshot_reads(engine):  # noqa: ANN001, ANN201
    """Count how often the engine reads the snapshot (each read is a store query and may see a newer one)."""
    reads = []
    real = engine.snapshot

    def counted():  # noqa: ANN202
        reads.append(1)
        return real()

    engine.snapshot = counted
    return reads


@pytest.mark.parametrize("operation", ["present", "spend", "save", "topup", "receipt"])
def test_each_operation_reads_the_snapshot_once(till, operation):
    till.present("anna")
    paid = till.spend(500) if operation == "receipt" else None
    card = till.engine.verify_payload(demo_setup.demo_payload("fenna"))  # the reader's part (issuer keys)
    reads = counting_snapshot_reads(till.engine)
    if operation == "present":
        till.engine.card_event(CardPresented(card))  # blocklist, summary, budgets usable today: one reading
    elif operation == "spend":
        till.engine.quote_spend(Money.fl(2_000))  # budgets usable today, offline state, own allowance
    elif operation == "save":
        till.engine.quote_save(Money.eur(1_000))  # shop's save rate, campaigns of today
    elif operation == "topup":
        till.engine.quote_topup(Money.eur(1_000))  # shop allows it, rates
    else:
        till.engine.receipt_doc(paid.tx_id)  # budget labels, shop's name
    assert len(reads) == 1


def test_confirm_rechecks_with_a_fresh_context(till):
    till.present("anna")
    quote = till.engine.quote_spend(Money.fl(2_000))
    reads = counting_snapshot_reads(till.engine)
    till.engine.confirm(quote.quote_id)
    # Once for all the re-checks (it may be newer than the quote's), once for the receipt printed after the
    # commit; before TillContext it was four readings.
    assert len(reads) == 2


def test_context_is_built_from_the_snapshot_or_the_configured_shop():
    shop = MerchantConfig(merchant_id="m1", name="Winkel", category="winkel", save_rate_bp=100, topup_allowed=True)
    ctx = till_context(None, None, configured=shop, wall_ms=1_785_000_000_000, timezone="Europe/Amsterdam")
    assert ctx.merchant is shop and ctx.limits == OfflineLimits() and ctx.rates == ExchangeRates()
    assert ctx.today == dt.date(2026, 7, 25) and ctx.snapshot is None and ctx.age_s is None
    with pytest.raises(E.ConfigError):
        till_context(None, None, configured=None, wall_ms=0, timezone="Europe/Amsterdam")


def test_business_date_is_server_time_plus_age_not_the_pi_clock(till):
    snap, age = till.engine.snapshot()
    assert snap is not None and age is not None
    wrong_wall_ms = 0  # a Pi without a real-time clock, back in 1970
    today = business_date(snap, age, wrong_wall_ms, "Europe/Amsterdam")
    assert today == business_date(None, None, snap.server_time_ms + int(age * 1000), "Europe/Amsterdam")
    assert business_date(snap, None, wrong_wall_ms, "UTC") == dt.date(1970, 1, 1)  # age unknown: the wall clock


def test_a_top_up_worth_nothing_is_too_small_not_a_saving():
    from floreyn.money import BP_ONE
    from floreyn.terminal.engine.quoting import topup_figures

    shop = MerchantConfig(merchant_id="m1", name="Winkel", category="winkel", topup_allowed=True)
    ctx = till_context(None, None, configured=shop, wall_ms=0, timezone="UTC")
    dear = type(ctx)(**{**{f: getattr(ctx, f) for f in ctx.__slots__}, "rates": ExchangeRates(ask_bp=2 * BP_ONE)})
    with pytest.raises(E.TopupTooSmall) as info:
        topup_figures(dear, Money.eur(1))  # 1 cent at 2 euro per Floreyn: fl 0,00
    assert info.value.code == "topup_too_small" and "Floreyn" in info.value.message("nl")
    assert topup_figures(dear, Money.eur(2)) == Money.fl(1)
