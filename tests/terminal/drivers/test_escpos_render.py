"""PrintDoc -> ESC/POS bytes (python-escpos Dummy) -> decoded text, for any document."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from escpos_decode import decode
from hypothesis import given, settings
from hypothesis import strategies as st

from floreyn.terminal.drivers.base import Align, DeviceConfigError, Line, PrintDoc
from floreyn.terminal.drivers.escpos_render import (
    MAX_LINES,
    choose_codepage,
    fit_text,
    render_doc,
)

# Characters a Dutch till prints: letters with accents, digits, money signs, the bullet.
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-+%/()!?'éëèïöüçÉ€•"
texts = st.text(alphabet=ALPHABET, max_size=40).map(str.strip)  # longer than a row at times: wrapping
lines = st.builds(Line, texts, texts, st.booleans(), st.booleans(), st.sampled_from(list(Align)))
docs = st.builds(
    PrintDoc,
    st.lists(lines, max_size=12).map(tuple),
    st.one_of(st.none(), st.text(alphabet="abcdef0123456789-", min_size=1, max_size=40)),
    st.booleans(),
)


@given(lines, st.sampled_from([32, 48]))
def test_every_row_fits_the_paper_and_keeps_every_word(line, columns):
    rows = line.rows(columns)
    assert rows and all(len(row) <= line.width(columns) for row in rows)
    printed = " ".join(rows).split()
    assert "".join(printed) == "".join((line.left + line.right[: line.width(columns)]).split())


def test_a_long_shop_name_wraps_between_words_and_amounts_stay_flush_right():
    name = Line("Coöperatie Floreyn Soesterkwartier", align=Align.CENTER, bold=True)
    assert name.rows(32) == ["Coöperatie Floreyn", "Soesterkwartier"]
    assert PrintDoc((name,)).text(32) == "       Coöperatie Floreyn\n        Soesterkwartier\n"
    assert Line("  budget", "fl 12,50").rows(32) == ["  budget" + " " * 16 + "fl 12,50"]
    long_pair = Line("Boodschappenbudget Gemeente Amersfoort", "fl 12.345,50").rows(32)
    assert long_pair == ["Boodschappenbudget Gemeente", "Amersfoort" + " " * 10 + "fl 12.345,50"]
    assert Line("Betaling", large=True).rows(32) == ["Betaling"]


@settings(max_examples=40, deadline=None)
@given(docs, st.sampled_from([(32, "ZJ-5870"), (48, "TM-T20II")]))
def test_any_document_decodes_back_to_its_text(doc, paper):
    columns, profile = paper
    data = render_doc(doc, profile=profile, columns=columns, codepage=choose_codepage(profile))
    assert decode(data, profile).text(columns) == doc.text(columns)


def test_render_goes_through_python_escpos_dummy():
    doc = PrintDoc((Line("Totaal", "€ 1,00", bold=True),))
    dummy = Dummy(profile="TM-T20II")
    dummy.hw("INIT")
    assert render_doc(doc, profile="TM-T20II", columns=32, codepage="CP1252").startswith(dummy.output)


@pytest.mark.parametrize(
    "profile, wanted, expected",
    [("TM-T20II", None, "CP1252"), ("ZJ-5870", None, "CP1252"), ("simple", None, None), ("TM-T20II", "cp858", "CP858")],
)
def test_code_page_choice(profile, wanted, expected):
    assert choose_codepage(profile, wanted) == expected


@pytest.mark.parametrize("wanted", ["CP437", "CP999"])
def test_a_code_page_without_euro_is_refused(wanted):
    with pytest.raises(DeviceConfigError):
        choose_codepage("TM-T20II", wanted)


def test_fit_text_replaces_only_what_the_page_cannot_print():
    assert fit_text("€ 1,00 • Crème", "CP1252") == "€ 1,00 • Crème"
    assert fit_text("€ 1,00 • Crème", "CP858") == "€ 1,00 * Crème"
    assert fit_text("€ 1,00 – ĳs", "CP437") == "EUR 1,00 - ijs"


def test_too_long_a_document_is_refused():
    with pytest.raises(ValueError):
        render_doc(PrintDoc((Line("x"),) * (MAX_LINES + 1)), profile="default", columns=32, codepage="CP1252")


def test_unknown_paper_width_is_refused():
    with pytest.raises(DeviceConfigError):
        render_doc(PrintDoc((Line("x"),)), profile="default", columns=40, codepage="CP1252")


def test_long_qr_data_shrinks_to_fit_58_mm_and_still_scans():
    data = "https://floreyn.nl/bon/" + "7f3a9c2e0b414d8e" * 30  # ~500 characters
    doc = PrintDoc((Line("x"),), qr_data=data)
    decoded = decode(render_doc(doc, profile="ZJ-5870", columns=32, codepage="CP1252"), "ZJ-5870")
    assert decoded.images[0].width == 384 and f"[QR {data}]" in decoded.text(32)


def test_qr_data_too_long_for_the_paper_is_refused():
    with pytest.raises(ValueError):
        render_doc(PrintDoc((), qr_data="x" * 2000), profile="ZJ-5870", columns=32, codepage="CP1252")
