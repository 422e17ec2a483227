"""CSV downloads that a spreadsheet opens safely.

A cell a spreadsheet would read as a formula (starting with = + - @, a tab
or a carriage return) gets a leading apostrophe, unless it is a plain number
(amounts like -12.50 stay numbers). Amounts are written with a dot and two
decimals, which every spreadsheet reads as a number.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Final, Iterable, Sequence

from fastapi.responses import Response

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_NUMBER: Final = re.compile(r"^-?\d+(\.\d+)?$")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    return Response(text(header, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
