"""What the engine hands the app and the scripted till: plain frozen values with `to_dict()`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floreyn.card import Card
from floreyn.errors import FloreynError
from floreyn.money import Money, format_money
from floreyn.sync.record import Kind, Tender
from floreyn.sync.snapshot import BudgetInfo, CardInfo, MerchantConfig
from floreyn.terminal.drivers.base import PrinterStatus
from floreyn.text import printable
from floreyn.terminal.receipts import KIND_NL
from floreyn.terminal.store import StoredRecord

if TYPE_CHECKING:  # the sync worker (and `requests` behind it) loads only for a till with a server
    from floreyn.sync.worker import SyncState


@dataclass(frozen=True, slots=True)
class BudgetView:
    budget_id: str
    label: str
    remaining: Money
    expires_on: str
    usable: bool
    reason: FloreynError | None = None  # why not usable here (BudgetNotUsableHere, BudgetExpired); params in it

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", printable(self.label))  # shown on the till's screen (floreyn.text)

    @property
    def why_not(self) -> str:
        """The reason's code ("budget_wrong_category", "budget_expired"), "" when usable: the app words it."""
        return self.reason.code if self.reason is not None else ""

    def to_dict(self) -> dict[str, object]:
        return {"budget_id": self.budget_id, "label": self.label, "remaining": str(self.remaining),
                "remaining_cents": self.remaining.cents, "expires_on": self.expires_on,
                "usable": self.usable, "why_not": self.why_not,
                "why_not_nl": self.reason.message("nl") if self.reason is not None else ""}


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """What the shopkeeper sees when a card is presented."""

    card_hex: str
    masked: str
    alias: str
    known: bool  # in the snapshot (or known to the server when live)
    live: bool  # figures straight from the server; else from the last snapshot
    own: Money  # own balance (live) or what may be spent from it offline
    budgets: tuple[BudgetView, ...]
    snapshot_age_s: float | None
    offline_reason: FloreynError | None = None  # why offline spending is stopped (an OfflineRefused), if it is
    spend_cap_cents: int | None = None  # offline: at most this in one payment, all sources together
    # Offline only (None when live): what is left before the offline limits, and whether that is little
    # (policy.offline_headroom: at most 1 offline payment or at most 20 % of the cumulative amount left).
    offline_taps_left: int | None = None
    offline_left_cents: int | None = None
    near_offline_limits: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "alias", printable(self.alias))  # shown on the till's screen (floreyn.text)

    @property
    def offline_note(self) -> str:
        """The offline reason's code ("offline_count_limit", "snapshot_stale", ...), "" when none."""
        return self.offline_reason.code if self.offline_reason is not None else ""

    @property
    def spendable(self) -> Money:
        total = self.own
        for b in self.budgets:
            if b.usable:
                total = total + b.remaining
        if self.spend_cap_cents is not None:
            return Money.fl(min(total.cents, self.spend_cap_cents))
        return total

    def to_dict(self) -> dict[str, object]:
        return {
            "card": self.masked, "card_hex": self.card_hex, "alias": self.alias, "known": self.known,
            "live": self.live, "spendable": str(self.spendable), "spendable_cents": self.spendable.cents,
            "own_cents": self.own.cents, "budgets": [b.to_dict() for b in self.budgets],
            "snapshot_age_s": None if self.snapshot_age_s is None else round(self.snapshot_age_s, 1),
            "offline_note": self.offline_note,
            "offline_note_nl": self.offline_reason.message("nl") if self.offline_reason is not None else "",
            "offline_taps_left": self.offline_taps_left, "offline_left_cents": self.offline_left_cents,
            "near_offline_limits": self.near_offline_limits,
        }


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment (SPEND transaction) as the refund screens list it."""

    tx_id: str
    seq: int  # the first record's number: the "Volgnummer" on the receipt
    day_no: int
    wall_ms: int
    card_hex: str | None
    fl_cents: int
    eur_cents: int

    @staticmethod
    def of(records: list[StoredRecord] | tuple[StoredRecord, ...]) -> Payment:
        assert records and all(r.tx_id == records[0].tx_id for r in records)
        first = records[0]
        return Payment(first.tx_id, first.seq, first.day_no, first.wall_ms, first.card_hex,
                       sum(r.fl_cents for r in records), sum(r.eur_cents for r in records))

    def to_dict(self) -> dict[str, object]:
        return {"tx_id": self.tx_id, "seq": self.seq, "day_no": self.day_no, "wall_ms": self.wall_ms,
                "card_hex": self.card_hex, "fl_cents": self.fl_cents, "eur_cents": self.eur_cents}


@dataclass(frozen=True, slots=True)
class CardSession:
    card: Card
    summary: MemberSummary
    info: CardInfo | None  # snapshot entry
    live_balance_cents: int | None = None  # set when the summary is live
    budgets: tuple[BudgetInfo, ...] = ()  # live from the server, else from the snapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One record-to-be of a quote. Keywords only: a field added in the middle shifts nothing."""

    record_id: uuid.UUID
    fl_cents: int
    eur_cents: int = 0
    budget_id: str | None = None
    label: str = ""
    ref_id: uuid.UUID | None = None
    tender: Tender = Tender.NONE

    def to_dict(self) -> dict[str, object]:
        return {"record_id": str(self.record_id), "fl_cents": self.fl_cents, "eur_cents": self.eur_cents,
                "budget_id": self.budget_id, "label": self.label,
                "ref_id": str(self.ref_id) if self.ref_id else None}


@dataclass(frozen=True)
class Quote:
    """A transaction worked out and shown, waiting for the shopkeeper's confirmation."""

    kind: Kind
    parts: tuple[Part, ...]
    asked: Money  # what was entered: fl for spend and refund, € for save and top-up
    card_hex: str | None
    card_id: bytes | None
    offline: bool  # accepted under the offline risk policy
    live: bool
    fingerprint: str  # the request, for client refs
    created_ms: int
    needs_tender: bool = False  # mixed payment: the € remainder needs cash or bank card
    needs_manager: bool = False
    cap_reason: FloreynError | None = None  # why Floreyn pays less than asked
    repeat_ago_s: float | None = None  # this card was charged this long ago: confirm needs repeat_ok
    balance_after_cents: int | None = None  # live only
    campaign: str = ""
    ref_tx: str | None = None

    @property
    def quote_id(self) -> str:
        return str(self.parts[0].record_id)

    @property
    def fl(self) -> Money:
        return Money.fl(sum(p.fl_cents for p in self.parts))

    @property
    def eur(self) -> Money:
        return Money.eur(sum(p.eur_cents for p in self.parts))

    def to_dict(self) -> dict[str, object]:
        return {
            "quote_id": self.quote_id, "kind": self.kind.name, "kind_nl": KIND_NL[self.kind],
            "asked": str(self.asked), "fl_cents": self.fl.cents, "eur_cents": self.eur.cents,
            "fl": format_money(self.fl), "eur": format_money(self.eur), "offline": self.offline,
            "live": self.live, "needs_tender": self.needs_tender, "needs_manager": self.needs_manager,
            "cap_reason": self.cap_reason.to_dict() if self.cap_reason else None,
            "repeat_ago_s": self.repeat_ago_s, "campaign": self.campaign,
            "parts": [p.to_dict() for p in self.parts],
        }


@dataclass(frozen=True)
class TxResult:
    tx_id: str
    kind: Kind
    records: tuple[StoredRecord, ...]
    existed: bool = False  # a retry of a request already carried out: nothing new was written
    receipt_status: str = "pending"
    receipt_error: FloreynError | None = None
    report: dict[str, Any] | None = None  # day close only
    card_updated: bool | None = None  # an offline spend: its trail was written on the card (engine/trail.py)

    @property
    def fl(self) -> Money:
        return Money.fl(sum(r.fl_cents for r in self.records))

    @property
    def eur(self) -> Money:
        return Money.eur(sum(r.eur_cents for r in self.records))

    def to_dict(self) -> dict[str, object]:
        out: dict[str, Any] = {
            "tx_id": self.tx_id, "kind": self.kind.name, "kind_nl": KIND_NL[self.kind],
            "existed": self.existed, "seqs": [r.seq for r in self.records],
            "fl_cents": self.fl.cents, "eur_cents": self.eur.cents,
            "offline": any(r.offline for r in self.records),
            "records": [{"record_id": r.record_id, "seq": r.seq, "kind": r.kind.name, "fl_cents": r.fl_cents,
                         "eur_cents": r.eur_cents, "tender": r.tender.name, "budget_id": r.budget_id,
                         "ref_id": r.ref_id} for r in self.records],
            "receipt": self.receipt_status,
        }
        if self.records and self.records[0].card_hex:
            out["card_hex"] = self.records[0].card_hex
        if self.card_updated is not None:
            out["card_written"] = self.card_updated
            out["card_note"] = "pas bijgewerkt" if self.card_updated else "pas niet bij te werken"
        if self.receipt_error is not None:
            out["receipt_error"] = self.receipt_error.to_dict()
        if self.report is not None:
            out["report"] = self.report
        return out


@dataclass(frozen=True)
class TillStatus:
    terminal_id: str
    operator: str | None
    role: str | None
    head_seq: int
    day_no: int
    pending_uploads: int
    receipts_to_print: int
    snapshot_version: int | None
    snapshot_age_s: float | None
    snapshot_stale: bool
    online: bool | None  # None: no server configured
    disk_free_mb: int | None = None  # free space on the data folder's disk (None: unknown)
    disk_low: bool = False  # below [store] disk_warn_mb: say so on the status screen
    disk_full: bool = False  # below [store] disk_floor_mb: new money transactions are refused (DiskFull)
    store_damaged: bool = False  # the store's chain check failed (store.check_error): nothing is uploaded

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Overview:
    """The status screen and the banners in one answer (Engine.overview)."""

    status: TillStatus
    printer: PrinterStatus | None = None  # None: the printer could not say; `printer_error` says why
    printer_error: Exception | None = None
    sync: SyncState | None = None  # the sync worker's state when this was asked; None without a server
    merchant: MerchantConfig | None = None  # None before the first snapshot without [merchant]; see merchant_error
    merchant_error: FloreynError | None = None
    worker_restarts: int = 0  # times the till's worker died and was restarted (TillService); 0 is healthy
    worker_failure: str = ""  # why, the last time
