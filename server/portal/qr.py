"""QR codes of payment requests, drawn on the server (SVG for the page, PNG for sharing)."""

from __future__ import annotations

import io
from typing import Final

import qrcode
import qrcode.image.svg

BORDER: Final = 4  # the quiet zone the QR standard asks for; phone cameras fail without it


def svg(data: str) -> str:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=BORDER,
                      error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = img.to_string().decode()
    # A size in mm from the library; the page sizes it with CSS instead.
    return out.replace('width="', 'data-w="', 1).replace('height="', 'data-h="', 1).replace(
        "<svg ", '<svg role="img" aria-label="QR-code" class="qr" ', 1)


def png(data: str) -> bytes:
    img = qrcode.make(data, border=BORDER, box_size=8, error_correction=qrcode.constants.ERROR_CORRECT_M)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()
