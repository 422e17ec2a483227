"""No control byte in a member's alias or a budget label ever reaches the printer or the till's screen.

An alias is typed at the desk or imported from a spreadsheet; ESC p opens the
cash drawer, GS V cuts the paper. Every text goes through floreyn.text.printable
on its way to paper (drivers.base.Line) and to the screen (engine.model).
"""

from escpos_decode import decode

from floreyn.money import Money
from floreyn.terminal.drivers.escpos_render import choose_codepage, render_doc
from floreyn.terminal.engine.model import BudgetView, MemberSummary
from floreyn.terminal.receipts import ReceiptContext, welcome_slip
from floreyn.text import printable

HOSTILE = "Anna\x1bp\x00\x19\xfa B.\x1dV\x00\u202e\r\n\x7f\x9b"
CTX = ReceiptContext(cooperative="Coöperatie Soesterkwartier", merchant_name="Balie", terminal_id="balie")


def test_printable_keeps_text_and_drops_control_and_format_characters():
    assert printable(HOSTILE) == "Annap\xfa B.V  "
    assert printable("Zoë de Bakker-Öztürk") == "Zoë de Bakker-Öztürk"


def test_a_hostile_alias_prints_as_text_only_on_the_welcome_slip():
    profile = "TM-T20II"
    data = render_doc(welcome_slip(HOSTILE, bytes(16), CTX), profile=profile, columns=32,
                      codepage=choose_codepage(profile))
    assert b"\x1bp" not in data  # the drawer kick
    printed = decode(data, profile)  # strict: an unknown command (ESC p) would raise here
    assert printed.cuts == 1  # only the slip's own cut, none from the alias
    assert "Annap\xfa B.V" in printed.text(32)


def test_a_hostile_alias_or_label_reaches_the_screen_as_text_only():
    view = BudgetView("B-1", "Klus\x1bp\x07budget", Money.fl(100), "2099-12-31", True)
    summary = MemberSummary("00" * 16, "…0000", HOSTILE, True, False, Money.fl(0), (view,), None)
    assert summary.alias == printable(HOSTILE) and summary.budgets[0].label == "Kluspbudget"
