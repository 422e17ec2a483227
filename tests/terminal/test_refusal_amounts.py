"""The engine's refusals carry amounts as cents: each language formats them its own way.

An English screen must never show a Dutch "fl 1.234,50"; the scripted till's
JSON keeps the Dutch text beside the cents (to_dict is stable).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from till_helpers import MANAGER_PIN, open_till

from floreyn.money import Money
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine.quoting import _insufficient


def test_amount_over_the_till_limit_in_both_languages(config, clock):
    till = open_till(replace(config, till=replace(config.till, max_amount_cents=1_234_500)), clock)
    till.present("anna")
    with pytest.raises(E.AmountOverLimit) as info:
        till.engine.quote_spend(Money.fl(1_234_501))
    assert info.value.message("nl") == "Bedrag te hoog: maximaal fl 12.345,00 per transactie."
    assert info.value.message("en") == "Amount too high: at most fl 12,345.00 per transaction."
    params = info.value.to_dict()["params"]
    assert (params["max"], params["max_cents"], params["currency"]) == ("fl 12.345,00", "1234500", "fl")
    with pytest.raises(E.AmountOverLimit) as topup:
        till.engine.quote_topup(Money.eur(config.till.max_topup_cents + 1))
    assert topup.value.message("en") == "Amount too high: at most €150.00 per transaction."
    till.store.close()


def test_refund_too_large_in_both_languages(till):
    till.present("anna")
    paid = till.spend(2_000)
    with pytest.raises(E.RefundTooLarge) as info:
        till.engine.quote_refund(paid.tx_id, Money.fl(2_001))
    assert info.value.message("nl") == "Terugbetaling te hoog: er kan nog maximaal fl 20,00 terug."
    assert info.value.message("en") == "Refund too large: at most fl 20.00 can still be refunded."
    till.engine.sign_in(MANAGER_PIN)
    till.engine.confirm(till.engine.quote_refund(paid.tx_id).quote_id)
    with pytest.raises(E.RefundTooLarge) as none_left:
        till.engine.quote_refund(paid.tx_id)
    assert none_left.value.message("en").endswith("at most fl 0.00 can still be refunded.")


def test_mixed_payment_and_offline_limits_in_both_languages(till):
    till.present("bram")  # fl 5 offline allowance
    quote = till.engine.quote_spend(Money.fl(1_250))
    assert quote.cap_reason.message("en") == (
        "Without a connection this card can spend only fl 5.00 more from its own balance.")
    with pytest.raises(E.MixedPaymentNeedsTender) as info:
        till.engine.confirm(quote.quote_id)
    assert info.value.message("nl") == (
        "Het saldo dekt fl 5,00 van € 12,50. Kies contant of pin voor de rest (€ 7,50).")
    assert info.value.message("en") == (
        "The balance covers fl 5.00 of €12.50. Choose cash or bank card for the rest (€7.50).")
    till.engine.cancel(quote.quote_id)
    till.present("fenna")  # fl 25 per tap offline
    capped = till.engine.quote_spend(Money.fl(4_000))
    assert capped.cap_reason.message("en") == "Without a connection at most fl 25.00 per payment."
    assert capped.cap_reason.params["max_cents"] == 2_500  # the app words it from the cents


def test_insufficient_balance_in_both_languages(till):
    till.present("bram")
    till.spend(500)
    till.clock.advance(10)
    with pytest.raises(E.OfflineAllowanceUsed) as info:
        till.engine.quote_spend(Money.fl(100))
    assert info.value.message("en").endswith("only fl 0.00 more from its own balance.")
    err = _insufficient(123_456)  # what a quote raises when the sources cover nothing
    assert err.message("nl") == "Onvoldoende saldo: er is fl 1.234,56 beschikbaar."
    assert err.message("en") == "Insufficient balance: fl 1,234.56 available."
