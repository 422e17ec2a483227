"""Working out a transaction before it is confirmed: spend, save, top-up, refund, void.

Each quote_* method checks everything it can (and raises a typed refusal
having changed nothing), builds the records-to-be, and remembers the quote
with a re-check that confirm() runs inside the write transaction.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Callable

from floreyn.money import Currency, ExchangeRates, Money
from floreyn.sync import rules
from floreyn.sync.record import Kind, Tender
from floreyn.sync.snapshot import Snapshot
from floreyn.terminal.engine.errors import (
    CardBlocked, InsufficientBalance, NothingToVoid, OnlineDeclined, OnlineUnavailable, RefundNotAllowed,
    RefundTooLarge, SaveNotOffered, SaveTooSmall, TopupNotAllowed, TxNotFound,
)
from floreyn.terminal.engine.model import CardSession, Part, Quote
from floreyn.terminal.engine.online import decline_reason_en, decline_reason_nl
from floreyn.terminal.engine.pricing import (
    OWN, Source, active_multiplier, allocate, budget_usable, check_chosen_budget, order_sources,
)
from floreyn.terminal.engine.summary import offline_state
from floreyn.terminal.store import StoredRecord, StoreView

if TYPE_CHECKING:
    from floreyn.terminal.engine.core import Engine

Recheck = Callable[[StoreView, "Snapshot | None", "float | None"], None]
NewId = Callable[[], uuid.UUID]
_ID_NAMESPACE = uuid.UUID("6f1c1e52-3b0e-5d4a-9a57-0f1e7e1a2b3c")


def record_ids(terminal_id: str, ref: str | None) -> NewId:
    """Record ids for a quote: random, or derived from a client reference.

    A request retried under the same reference (a resumed script) then gets
    the same record ids, so the same online-authorization request ids: the
    server answers "exists" and keeps one hold instead of making a second.
    """
    if ref is None:
        return uuid.uuid4
    counter = itertools.count()
    return lambda: uuid.uuid5(_ID_NAMESPACE, f"{terminal_id}/{ref}#{next(counter)}")


class QuotingMixin:
    # -- spend -------------------------------------------------------------------------------

    def quote_spend(self: Engine, amount: Money, *, source: str | None = None,
                    online: bool | None = None, ref: str | None = None) -> Quote:
        """Pay `amount` (fl, at par with the euro price) from budgets and own balance.

        source: None (budgets first, soonest expiry first, then own), "own", or a budget id.
        online: None = online when the card summary was live, True = ask the server, False = offline rules.
        When Floreyn covers only part, the quote offers a mixed payment (needs_tender).
        ref: a client reference (see record_ids); pass the same to confirm().
        """
        ids = record_ids(self.config.terminal_id, ref)
        self.require_operator()
        session = self.require_card()
        self.check_amount(amount, Currency.FL)
        if source is not None and source != OWN:
            check_chosen_budget(source, session.budgets, self.merchant(), self.today())
        want_online = online if online is not None else session.summary.live
        if want_online:
            if self.gateway is None:
                if online:
                    raise OnlineUnavailable.no_server()
            else:
                try:
                    return self._spend_online(session, amount, source, ids)
                except OnlineUnavailable:
                    if online:
                        raise
        return self._spend_offline(session, amount, source, ids)

    def _sources(self: Engine, session: CardSession, left: dict[str, int] | None) -> list[Source]:
        merchant, today = self.merchant(), self.today()
        out = []
        for b in session.budgets:
            if budget_usable(b, merchant, today) is None:
                avail = b.remaining_cents if left is None else left.get(b.budget_id, 0)
                out.append(Source(b.budget_id, b.label, avail, b.expires_on))
        return out

    def _spend_offline(self: Engine, session: CardSession, amount: Money, source: str | None,
                       ids: NewId) -> Quote:
        snap, age = self.snapshot()
        card_hex = session.card.card_hex
        with self.store.read() as view:
            state = offline_state(view, snap, card_hex, session.info, age)
        cap = state.capacity
        own = Source(None, "Eigen saldo", cap.own_cents)
        order = order_sources(self._sources(session, state.budget_left), own, source)
        payable = min(amount.cents, cap.total_cents)
        taken = allocate(payable, order) if payable > 0 else []
        paid = sum(t for _, t in taken)
        if paid == 0:
            if cap.total_cents == 0 and cap.total_reason is not None:
                raise cap.total_reason
            if cap.own_cents == 0 and cap.own_reason is not None and session.info is not None:
                raise cap.own_reason
            raise _insufficient(0)
        reason = None
        if paid < amount.cents:
            reason = cap.total_reason if paid == cap.total_cents else (
                cap.own_reason if cap.own_cents < amount.cents else _insufficient(paid))
        parts = _parts(taken, amount.cents - paid, ids)
        info = session.info

        def recheck(view: StoreView, snap_now: Snapshot | None, age_now: float | None) -> None:
            now = offline_state(view, snap_now, card_hex, info, age_now)
            if paid > now.capacity.total_cents and now.capacity.total_reason is not None:
                raise now.capacity.total_reason
            own_part = sum(p.fl_cents for p in parts if p.budget_id is None)
            if own_part > now.capacity.own_cents and now.capacity.own_reason is not None:
                raise now.capacity.own_reason
            for p in parts:
                if p.budget_id is not None and p.fl_cents > now.budget_left.get(p.budget_id, 0):
                    raise _insufficient(now.budget_left.get(p.budget_id, 0))

        return self._remember_spend(session, amount, source, parts, offline=True, reason=reason,
                                    balance_after=None, recheck=recheck)

    def _spend_online(self: Engine, session: CardSession, amount: Money, source: str | None,
                      ids: NewId) -> Quote:
        assert self.gateway is not None
        card_hex = session.card.card_hex
        live = self.gateway.card_summary(card_hex)  # fresh figures: the summary may be minutes old
        if live.blocked:
            raise CardBlocked()
        if live.budgets:
            session = CardSession(session.card, session.summary, session.info, live.balance_cents, live.budgets)
        own = Source(None, "Eigen saldo", live.balance_cents)
        taken = allocate(amount.cents, order_sources(self._sources(session, None), own, source))
        paid = sum(t for _, t in taken)
        if paid == 0:
            raise _insufficient(0)
        parts = _parts(taken, amount.cents - paid, ids)
        held: list[Part] = []
        try:
            for part in parts:  # the server holds per account, so per record
                auth = self.gateway.authorize(card_hex, part.fl_cents, str(part.record_id), part.budget_id)
                if not auth.approved:
                    raise OnlineDeclined(reason=decline_reason_nl(auth.reason),
                                         reason_en=decline_reason_en(auth.reason), server_reason=auth.reason)
                held.append(part)
        except (OnlineDeclined, OnlineUnavailable):
            self.release_holds(held)  # no quote will use what the parts before were granted
            raise
        own_part = sum(p.fl_cents for p in parts if p.budget_id is None)
        reason = _insufficient(paid) if paid < amount.cents else None
        return self._remember_spend(session, amount, source, parts, offline=False, reason=reason,
                                    balance_after=live.balance_cents - own_part, recheck=None)

    def _remember_spend(self: Engine, session: CardSession, amount: Money, source: str | None,
                        parts: tuple[Part, ...], *, offline: bool, reason: object, balance_after: int | None,
                        recheck: Recheck | None) -> Quote:
        card_hex = session.card.card_hex
        quote = Quote(
            kind=Kind.SPEND, parts=parts, asked=amount, card_hex=card_hex, card_id=session.card.card_id,
            offline=offline, live=not offline, fingerprint=f"spend:{card_hex}:{amount.cents}:{source or ''}",
            created_ms=self.clock.monotonic_ms(), needs_tender=parts[-1].eur_cents > 0,
            cap_reason=reason,  # type: ignore[arg-type]
            repeat_ago_s=self.repeat_ago_s(card_hex, Kind.SPEND), balance_after_cents=balance_after,
        )
        return self.remember(quote, recheck)

    # -- save and top-up -------------------------------------------------------------------------

    def quote_save(self: Engine, euro: Money, *, ref: str | None = None) -> Quote:
        """The member saves Floreyn on a euro purchase: save rate x the best active campaign."""
        self.require_operator()
        session = self.require_card()
        self.check_amount(euro, Currency.EUR)
        merchant = self.merchant()
        if merchant.save_rate_bp <= 0:
            raise SaveNotOffered()
        snap, _ = self.snapshot()
        multiplier, campaign = active_multiplier(snap.campaigns if snap else (), merchant.merchant_id,
                                                 self.today())
        reward = Money.fl(rules.max_save_reward_cents(euro.cents, merchant.save_rate_bp, multiplier))
        if reward.cents == 0:
            raise SaveTooSmall()
        return self._remember_credit(session, Kind.SAVE, euro, reward.cents, Tender.NONE, campaign,
                                     record_ids(self.config.terminal_id, ref))

    def quote_topup(self: Engine, euro: Money, *, ref: str | None = None) -> Quote:
        """The member pays euros in cash and receives Floreyn at the ask rate."""
        self.require_operator()
        session = self.require_card()
        if not self.merchant().topup_allowed:
            raise TopupNotAllowed()
        self.check_amount(euro, Currency.EUR, self.config.till.max_topup_cents)
        snap, _ = self.snapshot()
        rates = snap.rates if snap else ExchangeRates()
        got = Money.fl(rules.topup_fl_cents(euro.cents, rates))  # the server re-checks with the same rule
        if got.cents == 0:
            raise SaveTooSmall()
        return self._remember_credit(session, Kind.TOPUP, euro, got.cents, Tender.CASH, "",
                                     record_ids(self.config.terminal_id, ref))

    def _remember_credit(self: Engine, session: CardSession, kind: Kind, euro: Money, fl_cents: int,
                         tender: Tender, campaign: str, ids: NewId) -> Quote:
        card_hex = session.card.card_hex
        live = session.live_balance_cents
        quote = Quote(
            kind=kind, parts=(Part(ids(), fl_cents, euro.cents, tender=tender),), asked=euro,
            card_hex=card_hex, card_id=session.card.card_id, offline=False, live=live is not None,
            fingerprint=f"{kind.name.lower()}:{card_hex}:{euro.cents}", created_ms=self.clock.monotonic_ms(),
            repeat_ago_s=self.repeat_ago_s(card_hex, kind),
            balance_after_cents=None if live is None else live + fl_cents, campaign=campaign,
        )
        return self.remember(quote, None)

    # -- refund and void --------------------------------------------------------------------------

    def quote_refund(self: Engine, tx_id: str, amount: Money | None = None, *, ref: str | None = None) -> Quote:
        """Pay back (part of) an earlier payment; needs a manager. Never more than is left of it."""
        self.require_operator()
        originals = self.store.tx(tx_id) or self.store.tx_of_record(tx_id)
        if not originals:
            raise TxNotFound(tx=tx_id[:8])
        kinds = {r.kind for r in originals}
        if Kind.REFUND in kinds:
            raise RefundNotAllowed(reason="Een terugbetaling kan niet worden terugbetaald.",
                                   reason_en="A refund cannot be refunded.", why="refund_of_refund")
        if kinds != {Kind.SPEND}:
            raise RefundNotAllowed(reason="Alleen betalingen kunnen worden terugbetaald; gebruik storno.",
                                   reason_en="Only payments can be refunded; use void.", why="not_a_payment")
        with self.store.read() as view:
            left = [_refundable(view, r) for r in originals]
        total_fl = sum(f for f, _ in left)
        if amount is None:
            wanted = [(r, f, e) for r, (f, e) in zip(originals, left, strict=True) if f or e]
        else:
            self.check_amount(amount, Currency.FL)
            if amount.cents > total_fl:
                raise RefundTooLarge(max_cents=total_fl, currency=Currency.FL)
            wanted, rest = [], amount.cents
            for r, (f, _e) in reversed(list(zip(originals, left, strict=True))):  # own balance (last) first
                take = min(rest, f)
                if take:
                    wanted.append((r, take, 0))
                    rest -= take
        if not wanted:
            raise RefundTooLarge(max_cents=0, currency=Currency.FL)
        ids = record_ids(self.config.terminal_id, ref)
        parts = tuple(Part(ids(), f, e, r.budget_id, r.budget_label or "", uuid.UUID(r.record_id),
                           r.tender if e else Tender.NONE) for r, f, e in wanted)

        def recheck(view: StoreView, _snap: Snapshot | None, _age: float | None) -> None:
            for p in parts:
                original = view.record(str(p.ref_id))
                if original is None:
                    raise TxNotFound(tx=tx_id[:8])
                f, e = _refundable(view, original)
                if p.fl_cents > f or p.eur_cents > e:
                    raise RefundTooLarge(max_cents=f, currency=Currency.FL)

        card_hex = originals[0].card_hex
        quote = Quote(
            kind=Kind.REFUND, parts=parts, asked=amount or Money.fl(sum(p.fl_cents for p in parts)),
            card_hex=card_hex, card_id=bytes.fromhex(card_hex) if card_hex else None, offline=False, live=False,
            fingerprint=f"refund:{originals[0].tx_id}:{amount.cents if amount else 'all'}",
            created_ms=self.clock.monotonic_ms(), needs_manager=True, ref_tx=originals[0].tx_id,
        )
        return self.remember(quote, recheck)

    def quote_void(self: Engine, *, ref: str | None = None) -> Quote:
        """Reverse the last transaction of the open day (storno), in full; needs a manager, like a refund.

        A void moves as much money as a refund (and could undo a cash top-up the
        cashier pocketed), so confirm() asks a manager's PIN unless a manager is
        signed in.
        """
        self.require_operator()
        with self.store.read() as view:
            last = view.last_tx()
        if not last:
            raise NothingToVoid(reason="er is nog geen transactie.", reason_en="no transaction yet.",
                                why="no_transaction")
        if last[0].kind is Kind.DAY_CLOSE:
            raise NothingToVoid(reason="de dag is al afgesloten.", reason_en="the day is closed.", why="day_closed")
        if last[0].kind is Kind.VOID:
            raise NothingToVoid(reason="de laatste transactie is zelf een storno.",
                                reason_en="the last transaction is itself a void.", why="last_is_void")
        tx_id = last[0].tx_id
        ids = record_ids(self.config.terminal_id, ref)
        parts = tuple(Part(ids(), r.fl_cents, r.eur_cents, None, "", uuid.UUID(r.record_id), r.tender)
                      for r in last)

        def recheck(view: StoreView, _snap: Snapshot | None, _age: float | None) -> None:
            now = view.last_tx()
            if not now or now[0].tx_id != tx_id:
                raise NothingToVoid(reason="er is intussen een nieuwe transactie.",
                                    reason_en="a newer transaction came in between.", why="newer_transaction")

        card_hex = last[0].card_hex
        quote = Quote(
            kind=Kind.VOID, parts=parts, asked=Money.fl(sum(p.fl_cents for p in parts)), card_hex=card_hex,
            card_id=bytes.fromhex(card_hex) if card_hex else None, offline=False, live=False,
            fingerprint=f"void:{tx_id}", created_ms=self.clock.monotonic_ms(), needs_manager=True, ref_tx=tx_id,
        )
        return self.remember(quote, recheck)


def _insufficient(available_cents: int) -> InsufficientBalance:
    return InsufficientBalance(available_cents=available_cents, currency=Currency.FL)


def _parts(taken: list[tuple[Source, int]], eur_remainder: int, ids: NewId) -> tuple[Part, ...]:
    parts = [Part(ids(), cents, 0, src.budget_id, src.label) for src, cents in taken]
    if eur_remainder:
        last = parts[-1]
        parts[-1] = Part(last.record_id, last.fl_cents, eur_remainder, last.budget_id, last.label)
    return tuple(parts)


def _refundable(view: StoreView, original: StoredRecord) -> tuple[int, int]:
    if view.voided(original.record_id):
        raise RefundNotAllowed(reason="Deze betaling is gestorneerd.", reason_en="This payment was voided.",
                               why="voided")
    done_fl, done_eur = view.refunded(original.record_id)
    return original.fl_cents - done_fl, original.eur_cents - done_eur
