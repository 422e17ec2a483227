"""Receipts against checked-in golden texts at 32 and 48 columns.

Regenerate after an intended layout change with FLOREYN_UPDATE_GOLDEN=1 and
review the diff like code: these texts are what members take home.
"""

from __future__ import annotations

import dataclasses

import os
from pathlib import Path

import pytest

from floreyn.sync.record import Kind, Tender
from floreyn.terminal.drivers.base import PrintDoc
from floreyn.terminal.receipts import ReceiptContext, tx_receipt, welcome_slip, z_report_doc
from floreyn.terminal.store import StoredRecord
from floreyn.terminal.store.zreport import z_report

GOLDEN = Path(__file__).parent / "golden"
WALL_MS = 1_785_000_000_000  # Saturday 25 July 2026, 19:20 in Amsterdam
CARD = "000102030405060708090a0b0c0d1a2b"
CTX = ReceiptContext(
    cooperative="Coöperatie Floreyn Amersfoort", merchant_name="Bakkerij De Korenbloem", terminal_id="T-bakker-01",
    budget_labels={"B-gemeente-1": "Boodschappenbudget Gemeente"},
)


def rec(seq: int, kind: Kind, *, tx: int | None = None, fl: int = 0, eur: int = 0, tender: Tender = Tender.NONE,
        budget: str | None = None, ref: int | None = None, offline: bool = True, balance: int | None = None,
        card: str | None = CARD, minute: int = 0) -> StoredRecord:
    def rid(n: int) -> str:
        return f"00000000-0000-4000-8000-{n:012d}"

    return StoredRecord(
        seq=seq, record_id=rid(seq), tx_id=rid(tx or seq), kind=kind, card_hex=card, fl_cents=fl, eur_cents=eur,
        tender=tender, budget_id=budget, ref_id=rid(ref) if ref else None, wall_ms=WALL_MS + minute * 60_000,
        mono_ms=seq, day_no=1, offline=offline, raw=b"", hash=b"", receipt_status="printed", sync_status="pending",
        balance_after_cents=balance,
    )


SPLIT = [rec(1, Kind.SPEND, fl=1_500, budget="B-gemeente-1"),
         rec(2, Kind.SPEND, tx=1, fl=500, eur=300, tender=Tender.BANK_CARD)]
LIVE_SPEND = [rec(3, Kind.SPEND, fl=1_250, offline=False, balance=3_750, minute=2)]
SAVE = [rec(4, Kind.SAVE, fl=245, eur=2_450, offline=False, balance=3_995, minute=3)]
TOPUP = [rec(5, Kind.TOPUP, fl=2_000, eur=2_000, tender=Tender.CASH, minute=4)]
REFUND = [rec(6, Kind.REFUND, fl=500, eur=300, tender=Tender.BANK_CARD, ref=2, minute=5),
          rec(7, Kind.REFUND, tx=6, fl=200, budget="B-gemeente-1", ref=1, minute=5)]
VOID = [rec(8, Kind.VOID, fl=2_000, eur=2_000, tender=Tender.CASH, ref=5, minute=6)]
CLOSE = rec(9, Kind.DAY_CLOSE, card=None, minute=30)
# A block budget's payment confirmed by a second tenant's card: what is left, until when, who confirmed.
GROUP = [dataclasses.replace(rec(10, Kind.SPEND, fl=2_000, budget="B-blok-7", offline=False, balance=1_250, minute=7),
                             budget_label="Blokbudget Portaal", budget_left_cents=28_000,
                             budget_expires_on="2026-09-30", confirm_card_hex="0f0e0d0c0b0a09080706050403029c4d")]
# A save at a joint campaign: the pot pays the campaign's extra.
POT_SAVE = [dataclasses.replace(rec(11, Kind.SAVE, fl=200, eur=2_000, offline=False, balance=1_450, minute=8),
                                pot_campaign="Zomermarkt: dubbel sparen", pot_cents=100)]

DOCS = {
    "spend_split_mixed": lambda: tx_receipt(SPLIT, CTX),
    "spend_live": lambda: tx_receipt(LIVE_SPEND, CTX),
    "spend_reprint": lambda: tx_receipt(LIVE_SPEND, CTX, reprint=True),
    "save": lambda: tx_receipt(SAVE, CTX),
    "topup": lambda: tx_receipt(TOPUP, CTX),
    "refund": lambda: tx_receipt(REFUND, CTX),
    "void": lambda: tx_receipt(VOID, CTX),
    "spend_group_budget": lambda: tx_receipt(GROUP, CTX),
    "save_pot": lambda: tx_receipt(POT_SAVE, CTX),
    "z_report": lambda: z_report_doc(
        z_report(1, "T-bakker-01", SPLIT + LIVE_SPEND + SAVE + TOPUP + REFUND + VOID + [CLOSE]), CTX,
        tx_id=CLOSE.tx_id),
    "welcome": lambda: welcome_slip("Anna", bytes.fromhex(CARD), CTX),
    "welcome_portal": lambda: welcome_slip("Anna", bytes.fromhex(CARD), dataclasses.replace(
        CTX, welcome_url="https://floreyn.nl/portal"), activation_code="K7QM-4XPD-2RWZ", ask_bp=10_000),
}


@pytest.mark.parametrize("columns", [32, 48])
@pytest.mark.parametrize("name", sorted(DOCS))
def test_golden(name: str, columns: int) -> None:
    doc: PrintDoc = DOCS[name]()
    text = doc.text(columns)
    path = GOLDEN / f"{name}_{columns}.txt"
    if os.environ.get("FLOREYN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs; see the module docstring"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_line_fits_58mm_paper_and_ends_with_a_cut(name: str) -> None:
    doc = DOCS[name]()
    assert doc.cut
    for line in doc.lines:
        width = 16 if line.large else 32
        assert len(line.left) + (len(line.right) + 1 if line.right else 0) <= width, line


def test_receipt_words_say_what_happened() -> None:
    """Issue 17 item 4: 'Eigen saldo' read as the balance left, a Floreyn-only payment totalled in euros, an
    online refund called offline."""
    all_fl = tx_receipt([rec(1, Kind.SPEND, fl=700, budget="B-gemeente-1", offline=False, balance=100),
                         rec(2, Kind.SPEND, tx=1, fl=300, offline=False, balance=100)], CTX).text(32)
    assert "Totaal" in all_fl and "fl 10,00" in all_fl and "€ 10,00" not in all_fl
    assert "Van eigen saldo" in all_fl
    online_refund = tx_receipt([rec(3, Kind.REFUND, fl=500, offline=False)], CTX).text(32)
    assert "zonder verbinding" not in online_refund and "onder voorbehoud" not in online_refund
    offline_refund = tx_receipt([rec(3, Kind.REFUND, fl=500, offline=True)], CTX).text(32)
    assert "Saldo onder voorbehoud" in offline_refund and "(zonder verbinding)" in offline_refund


def test_receipt_content_rules() -> None:
    split = tx_receipt(SPLIT, CTX).text(32)
    for needed in ("Betaling", "25-07-2026 19:20", "T-bakker-01", "1-2", "•••• 1A2B", "Boodschappenbudget",
                   "fl 15,00", "Van eigen saldo", "€ 3,00", "Pin", "Saldo onder voorbehoud",
                   "Totaal         fl 20,00 + € 3,00"):
        assert needed in split, needed
    assert CARD not in split  # never the whole card id
    assert tx_receipt(SPLIT, CTX).qr_data == SPLIT[0].record_id
    assert "Nieuw saldo" in tx_receipt(LIVE_SPEND, CTX).text(32) and "fl 37,50" in tx_receipt(LIVE_SPEND, CTX).text(32)
    for kind_nl, records in (("Sparen", SAVE), ("Opwaarderen", TOPUP), ("Terugbetaling", REFUND), ("Storno", VOID)):
        assert kind_nl in tx_receipt(records, CTX).text(32)
    z = z_report(1, "T-bakker-01", SPLIT + LIVE_SPEND + SAVE + TOPUP + REFUND + VOID + [CLOSE])
    assert (z["first_seq"], z["last_seq"]) == (1, 9)
    assert z["tenders"]["CASH"] == {"count": 2, "in_cents": 2_000, "out_cents": 2_000, "net_cents": 0}
    assert z["tenders"]["BANK_CARD"] == {"count": 2, "in_cents": 300, "out_cents": 300, "net_cents": 0}
    assert z["fl_received_cents"] == 1_500 + 500 + 1_250 - 500 - 200
    assert z["fl_issued_cents"] == 245  # the top-up was voided
    assert "Dagafsluiting" in z_report_doc(z, CTX).text(32)
