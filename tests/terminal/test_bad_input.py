"""Bad input: every refusal is typed, speaks Dutch, and changes nothing in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from till_helpers import dump_db

from floreyn.card import CardTampered, NotAFloreynCard
from floreyn.errors import FloreynError
from floreyn.money import AmountNegative, AmountWrongCurrency, AmountZero, Money
from floreyn.terminal import demo_setup
from floreyn.terminal.config import config_from_dict
from floreyn.terminal.drivers.base import CardReadIncomplete, CardRejected, CardRemovedTooEarly
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine import events as ev


def _tampered(name: str) -> bytes:
    payload = bytearray(demo_setup.demo_payload(name))
    payload[5] ^= 0x40  # one bit of the card id: the signature no longer matches
    return bytes(payload)


CASES = {
    "zero": (lambda t: t.engine.quote_spend(Money.fl(0)), AmountZero),
    "negative": (lambda t: t.engine.quote_spend(Money.fl(-500)), AmountNegative),
    "over_limit": (lambda t: t.engine.quote_spend(Money.fl(50_001)), E.AmountOverLimit),
    "save_over_limit": (lambda t: t.engine.quote_save(Money.eur(10**9)), E.AmountOverLimit),
    "wrong_currency": (lambda t: t.engine.quote_spend(Money.eur(500)), AmountWrongCurrency),
    "save_zero": (lambda t: t.engine.quote_save(Money.eur(0)), AmountZero),
    "save_too_small": (lambda t: t.engine.quote_save(Money.eur(1)), E.SaveTooSmall),
    "budget_elsewhere": (lambda t: t.engine.quote_spend(Money.fl(100), source="B-portaal-onderhoud-1"),
                         E.BudgetNotUsableHere),
    "budget_unknown": (lambda t: t.engine.quote_spend(Money.fl(100), source="B-nope"), E.BudgetUnknown),
    "tampered_card": (lambda t: t.engine.present_card(_tampered("anna")), CardTampered),
    "not_a_card": (lambda t: t.engine.present_card(b"hello world"), NotAFloreynCard),
    "blocked_card": (lambda t: t.present("cees"), E.CardBlocked),
    "wrong_pin": (lambda t: t.engine.sign_in("0000"), E.WrongPin),
    "refund_unknown": (lambda t: t.engine.quote_refund("deadbeef"), E.TxNotFound),
    "void_nothing": (lambda t: t.engine.quote_void(), E.NothingToVoid),
    "quote_unknown": (lambda t: t.engine.confirm("nope"), E.QuoteUnknown),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_is_typed_dutch_and_changes_nothing(till, case):
    till.present("anna")
    action, error_type = CASES[case]
    before = dump_db(till.config.db_path)
    with pytest.raises(error_type) as info:
        action(till)
    err = info.value
    assert isinstance(err, FloreynError) and err.code != "error"
    assert err.message("nl") and err.message("nl") != err.message("en")  # a Dutch text of its own
    after = dump_db(till.config.db_path)
    if case == "wrong_pin":  # a wrong PIN counts towards the lock-out, and only that
        for table in ("pin_lockout", "terminal_state"):
            before.pop(table), after.pop(table)
    assert after == before
    assert len(till.printer.docs) == 0


def test_expired_budget_is_refused_when_chosen_and_skipped_when_not(till):
    summary = till.present("eva")
    (budget,) = summary.budgets
    assert not budget.usable and budget.why_not == "budget_expired" and "verlopen" in budget.reason.message("nl")
    before = dump_db(till.config.db_path)
    with pytest.raises(E.BudgetExpired) as info:
        till.engine.quote_spend(Money.fl(100), source="B-gemeente-boodschap-2")
    assert "verlopen op" in info.value.message("nl")
    assert dump_db(till.config.db_path) == before
    result = till.spend(100)  # without a choice the expired budget is simply not used
    assert result.records[0].budget_id is None


def test_no_card_no_sale(till):
    with pytest.raises(E.NoCard):
        till.engine.quote_spend(Money.fl(100))


def test_refused_card_clears_the_previous_one(till):
    till.present("anna")
    with pytest.raises(E.CardBlocked):
        till.present("cees")
    with pytest.raises(E.NoCard):  # a sale must never land on the previous member's card
        till.engine.quote_spend(Money.fl(100))


@pytest.mark.parametrize("torn", [CardReadIncomplete, CardRemovedTooEarly])
def test_a_torn_read_keeps_the_open_card_and_its_quote(till, torn):
    """A read that broke off refuses no card: the member and the typed amount stay (before: both dropped)."""
    anna = till.present("anna")
    quote = till.engine.quote_spend(Money.fl(250))
    till.events.clear()
    with pytest.raises(torn):
        till.engine.card_event(CardRejected(torn(), b"\x04torn"))
    assert [type(e) for e in till.events] == [ev.CardReadTorn]
    assert "stil" in till.events[0].error.message("nl")
    result = till.engine.confirm(quote.quote_id)  # the sale goes on as typed, on the same card
    assert (result.records[0].fl_cents, result.records[0].card_hex) == (250, anna.card_hex)
    assert len(till.printer.docs) == 1


def test_a_torn_read_without_an_open_card_opens_none(till):
    with pytest.raises(CardReadIncomplete):
        till.engine.card_event(CardRejected(CardReadIncomplete(), b"\x04torn"))
    with pytest.raises(E.NoCard):
        till.engine.quote_spend(Money.fl(100))


def test_malformed_merchant_category_in_the_configuration(tmp_path: Path):
    doc = {"terminal": {"terminal_id": "T-x-01"},
           "merchant": {"merchant_id": "M-x", "name": "X", "category": "Bakkerij!"}}
    with pytest.raises(E.UnknownCategory) as info:
        config_from_dict(doc, base_dir=tmp_path)
    assert "Bakkerij!" in info.value.message("nl") and "klussen/vakman" in info.value.message("nl")
    # A category the till has never seen is taken: the cooperative defines them on the server.
    doc["merchant"] |= {"category": "duurzaam", "categories": ["duurzaam", "klussen/handig"]}
    assert config_from_dict(doc, base_dir=tmp_path).merchant.all_categories() == ("duurzaam", "klussen/handig")
