"""The snapshot in signed pages: a compact binary encoding, compressed, with no size cliff.

One JSON snapshot (sync/snapshot.py) grew by ~500 bytes per card with two budgets and hit its 8 MiB
limit at ~16k cards. A page instead carries up to PAGE_CARDS cards, each a compact binary entry
(sync/snapshot_entry.py `encode_card`: varints, and uuid / hex strings as their bytes), sent column by
column (sync/snapshot_columns.py: each label once, all balances together, ...), zlib-compressed and signed.
The till walks the pages by card id (`after` = the last card id of the page before) and applies them
only when the last one has arrived and checked (`PageChain`), in one transaction: a till that dies
half-way keeps the snapshot it had.

A fetch is full (every card) or a delta (the cards changed since `base_version`), both paged the same
way. Each page names the terminal, the till's random `fetch` id, the kind, the base and the cursor it
answers, so a page from another fetch, another terminal or out of order is refused with a typed error
(SnapshotPageMismatch, SnapshotPageOrder), a forged one with SnapshotBadSignature. Each page's
`snapshot_version` is the server's data version read before its cards: the assembled snapshot takes
the first page's (the lowest), so every card in it is at least that new and the next delta, since that
version, brings the rest.

A page covers the cards after `after` up to and including `next`. Its body is a run of entries the
server may have kept compressed (server/snapshot_cache.py: made by the housekeeping job, served as
they are); the overlay carries the cards of that range changed since, each replacing its body entry.

Wire: header JSON, body, overlay, each varint-prefixed (body and overlay zlib-compressed columns). The
server signs SIG_DOMAIN + those bytes, so the till checks the signature before it decompresses anything
(and decompresses at most MAX_PAGE_PLAIN_BYTES per part). The header's `format` (PAGE_FORMAT) comes
first: a till refuses a format it does not know (SnapshotPageFormat) and keeps the snapshot it had.

Since format 4 a page names each card by its short id (the id's first 8 bytes: sync/snapshot.py) unless
another card of the server shares it, then by its full id (the server's `shared`, server/snapshot_cache.py
`shared_ids`). The till finds a tapped card, whose full id the card itself brings, by either (`pick`);
budget ids stay whole: the till's records name the budget that paid.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Protocol, Sequence, runtime_checkable

from floreyn import keys
from floreyn.keys import PrivateKey, PublicKey
from floreyn.money import ExchangeRates
from floreyn.sync import snapshot_columns
from floreyn.sync.snapshot import (
    SNAPSHOT_VERSION, Campaign, CardInfo, MerchantConfig, OfflineLimits, Snapshot, SnapshotBadSignature,
    SnapshotError, snapshot_from_dict,
)
from floreyn.sync.snapshot_entry import (
    EntryOrCard, Reader, decode_card, encode_card, entry_card_id, superseded, varint,
)

__all__ = ["EntryOrCard", "decode_card", "encode_card", "entry_card_id"]  # the card entry lives in sync/snapshot_entry.py

PAGE_FORMAT: Final = 4  # 4: cards named by short ids (sync/snapshot_entry.py); 3 by full ids; 2 not in columns
SIG_DOMAIN: Final = b"floreyn/snapshot-page/v3\x00"  # the format is in the signed header: a v3 till refuses v4 by it
PAGE_CARDS: Final = 10_000  # cards per page: ~0.45 MB compressed with two budgets each; bounds the till's memory
MAX_PAGE_CARDS: Final = 4 * PAGE_CARDS  # what one page's body or overlay may hold (a kept page grows to 2x before re-cut)
MAX_PAGE_WIRE_BYTES: Final = 8 * 1024 * 1024  # a page on the wire; PAGE_CARDS keeps it far below
MAX_PAGE_PLAIN_BYTES: Final = 64 * 1024 * 1024  # decompressed: bounds what a bad page can make the till allocate
COMPRESS_LEVEL: Final = 6  # 9 saves 0.03 % on columns for twice the CPU (sync/snapshot_columns.py)


class SnapshotPageMismatch(SnapshotError):
    code = "snapshot_page_mismatch"
    msgid = "A snapshot page does not belong to this fetch: {detail}."


class SnapshotPageOrder(SnapshotError):
    code = "snapshot_page_order"
    msgid = "Snapshot pages arrived out of order: {detail}."


class SnapshotPageFormat(SnapshotError):
    code = "snapshot_page_format"
    msgid = "The server sent a snapshot page in format {format}; this till reads format {known}: update the till."


# -- the page --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageHeader:
    """What a page says about itself; `common` holds merchant, rates, limits, campaigns, issuer keys, extra."""

    kind: str  # "full" or "delta"
    terminal_id: str
    fetch: str  # the till's random id for this fetch, echoed in every page of it
    base_version: int | None  # a delta: the version the till holds; a full: None
    snapshot_version: int  # the server's data version read before this page's cards
    server_time_ms: int
    after: str  # the cursor this page answers ("" = from the first card)
    next: str | None  # the page covers cards after `after` up to and including this; None: to the end (the last)
    count: int  # cards in the body
    common: dict[str, Any] = field(default_factory=dict)
    overlay: int = 0  # cards after the body that replace body cards or add to them (changed since it was kept)

    def to_dict(self) -> dict[str, Any]:
        return {"format": PAGE_FORMAT, "kind": self.kind, "terminal_id": self.terminal_id, "fetch": self.fetch,
                "base_version": self.base_version, "snapshot_version": self.snapshot_version,
                "server_time_ms": self.server_time_ms, "after": self.after, "next": self.next,
                "count": self.count, "overlay": self.overlay, **self.common}


@dataclass(frozen=True, slots=True)
class Page:
    header: PageHeader
    entries: tuple[bytes, ...]  # compact card entries, ascending card id
    overlay: tuple[bytes, ...] = ()  # applied after `entries`: ascending card id too, each replacing its card


COMMON_KEYS: Final = ("merchant", "rates", "limits", "campaigns", "issuer_keys", "extra")


def pack_entries(entries: Sequence[EntryOrCard], shared: frozenset[str] | set[str] = frozenset(),
                 level: int = COMPRESS_LEVEL) -> bytes:
    """The entries in columns, compressed: a page's body (the server may keep it made) or overlay. A card
    given as its CardInfo packs to the very bytes its entry would. `shared`: card ids whose short id another
    card of the server has (sent in full: sync/snapshot_entry.py `short_keys`)."""
    return zlib.compress(snapshot_columns.pack(entries, shared), level)


def encode_page(header: PageHeader, entries: Sequence[EntryOrCard], overlay: Sequence[EntryOrCard] = (), *,
                body: bytes | None = None, shared: frozenset[str] | set[str] = frozenset()) -> bytes:
    """The page: varint-prefixed header JSON, then the body and the overlay, each varint-prefixed and
    compressed. `body`: the body already packed (kept by the server), else packed from `entries`."""
    head = json.dumps(header.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    out = bytearray()
    for part in (head, body if body is not None else pack_entries(entries, shared), pack_entries(overlay, shared)):
        varint(out, len(part))
        out += part
    return bytes(out)


def sign_page(wire: bytes, key: PrivateKey) -> bytes:
    if len(wire) > MAX_PAGE_WIRE_BYTES:
        raise SnapshotError(detail=f"page of {len(wire)} bytes exceeds the limit")
    return key.sign(SIG_DOMAIN + wire)


def _unpack(packed: bytes) -> list[bytes]:
    inflate = zlib.decompressobj()
    plain = inflate.decompress(packed, MAX_PAGE_PLAIN_BYTES)
    if inflate.unconsumed_tail or not inflate.eof:
        raise SnapshotError(detail="page decompresses beyond the limit or is cut short")
    return snapshot_columns.unpack(plain, MAX_PAGE_CARDS)


def verify_page(wire: bytes, signature: bytes, server_key: PublicKey) -> Page:
    """Signature first, then the format, then a bounded decompression, then the structure."""
    if len(wire) > MAX_PAGE_WIRE_BYTES:
        raise SnapshotError(detail="page too large")
    if not keys.verify(server_key, signature, SIG_DOMAIN + wire):
        raise SnapshotBadSignature()
    try:
        r = Reader(wire, what="page")
        header = _header(json.loads(r.raw(r.varint()).decode("utf-8")))
        entries = _unpack(r.raw(r.varint()))
        overlay = _unpack(r.raw(r.varint()))
        if r.pos != len(wire):
            raise SnapshotError(detail="trailing bytes after the page")
    except (zlib.error, ValueError, TypeError, KeyError) as exc:
        raise SnapshotError(detail=f"unreadable page: {str(exc)[:160]}") from None
    if (len(entries), len(overlay)) != (header.count, header.overlay):
        raise SnapshotError(detail=f"page says {header.count} + {header.overlay} cards, holds "
                                   f"{len(entries)} + {len(overlay)}")
    return Page(header, tuple(entries), tuple(overlay))


def _header(d: dict[str, Any]) -> PageHeader:
    if d.get("format") != PAGE_FORMAT:  # before anything else of it is read: a newer server's page may differ anywhere
        raise SnapshotPageFormat(format=repr(d.get("format"))[:20], known=PAGE_FORMAT)
    if d.get("kind") not in ("full", "delta"):
        raise SnapshotError(detail=f"unknown page kind {d.get('kind')!r}")
    base = d["base_version"]
    nxt = d["next"]
    return PageHeader(kind=str(d["kind"]), terminal_id=str(d["terminal_id"]), fetch=str(d["fetch"]),
                      base_version=None if base is None else int(base), snapshot_version=int(d["snapshot_version"]),
                      server_time_ms=int(d["server_time_ms"]), after=str(d["after"]),
                      next=None if nxt is None else str(nxt), count=int(d["count"]),
                      common={k: d[k] for k in COMMON_KEYS if k in d}, overlay=int(d["overlay"]))


def header_snapshot(header: PageHeader, snapshot_version: int) -> Snapshot:
    """The snapshot's own fields (no cards) from a page's header."""
    c = header.common
    return snapshot_from_dict({"version": SNAPSHOT_VERSION, "terminal_id": header.terminal_id, "snapshot_version": snapshot_version,
                               "server_time_ms": header.server_time_ms, "merchant": c["merchant"],
                               "rates": c["rates"], "limits": c["limits"], "campaigns": c.get("campaigns", ()),
                               "issuer_keys": c.get("issuer_keys", ()), "extra": c.get("extra", {})})


def common_dict(merchant: MerchantConfig, rates: ExchangeRates, limits: OfflineLimits,
                campaigns: tuple[Campaign, ...], issuer_keys: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    return {"merchant": asdict(merchant), "rates": asdict(rates), "limits": asdict(limits),
            "campaigns": [asdict(c) for c in campaigns], "issuer_keys": list(issuer_keys), "extra": extra}


# -- the till's side: check each page against the one before ----------------------------------


class PageChain:
    """Checks a fetch's pages arrive as asked: same terminal, fetch, kind and base; cursors chained;
    cards ascending within and across pages; versions never going back."""

    def __init__(self, terminal_id: str, fetch: str, base_version: int | None) -> None:
        self.terminal_id = terminal_id
        self.fetch = fetch
        self.base_version = base_version
        self.after = ""  # the cursor asked for next
        self.first: PageHeader | None = None
        self.last: PageHeader | None = None
        self.done = False

    def check(self, page: Page) -> list[tuple[str, bytes]]:
        """The page's (card id, entry) pairs once it fits the chain; a typed refusal otherwise."""
        h = page.header
        if h.terminal_id != self.terminal_id:
            raise SnapshotPageMismatch(detail=f"page is for terminal {h.terminal_id}")
        if h.fetch != self.fetch:
            raise SnapshotPageMismatch(detail="page belongs to another fetch (replayed)")
        kind = "full" if self.base_version is None else "delta"
        if h.kind != kind or h.base_version != self.base_version:
            raise SnapshotPageMismatch(detail=f"{h.kind} page from {h.base_version}, asked {kind} from "
                                              f"{self.base_version}")
        if self.done:
            raise SnapshotPageOrder(detail="a page after the last one")
        if h.after != self.after:
            raise SnapshotPageOrder(detail=f"page answers after {h.after!r}, asked after {self.after!r}")
        if self.last is not None and h.snapshot_version < self.last.snapshot_version:
            raise SnapshotPageOrder(detail="page is older than the one before")
        if h.next is not None and h.next <= self.after:
            raise SnapshotPageOrder(detail=f"page ends at {h.next!r}, not after {self.after!r}")
        pairs = self._in_range(page.entries, h.next) + self._in_range(page.overlay, h.next)
        self.first = self.first or h
        self.last = h
        self.after = h.next or ""
        self.done = h.next is None
        return pairs

    def _in_range(self, entries: tuple[bytes, ...], upto: str | None) -> list[tuple[str, bytes]]:
        """(card id, entry) pairs, each after the one before and within the page's range."""
        pairs = []
        prev = self.after
        for entry in entries:
            card_id = entry_card_id(entry)
            if card_id <= prev or (upto is not None and card_id > upto):
                raise SnapshotPageOrder(detail=f"card {card_id} out of order or beyond the page ({prev!r}, {upto!r}]")
            pairs.append((card_id, entry))
            prev = card_id
        return pairs

    def snapshot(self) -> Snapshot:
        """The assembled snapshot's own fields: the newest page's terms at the first page's version."""
        assert self.first is not None and self.last is not None and self.done
        return header_snapshot(self.last, self.first.snapshot_version)


# -- where a till keeps what it fetched ------------------------------------------------------


@runtime_checkable
class SnapshotSink(Protocol):
    """Stages a fetch's cards and applies them all at once (the till's store; MemorySink in memory)."""

    def current_snapshot(self) -> Snapshot | None: ...

    def stage_snapshot_cards(self, fetch: str, pairs: list[tuple[str, bytes]], *, first: bool) -> None: ...

    def apply_staged_snapshot(self, fetch: str, snap: Snapshot, *, full: bool) -> Snapshot: ...


class MemorySink:
    """A sink that keeps cards as CardInfo in the Snapshot itself: for callers without a store."""

    def __init__(self, base: Snapshot | None) -> None:
        self.base = base
        self.staged: list[CardInfo] = []
        self.fetch = ""

    def current_snapshot(self) -> Snapshot | None:
        return self.base

    def stage_snapshot_cards(self, fetch: str, pairs: list[tuple[str, bytes]], *, first: bool) -> None:
        if first or fetch != self.fetch:
            self.staged, self.fetch = [], fetch
        self.staged.extend(decode_card(e) for _, e in pairs)

    def apply_staged_snapshot(self, fetch: str, snap: Snapshot, *, full: bool) -> Snapshot:
        assert fetch == self.fetch or not self.staged
        cards = {} if full or self.base is None else {c.card_id: c for c in self.base.cards}
        for key in superseded(list(cards), [c.card_id for c in self.staged]):
            del cards[key]
        cards.update((c.card_id, c) for c in self.staged)
        merged = tuple(cards[k] for k in sorted(cards))
        self.base = replace(snap, cards=merged, blocklist=tuple(c.card_id for c in merged if c.blocked))
        self.staged = []
        return self.base
