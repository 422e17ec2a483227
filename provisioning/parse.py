"""Reading what an admin types (flags and CSV cells) into exact values, or a typed refusal naming the field.

Amounts go through floreyn.money.parse_money ("12,50", "€ 12,50", "1.234,50");
percentages and multipliers through Decimal, never float, so "2,5 %" is
exactly 250 basis points.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Final, Iterable

from floreyn.categories import valid_category
from floreyn.money import Currency, Money, MoneyError, parse_money
from floreyn.provisioning.errors import invalid, invalid_from

MAX_DESK_CENTS: Final = 10_000_000  # the server's limit for one desk transaction or budget (100.000,00)
# The categories the cooperative started with (the till's list too, terminal/config.py). More are data on the
# server (`category add`); tills take any well-formed name (floreyn/categories.py).
KNOWN_CATEGORIES: Final = ("winkel", "klussen", "groen", "zorg", "markt")
_IDENT: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_HEX32: Final = re.compile(r"^[0-9a-f]{32}$")
BP_ONE: Final = 10_000


def ident(text: str, field: str) -> str:
    text = text.strip()
    if not _IDENT.match(text):
        raise invalid(field, "{text!r} is not a valid id (1-64 characters: letters, digits, . _ : -)", text=text)
    return text


def money(text: str, field: str, currency: Currency, *, max_cents: int = MAX_DESK_CENTS) -> Money:
    try:
        return parse_money(text, currency, max_cents=max_cents)
    except MoneyError as exc:
        raise invalid_from(field, exc) from None


def iso_date(text: str, field: str) -> str:
    text = text.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise invalid(field, "{text!r} is not a date; write YYYY-MM-DD, e.g. 2025-06-30", text=text) from None


def _decimal(text: str, field: str, what: str) -> Decimal:
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise invalid(field, "{text!r} is not a {what}", text=text, what=what) from None
    if not value.is_finite():
        raise invalid(field, "{text!r} is not a {what}", text=text, what=what)
    return value


def percent_bp(text: str, field: str) -> int:
    """A save rate: "5", "5%", "2,5 %" -> basis points (500, 500, 250); 0 to 100 %, at most 0,01 % precise."""
    value = _decimal(text.strip().removesuffix("%"), field, "percentage")
    bp = value * 100
    if bp != bp.to_integral_value() or not 0 <= bp <= BP_ONE:
        raise invalid(field, "{text!r}: give 0 to 100 percent, at most 2 decimals", text=text)
    return int(bp)


def multiplier_bp(text: str, field: str) -> int:
    """A campaign's save multiplier: "2", "x2", "1,5" -> 20000, 20000, 15000 basis points (1x to 10x)."""
    value = _decimal(text.strip().lower().removeprefix("x").removesuffix("x"), field, "factor")
    bp = value * BP_ONE
    if bp != bp.to_integral_value() or not BP_ONE <= bp <= 10 * BP_ONE:
        raise invalid(field, "{text!r}: give a factor from 1 to 10, e.g. 2 for double saving", text=text)
    return int(bp)


def category(text: str, field: str, known: Iterable[str] | None = None) -> str:
    """A well-formed category name (floreyn/categories.py); with `known` (the server's list), one of those."""
    text = text.strip().lower()
    if not valid_category(text):
        raise invalid(field, "{text!r} is not a category name (like duurzaam or klussen/vakman)", text=text)
    if known is not None and text not in known:
        names = ", ".join(sorted(known))
        raise invalid(field, "unknown category {text!r}; choose from {names}", text=text, names=names)
    return text


def categories(text: str, field: str, known: Iterable[str] | None = None) -> list[str]:
    """A list of categories in one cell: "winkel markt", "winkel|markt", "winkel,markt"; empty = any merchant."""
    parts = [p for p in re.split(r"[\s,;|+]+", text.strip()) if p]
    return sorted({category(p, field, known) for p in parts})


def card_hex(text: str, field: str = "kaart") -> str:
    """A card id as printed or copied: 32 hex digits, spaces and dashes ignored, any case."""
    cleaned = re.sub(r"[\s-]", "", text).lower()
    if not _HEX32.match(cleaned):
        raise invalid(field, "{text!r} is not a card id (32 hex digits)", text=text)
    return cleaned


def text(value: str, field: str, max_len: int, *, required: bool = True) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise invalid(field, "must not be empty")
        return None
    if len(value) > max_len:
        raise invalid(field, "too long ({n_value} characters, at most {max_len})", n_value=len(value), max_len=max_len)
    return value
