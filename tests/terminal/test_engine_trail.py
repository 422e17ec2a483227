"""The till and the card's offline trail: written in the same tap before the records, or no offline spend."""

from __future__ import annotations

import pytest

from floreyn import cardtrail
from floreyn.money import Money
from floreyn.terminal.app.i18n import Translator
from floreyn.terminal.app.texts import result_lines
from floreyn.terminal.drivers.base import CardRemovedTooEarly
from floreyn.terminal.drivers.virtual import MemoryTrail
from floreyn.terminal.engine.errors import RepeatNeedsConfirmation
from floreyn.terminal.engine.trail import CardNotWritable


def test_an_offline_spend_is_written_on_the_card_and_read_back(till):
    till.present("anna")
    paid = till.spend(700)
    trail = till.trails["anna"]
    assert paid.card_updated is True and trail.writes == 1
    assert trail.area is not None and trail.area.current.spent_cents == 700
    assert trail.area.current.till == cardtrail.till_tag(till.config.terminal_id)
    assert paid.to_dict()["card_note"] == "pas bijgewerkt" and paid.to_dict()["card_written"] is True
    assert till.spend(300, repeat_ok=True).card_updated is True  # a second spend in the same tap adds to the same trail
    assert trail.area.current.spent_cents == 1_000 and trail.writes == 2


def test_the_app_tells_the_cashier_the_card_was_updated(till):
    till.present("anna")
    paid = till.spend(500)
    nl, en = Translator("nl"), Translator("en")
    assert "Pas bijgewerkt" in result_lines(paid, nl)[1]
    assert "Card updated" in result_lines(paid, en)[1]


def test_a_card_that_cannot_be_written_cannot_pay_offline_and_nothing_is_recorded(till):
    till.present("anna")
    trail = till.trails["anna"]
    trail.fail_next = CardRemovedTooEarly()  # pulled away as the till writes
    quote = till.engine.quote_spend(Money.fl(700))
    with pytest.raises(CardNotWritable) as refused:
        till.engine.confirm(quote.quote_id)
    assert refused.value.message("nl").startswith("Pas niet bij te werken")
    assert trail.area.current is None  # the card holds nothing new
    with till.store.read() as view:
        assert view.offline_spent_gross(till.engine.card.card.card_hex, 0) == 0  # no record either


def test_a_reader_that_cannot_write_offers_no_offline_spend(till):
    from floreyn.terminal import demo_setup

    summary = till.engine.present_card(demo_setup.demo_payload("anna"))  # no trail port
    assert summary.own.cents == 0 and summary.offline_reason is not None
    assert summary.offline_reason.code == "card_not_writable"


def test_what_other_tills_wrote_on_the_card_lowers_this_tills_offer(till):
    till.present("anna")
    offered = till.engine.card.summary.own.cents
    elsewhere = MemoryTrail()
    elsewhere.write(cardtrail.Trail(0, 0, 1_500, 7, 1))  # another till took fl 15,00 offline, not uploaded
    till.trails["anna"] = elsewhere
    till.engine.clear_card()
    assert till.present("anna").own.cents == max(0, offered - 1_500)


def test_a_wiped_trail_falls_back_to_what_this_till_knows(till):
    till.present("anna")
    till.spend(800)
    till.trails["anna"] = MemoryTrail()  # wiped with a phone
    till.engine.clear_card()
    till.present("anna")
    paid = till.spend(200, repeat_ok=True)
    assert paid.card_updated and till.trails["anna"].area.current.spent_cents >= 800 + 200  # rebuilt, never lower


def test_an_empty_chosen_budget_asks_before_the_own_balance_pays(till):
    """Issue 14: it used to pay wholly from the own balance without asking."""
    from floreyn.terminal.engine.errors import BudgetEmpty

    budget = "B-gemeente-boodschap-1"  # Anna's fl 15,00
    till.present("anna")
    till.spend(1_500, source=budget)  # the whole budget
    with pytest.raises(BudgetEmpty) as asked:
        till.engine.quote_spend(Money.fl(300), source=budget)
    assert "is leeg" in asked.value.message("nl") and "eigen saldo" in asked.value.message("nl")
    assert till.spend(300, source="own", repeat_ok=True).fl.cents == 300  # the cashier chose the own balance


def test_before_an_offline_spend_commits_one_read_holds_the_checks_and_the_trails_figure(till):
    """What the trail write needs (this till's offline spend on the card since its snapshot) and the commit's
    checks (test_a_spend_the_commit_would_refuse_is_not_written_on_the_card) are read in one transaction,
    before the card is written; the write transaction runs the checks again."""
    till.present("anna")
    quote = till.engine.quote_spend(Money.fl(700))
    statements: list[str] = []
    till.store._conn.set_trace_callback(statements.append)  # noqa: SLF001 - the store's one connection
    try:
        till.engine.confirm(quote.quote_id)
    finally:
        till.store._conn.set_trace_callback(None)  # noqa: SLF001
    before_write = statements[: statements.index("BEGIN IMMEDIATE")]
    assert before_write[0] == "BEGIN" and before_write[-1] == "COMMIT", before_write
    assert before_write.count("BEGIN") == 1 and before_write.count("COMMIT") == 1, before_write  # one read
    assert any("offline = 1" in statement for statement in before_write[1:-1])  # the trail's figure
    assert till.trails["anna"].area.current.spent_cents == 700  # and it was written with that figure


def test_a_retried_offline_spend_is_not_written_on_the_card_twice_and_a_clashing_one_not_at_all(till):
    from floreyn.terminal.engine.errors import ClientRefConflict

    till.present("anna")
    quote = till.engine.quote_spend(Money.fl(700), ref="sale-1")
    statements: list[str] = []
    till.store._conn.set_trace_callback(statements.append)  # noqa: SLF001 - the store's one connection
    try:
        first = till.engine.confirm(quote.quote_id, client_ref="sale-1")
    finally:
        till.store._conn.set_trace_callback(None)  # noqa: SLF001
    # the retry's lookup and the trail's figure in one read, then the write transaction
    assert statements[: statements.index("BEGIN IMMEDIATE")].count("BEGIN") == 1, statements
    trail = till.trails["anna"]
    assert trail.writes == 1 and trail.area.current.spent_cents == 700
    again = till.engine.quote_spend(Money.fl(700), ref="sale-1")
    retried = till.engine.confirm(again.quote_id, client_ref="sale-1", repeat_ok=True)
    assert retried.existed and retried.tx_id == first.tx_id and trail.writes == 1  # the card carries it already
    other = till.engine.quote_spend(Money.fl(300), ref="sale-1")
    with pytest.raises(ClientRefConflict):
        till.engine.confirm(other.quote_id, client_ref="sale-1", repeat_ok=True)
    assert trail.writes == 1 and trail.area.current.spent_cents == 700  # refused before the card was written


def test_a_spend_the_commit_would_refuse_is_not_written_on_the_card(till):
    """The card's odometer only grows: a refused spend written on it would lower its offline allowance at
    every till for good. The repeat guard (and the commit's other checks) now refuse before the card is
    written; before, the card already read 1000 here while one record of 300 existed."""
    till.present("anna")
    till.spend(300)
    trail = till.trails["anna"]
    quote = till.engine.quote_spend(Money.fl(700))
    with pytest.raises(RepeatNeedsConfirmation):
        till.engine.confirm(quote.quote_id)  # the same card charged seconds ago
    assert trail.writes == 1 and trail.area.current.spent_cents == 300
    assert till.engine.confirm(quote.quote_id, repeat_ok=True).card_updated is True
    assert trail.writes == 2 and trail.area.current.spent_cents == 1_000
