"""The payment request's QR code reads back as the pay page's address (zxing-cpp, as a phone camera would)."""

import io

import zxingcpp
from PIL import Image

from floreyn.server.portal import qr


def test_png_decodes_to_the_address():
    url = "https://floreyn.example.nl/portal/r/iTtJB5e-57o9aR-b"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png(url))))
    assert [r.text for r in found] == [url]


def test_svg_is_sized_by_the_page_and_labelled():
    svg = qr.svg("https://x.example/portal/r/abc")
    assert svg.startswith("<svg ") and 'role="img"' in svg and 'class="qr"' in svg and ' width="' not in svg
