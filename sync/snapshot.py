"""The server's signed snapshot for one terminal: what the till needs to work offline.

It holds no more personal data than the till needs: per card an alias, a
blocked flag, an offline allowance and the balance it was worked out from
(so an offline till can name both, as it names both online), plus the
labeled budgets usable at this terminal's merchant; no addresses.

Encoding: the snapshot travels as UTF-8 JSON with sorted keys and no spaces
(`canonical_json`), and the server signs those exact bytes with its Ed25519
key under the domain b"floreyn/snapshot/v1\\0". The terminal stores the bytes
and the signature as received, so nothing is ever re-serialised before it is
checked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Final, Protocol, Sequence

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey
from floreyn.money import ExchangeRates

SNAPSHOT_VERSION: Final = 1
SIG_DOMAIN: Final = b"floreyn/snapshot/v1\x00"
MAX_SNAPSHOT_BYTES: Final = 8 * 1024 * 1024  # ~40,000 cards; a neighbourhood has a few thousand


class SnapshotError(FloreynError):
    code = "snapshot_invalid"
    msgid = "The server's snapshot is invalid: {detail}."


class SnapshotBadSignature(SnapshotError):
    code = "snapshot_bad_signature"
    msgid = "The server's snapshot signature does not verify."


@dataclass(frozen=True, slots=True)
class BudgetInfo:
    budget_id: str
    label: str  # "Onderhoudsbudget Portaal"
    categories: tuple[str, ...]  # merchant categories it pays at: "klussen", "groen", ...
    expires_on: str  # ISO date, last valid day (server time decides; the till is told `server_time_ms`)
    remaining_cents: int
    funder: str = ""
    # A group budget's rules for this card's member (server/budget_rules.py); None: no such rule
    member_cap_left_cents: int | None = None  # what the member may still spend from it this month
    confirm_above_cents: int | None = None  # above this a second member's card must be tapped


@dataclass(frozen=True, slots=True)
class CardInfo:
    card_id: str  # hex
    alias: str
    blocked: bool = False
    offline_allowance_cents: int = 0  # what the card may spend offline in all, across taps
    budgets: tuple[BudgetInfo, ...] = ()
    # The server's version of this card's figures (cards.changed_version): the card's offline
    # trail names the version it counts from (floreyn/card.py, terminal/engine/trail.py).
    state_version: int = 0
    # Every offline spend of this card the server has received, summed; the card's trail counts
    # every offline spend made with it, so the difference is spent but not yet uploaded.
    offline_uploaded_cents: int = 0
    # The wallet's free balance when the snapshot was made (None: a server before issue 17 sent none).
    # Offline the till shows it beside the offline allowance, each named: the allowance is often lower.
    balance_cents: int | None = None


@dataclass(frozen=True, slots=True)
class MerchantConfig:
    merchant_id: str
    name: str
    category: str  # its main category: winkel, klussen/handig, ... (floreyn/categories.py)
    save_rate_bp: int = 0
    topup_allowed: bool = False
    categories: tuple[str, ...] = ()  # all its categories when it has more than the main one

    def all_categories(self) -> tuple[str, ...]:
        return self.categories or (self.category,)


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    name: str  # "Zomermarkt: dubbel sparen"
    multiplier_bp: int  # 20_000 = double
    starts_on: str  # ISO date
    ends_on: str  # ISO date, inclusive
    merchant_ids: tuple[str, ...] = ()  # empty = all merchants
    pot_left_cents: int | None = None  # a campaign with a pot: what is left in it (0: dry, the till stops it)
    redeem_bonus_bp: int = 0  # a redeeming campaign: the pot gives back this share of a spend, booked by the server


@dataclass(frozen=True, slots=True)
class OfflineLimits:
    """Shape of PSD2 RTS art. 11 for contactless: per tap, cumulative, count, and snapshot age."""

    per_tx_cents: int = 2_500
    cumulative_cents: int = 5_000
    max_count: int = 5
    max_snapshot_age_s: int = 24 * 3600
    unknown_card_allowance_cents: int = 0  # genuine card not in the snapshot


# A page names a card by its id's first SHORT_ID_BYTES (issue 19: 8 of a card's 16 random bytes saved, some
# 0.76 MiB of a 100k-card snapshot). The server sends the full id instead for every card that shares those
# bytes with another card it knows (`short_keys`); the till finds the tapped card by the key (`pick`).
# Card ids are 32 hex digits (server/models.py CARD_HEX_PATTERN), so a 16-digit key is never a full id.
SHORT_ID_BYTES: Final = 8
SHORT_ID_HEX: Final = 2 * SHORT_ID_BYTES
FULL_ID_HEX: Final = 32


SHORT_ID_END_CHAR: Final = "g"  # sorts after every lowercase hex digit (card ids: server/models.py)


def short_id(card_id: str) -> str:
    """The key a page names a card by when no other card shares it: the id's first SHORT_ID_BYTES."""
    return card_id[:SHORT_ID_HEX]


def short_id_range(card_id: str) -> tuple[str, str]:
    """(low, high): every key or card id that starts with `card_id`'s short id, and no other, sorts in
    low <= id < high, so an index on the ids finds them as one range."""
    lead = short_id(card_id)
    return lead, lead + SHORT_ID_END_CHAR


def is_short(key: str) -> bool:
    return len(key) == SHORT_ID_HEX


def pick(card_hex: str, found: Sequence[tuple[str, CardInfo]]) -> CardInfo | None:
    """The tapped card's entry among `found`, the (key, card) pairs whose key starts with its short id.

    A full id matches only itself. A short key matches only when it is the one entry of that short id:
    the server sends full ids for every card whose short id another card shares, so a short key beside
    another entry of the same short id is a page the till cannot trust to name one card, and the card
    counts as not in the snapshot (online or the unknown-card allowance) rather than spend another's."""
    for key, info in found:
        if key == card_hex and not is_short(key):
            return info
    if len(card_hex) != FULL_ID_HEX or len(found) != 1 or found[0][0] != short_id(card_hex):
        return None
    return replace(found[0][1], card_id=card_hex)  # the entry names it by its short id


class CardSource(Protocol):
    """Where a snapshot too large to hold in memory keeps its cards (the till's store: snapshot_cards)."""

    def card(self, card_hex: str) -> CardInfo | None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    terminal_id: str
    snapshot_version: int  # server's monotonically increasing data version, for deltas
    server_time_ms: int
    merchant: MerchantConfig
    rates: ExchangeRates
    limits: OfflineLimits
    cards: tuple[CardInfo, ...] = ()
    campaigns: tuple[Campaign, ...] = ()
    issuer_keys: tuple[str, ...] = ()  # hex raw Ed25519 public keys of the card issuer
    blocklist: tuple[str, ...] = ()  # card ids (hex) refused even if not in `cards`
    extra: dict[str, Any] = field(default_factory=dict)
    # Cards beyond `cards`, looked up one at a time (a paged snapshot: sync/snapshot_pages.py); a card
    # there carries its own `blocked` flag, so `blocklist` stays empty. Not part of the signed data.
    card_source: CardSource | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(replace(self, card_source=None))
        del d["card_source"]
        return d

    def card(self, card_hex: str) -> CardInfo | None:
        lead = short_id(card_hex)
        found = [(c.card_id, c) for c in self.cards if short_id(c.card_id) == lead]
        if found:
            return pick(card_hex, found)
        return self.card_source.card(card_hex) if self.card_source is not None else None


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_snapshot(snapshot: Snapshot, key: PrivateKey) -> tuple[bytes, bytes]:
    """The bytes to send and their signature."""
    data = canonical_json(snapshot.to_dict())
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(detail=f"{len(data)} bytes exceeds the limit")
    return data, key.sign(SIG_DOMAIN + data)


def verify_snapshot(data: bytes, signature: bytes, server_key: PublicKey) -> Snapshot:
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(detail="too large")
    if not keys.verify(server_key, signature, SIG_DOMAIN + data):
        raise SnapshotBadSignature()
    try:
        return snapshot_from_dict(json.loads(data.decode("utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise SnapshotError(detail=str(exc)[:200]) from None


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The fields this version knows: a newer server may add per-card fields (the signature covers the
    bytes as sent, so nothing is lost by not reading them) and an older till keeps working."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def snapshot_from_dict(d: dict[str, Any]) -> Snapshot:
    if d.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(detail=f"unknown version {d.get('version')!r}")
    cards = tuple(
        CardInfo(**{**_known(CardInfo, c), "budgets": tuple(
            BudgetInfo(**{**_known(BudgetInfo, b), "categories": tuple(b["categories"])}) for b in c.get("budgets", ())
        )})
        for c in d.get("cards", ())
    )
    campaigns = tuple(Campaign(**{**c, "merchant_ids": tuple(c.get("merchant_ids", ()))})
                      for c in d.get("campaigns", ()))
    return Snapshot(
        version=d["version"],
        terminal_id=d["terminal_id"],
        snapshot_version=d["snapshot_version"],
        server_time_ms=d["server_time_ms"],
        merchant=MerchantConfig(**{**d["merchant"], "categories": tuple(d["merchant"].get("categories", ()))}),
        rates=ExchangeRates(**d["rates"]),
        limits=OfflineLimits(**d["limits"]),
        cards=cards,
        campaigns=campaigns,
        issuer_keys=tuple(d.get("issuer_keys", ())),
        blocklist=tuple(d.get("blocklist", ())),
        extra=dict(d.get("extra", {})),
    )


# -- deltas (additive: the server sends only what changed since a version) -----------

DELTA_SIG_DOMAIN: Final = b"floreyn/snapshot-delta/v1\x00"
MAX_DELTA_CARDS: Final = 2_000  # beyond this the server sends a full snapshot instead


class SnapshotDeltaMismatch(SnapshotError):
    code = "snapshot_delta_mismatch"
    msgid = "The server's delta does not apply to this terminal's snapshot: {detail}."


@dataclass(frozen=True, slots=True)
class SnapshotDelta:
    """What changed between `base_version` and `snapshot_version`.

    Cards are replaced whole (`cards` holds their current state); merchant,
    rates, limits, campaigns and issuer keys are small and always sent whole.
    The blocklist is derived: a card in `cards` joins or leaves it by its own
    `blocked` flag, so the two can never disagree.
    """

    version: int
    terminal_id: str
    base_version: int
    snapshot_version: int
    server_time_ms: int
    merchant: MerchantConfig
    rates: ExchangeRates
    limits: OfflineLimits
    cards: tuple[CardInfo, ...] = ()
    removed_cards: tuple[str, ...] = ()
    campaigns: tuple[Campaign, ...] = ()
    issuer_keys: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_delta(base: Snapshot, delta: SnapshotDelta) -> Snapshot:
    """The snapshot `base` becomes after `delta`; refuses a delta made for another base or terminal."""
    if delta.terminal_id != base.terminal_id:
        raise SnapshotDeltaMismatch(detail=f"delta is for terminal {delta.terminal_id}")
    if delta.base_version != base.snapshot_version:
        raise SnapshotDeltaMismatch(detail=f"delta starts at {delta.base_version}, snapshot is {base.snapshot_version}")
    cards = {c.card_id: c for c in base.cards}
    blocked = set(base.blocklist)
    for card_hex in delta.removed_cards:
        cards.pop(card_hex, None)
        blocked.discard(card_hex)
    for info in delta.cards:
        cards[info.card_id] = info
        (blocked.add if info.blocked else blocked.discard)(info.card_id)
    return Snapshot(
        version=delta.version, terminal_id=delta.terminal_id, snapshot_version=delta.snapshot_version,
        server_time_ms=delta.server_time_ms, merchant=delta.merchant, rates=delta.rates, limits=delta.limits,
        cards=tuple(cards[k] for k in sorted(cards)), campaigns=delta.campaigns, issuer_keys=delta.issuer_keys,
        blocklist=tuple(sorted(blocked)), extra=dict(delta.extra),
    )


def sign_delta(delta: SnapshotDelta, key: PrivateKey) -> tuple[bytes, bytes]:
    data = canonical_json(delta.to_dict())
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(detail=f"{len(data)} bytes exceeds the limit")
    return data, key.sign(DELTA_SIG_DOMAIN + data)


def verify_delta(data: bytes, signature: bytes, server_key: PublicKey) -> SnapshotDelta:
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(detail="too large")
    if not keys.verify(server_key, signature, DELTA_SIG_DOMAIN + data):
        raise SnapshotBadSignature()
    try:
        return delta_from_dict(json.loads(data.decode("utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise SnapshotError(detail=str(exc)[:200]) from None


def delta_from_dict(d: dict[str, Any]) -> SnapshotDelta:
    if d.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(detail=f"unknown version {d.get('version')!r}")
    # Reuse the full decoder for the shared parts, so both read cards the same way.
    full = snapshot_from_dict({**d, "blocklist": ()})
    return SnapshotDelta(
        version=full.version, terminal_id=full.terminal_id, base_version=d["base_version"],
        snapshot_version=full.snapshot_version, server_time_ms=full.server_time_ms, merchant=full.merchant,
        rates=full.rates, limits=full.limits, cards=full.cards, removed_cards=tuple(d.get("removed_cards", ())),
        campaigns=full.campaigns, issuer_keys=full.issuer_keys, extra=full.extra,
    )
