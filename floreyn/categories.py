"""Merchant categories as data: names, sub-categories, and which merchants a budget may pay.

A category is a lowercase name ("duurzaam") or a sub-category under one
parent ("klussen/vakman", "klussen/handig"). The cooperative defines them on
the server; tills get the list in the signed snapshot and take any
well-formed name they have not seen before, so a new category needs no
upgrade. One rule, used by the server and the till alike:

    a budget that names no categories pays any merchant; otherwise it pays a merchant
    that has one of the named categories or a sub-category of one ("klussen" covers "klussen/handig")
"""

from __future__ import annotations

import re
from typing import Final, Iterable

MAX_CATEGORY_LEN: Final = 64  # codec.MAX_ID_LEN: a category travels in snapshots and the ledger's ids
CATEGORY_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}(/[a-z0-9][a-z0-9_-]{0,30})?$")


def valid_category(text: str) -> bool:
    return isinstance(text, str) and len(text) <= MAX_CATEGORY_LEN and CATEGORY_RE.match(text) is not None


def parent(category: str) -> str | None:
    """'klussen' for 'klussen/vakman'; None for a top-level category."""
    head, sep, _ = category.partition("/")
    return head if sep else None


def covers(budget_categories: Iterable[str], merchant_categories: Iterable[str]) -> bool:
    """May a budget naming `budget_categories` pay a merchant with `merchant_categories`? (module rule)"""
    wanted = tuple(budget_categories)
    if not wanted:
        return True
    return any(m == b or m.startswith(b + "/") for m in merchant_categories for b in wanted)
