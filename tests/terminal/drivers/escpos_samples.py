"""Sample documents in the shape the till prints, for the printer tests and golden files.

The real content comes from floreyn.terminal.receipts (the engine's); these are
fixed here so the printer's golden files change only when printing changes.
They use everything the renderer must get right: €, the masked-card bullet,
accented letters, bold, large, centred, two-column lines, a QR and the cut.
"""

from floreyn.terminal.drivers.base import Align, Line, PrintDoc

RULE = Line("-" * 32, align=Align.CENTER)
TX_ID = "tx-7f3a9c2e-0b41-4d8e-9a55-2c6e1f08b7d4"


def receipt() -> PrintDoc:
    return PrintDoc(
        (
            Line("Floreyn Amersfoort", bold=True, align=Align.CENTER),
            Line("Bakkerij De Korenaar", align=Align.CENTER),
            RULE,
            Line("BON", bold=True, large=True, align=Align.CENTER),
            Line("27-11-2026 14:05", "Kassa T1"),
            Line("Pas", "•••• 1A2B"),
            RULE,
            Line("Aankoop", "€ 12,50"),
            Line("Crème brûlée", "€ 3,75"),
            Line("Betaald met fl", "fl -5,00"),
            Line("Gespaard (5%)", "fl 0,81"),
            Line("Te betalen", "€ 11,25", bold=True),
            RULE,
            Line("Nieuw saldo", "fl 23,40", bold=True),
            Line("Zomermarkt: dubbel sparen!", align=Align.CENTER),
        ),
        qr_data=TX_ID,
        doc_id=TX_ID,
    )


def day_close() -> PrintDoc:
    return PrintDoc(
        (
            Line("Floreyn Amersfoort", bold=True, align=Align.CENTER),
            Line("DAGAFSLUITING", bold=True, large=True, align=Align.CENTER),
            Line("27-11-2026", "Kassa T1"),
            RULE,
            Line("Transacties", "42"),
            Line("Omzet euro", "€ 1.234,56"),
            Line("Ontvangen fl", "fl 210,00"),
            Line("Gespaard fl", "fl 61,73"),
            Line("Budget Woonstede", "fl 35,00"),
            RULE,
            Line("Verschil", "€ 0,00", bold=True),
        ),
        qr_data="z-2026-11-27-T1",
        doc_id="z-2026-11-27-T1",
    )


def welcome() -> PrintDoc:
    return PrintDoc(
        (
            Line("Welkom bij Floreyn!", bold=True, align=Align.CENTER),
            Line("Anouk", align=Align.CENTER),
            Line("Pas", "•••• 0F3C"),
            RULE,
            Line("Spaar bij elke aankoop en"),
            Line("betaal met fl 1,00 = € 1,00."),
            Line(""),
            Line("https://floreyn.nl/welkom"),
        ),
        qr_data="https://floreyn.nl/welkom",
        cut=False,
        doc_id="welkom-0f3c",
    )


SAMPLES = {"receipt": receipt, "day_close": day_close, "welcome": welcome}
