"""Joint campaign pots on the till's receipts (issue 15 item 7): what a pot pays for a save (the campaign's
extra above the shop's own rate) and for a payment at a redeeming campaign (a bonus back on the payer's
balance, booked by the server on upload), as floreyn.sync.rules.pot_payout works it out like the server does;
a dry pot prints nothing. Checked on the ESC/POS bytes, decoded back."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path

from floreyn.money import Money
from floreyn.sync.snapshot import Campaign, sign_snapshot
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.escpos_render import choose_codepage, render_doc

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))
from escpos_decode import decode as decode_escpos  # noqa: E402


def printed(doc, columns: int) -> str:
    profile = "ZJ-5870" if columns == 32 else "TM-T20II"
    data = render_doc(doc, profile=profile, columns=columns, codepage=choose_codepage(profile))
    return decode_escpos(data, profile).text(columns)


def with_pot(till, pot_left_cents: int, redeem_bonus_bp: int = 1_000) -> None:
    """The till's snapshot with a joint campaign whose pot holds `pot_left_cents`."""
    key = demo_setup.demo_server_key()
    today = dt.datetime.fromtimestamp(till.clock.wall_ms() / 1000, dt.UTC).date()
    pot = Campaign("C-a-pot", "Zomermarkt", 20_000, (today - dt.timedelta(days=1)).isoformat(),
                   (today + dt.timedelta(days=9)).isoformat(), pot_left_cents=pot_left_cents,
                   redeem_bonus_bp=redeem_bonus_bp)
    snap = replace(demo_setup.demo_snapshot(till.config.terminal_id, till.clock.wall_ms(), version=2),
                   campaigns=(pot,))
    till.store.store_signed_snapshot(*sign_snapshot(snap, key), key.public_key())


def test_a_save_prints_what_the_pot_pays_and_a_payment_its_redeeming_bonus(till):
    with_pot(till, pot_left_cents=10_000)
    till.present("anna")
    saved = till.engine.confirm(till.engine.quote_save(Money.eur(2_000)).quote_id)
    assert (saved.records[0].fl_cents, saved.records[0].pot_cents) == (200, 100)  # 5 % x 2: fl 1,00 from the pot
    for columns in (32, 48):
        text = printed(till.printer.docs[-1], columns)
        lines = text.splitlines()
        at = lines.index("Actie Zomermarkt")
        assert lines[at + 1].startswith("  waarvan uit de pot") and lines[at + 1].endswith(" fl 1,00")
    till.clock.advance(120)
    paid = till.spend(1_000, source="own")
    assert paid.records[0].pot_campaign == "Zomermarkt" and paid.records[0].pot_cents == 100  # 10 % back
    lines = printed(till.printer.docs[-1], 32).splitlines()
    at = lines.index("Actie Zomermarkt")
    assert lines[at + 1].startswith("  extra uit de pot") and lines[at + 1].endswith(" fl 1,00")
    assert lines[at + 2] == "  komt na verwerking op uw saldo"


def test_a_pot_pays_no_more_than_it_holds_and_a_dry_pot_prints_nothing(till):
    with_pot(till, pot_left_cents=30)
    till.present("anna")
    paid = till.spend(1_000, source="own")
    assert paid.records[0].pot_cents == 30  # what is left in the pot, not the 10 %
    with_pot(till, pot_left_cents=0)
    till.clock.advance(120)
    till.present("anna")
    dry = till.spend(1_000, source="own")
    assert dry.records[0].pot_cents is None and "pot" not in printed(till.printer.docs[-1], 32)
