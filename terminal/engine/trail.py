"""The till's side of the card's offline trail (format and rules: floreyn/cardtrail.py).

Two thin hooks into the engine: `adjust` lowers the offline capacity that
summary.offline_state computes by what the card says other tills spent
(and caps it when the card has seen a newer server state than this till),
and `write_before_commit` writes the trail to the card - read back - before
an offline spend's records are committed. A card the till cannot write is a
card it cannot bound, so its offline spend is refused (CardNotWritable: "pas
niet bij te werken"); after a write the result says "pas bijgewerkt".

Order: trail first, then the records. A write that lands and a commit that
then fails only over-counts (the card looks as if it spent more: safe); the
other order could leave a spend the card does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from floreyn import cardtrail
from floreyn.card import CardError
from floreyn.money import Currency
from floreyn.sync.snapshot import CardInfo, OfflineLimits
from floreyn.terminal.drivers.base import TrailPort
from floreyn.terminal.engine.errors import OfflineAllowanceUsed, OfflineRefused, WhyRefusal
from floreyn.terminal.engine.policy import Capacity

CARD_UPDATED_NL = "pas bijgewerkt"
CARD_NOT_UPDATABLE_NL = "pas niet bij te werken"


class CardNotWritable(OfflineRefused, WhyRefusal):
    """The card's trail cannot be written (no trail area, not on the reader, the write failed).

    params: why ("no_writer", "no_trail", or the code of the card's write error, then worded by that error)."""

    code = "card_not_writable"
    msgid = "Card cannot be updated ({reason}): it cannot pay offline now. Saving works."
    REASONS = {
        "no_writer": "the reader cannot write",
        "no_trail": "old card without a trail; have it replaced",
    }

    @classmethod
    def write_failed(cls, exc: CardError) -> CardNotWritable:
        return cls(why=exc.code, reason=exc.message("nl").rstrip("."), reason_en=exc.message("en").rstrip("."))


@dataclass(frozen=True, slots=True)
class TapTrail:
    """What the tap gave the engine: the port to the card (None: cannot write) and the trail as read."""

    port: TrailPort | None
    entry: cardtrail.Trail | None  # newest valid slot at the tap (None: blank or wiped)

    @property
    def writable(self) -> bool:
        return self.port is not None and self.port.area is not None

    @staticmethod
    def of(port: TrailPort | None) -> TapTrail:
        return TapTrail(port, port.area.current if port is not None and port.area is not None else None)


def _why_not(tap: TapTrail | None) -> CardNotWritable:
    if tap is None or tap.port is None:
        return CardNotWritable(why="no_writer")
    return CardNotWritable(why="no_trail")


def adjust(cap: Capacity, budget_left: dict[str, int], *, tap: TapTrail | None, info: CardInfo | None,
           limits: OfflineLimits, local_cents: int) -> tuple[Capacity, dict[str, int]]:
    """Capacity and budget room after what the card's trail says; never more than before."""
    if tap is None or not tap.writable:
        why = _why_not(tap)
        return Capacity(0, 0, why, why), dict.fromkeys(budget_left, 0)
    seen = cardtrail.view(tap.entry, state_version=info.state_version if info else 0,
                          uploaded_cents=info.offline_uploaded_cents if info else 0, local_cents=local_cents)
    others = seen.pending_cents - local_cents  # spent offline at other tills, not in this till's figures
    own = max(0, cap.own_cents - others)
    left = {b: max(0, c - others) for b, c in budget_left.items()}
    if seen.stale:  # the card knows a newer server state (an online payment elsewhere): one tap at most
        own = min(own, max(0, limits.per_tx_cents - others))
        left = {b: min(c, max(0, limits.per_tx_cents - others)) for b, c in left.items()}
    own_reason = cap.own_reason if own == cap.own_cents else OfflineAllowanceUsed(left_cents=own,
                                                                                  currency=Currency.FL)
    return Capacity(cap.total_cents, own, cap.total_reason, own_reason), left  # dataclasses.replace: 2 us more


def write_before_commit(tap: TapTrail | None, *, info: CardInfo | None, amount_cents: int, local_cents: int,
                        terminal_id: str, next_seq: int) -> cardtrail.Trail:
    """Write the trail for an offline spend of amount_cents and read it back; CardNotWritable otherwise."""
    if tap is None or not tap.writable:
        raise _why_not(tap)
    assert tap.port is not None
    entry = cardtrail.after_spend(tap.entry, amount_cents=amount_cents,
                                  state_version=info.state_version if info else 0,
                                  uploaded_cents=info.offline_uploaded_cents if info else 0,
                                  local_cents=local_cents, till=cardtrail.till_tag(terminal_id), till_seq=next_seq)
    try:
        written = tap.port.write(entry)
    except CardError as exc:
        raise CardNotWritable.write_failed(exc) from exc
    assert written.spent_cents == entry.spent_cents, "the port returns what it read back"
    return written


def stamp_version(tap: TapTrail, state_version: int) -> cardtrail.Trail | None:
    """After an online spend: the card's trail names the server state that holds it (odometer kept).

    Best effort (the payment is authorized either way): the entry written, or None when the card
    could not be written or already names that state. Without it, a till whose snapshot predates
    the payment could offer the card its old allowance; the bound then rests on the server's
    overspend block (docs/operations.md)."""
    if not tap.writable or tap.port is None:
        return None
    current = tap.entry
    if current is not None and current.state_version >= state_version:
        return None
    base = current or cardtrail.EMPTY
    entry = cardtrail.Trail(0, state_version, base.spent_cents, base.till, base.till_seq)
    try:
        return tap.port.write(entry)
    except CardError:
        return None


def online_pending(tap: TapTrail | None, *, uploaded_cents: int, local_cents: int) -> int:
    """Offline spend an online quote must leave out: the card's not-yet-received spends (its odometer
    beyond what the server has), at least this till's own unsent offline spends (a wiped trail)."""
    entry = tap.entry if tap is not None else None
    odometer_pending = max(0, entry.spent_cents - uploaded_cents) if entry is not None else 0
    return max(odometer_pending, local_cents)
