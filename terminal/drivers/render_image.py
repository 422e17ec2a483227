"""A PrintDoc as a picture of the paper roll, for the virtual printer (demo screen and run folder).

Drawn with DejaVu Sans Mono, which has the € and the bullet: the system copy
(fonts-dejavu-core) when present, else the copy bundled in fonts/ (license
beside it). At 20 px a character is 12 px wide, so 32 columns make a 384 px
strip: the same width in dots as 58 mm thermal paper, and 48 columns 576.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from floreyn.terminal.drivers.base import Align, PrintDoc
from floreyn.terminal.drivers.escpos_render import qr_image

FONT_PX: Final = 20
CELL_W: Final = 12  # DejaVu Sans Mono advance at 20 px
LINE_H: Final = 26
MARGIN: Final = 16
_SYSTEM_FONTS: Final = Path("/usr/share/fonts/truetype/dejavu")
_BUNDLED_FONT: Final = Path(__file__).with_name("fonts") / "DejaVuSansMono.ttf"


@lru_cache(maxsize=8)
def _font(bold: bool, size: int) -> tuple[ImageFont.FreeTypeFont, int]:
    """The font and the stroke width that fakes bold when only the regular face exists."""
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    for path in (_SYSTEM_FONTS / name, _SYSTEM_FONTS / "DejaVuSansMono.ttf", _BUNDLED_FONT):
        if path.exists():
            stroke = 1 if bold and not path.name.endswith("-Bold.ttf") else 0
            return ImageFont.truetype(str(path), size), stroke
    raise FileNotFoundError(f"no DejaVu Sans Mono: install fonts-dejavu-core or restore {_BUNDLED_FONT}")


def render_image(doc: PrintDoc, columns: int = 32) -> Image.Image:
    width = columns * CELL_W + 2 * MARGIN
    rows: list[tuple[str, bool, bool]] = []
    for line in doc.lines:
        for text in line.rows(columns):
            if line.align is Align.CENTER:
                text = text.center(line.width(columns)).rstrip()
            rows.append((text, line.bold, line.large))
    qr = qr_image(doc.qr_data, columns * CELL_W) if doc.qr_data else None
    height = MARGIN * 2 + sum(LINE_H * (2 if large else 1) for _, _, large in rows) + (qr.height if qr else 0)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    y = MARGIN
    for text, bold, large in rows:
        font, stroke = _font(bold, FONT_PX * (2 if large else 1))
        draw.text((MARGIN, y), text, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
        y += LINE_H * (2 if large else 1)
    if qr is not None:
        img.paste(qr.convert("L"), (MARGIN, y))
    return img


def render_png(doc: PrintDoc, columns: int = 32) -> bytes:
    out = io.BytesIO()
    render_image(doc, columns).save(out, format="PNG", optimize=True)
    return out.getvalue()
