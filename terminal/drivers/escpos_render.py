"""PrintDoc -> ESC/POS bytes, through python-escpos, for one printer profile and paper width.

The document is rendered into python-escpos's `Dummy` printer and the bytes
go to the real transport in one write: the same bytes whatever the cable,
a render problem never looks like a printer fault, and the transport sees
one burst instead of a hundred small writes.

The euro sign: ESC/POS printers have no UTF-8, only code pages selected with
ESC t n, and the slot numbers differ per model. We pick, from the python-escpos
capability profile of the configured model, the first of CP1252 / CP858 /
ISO-8859-15 it offers (all three have a €; CP1252 also has the bullet of a
masked card number) and select it once per receipt. A profile without any
of them (e.g. `simple`) gets "EUR" instead of a wrong glyph; that
transliteration happens before layout, so columns still line up.
"""

from __future__ import annotations

import copy
import unicodedata
from typing import Final

import qrcode
from escpos.capabilities import get_profile
from escpos.codepages import CodePages
from escpos.printer import Dummy
from PIL import Image

from floreyn.terminal.drivers.base import Align, DeviceConfigError, Line, PrintDoc

EURO_CODEPAGES: Final = ("CP1252", "CP858", "ISO_8859-15")
PAPER_DOTS: Final = {32: 384, 42: 512, 48: 576}  # font A is 12 dots wide; 58 mm paper prints 48 mm
CANCEL_CHINESE_MODE: Final = b"\x1c\x2e"  # FS . : print single-byte code pages, not GB18030 (after ESC @)
MAX_LINES: Final = 400  # a day-close report is long; a runaway loop is longer
QR_BOX_DOTS: Final = 5  # one QR module = 5 dots = 0.6 mm at 203 dpi: easy for phone cameras
MAX_QR_CHARS: Final = 1024  # a transaction id or a URL; beyond this a QR on 58 mm paper stops scanning
_FALLBACK: Final = {
    "€": "EUR",
    "•": "*",
    "·": ".",
    "–": "-",
    "—": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "\u00a0": " ",
}


def lowest_slots(profile_name: str) -> dict[str, int]:
    """Code page name -> ESC t slot; where a profile lists a page twice, the lower (Epson standard) slot."""
    slots: dict[str, int] = {}
    for index, name in get_profile(profile_name).codePages.items():
        if name != "Unknown" and (name not in slots or int(index) < slots[name]):
            slots[name] = int(index)
    return slots


def python_codec(codepage: str) -> str:
    return str(CodePages.get_encoding(codepage)["python_encode"])


def choose_codepage(profile_name: str, wanted: str | None = None) -> str | None:
    """The code page to print in: `wanted` if given and usable, else the first € page the profile has."""
    pages = get_profile(profile_name).get_code_pages()
    if wanted is not None:
        name = wanted.upper()
        if name not in pages or not _encodes(name, "€"):
            detail = f"codetabel {wanted!r} kent geen € of ontbreekt in profiel {profile_name}"
            raise DeviceConfigError(device="bonprinter", detail=detail)
        return name
    for name in EURO_CODEPAGES:
        if name in pages:
            return name
    return None


def _encodes(codepage: str, char: str) -> bool:
    try:
        return len(char.encode(python_codec(codepage))) == 1
    except (UnicodeEncodeError, KeyError, LookupError):
        return False


def fit_text(text: str, codepage: str) -> str:
    """Replace what the code page cannot print by its nearest plain form."""
    out = []
    for char in text:
        if ord(char) < 128 or _encodes(codepage, char):
            out.append(char)
        elif char in _FALLBACK:
            out.append(_FALLBACK[char])
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
            out.append(plain or "?")
    return "".join(out)


def fit_line(line: Line, codepage: str) -> Line:
    return Line(fit_text(line.left, codepage), fit_text(line.right, codepage), line.bold, line.large, line.align)


def fit_doc(doc: PrintDoc, codepage: str) -> PrintDoc:
    """The document as this printer will show it (what golden files for € -less profiles hold)."""
    return PrintDoc(tuple(fit_line(line, codepage) for line in doc.lines), doc.qr_data, doc.cut, doc.doc_id)


def qr_image(data: str, width_dots: int) -> Image.Image:
    """A QR code as a 1-bit image, centred on a strip as wide as the printable paper.

    Modules are QR_BOX_DOTS wide, smaller for long data so the code still fits the
    paper; below 2 dots a module no longer scans reliably and we refuse.
    """
    code = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    code.box_size = min(QR_BOX_DOTS, width_dots // (code.modules_count + 2 * code.border))
    if code.box_size < 2:
        raise ValueError(f"QR data of {len(data)} characters does not fit {width_dots} dots of paper")
    img = code.make_image().get_image().convert("1")
    strip = Image.new("1", (width_dots, img.height), 1)
    strip.paste(img, ((width_dots - img.width) // 2, 0))
    return strip


def render_doc(
    doc: PrintDoc, *, profile: str, columns: int, codepage: str | None, cancel_chinese_mode: bool = False
) -> bytes:
    """The ESC/POS bytes for `doc`: init, code page, styled lines, raster QR, feed and cut.

    `cancel_chinese_mode`: send FS . after ESC @, for printers whose firmware
    starts (and resets) into Chinese character mode, where € and é come out
    as Chinese glyphs.
    """
    if columns not in PAPER_DOTS:
        raise DeviceConfigError(device="bonprinter", detail=f"{columns} kolommen; kies 32 (58 mm) of 48 (80 mm)")
    if len(doc.lines) > MAX_LINES:
        raise ValueError(f"document has {len(doc.lines)} lines, more than {MAX_LINES}")
    if doc.qr_data and len(doc.qr_data) > MAX_QR_CHARS:
        raise ValueError(f"QR data has {len(doc.qr_data)} characters, more than {MAX_QR_CHARS}")
    printer = Dummy(profile=profile)
    dots = _fit_media(printer, PAPER_DOTS[columns])
    pages = lowest_slots(profile)
    printer.magic.encoder.codepages.update(pages)  # this printer's own encoder: prefer the standard slot
    page = codepage or ("CP437" if "CP437" in pages else next(iter(pages)))
    printer.hw("INIT")  # ESC @ also resets the code page, so the selection below is always sent
    if cancel_chinese_mode:
        printer._raw(CANCEL_CHINESE_MODE)
    printer.magic.encoding = None
    printer.magic.force_encoding(page)
    for line in doc.lines:
        line = fit_line(line, page)
        printer.set(
            align="center" if line.align is Align.CENTER else "left",
            bold=line.bold,
            normal_textsize=not line.large,
            double_width=line.large,
            double_height=line.large,
        )
        for row in line.rows(columns):
            printer.text(row + "\n")
    printer.set(align="left", bold=False, normal_textsize=True)
    if doc.qr_data:
        printer.print_and_feed(1)  # paper feed, not a text line: the text form shows no blank line here
        printer.image(qr_image(doc.qr_data, dots), impl="bitImageRaster", center=False)
    if doc.cut:
        printer.cut()
    else:
        printer.print_and_feed(3)
    return printer.output


def _fit_media(printer: Dummy, paper_dots: int) -> int:
    """Tell python-escpos the printable width (profiles often say "Unknown") so images are checked against it."""
    data = copy.deepcopy(printer.profile.profile_data)
    known = data.get("media", {}).get("width", {}).get("pixels")
    dots = min(paper_dots, int(known)) if isinstance(known, int) else paper_dots
    data["media"] = {"width": {"mm": data.get("media", {}).get("width", {}).get("mm", "Unknown"), "pixels": dots}}
    printer.profile.profile_data = data  # an instance attribute: the shared profile class stays untouched
    return dots
