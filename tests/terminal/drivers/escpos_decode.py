"""A small ESC/POS decoder for the commands our renderer sends, to check printed bytes.

Strict on purpose: an unknown command raises, so a renderer change that emits
something new fails the tests instead of slipping past the decoder.

- `parse(buf)` splits a byte stream into commands, incrementally (it returns
  how much it consumed; an incomplete command at the end is left for later),
  which is what the fake printers need to answer DLE EOT as it arrives.
- `decode(data, profile)` interprets a whole job: text in the selected code
  page, emphasis, size, alignment, raster images, cuts.
- `Decoded.text(columns)` lays it out like `PrintDoc.text`, with each raster
  image replaced by what zxing-cpp reads from it: "[QR <data>]".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import zxingcpp
from escpos.capabilities import get_profile
from escpos.codepages import CodePages
from PIL import Image, ImageOps

ESC, GS, DLE, LF, FS = 0x1B, 0x1D, 0x10, 0x0A, 0x1C
_ESC_ONE_ARG = {ord(c) for c in "t!Ead-M{3J"}
_GS_ONE_ARG = {ord(c) for c in "!Bb"}


class Incomplete(Exception):
    pass


def _command(buf: bytes, i: int) -> tuple[tuple, int]:
    """One command starting at buf[i]: (token, length)."""
    b = buf[i]
    need = lambda n: buf[i : i + n] if len(buf) - i >= n else (_ for _ in ()).throw(Incomplete())  # noqa: E731
    if b == LF:
        return ("lf",), 1
    if b == ESC:
        op = need(2)[1]
        if op == ord("@"):
            return ("init",), 2
        if op == ord("2"):
            return ("line_spacing_default",), 2
        if op in _ESC_ONE_ARG:
            return ("esc", chr(op), need(3)[2]), 3
        raise ValueError(f"unknown ESC {op:#x} at {i}")
    if b == GS:
        op = need(2)[1]
        if op in _GS_ONE_ARG:
            return ("gs", chr(op), need(3)[2]), 3
        if op == ord("V"):
            m = need(3)[2]
            return (("cut", m), 3) if m in (0, 1, 48, 49) else (("cut", m, need(4)[3]), 4)
        if op == ord("v"):
            head = need(8)
            assert head[2] == ord("0"), "only GS v 0 raster images"
            width_bytes, height = head[4] | head[5] << 8, head[6] | head[7] << 8
            data = need(8 + width_bytes * height)[8:]
            return ("raster", head[3], width_bytes, height, bytes(data)), 8 + width_bytes * height
        raise ValueError(f"unknown GS {op:#x} at {i}")
    if b == FS:  # only the Chinese character mode switches: FS & (on), FS . (off)
        op = need(2)[1]
        if op in (ord("&"), ord(".")):
            return ("chinese", op == ord("&")), 2
        raise ValueError(f"unknown FS {op:#x} at {i}")
    if b == DLE:
        head = need(3)
        assert head[1] == 0x04, "only DLE EOT"
        return ("status", head[2]), 3
    if b < 0x20:
        raise ValueError(f"unknown control byte {b:#x} at {i}")
    j = i
    while j < len(buf) and buf[j] >= 0x20:
        j += 1
    return ("text", bytes(buf[i:j])), j - i


def parse_spans(buf: bytes) -> tuple[list[tuple[tuple, int, int]], int]:
    """(command, start, end) for each complete command in `buf`, and the bytes they cover."""
    spans, i = [], 0
    while i < len(buf):
        try:
            token, length = _command(buf, i)
        except Incomplete:
            break
        if token[0] == "text" and i + length == len(buf):
            break  # text may continue in the next chunk
        spans.append((token, i, i + length))
        i += length
    return spans, i


def parse(buf: bytes) -> tuple[list[tuple], int]:
    """Commands in `buf` and the number of bytes they cover (the rest is an unfinished command)."""
    spans, used = parse_spans(buf)
    return [token for token, _, _ in spans], used


@dataclass
class PrintedLine:
    text: str
    bold: bool
    width: int  # 1 or 2 (double width)
    height: int
    align: str  # "left" / "center" / "right"


@dataclass
class Decoded:
    lines: list[PrintedLine | Image.Image] = field(default_factory=list)
    codepages: list[int] = field(default_factory=list)
    cuts: int = 0
    feeds: int = 0
    status_queries: list[int] = field(default_factory=list)

    @property
    def images(self) -> list[Image.Image]:
        return [item for item in self.lines if isinstance(item, Image.Image)]

    def text(self, columns: int) -> str:
        out = []
        for item in self.lines:
            if isinstance(item, Image.Image):
                out.append(f"[QR {read_qr(item)}]")
                continue
            width = columns // item.width
            out.append(item.text.center(width).rstrip() if item.align == "center" else item.text)
        return "\n".join(out) + "\n"


def raster_image(width_bytes: int, height: int, data: bytes) -> Image.Image:
    """A GS v 0 bitmap (1 = black dot) as a white-background greyscale image."""
    img = Image.frombytes("1", (width_bytes * 8, height), data)  # PIL "1": 1 = white
    return ImageOps.invert(img.convert("L"))


def read_qr(img: Image.Image) -> str | None:
    padded = ImageOps.expand(img, border=20, fill=255)
    found = zxingcpp.read_barcodes(padded)
    return found[0].text if found else None


def decode(data: bytes, profile: str = "default", *, starts_in_chinese_mode: bool = False) -> Decoded:
    """`starts_in_chinese_mode`: a printer whose firmware is in Chinese mode after ESC @ (cheap
    58 mm units): bytes >= 0x80 then print as GB18030 double-byte glyphs until FS . cancels it."""
    tokens, used = parse(data)
    rest = data[used:]
    if rest:
        if not _trailing_text(rest):
            raise ValueError(f"truncated command at byte {used}: {rest[:16]!r}")
        tokens.append(("text", rest))
    pages = get_profile(profile).codePages
    out, codec = Decoded(), "cp437"
    chinese = starts_in_chinese_mode
    style = {"bold": False, "width": 1, "height": 1, "align": "left"}
    pending: list[str] = []
    line_style: dict | None = None
    for token in tokens:
        kind = token[0]
        if kind == "text":
            line_style = line_style or dict(style)
            wide = chinese and any(b >= 0x80 for b in token[1])
            pending.append(token[1].decode("gb18030", "replace") if wide else token[1].decode(codec))
        elif kind == "lf":
            s = line_style or style
            out.lines.append(PrintedLine("".join(pending), s["bold"], s["width"], s["height"], s["align"]))
            pending, line_style = [], None
        elif kind == "init":
            style = {"bold": False, "width": 1, "height": 1, "align": "left"}
            codec = "cp437"
            chinese = starts_in_chinese_mode
        elif kind == "chinese":
            chinese = token[1]
        elif kind == "esc":
            op, n = token[1], token[2]
            if op == "t":
                out.codepages.append(n)
                codec = CodePages.get_encoding(pages[str(n)])["python_encode"]
            elif op == "!":  # print mode: bit 3 emphasis, bit 4 double height, bit 5 double width
                style.update(bold=bool(n & 0x08), height=2 if n & 0x10 else 1, width=2 if n & 0x20 else 1)
            elif op == "E":
                style["bold"] = bool(n & 1)
            elif op == "a":
                style["align"] = ("left", "center", "right")[n % 48]
            elif op == "d":
                out.feeds += n
        elif kind == "gs" and token[1] == "!":
            style.update(width=(n := token[2]) // 16 + 1, height=n % 16 + 1)
        elif kind == "raster":
            out.lines.append(raster_image(token[2], token[3], token[4]))
        elif kind == "cut":
            out.cuts += 1
        elif kind == "status":
            out.status_queries.append(token[1])
    assert not pending, f"text without a line feed at the end: {pending}"
    return out


def _trailing_text(rest: bytes) -> bool:
    return all(b >= 0x20 for b in rest)
