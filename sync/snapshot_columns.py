"""A page's cards column by column, so that zlib finds what repeats (issue 19: <= 4 MB for 100k cards).

Card entries one after another (sync/snapshot_entry.py) compressed to 5.7 MiB for 100k cards with two
budgets each: every entry repeats its budgets' labels, categories, dates and funder, and zlib cannot
see that a card's 16 random id bytes are followed by figures of a few known sizes. Here a page holds:

- a string table (labels, categories, dates, funders, id tags, alias prefixes), each string once;
- budget templates (label, categories, last day, funder, which optional figures it has) and card shapes
  (the templates of a card's budgets), so a card's budgets cost one small number, the same for most;
- columns: every card id, then every alias, every balance, ...; ids as their bytes, a sorted card id's
  first two bytes as the step from the card before (ascending ids: a small step, not two random bytes);
  numbers as byte planes over the column's lowest value (all low bytes, then all high bytes), so a
  constant column costs two bytes and a random one close to its entropy;
- the offline allowance as the difference from what the balance alone allows (nearly always 0).

Measured on the bench's 100k cards in 10k-card pages: the entries one after another zlib'd 5.99 MB,
these columns 4.27 MB (zlib 6 and 9 alike: 0.13 / 0.28 s to make, 9 ms to unpack, CPU), lzma 4.26 MB
(1.4 s to make, 151 ms to unpack: ten times the CPU on a Pi for 0.3 %, not used); the random ids alone
are 3.6 MB. The till rebuilds the very entries the server kept (`unpack`), so its store and lookups
are as before.
"""

from __future__ import annotations

import array
import re
import sys
from typing import Final, Sequence

from floreyn.sync.snapshot import BudgetInfo, CardInfo, SnapshotError
from floreyn.sync.snapshot_entry import (
    KINDS, TAGGEDHEX, BudgetParts, EntryOrCard, Reader, decode_card, entry, id_parts, part_bytes, short_keys, string_bytes,
    varint,
)

MAX_BUDGETS_PER_CARD: Final = 64  # a card shape longer than this is a bad page (members hold a handful)
_NUMBER_TAIL = re.compile(r"(.*?)([0-9]{1,18})\Z", re.DOTALL)  # "Lid 12345": the prefix once, the number as a number
_TYPECODES: Final = {1: "B", 2: "H", 4: "I", 8: "Q"}  # byte widths a column's numbers take (3 → 4 and so on)


class _Table:
    """Strings of a page, each once, numbered in order of first use."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        return self.ids.setdefault(text, len(self.ids))


# -- numbers -----------------------------------------------------------------------------------


def _width(span: int) -> int:
    need = (span.bit_length() + 7) // 8
    for w in _TYPECODES:
        if need <= w:
            return w if span else 0
    raise ValueError(f"a column spans {span}, beyond 64 bits")


def _ints(out: bytearray, values: Sequence[int]) -> None:
    """Lowest value, byte width, then each byte plane of (value - lowest), low byte first."""
    lo = min(values, default=0)
    width = _width(max(values, default=0) - lo)
    varint(out, lo)
    out.append(width)
    if width:
        rows = array.array(_TYPECODES[width], [v - lo for v in values])
        if sys.byteorder == "big":
            rows.byteswap()
        flat = rows.tobytes()
        for k in range(width):
            out += flat[k::width]


def _read_ints(r: Reader, n: int) -> list[int]:
    lo = r.varint()
    width = r.raw(1)[0]
    if width == 0:
        return [lo] * n
    if width not in _TYPECODES:
        raise SnapshotError(detail=f"bad column width {width}")
    flat = bytearray(n * width)
    for k in range(width):
        flat[k::width] = r.raw(n)
    rows = array.array(_TYPECODES[width])
    rows.frombytes(flat)
    if sys.byteorder == "big":
        rows.byteswap()
    return rows.tolist() if lo == 0 else [v + lo for v in rows]


def _read_index(r: Reader, n: int, size: int) -> list[int]:
    """A column of positions in a list of `size` (or flags, size 2): each one checked, none negative."""
    values = _read_ints(r, n)
    if values and not (0 <= min(values) and max(values) < size):
        raise SnapshotError(detail="a column points outside its table")
    return values


# -- strings -----------------------------------------------------------------------------------


def _ids(out: bytearray, table: _Table, texts: Sequence[str], *, ascending: bool) -> None:
    """Ids as kind, tag, length and bytes; when `ascending`, the first two bytes as the step from the id before."""
    parts = [id_parts(t) for t in texts]
    _ints(out, [k for k, _, _ in parts])
    _ints(out, [table(tag) for _, tag, _ in parts])
    _ints(out, [len(raw) for _, _, raw in parts])
    heads = [int.from_bytes(raw[:2], "big") for _, _, raw in parts]
    _ints(out, [h - p for h, p in zip(heads, [0, *heads][:-1], strict=True)] if ascending else heads)
    rest = b"".join(raw[2:] for _, _, raw in parts)
    varint(out, len(rest))
    out += rest


def _read_ids(r: Reader, n: int, table: list[str], *, ascending: bool) -> list[tuple[int, str, bytes]]:
    kinds, tags, sizes, heads = _read_index(r, n, KINDS), _read_index(r, n, len(table)), _read_ints(r, n), _read_ints(r, n)
    if ascending:
        at = 0
        for i, step in enumerate(heads):
            at += step
            heads[i] = at
    rest = r.raw(r.count(len(r.data)))
    out, pos = [], 0
    for kind, tag, size, head in zip(kinds, tags, sizes, heads, strict=True):
        if size < 0:
            raise SnapshotError(detail="bad id column")
        lead = min(size, 2)
        out.append((kind, table[tag] if kind == TAGGEDHEX else "", head.to_bytes(lead, "big") + rest[pos:pos + size - lead]))
        pos += size - lead
    if pos != len(rest):
        raise SnapshotError(detail="id bytes do not add up")
    return out


def _texts(out: bytearray, table: _Table, texts: Sequence[str]) -> None:
    """Free text as a prefix (in the table) and a trailing number: "Lid 12345" costs the number."""
    split = [(m[1], m[2]) if (m := _NUMBER_TAIL.match(t)) else (t, "") for t in texts]
    _ints(out, [table(prefix) for prefix, _ in split])
    _ints(out, [len(digits) for _, digits in split])
    _ints(out, [int(digits or 0) for _, digits in split])


def _read_texts(r: Reader, n: int, table: list[str]) -> list[str]:
    prefixes, sizes, numbers = _read_index(r, n, len(table)), _read_ints(r, n), _read_ints(r, n)
    return [table[p] + (str(num).zfill(size) if size else "") for p, size, num in zip(prefixes, sizes, numbers,
                                                                                      strict=True)]


# -- the page body -------------------------------------------------------------------------------

Template = tuple[int, tuple[int, ...], int, int, int]  # label, categories, expires on, funder (table), optional flags


def pack(entries: Sequence[EntryOrCard], shared: frozenset[str] | set[str] = frozenset()) -> bytes:
    """The entries (ascending card id) as columns, uncompressed: the card count, the string table, budget
    templates and card shapes, then the columns. A card may come as the CardInfo its entry is made from
    (`encode_card`): the same bytes, without encoding it only to decode it here (a delta's cards are made
    in the request; that round trip was some 45 % of a delta's CPU). Each card is named by its short id
    unless it is in `shared` or its neighbour here has the same short id (`short_keys`): the till rebuilds
    its entry with that key."""
    cards = [e if isinstance(e, CardInfo) else decode_card(e) for e in entries]
    table, templates, shapes = _Table(), dict[Template, int](), dict[tuple[int, ...], int]()
    cols = bytearray()
    _ids(cols, table, short_keys([c.card_id for c in cards], shared), ascending=True)
    _texts(cols, table, [c.alias for c in cards])
    _ints(cols, [int(c.blocked) for c in cards])
    ref = max((c.offline_allowance_cents for c in cards), default=0)  # the cap, when any card reaches it
    varint(cols, ref)
    _ints(cols, [_allowed(c.balance_cents, ref) - c.offline_allowance_cents for c in cards])
    _ints(cols, [c.state_version for c in cards])
    _ints(cols, [c.offline_uploaded_cents for c in cards])
    _ints(cols, [int(c.balance_cents is not None) for c in cards])
    _ints(cols, [c.balance_cents for c in cards if c.balance_cents is not None])
    _ints(cols, [shapes.setdefault(tuple(templates.setdefault(_template(table, b), len(templates))
                                         for b in c.budgets), len(shapes)) for c in cards])
    budgets = [b for c in cards for b in c.budgets]
    _ids(cols, table, [b.budget_id for b in budgets], ascending=False)
    _ints(cols, [b.remaining_cents for b in budgets])
    _ints(cols, [b.member_cap_left_cents for b in budgets if b.member_cap_left_cents is not None])
    _ints(cols, [b.confirm_above_cents for b in budgets if b.confirm_above_cents is not None])
    out = bytearray()
    varint(out, len(cards))
    varint(out, len(table.ids))
    for text in table.ids:
        raw = text.encode("utf-8")
        varint(out, len(raw))
        out += raw
    varint(out, len(templates))
    for label, categories, expires_on, funder, flags in templates:
        for n in (label, len(categories), *categories, expires_on, funder, flags):
            varint(out, n)
    varint(out, len(shapes))
    for shape in shapes:
        varint(out, len(shape))
        for t in shape:
            varint(out, t)
    return bytes(out + cols)


def _allowed(balance: int | None, ref: int) -> int:
    return max(0, min(balance or 0, ref))


def _template(table: _Table, b: BudgetInfo) -> Template:
    flags = int(b.member_cap_left_cents is not None) | int(b.confirm_above_cents is not None) << 1
    return table(b.label), tuple(table(c) for c in b.categories), table(b.expires_on), table(b.funder), flags


def unpack(plain: bytes, most: int) -> list[bytes]:
    """The entries `pack` was given, rebuilt; at most `most` cards (a typed error for anything malformed)."""
    r = Reader(plain, what="page body")
    try:
        return _unpack(r, r.count(most))
    except (UnicodeDecodeError, ValueError, IndexError, OverflowError) as exc:
        raise SnapshotError(detail=f"bad page body: {str(exc)[:120]}") from None


def _unpack(r: Reader, n: int) -> list[bytes]:
    size = len(r.data)
    table = [r.raw(r.count(size)).decode("utf-8") for _ in range(r.count(size))]
    coded = [string_bytes(t) for t in table]  # each string once as entries hold it
    templates = []
    for _ in range(r.count(size)):
        label, categories = r.count(len(table) - 1), [r.count(len(table) - 1) for _ in range(r.count(size))]
        expires_on, funder, flags = r.count(len(table) - 1), r.count(len(table) - 1), r.count(3)
        templates.append((coded[label], [coded[c] for c in categories], coded[expires_on], coded[funder],
                          bool(flags & 1), bool(flags & 2)))
    shapes = [[templates[r.count(len(templates) - 1)] for _ in range(r.count(MAX_BUDGETS_PER_CARD))]
              for _ in range(r.count(size))]
    card_ids = _read_ids(r, n, table, ascending=True)
    aliases = _read_texts(r, n, table)
    blocked = _read_index(r, n, 2)
    ref = r.varint()
    short = _read_ints(r, n)
    versions, uploaded, has_balance = _read_ints(r, n), _read_ints(r, n), _read_index(r, n, 2)
    balances = iter(_read_ints(r, sum(has_balance)))
    card_shapes = [shapes[s] for s in _read_index(r, n, len(shapes))]
    flat = [t for shape in card_shapes for t in shape]
    budget_ids = iter(_read_ids(r, len(flat), table, ascending=False))
    remaining = iter(_read_ints(r, len(flat)))
    caps = iter(_read_ints(r, sum(t[4] for t in flat)))
    confirms = iter(_read_ints(r, sum(t[5] for t in flat)))
    if r.pos != size:
        raise SnapshotError(detail="trailing bytes after the columns")
    out = []
    for (kind, tag, raw), alias, block, gap, version, up, has, shape in zip(
            card_ids, aliases, blocked, short, versions, uploaded, has_balance, card_shapes, strict=True):
        balance = next(balances) if has else None
        budgets: list[BudgetParts] = [
            (part_bytes(*next(budget_ids)), label, categories, expires_on, next(remaining), funder,
             next(caps) if has_cap else None, next(confirms) if has_confirm else None)
            for label, categories, expires_on, funder, has_cap, has_confirm in shape]
        out.append(entry(part_bytes(kind, tag, raw), string_bytes(alias), bool(block), _allowed(balance, ref) - gap,
                         version, up, budgets, balance))
    return out
