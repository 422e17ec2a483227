"""A reprint is the original receipt plus "DUPLICAAT", whatever changed since the sale.

The names a receipt prints that the signed records do not carry (a budget's
label, the shop's name) are kept with the records at commit: a budget spent
to nothing leaves the snapshot, a shop may be renamed, and a reprint made
days later, with no card on the reader, must still say what the member
took home.
"""

from __future__ import annotations

from dataclasses import replace

from till_helpers import MANAGER_PIN

from floreyn.money import Money

BUDGET = "B-gemeente-boodschap-1"  # Anna's fl 15,00 "Boodschappenbudget Gemeente"


def _without_marker(text: str) -> list[str]:
    lines = text.splitlines()
    assert [line.strip() for line in lines].count("DUPLICAAT") == 1
    return [line for line in lines if line.strip() != "DUPLICAAT"]


def _budget_gone_and_shop_renamed(till) -> None:  # noqa: ANN001
    """The next snapshot: Anna's budget spent (the server lists it no more), the shop renamed."""
    snap = till.store.current_snapshot()
    cards = tuple(replace(c, budgets=tuple(b for b in c.budgets if b.budget_id != BUDGET)) for c in snap.cards)
    till.store.store_snapshot(replace(snap, snapshot_version=snap.snapshot_version + 1, cards=cards,
                                      merchant=replace(snap.merchant, name="Bakkerij Nieuwe Naam")))
    till.engine.clear_card()  # and no card on the reader to take a label from


def test_reprint_of_a_budget_payment_after_the_budget_is_spent_and_the_shop_renamed(till):
    till.present("anna")
    paid = till.spend(2_000, source=BUDGET)  # the whole budget (fl 15,00) and fl 5,00 own balance
    assert [r.budget_id for r in paid.records] == [BUDGET, None]
    original = {cols: till.printer.docs[-1].text(cols) for cols in (32, 48)}
    assert "Boodschappenbudget Gemeente" in original[32]
    shop = till.engine.context().merchant.name
    assert shop in original[32]

    _budget_gone_and_shop_renamed(till)
    assert till.engine.receipt_doc(paid.tx_id).text(32) == original[32]  # rebuilt: the very same paper
    till.engine.reprint(paid.tx_id)
    reprint = till.printer.docs[-1]
    for cols in (32, 48):
        assert _without_marker(reprint.text(cols)) == original[cols].splitlines()
    assert BUDGET not in reprint.text(48) and "Nieuwe Naam" not in reprint.text(48)

    till.engine.sign_in(MANAGER_PIN)  # a refund later still names the budget it pays back to
    refund = till.engine.confirm(till.engine.quote_refund(paid.tx_id, Money.fl(1_800)).quote_id)
    assert [(r.budget_id, r.budget_label) for r in refund.records] == [
        (None, None), (BUDGET, "Boodschappenbudget Gemeente")]
    assert "Boodschappenbudget Gemeente" in till.printer.docs[-1].text(32)


def test_reprint_of_the_z_report_after_the_shop_is_renamed(till):
    till.present("anna")
    till.spend(700, source="own")
    closed = till.engine.close_day()
    original = till.printer.docs[-1].text(32)
    _budget_gone_and_shop_renamed(till)
    till.engine.reprint(closed.tx_id)
    assert _without_marker(till.printer.docs[-1].text(32)) == original.splitlines()
