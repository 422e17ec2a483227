"""The offline risk policy: how much Floreyn a card may spend with no network.

Shape of PSD2 RTS art. 11 (contactless without strong authentication): a
per-transaction maximum, a cumulative amount and a count per card since its
last online contact, plus a maximum age of the server data the decision
rests on. Two further bounds come from the snapshot:

* the card's offline allowance bounds what it spends from its *own*
  balance since the snapshot (online spends here included);
* a labeled budget's remaining amount bounds what it pays, minus what this
  terminal already drew from it since the snapshot.

A genuine card missing from the snapshot gets `unknown_card_allowance_cents`
(default 0: no offline spend; saving and top-up always work).

"Near its offline limits" (`offline_headroom`): a card is near when at most
NEAR_TAPS_LEFT offline payment is left before the count limit, or at most
NEAR_CUMULATIVE_PCT % of the cumulative amount is left. The member summary
carries both figures and the flag; the app shows a banner, so the
shopkeeper can suggest a connection (or a top-up at a connected till)
before a payment is refused. A card already at a limit counts as near too;
the app then shows the refusal itself.

All of this is pure arithmetic over integers, for easy testing.
"""

from __future__ import annotations

from dataclasses import dataclass

from floreyn.money import Currency
from floreyn.sync.snapshot import OfflineLimits
from floreyn.terminal.engine.errors import (
    OfflineAllowanceUsed, OfflineCountLimit, OfflineCumulativeLimit, OfflinePerTxLimit, OfflineRefused,
    SnapshotStale, UnknownCardOffline,
)


@dataclass(frozen=True, slots=True)
class OfflineUsage:
    """What a card did offline since its last online contact, and from own balance since the snapshot."""

    spent_cents: int = 0
    taps: int = 0
    own_spent_since_snapshot_cents: int = 0


NEAR_TAPS_LEFT = 1
NEAR_CUMULATIVE_PCT = 20


@dataclass(frozen=True, slots=True)
class Headroom:
    """How far a card is from its offline count and cumulative limits."""

    taps_left: int
    cumulative_left_cents: int
    near: bool


def offline_headroom(limits: OfflineLimits, usage: OfflineUsage) -> Headroom:
    taps_left = max(0, limits.max_count - usage.taps)
    cum_left = max(0, limits.cumulative_cents - usage.spent_cents)
    near = taps_left <= NEAR_TAPS_LEFT or cum_left * 100 <= limits.cumulative_cents * NEAR_CUMULATIVE_PCT
    return Headroom(taps_left, cum_left, near)


@dataclass(frozen=True, slots=True)
class Capacity:
    total_cents: int  # at most this much Floreyn in this tap, from all sources together
    own_cents: int  # at most this much from the member's own balance
    total_reason: OfflineRefused | None  # the rule that set total_cents (None: nothing offline-specific)
    own_reason: OfflineRefused | None


def offline_capacity(
    limits: OfflineLimits,
    *,
    known: bool,
    allowance_cents: int,
    usage: OfflineUsage,
    snapshot_age_s: float | None,
) -> Capacity:
    """How much may be spent offline now, and which rule caps it."""
    if snapshot_age_s is None or snapshot_age_s > limits.max_snapshot_age_s:
        stale = SnapshotStale.of(snapshot_age_s)
        return Capacity(0, 0, stale, stale)
    if not known:
        allowance_cents = limits.unknown_card_allowance_cents
        if allowance_cents <= 0:
            return Capacity(0, 0, UnknownCardOffline(), UnknownCardOffline())
    if usage.taps >= limits.max_count:
        count = OfflineCountLimit(count=usage.taps, max_count=limits.max_count)
        return Capacity(0, 0, count, count)
    cum_left = max(0, limits.cumulative_cents - usage.spent_cents)
    candidates = [
        (limits.per_tx_cents, OfflinePerTxLimit(max_cents=limits.per_tx_cents, currency=Currency.FL)),
        (cum_left, OfflineCumulativeLimit(left_cents=cum_left, max_cents=limits.cumulative_cents,
                                          currency=Currency.FL)),
    ]
    total, total_reason = min(candidates, key=lambda c: c[0])  # on a tie the per-payment limit names the cap
    own_left = max(0, allowance_cents - usage.own_spent_since_snapshot_cents)
    own_reason = (OfflineAllowanceUsed(left_cents=own_left, currency=Currency.FL) if own_left < total
                  else total_reason)
    return Capacity(max(0, total), min(own_left, max(0, total)), total_reason, own_reason)

