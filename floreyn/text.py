"""Text that leaves the system for a person's eyes or a spreadsheet: one place to make it harmless.

`printable` reduces any text to printable characters before it goes onto
paper (receipts, welcome slips, day reports) or a till's screen: an alias
holding ESC p (opens the cash drawer) or GS V (cuts the paper) must reach
the printer as nothing at all. Control characters (C0, DEL, C1), Unicode
format characters (bidi overrides, zero-width joiners) and unassigned,
private-use or surrogate code points are dropped; tab, CR and LF become a
space.

`csv_cell` neutralises a spreadsheet formula in one CSV cell, as OWASP's
"CSV Injection" page recommends: a text cell starting with =, +, -, @, tab or
CR gets a leading apostrophe, so Excel and LibreOffice show it as text.
Plain numbers ("-12.50", "+3", ASCII digits) cannot be formulas and are left
alone, so amounts stay numbers. Every CSV the project writes goes through
`csv_row`, except the bookkeeping export on PostgreSQL, which applies the same
rule in SQL built from FORMULA_START and PLAIN_NUMBER_PATTERN (server/export.py;
its test compares the bytes with this function's).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Iterable

_DROP_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_AS_SPACE: Final = frozenset("\t\r\n")
MAX_PRINTABLE_CHARS: Final = 10_000  # longer text is cut before the per-character work
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits only: the same pattern must mean the same in PostgreSQL's regular expressions, where \d follows
# the database's locale (a spreadsheet reads no other digits as a number anyway).
PLAIN_NUMBER_PATTERN: Final = r"[+-]?[0-9]+(?:[.,][0-9]+)?"
_PLAIN_NUMBER: Final = re.compile(PLAIN_NUMBER_PATTERN)


def printable(text: str) -> str:
    """`text` with only printable characters (see the module docstring)."""
    text = text[:MAX_PRINTABLE_CHARS]
    if text.isascii() and text.isprintable():
        return text  # the common case, at C speed
    out = []
    for ch in text:
        if ch in _AS_SPACE:
            out.append(" ")
        elif unicodedata.category(ch) not in _DROP_CATEGORIES:
            out.append(ch)
    return "".join(out)


def csv_cell(value: object) -> object:
    """One CSV cell, with a leading formula character neutralised (non-text values pass unchanged)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_row(values: Iterable[object]) -> list[object]:
    """A row for csv.writer with every cell through `csv_cell`."""
    return [csv_cell(v) for v in values]
