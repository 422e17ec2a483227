"""Working out a transaction before it is confirmed: spend, save, top-up, refund, void.

Each quote_* method checks everything it can (and raises a typed refusal
having changed nothing), builds the records-to-be, and remembers the quote
with a re-check that confirm() runs inside the write transaction. What a
quote is worked out from (snapshot, its age, shop, date, limits, rates) is
one TillContext read once per quote (engine/context.py); the arithmetic is
in the pure functions at the end of this module and in pricing.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from floreyn.errors import FloreynError
from floreyn.money import Currency, Money
from floreyn.sync import rules
from floreyn.sync.record import Kind, Tender
from floreyn.sync.snapshot import BudgetInfo
from floreyn.terminal.engine.errors import (
    BudgetEmpty,
    CardBlocked, InsufficientBalance, NothingToVoid, OnlineDeclined, OnlineUnavailable, RefundNotAllowed,
    RefundTooLarge, SaveNotOffered, SaveTooSmall, TopupNotAllowed, TopupTooSmall, TxNotFound,
)
from floreyn.terminal.engine.context import TillContext
from floreyn.terminal.engine.model import CardSession, Part, Quote
from floreyn.terminal.engine import trail
from floreyn.terminal.engine.pricing import (
    OWN, Source, active_multiplier, allocate, budget_usable, check_chosen_budget, order_sources,
)
from floreyn.terminal.engine.summary import offline_state
from floreyn.terminal.store import StoredRecord, StoreView

if TYPE_CHECKING:
    from floreyn.terminal.engine.core import Engine

Recheck = Callable[[StoreView, TillContext], None]  # run by confirm() in the write transaction, fresh context
NewId = Callable[[], uuid.UUID]
OWN_LABEL = ""  # the own balance has no label of its own: the app and the receipt word it in their language
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


class Quoting:
    """The quote_* operations of an Engine, which forwards them (typed through `eng`, not a self-type)."""
    def __init__(self, eng: Engine) -> None:
        self.eng = eng

    # -- spend -------------------------------------------------------------------------------

    def quote_spend(self, amount: Money, *, source: str | None = None,
                    online: bool | None = None, ref: str | None = None) -> Quote:
        """Pay `amount` (fl, at par with the euro price) from budgets and own balance.

        source: None (budgets first, soonest expiry first, then own), "own", or a budget id.
        online: None = online when the card summary was live, True = ask the server, False = offline rules.
        When Floreyn covers only part, the quote offers a mixed payment (needs_tender).
        ref: a client reference (see record_ids); pass the same to confirm().
        """
        ids = record_ids(self.eng.config.terminal_id, ref)
        self.eng.require_operator()
        session = self.eng.require_card()
        self.eng.check_amount(amount, Currency.FL)
        ctx = self.eng.context()
        if source is not None and source != OWN:
            check_chosen_budget(source, session.budgets, ctx.merchant, ctx.today)
        want_online = online if online is not None else session.summary.live
        if want_online:
            if self.eng.gateway is None:
                if online:
                    raise OnlineUnavailable.no_server()
            else:
                try:
                    return self._spend_online(ctx, session, amount, source, ids)
                except OnlineUnavailable:
                    if online:
                        raise
        return self._spend_offline(ctx, session, amount, source, ids)

    def _spend_offline(self, ctx: TillContext, session: CardSession, amount: Money, source: str | None,
                       ids: NewId) -> Quote:
        card_hex = session.card.card_hex
        with self.eng.store.read() as view:
            state = offline_state(view, ctx.snapshot, card_hex, session.info, ctx.age_s, self.eng.tap)
        cap = state.capacity
        own = Source(None, OWN_LABEL, cap.own_cents)
        order = order_sources(usable_sources(ctx, session, state.budget_left), own, source)
        _ask_if_chosen_budget_empty(order, source)
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
        parts = _with_budget_left(_parts(taken, amount.cents - paid, ids), session.budgets, state.budget_left)
        info = session.info

        def recheck(view: StoreView, now_ctx: TillContext) -> None:
            now = offline_state(view, now_ctx.snapshot, card_hex, info, now_ctx.age_s, self.eng.tap)
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

    def _spend_online(self, ctx: TillContext, session: CardSession, amount: Money, source: str | None,
                      ids: NewId) -> Quote:
        assert self.eng.gateway is not None
        card_hex = session.card.card_hex
        live = self.eng.gateway.card_summary(card_hex)  # fresh figures: the summary may be minutes old
        if live.blocked:
            raise CardBlocked()
        # Offline spends the card carries that the server has not received yet (any till's): the
        # server's figure does not know them, so the quote leaves them out (engine/trail.py).
        with self.eng.store.read() as view:
            local = view.offline_spent_unsent(card_hex)
        pending = trail.online_pending(self.eng.tap, uploaded_cents=live.offline_uploaded_cents, local_cents=local)
        budgets = tuple(replace(b, remaining_cents=max(0, b.remaining_cents - pending))
                        for b in (live.budgets or session.budgets))
        session = CardSession(session.card, session.summary, session.info, live.balance_cents, budgets)
        own = Source(None, OWN_LABEL, max(0, live.balance_cents - pending))
        order = order_sources(usable_sources(ctx, session, None), own, source)
        _ask_if_chosen_budget_empty(order, source)
        taken = allocate(amount.cents, order)
        paid = sum(t for _, t in taken)
        if paid == 0:
            raise _insufficient(0)
        parts = _with_budget_left(_parts(taken, amount.cents - paid, ids), budgets, None)
        confirm = needs_confirmation(parts, budgets)
        held: list[Part] = []
        try:
            for part in parts:  # the server holds per account, so per record
                if part.budget_id in confirm:
                    continue  # asked with the second card (Engine.second_card): without it the server declines
                auth = self.eng.gateway.authorize(card_hex, part.fl_cents, str(part.record_id), part.budget_id)
                if not auth.approved:
                    raise OnlineDeclined(server_reason=auth.reason or "")
                held.append(part)
                self.eng.note_card_version(card_hex, auth.card_version)
        except (OnlineDeclined, OnlineUnavailable):
            self.eng.quotes.release_holds(held)  # no quote will use what the parts before were granted
            raise
        own_part = sum(p.fl_cents for p in parts if p.budget_id is None)
        reason = _insufficient(paid) if paid < amount.cents else None
        return self._remember_spend(session, amount, source, parts, offline=False, reason=reason,
                                    balance_after=live.balance_cents - own_part, recheck=None)

    def _remember_spend(self, session: CardSession, amount: Money, source: str | None,
                        parts: tuple[Part, ...], *, offline: bool, reason: FloreynError | None, balance_after: int | None,
                        recheck: Recheck | None) -> Quote:
        card_hex = session.card.card_hex
        quote = Quote(
            confirm_budgets=tuple(sorted(needs_confirmation(parts, session.budgets))),
            kind=Kind.SPEND, parts=parts, asked=amount, card_hex=card_hex, card_id=session.card.card_id,
            offline=offline, live=not offline, fingerprint=f"spend:{card_hex}:{amount.cents}:{source or ''}",
            created_ms=self.eng.clock.monotonic_ms(), needs_tender=parts[-1].eur_cents > 0,
            cap_reason=reason,
            repeat_ago_s=self.eng.repeat_ago_s(card_hex, Kind.SPEND), balance_after_cents=balance_after,
        )
        return self.eng.quotes.remember(quote, recheck)

    # -- save and top-up -------------------------------------------------------------------------

    def quote_save(self, euro: Money, *, ref: str | None = None) -> Quote:
        """The member saves Floreyn on a euro purchase: save rate x the best active campaign."""
        self.eng.require_operator()
        session = self.eng.require_card()
        self.eng.check_amount(euro, Currency.EUR)
        reward, campaign = save_figures(self.eng.context(), euro)
        return self._remember_credit(session, Kind.SAVE, euro, reward.cents, Tender.NONE, campaign,
                                     record_ids(self.eng.config.terminal_id, ref))

    def quote_topup(self, euro: Money, *, ref: str | None = None) -> Quote:
        """The member pays euros in cash and receives Floreyn at the ask rate."""
        self.eng.require_operator()
        session = self.eng.require_card()
        ctx = self.eng.context()
        if not ctx.merchant.topup_allowed:
            raise TopupNotAllowed()
        self.eng.check_amount(euro, Currency.EUR, self.eng.config.till.max_topup_cents)
        got = topup_figures(ctx, euro)
        return self._remember_credit(session, Kind.TOPUP, euro, got.cents, Tender.CASH, "",
                                     record_ids(self.eng.config.terminal_id, ref))

    def _remember_credit(self, session: CardSession, kind: Kind, euro: Money, fl_cents: int,
                         tender: Tender, campaign: str, ids: NewId) -> Quote:
        card_hex = session.card.card_hex
        live = session.live_balance_cents
        quote = Quote(
            kind=kind, parts=(Part(record_id=ids(), fl_cents=fl_cents, eur_cents=euro.cents, tender=tender),), asked=euro,
            # offline: made without a connection, and the result says so (issue 14)
            card_hex=card_hex, card_id=session.card.card_id, offline=live is None, live=live is not None,
            fingerprint=f"{kind.name.lower()}:{card_hex}:{euro.cents}", created_ms=self.eng.clock.monotonic_ms(),
            repeat_ago_s=self.eng.repeat_ago_s(card_hex, kind),
            balance_after_cents=None if live is None else live + fl_cents, campaign=campaign,
        )
        return self.eng.quotes.remember(quote, None)

    # -- refund and void --------------------------------------------------------------------------

    def quote_refund(self, tx_id: str, amount: Money | None = None, *, ref: str | None = None) -> Quote:
        """Pay back (part of) an earlier payment; needs a manager. Never more than is left of it."""
        self.eng.require_operator()
        originals = self.eng.store.tx(tx_id) or self.eng.store.tx_of_record(tx_id)
        if not originals:
            raise TxNotFound(tx=tx_id[:8])
        kinds = {r.kind for r in originals}
        if Kind.REFUND in kinds:
            raise RefundNotAllowed(why="refund_of_refund")
        if kinds != {Kind.SPEND}:
            raise RefundNotAllowed(why="not_a_payment")
        with self.eng.store.read() as view:
            left = [_refundable(view, r) for r in originals]
        total_fl = sum(f for f, _ in left)
        if amount is None:
            wanted = [(r, f, e) for r, (f, e) in zip(originals, left, strict=True) if f or e]
        else:
            self.eng.check_amount(amount, Currency.FL)
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
        ids = record_ids(self.eng.config.terminal_id, ref)
        parts = tuple(Part(record_id=ids(), fl_cents=f, eur_cents=e, budget_id=r.budget_id,
                           label=r.budget_label or "", ref_id=uuid.UUID(r.record_id),
                           tender=r.tender if e else Tender.NONE) for r, f, e in wanted)

        def recheck(view: StoreView, _ctx: TillContext) -> None:
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
            created_ms=self.eng.clock.monotonic_ms(), needs_manager=True, ref_tx=originals[0].tx_id,
        )
        return self.eng.quotes.remember(quote, recheck)

    def quote_void(self, *, ref: str | None = None) -> Quote:
        """Reverse the last transaction of the open day (storno), in full; needs a manager, like a refund.

        A void moves as much money as a refund (and could undo a cash top-up the
        cashier pocketed), so confirm() asks a manager's PIN unless a manager is
        signed in.
        """
        self.eng.require_operator()
        with self.eng.store.read() as view:
            last = view.last_tx()
        if not last:
            raise NothingToVoid(why="no_transaction")
        if last[0].kind is Kind.DAY_CLOSE:
            raise NothingToVoid(why="day_closed")
        if last[0].kind is Kind.VOID:
            raise NothingToVoid(why="last_is_void")
        tx_id = last[0].tx_id
        ids = record_ids(self.eng.config.terminal_id, ref)
        parts = tuple(Part(record_id=ids(), fl_cents=r.fl_cents, eur_cents=r.eur_cents,
                           ref_id=uuid.UUID(r.record_id), tender=r.tender) for r in last)

        def recheck(view: StoreView, _ctx: TillContext) -> None:
            now = view.last_tx()
            if not now or now[0].tx_id != tx_id:
                raise NothingToVoid(why="newer_transaction")

        card_hex = last[0].card_hex
        quote = Quote(
            kind=Kind.VOID, parts=parts, asked=Money.fl(sum(p.fl_cents for p in parts)), card_hex=card_hex,
            card_id=bytes.fromhex(card_hex) if card_hex else None, offline=False, live=False,
            fingerprint=f"void:{tx_id}", created_ms=self.eng.clock.monotonic_ms(), needs_manager=True, ref_tx=tx_id,
        )
        return self.eng.quotes.remember(quote, recheck)


def _ask_if_chosen_budget_empty(order: list[Source], source: str | None) -> None:
    """A chosen budget with nothing left is not paid silently from the own balance: the cashier asks."""
    if source is not None and source != OWN and order and order[0].available_cents <= 0:
        raise BudgetEmpty(label=order[0].label)


# -- pure functions of a TillContext ---------------------------------------------------------------


def usable_sources(ctx: TillContext, session: CardSession, left: dict[str, int] | None) -> list[Source]:
    """The card's budgets that may pay here today, with what each has left (`left`: offline, per budget).

    A group budget pays at most the member's cap left this month; above the funder's threshold it pays
    too, but then a second member's card must confirm (needs_confirmation, Engine.second_card)."""
    out = []
    for b in session.budgets:
        if budget_usable(b, ctx.merchant, ctx.today) is None:
            avail = b.remaining_cents if left is None else left.get(b.budget_id, 0)
            spent = 0 if left is None else max(0, b.remaining_cents - left.get(b.budget_id, 0))
            avail = rules.group_budget_room(avail, spent, b.member_cap_left_cents, None)
            out.append(Source(b.budget_id, b.label, avail, b.expires_on))
    return out


def needs_confirmation(parts: tuple[Part, ...], budgets: tuple[BudgetInfo, ...]) -> set[str]:
    """The group budgets these parts draw on above the funder's threshold: a second card must confirm."""
    above = {b.budget_id: b.confirm_above_cents for b in budgets if b.confirm_above_cents is not None}
    return {p.budget_id for p in parts if p.budget_id in above and p.fl_cents > above[p.budget_id]}


def _with_budget_left(parts: tuple[Part, ...], budgets: tuple[BudgetInfo, ...],
                      left: dict[str, int] | None) -> tuple[Part, ...]:
    """Each budget part with what its budget has left after it and its last day, for the receipt (`left`:
    offline, what this till may still draw; else the budget's figure)."""
    known = {b.budget_id: b for b in budgets}
    out = []
    for p in parts:
        b = known.get(p.budget_id or "")
        if b is not None:
            before = b.remaining_cents if left is None else left.get(b.budget_id, 0)
            p = replace(p, budget_left_cents=max(0, before - p.fl_cents), budget_expires_on=b.expires_on)
        out.append(p)
    return tuple(out)


def save_figures(ctx: TillContext, euro: Money) -> tuple[Money, str]:
    """(Floreyn earned on a euro purchase, the campaign that multiplied it or "")."""
    merchant = ctx.merchant
    if merchant.save_rate_bp <= 0:
        raise SaveNotOffered()
    campaigns = ctx.snapshot.campaigns if ctx.snapshot is not None else ()
    multiplier, campaign = active_multiplier(campaigns, merchant.merchant_id, ctx.today)
    reward = Money.fl(rules.max_save_reward_cents(euro.cents, merchant.save_rate_bp, multiplier))
    if reward.cents == 0:
        raise SaveTooSmall()
    return reward, campaign


def topup_figures(ctx: TillContext, euro: Money) -> Money:
    """Floreyn a member receives for `euro` in cash, at the snapshot's ask rate."""
    got = Money.fl(rules.topup_fl_cents(euro.cents, ctx.rates))  # the server re-checks with the same rule
    if got.cents == 0:
        raise TopupTooSmall()
    return got


def _insufficient(available_cents: int) -> InsufficientBalance:
    return InsufficientBalance(available_cents=available_cents, currency=Currency.FL)


def _parts(taken: list[tuple[Source, int]], eur_remainder: int, ids: NewId) -> tuple[Part, ...]:
    parts = [Part(record_id=ids(), fl_cents=cents, budget_id=src.budget_id, label=src.label) for src, cents in taken]
    if eur_remainder:
        parts[-1] = dataclasses.replace(parts[-1], eur_cents=eur_remainder)
    return tuple(parts)


def _refundable(view: StoreView, original: StoredRecord) -> tuple[int, int]:
    if view.voided(original.record_id):
        raise RefundNotAllowed(why="voided")
    done_fl, done_eur = view.refunded(original.record_id)
    return original.fl_cents - done_fl, original.eur_cents - done_eur
