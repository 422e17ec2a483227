"""The demo's devices: the virtual printer's PNG/text output and the demo card picker's cards."""

from __future__ import annotations

import io
import time

import pytest
from escpos_decode import read_qr
from escpos_samples import TX_ID, receipt
from PIL import Image, ImageChops, ImageDraw, ImageFont

from floreyn.card import CardDamaged, CardTampered, NotAFloreynCard
from floreyn.terminal.drivers import render_image
from floreyn.terminal.drivers.base import CardPresented, CardRejected, Line, PrintDoc
from floreyn.terminal.drivers.demo_cards import DEFAULT_MEMBERS, DemoCards, demo_card_id
from floreyn.terminal.drivers.virtual import VirtualCardReader, VirtualPrinter


def test_virtual_printer_saves_text_and_png_and_tells_the_app(tmp_path):
    shown = []
    printer = VirtualPrinter(columns=32, out_dir=tmp_path, on_printed=lambda doc, path: shown.append((doc, path)))
    doc = receipt()
    printer.print_doc(doc)
    text_path, png_path = printer.files
    assert text_path.read_text(encoding="utf-8") == doc.text(32)
    assert shown == [(doc, png_path)]
    img = Image.open(png_path)
    assert img.width == 32 * render_image.CELL_W + 2 * render_image.MARGIN
    assert read_qr(img.convert("L")) == TX_ID  # the QR on the picture scans


def test_doc_ids_cannot_escape_the_run_folder(tmp_path):
    printer = VirtualPrinter(out_dir=tmp_path / "run")
    printer.print_doc(PrintDoc((Line("x"),), doc_id="../../etc/passwd"))
    assert all(path.parent == tmp_path / "run" for path in printer.files)


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> Image.Image:
    img = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(img).text((4, 4), char, font=font, fill=0)
    return img


@pytest.mark.parametrize("path", [render_image._SYSTEM_FONTS / "DejaVuSansMono.ttf", render_image._BUNDLED_FONT])
def test_the_fonts_have_a_real_euro_glyph(path):
    font = ImageFont.truetype(str(path), 20)
    missing = _glyph(font, "\U0001f600")  # no emoji in DejaVu Sans Mono: the "missing glyph" box
    euro, e = _glyph(font, "€"), _glyph(font, "E")
    assert ImageChops.difference(euro, missing).getbbox() is not None
    assert ImageChops.difference(euro, e).getbbox() is not None


def test_png_of_the_last_document(tmp_path):
    printer = VirtualPrinter(columns=48)
    with pytest.raises(LookupError):
        printer.png()
    printer.print_doc(receipt())
    assert Image.open(io.BytesIO(printer.png())).width == 48 * render_image.CELL_W + 2 * render_image.MARGIN


def test_demo_cards_give_the_expected_events_through_the_virtual_reader(issuer, verify):
    cards = DemoCards.build(issuer)
    assert [c.key for c in cards] == [str(i) for i in range(1, len(DEFAULT_MEMBERS) + 4)]
    events = []
    reader = VirtualCardReader(verify)
    reader.start(events.append, lambda status: None)
    try:
        for card in cards:
            assert cards.present(reader, card.key) is card
        assert cards.present(reader, "0") is None
        deadline = time.monotonic() + 30  # the reader thread checks each card's signature: generous when loaded
        while len(events) < len(cards) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reader.stop()
    members = [e for e in events if isinstance(e, CardPresented)]
    assert [e.card.card_id for e in members] == [demo_card_id(name) for name in DEFAULT_MEMBERS]
    rejected = [type(e.error) for e in events if isinstance(e, CardRejected)]
    assert rejected == [NotAFloreynCard, CardDamaged, CardTampered]
    assert len({e.uid for e in events}) == len(cards)  # each card has its own UID


def test_demo_card_ids_are_stable_per_name(issuer):
    assert demo_card_id("Jan Bakker") == demo_card_id("Jan Bakker") != demo_card_id("Jan Bakkers")
    assert DemoCards.build(issuer).by_key("1").card_id == demo_card_id(DEFAULT_MEMBERS[0])
