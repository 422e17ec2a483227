"""One card's compact snapshot entry: what the server keeps per card and the till stores per card.

`encode_card` writes a CardInfo as varints and strings, each string as its bytes when it is an id: a uuid
or hex string as its raw bytes, the desk tool's tagged ids ("B-3f9a...") as the tag and the bytes
(`id_parts`). The till looks a card up by decoding its entry (`decode_card`); on the wire a page carries
its entries column by column instead (sync/snapshot_columns.py), which rebuilds the same entries.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Final, Sequence

from floreyn.sync.snapshot import FULL_ID_HEX, SHORT_ID_HEX, BudgetInfo, CardInfo, SnapshotError, short_id

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_HEX = re.compile(r"(?:[0-9a-f]{2})+\Z")
_TAGGED_HEX = re.compile(r"([A-Za-z0-9_]{1,16})-((?:[0-9a-f]{2}){4,})\Z")  # "B-3f9a...": the desk tool's budget ids
TEXT, HEXBYTES, UUIDBYTES, TAGGEDHEX = 0, 1, 2, 3  # how a string is stored (low two bits of its length prefix)
KINDS: Final = 4


def varint(out: bytearray, n: int) -> None:
    if 0 <= n < 64:  # one byte: most numbers of an entry (a till rebuilds 100k entries from a full fetch)
        out.append(n << 1)
        return
    n = (n << 1) if n >= 0 else ((-n << 1) - 1)  # zigzag: small negatives stay small
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def short_keys(card_ids: Sequence[str], shared: frozenset[str] | set[str]) -> list[str]:
    """Each card's key on the wire: its short id, or its full id when it is in `shared` (ids whose short id
    another card of the server has too) or when its neighbour in `card_ids` (ascending) has the same short id."""
    out = []
    for i, card_id in enumerate(card_ids):
        lead = short_id(card_id)
        clash = card_id in shared or len(card_id) != FULL_ID_HEX or (
            i > 0 and short_id(card_ids[i - 1]) == lead) or (
            i + 1 < len(card_ids) and short_id(card_ids[i + 1]) == lead)
        out.append(card_id if clash else lead)
    return out


def superseded(held: Sequence[str], incoming: Sequence[str]) -> list[str]:
    """The keys a till holds that an incoming delta's keys replace besides their own: a card's full id
    when it comes by its short id (stored by a till before format 4, or its short id is no longer
    shared), its short id when it comes by its full id (another card now shares it)."""
    by_lead: dict[str, list[str]] = {}
    for key in held:
        by_lead.setdefault(short_id(key), []).append(key)
    out = []
    for key in incoming:
        lead = short_id(key)
        out += [k for k in by_lead.get(lead, ()) if k != key and (len(key) == SHORT_ID_HEX or k == lead)]
    return sorted(set(out))


def id_parts(text: str) -> tuple[int, str, bytes]:
    """(kind, tag, bytes) of a string: an id as its raw bytes (the tag of a tagged id apart), else UTF-8."""
    if _UUID.match(text):
        return UUIDBYTES, "", uuid.UUID(text).bytes
    if _HEX.match(text):
        return HEXBYTES, "", bytes.fromhex(text)
    if tagged := _TAGGED_HEX.match(text):
        return TAGGEDHEX, tagged[1], bytes.fromhex(tagged[2])
    return TEXT, "", text.encode("utf-8")


def id_text(kind: int, tag: str, raw: bytes) -> str:
    """The string `id_parts` split."""
    if kind == UUIDBYTES:
        return str(uuid.UUID(bytes=raw))
    if kind == HEXBYTES:
        return raw.hex()
    if kind == TAGGEDHEX:
        return f"{tag}-{raw.hex()}"
    return raw.decode("utf-8")


def part_bytes(kind: int, tag: str, raw: bytes) -> bytes:
    """A string as an entry holds it, from its parts: the length and kind, the bytes, a tagged id's tag."""
    head = _head((len(raw) << 2) | kind)
    return head + raw + _tag(tag) if kind == TAGGEDHEX else head + raw


@functools.lru_cache(maxsize=256)
def _tag(tag: str) -> bytes:
    return string_bytes(tag)  # "B": the same for every budget id of the desk tool

@functools.lru_cache(maxsize=1024)
def _head(n: int) -> bytes:
    """A string's length-and-kind prefix: the same few for every id of a page."""
    out = bytearray()
    varint(out, n)
    return bytes(out)


def string_bytes(text: str) -> bytes:
    return part_bytes(*id_parts(text))


def _opt(out: bytearray, n: int | None) -> None:
    """None as 0, else 1 followed by the number."""
    if n is None:
        out.append(0)
    else:
        out.append(1)
        varint(out, n)


# A budget's part of an entry, its strings already as entry bytes: (id, label, categories, expires on,
# remaining, funder, member cap left, confirm above).
BudgetParts = tuple[bytes, bytes, Sequence[bytes], bytes, int, bytes, int | None, int | None]


def entry(card_id: bytes, alias: bytes, blocked: bool, allowance: int, version: int, uploaded: int,
          budgets: Sequence[BudgetParts], balance: int | None) -> bytes:
    """The entry's layout, written once: `encode_card` and the page's column decoder both call it."""
    out = bytearray(card_id)
    out += alias
    varint(out, int(blocked))
    varint(out, allowance)
    varint(out, version)
    varint(out, uploaded)
    varint(out, len(budgets))
    for budget_id, label, categories, expires_on, remaining, funder, cap_left, confirm_above in budgets:
        out += budget_id
        out += label
        varint(out, len(categories))
        for c in categories:
            out += c
        out += expires_on
        varint(out, remaining)
        out += funder
        _opt(out, cap_left)
        _opt(out, confirm_above)
    _opt(out, balance)  # last: an entry from a server without it ends before it (None)
    return bytes(out)


# A card on its way into a page: its entry, or the CardInfo the entry would be made from (the server's
# request-made cards: sync/snapshot_columns.py packs either to the same bytes).
EntryOrCard = bytes | CardInfo


def encode_card(info: CardInfo) -> bytes:
    s = string_bytes
    return entry(s(info.card_id), s(info.alias), info.blocked, info.offline_allowance_cents, info.state_version,
                 info.offline_uploaded_cents,
                 [(s(b.budget_id), s(b.label), [s(c) for c in b.categories], s(b.expires_on), b.remaining_cents,
                   s(b.funder), b.member_cap_left_cents, b.confirm_above_cents) for b in info.budgets],
                 info.balance_cents)


class Reader:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, pos: int = 0, what: str = "card entry") -> None:
        self.data = data
        self.pos = pos
        self.what = what

    def varint(self) -> int:
        n = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise SnapshotError(detail=f"truncated {self.what}")
            byte = self.data[self.pos]
            self.pos += 1
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                return (n >> 1) if not n & 1 else -((n + 1) >> 1)
            shift += 7

    def count(self, most: int) -> int:
        """A varint that counts something: never negative, never above `most`."""
        n = self.varint()
        if not 0 <= n <= most:
            raise SnapshotError(detail=f"bad count {n} in a {self.what}")
        return n

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise SnapshotError(detail=f"truncated {self.what}")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def string(self) -> str:
        head = self.varint()
        raw = self.raw(head >> 2)
        kind = head & 3
        return id_text(kind, self.string() if kind == TAGGEDHEX else "", raw)

    def optional(self) -> int | None:
        flag = self.raw(1)[0]
        return self.varint() if flag else None


def decode_card(data: bytes) -> CardInfo:
    r = Reader(data)
    try:
        card_id, alias = r.string(), r.string()
        blocked, allowance, version, uploaded = r.varint(), r.varint(), r.varint(), r.varint()
        budgets = []
        for _ in range(r.varint()):
            budget_id, label = r.string(), r.string()
            categories = tuple(r.string() for _ in range(r.varint()))
            expires_on, remaining, funder = r.string(), r.varint(), r.string()
            budgets.append(BudgetInfo(budget_id=budget_id, label=label, categories=categories,
                                      expires_on=expires_on, remaining_cents=remaining, funder=funder,
                                      member_cap_left_cents=r.optional(), confirm_above_cents=r.optional()))
        balance = r.optional() if r.pos < len(data) else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(detail=f"bad card entry: {exc}") from None
    return CardInfo(card_id=card_id, alias=alias, blocked=bool(blocked), offline_allowance_cents=allowance,
                    budgets=tuple(budgets), state_version=version, offline_uploaded_cents=uploaded,
                    balance_cents=balance)


def entry_card_id(data: bytes) -> str:
    """The card id an entry starts with, without decoding the rest (the till stages entries as they are)."""
    return Reader(data).string()
