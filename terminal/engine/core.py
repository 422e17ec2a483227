"""The till engine: sign-in, card, quote -> confirm -> commit -> print, and the day.

Single-threaded by design: the app calls it only from TillService's worker
thread, the scripted till from its main thread. The store it writes to is
shared with the sync thread and guards itself.

Flow of every money operation:
    quote_spend / quote_save / quote_topup / quote_refund / quote_void
        -> a Quote (shown to the shopkeeper; nothing written yet)
    confirm(quote_id, tender=..., manager_pin=..., repeat_ok=..., client_ref=...)
        -> re-checks inside the write transaction, signs, chains, commits,
           THEN prints the receipt -> TxResult
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from typing import Callable

from floreyn import card as cards
from floreyn import cardtrail
from floreyn.card import Card, CardError
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey
from floreyn.money import AmountNegative, AmountWrongCurrency, AmountZero, Currency, Money
from floreyn.sync import rules
from floreyn.sync.record import Kind, Tender
from floreyn.sync.snapshot import OfflineLimits, Snapshot
from floreyn.terminal.config import Operator, TerminalConfig
from floreyn.terminal.drivers.base import CardEvent, CardPresented, CardRejected, PrintDoc, TrailPort, is_torn
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine import trail
from floreyn.terminal.engine.auth import PinGate
from floreyn.terminal.clock import Clock, snapshot_age_s
from floreyn.terminal.engine.context import TillContext, till_context
from floreyn.terminal.engine.disk import DiskGuard
from floreyn.terminal.engine.errors import (
    AmountOverLimit, CardBlocked, ClientRefConflict, ManagerRequired, MixedPaymentNeedsTender, NoCard, NotSignedIn,
    OnlineDeclined, OnlineUnavailable, PayerCardNeeded, QuoteUnknown, RepeatNeedsConfirmation,
    SecondCardNeeded, SecondCardRefused, TenderNotAllowed,
)
from floreyn.terminal.engine.model import (
    CardSession, MemberSummary, Overview, Part, Payment, Quote, TillStatus, TxResult,
)
from floreyn.terminal.engine.online import LiveCard, OnlineGateway
from floreyn.terminal.engine.ports import Printer, SyncView
from floreyn.terminal.engine.printing import MAX_RECEIPT_RETRIES, Receipts
from floreyn.terminal.engine.queries import MAX_RECENT_PAYMENTS, Queries
from floreyn.terminal.engine.quotebook import QuoteBook
from floreyn.terminal.engine.quoting import Quoting, record_ids
from floreyn.terminal.engine.summary import offline_state, summarize
from floreyn.terminal.engine.trail import TapTrail
from floreyn.terminal.store import Draft, StoredRecord, StoreView, TerminalStore



def pot_payouts(ctx: TillContext, kind: Kind, parts: list[Part]) -> list[tuple[str | None, int]]:
    """Per part, the joint campaign whose pot pays for it and how much (sync/rules.pot_payout: as the server
    books it on upload), for the receipt; each part lowers what the pot has left for the next."""
    snap = ctx.snapshot
    if kind not in (Kind.SPEND, Kind.SAVE) or snap is None:
        return [(None, 0)] * len(parts)
    campaigns = list(snap.campaigns)
    out: list[tuple[str | None, int]] = []
    for p in parts:
        pot, cents = rules.pot_payout(campaigns, ctx.merchant.merchant_id, ctx.today, save=kind is Kind.SAVE,
                                      fl_cents=p.fl_cents, eur_cents=p.eur_cents,
                                      save_rate_bp=ctx.merchant.save_rate_bp)
        if pot is not None and pot.pot_left_cents is not None:
            campaigns = [replace(c, pot_left_cents=pot.pot_left_cents - cents) if c is pot else c for c in campaigns]
        out.append((pot.name if pot is not None else None, cents))
    return out


def _committed_tx(view: StoreView, client_ref: str, fingerprint: str) -> str | None:
    """The transaction a client reference was committed as (a retry: None if it never was); ClientRefConflict
    when the reference was used for a different request."""
    found = view.client_ref(client_ref)
    if found is None:
        return None
    if found[1] != fingerprint:
        raise ClientRefConflict(ref=client_ref)
    return found[0]


class Engine:
    """The till's session (operator, card, open quotes) and its operations.

    Quoting, receipts and the read-only queries are collaborators (quoting.py,
    printing.py, queries.py) that reach the engine through a typed reference;
    the engine forwards their public calls, so callers see one object.
    """

    def __init__(
        self,
        config: TerminalConfig,
        store: TerminalStore,
        printer: Printer,
        key: PrivateKey,
        *,
        clock: Clock,
        gateway: OnlineGateway | None = None,
        sync: SyncView | None = None,
        listener: ev.Listener = ev.ignore,
        defer_print: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.printer = printer
        self.clock = clock
        self.gateway = gateway
        self.sync = sync  # the background sync worker (floreyn.sync.worker.SyncWorker), or None without a server
        self.listener = listener
        self.defer_print = defer_print
        self._key = key
        self._pins = PinGate(config.operators, config.security, store)
        self._operator: Operator | None = None
        self._card: CardSession | None = None
        self.quotes = QuoteBook(store, gateway)  # session state, with the operator and the card
        self._tap: TapTrail | None = None  # the card's trail and the port to write it, for this tap
        self._auth_version: dict[str, int] = {}  # card -> newest state version an authorization reported
        # The quote that waits for a card other than a new customer's: (quote id, False) a second group
        # member's (SecondCardNeeded), then offline (quote id, True) the payer's again (PayerCardNeeded).
        self._second: tuple[str, bool] | None = None
        self._issuers_cache: tuple[tuple[str, ...], dict[bytes, PublicKey]] | None = None
        # Free space on the SD card: a warning, then new money transactions refused (engine/disk.py).
        self.disk = DiskGuard(config.data_dir, warn_mb=config.store.disk_warn_mb,
                              floor_mb=config.store.disk_floor_mb)
        self.quoting = Quoting(self)
        self.receipts = Receipts(self)
        self.queries = Queries(self)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> dict[str, object]:
        """Check the stored chain, prune, and resume receipts a crash left unprinted."""
        head = self.store.verify(self.public_key)
        pruned = self.store.prune(retention_ms=self.config.store.retention_days * 86_400_000)
        printed = self.retry_pending_receipts()
        return {"head_seq": head.seq, "pruned": pruned, "receipts_resumed": printed,
                "migrated_from": self.store.migrated_from}

    @property
    def public_key(self) -> PublicKey:
        """The terminal's record-verifying key (for registration at the server and for tests)."""
        return self._key.public_key()

    def emit(self, event: ev.Event) -> None:
        try:
            self.listener(event)
        except Exception:  # noqa: BLE001 - a broken screen must not undo a committed sale
            pass

    # -- context -----------------------------------------------------------------------------

    def snapshot(self) -> tuple[Snapshot | None, float | None]:
        """The current snapshot and its age in seconds (None: unknown, i.e. stale)."""
        found = self.store.snapshot_with_receipt()
        if found is None:
            return None, None
        snap, rec = found
        age = snapshot_age_s(self.clock, received_boot_id=rec.received_boot_id,
                             received_monotonic_ms=rec.received_monotonic_ms,
                             received_wall_ms=rec.received_wall_ms, trust_wall_clock=self.config.trust_wall_clock)
        return snap, age

    def context(self) -> TillContext:
        """What one operation decides from (engine/context.py): read here once per operation."""
        snap, age = self.snapshot()
        return till_context(snap, age, configured=self.config.merchant, wall_ms=self.clock.wall_ms(),
                            timezone=self.config.timezone)

    def issuers(self) -> dict[bytes, PublicKey]:
        snap, _ = self.snapshot()
        hexkeys = tuple(self.config.issuer_keys) + (snap.issuer_keys if snap else ())
        if self._issuers_cache is None or self._issuers_cache[0] != hexkeys:
            self._issuers_cache = (hexkeys, cards.issuer_map([bytes.fromhex(k) for k in hexkeys]))
        return self._issuers_cache[1]

    def verify_payload(self, payload: bytes) -> Card:
        """The VerifyPayload handed to card readers."""
        return cards.verify_payload(payload, self.issuers())

    # -- sign-in -----------------------------------------------------------------------------

    @property
    def operator(self) -> Operator | None:
        return self._operator

    def sign_in(self, pin: str) -> Operator:
        op = self._pins.check(pin)
        self._operator = op
        self.emit(ev.SignedIn(op))
        return op

    def sign_out(self) -> None:
        self._operator, self._card, self._tap, self._second = None, None, None, None
        self.quotes.drop_all()
        self.emit(ev.SignedOut())

    def require_operator(self) -> Operator:
        if self._operator is None:
            raise NotSignedIn()
        return self._operator

    def _require_manager(self, manager_pin: str | None) -> None:
        if self.require_operator().is_manager:
            return
        if not manager_pin:
            raise ManagerRequired()
        self._pins.check(manager_pin, manager=True)

    # -- card --------------------------------------------------------------------------------

    def present_card(self, payload: bytes, trail: TrailPort | None = None) -> MemberSummary:
        """A card laid on the reader (raw NDEF payload): verify, check the blocklist, summarise.

        `trail`: the port to the card's offline trail (None: this tap cannot write the card, so
        it cannot pay offline; terminal/engine/trail.py)."""
        self.require_operator()
        if self._second is not None and self._card is not None:  # the second member's card (SecondCardNeeded)
            try:
                return self._second_card(CardPresented(self.verify_payload(payload), trail=trail))
            except CardError as exc:
                return self._second_card(CardRejected(exc))
        self._card = None
        try:
            card = self.verify_payload(payload)
        except CardError as exc:
            self.emit(ev.CardRefused(exc))
            raise
        return self._open_card(card, trail)

    def card_event(self, event: CardEvent) -> MemberSummary:
        """A reader's event (already verified with `verify_payload`). Refused cards, also one laid on the
        reader while nobody is signed in, are reported as CardRefused: nobody asked for this call."""
        try:
            self.require_operator()
        except NotSignedIn as exc:
            self.emit(ev.CardRefused(exc))
            raise
        if self._second is not None and self._card is not None:
            return self._second_card(event)
        if is_torn(event):
            # Nothing was read, so nothing is refused: the member whose card is open (a quote perhaps
            # typed) keeps it, and a shopkeeper need not start again because a card moved.
            self.emit(ev.CardReadTorn(event.error))
            raise event.error
        self._card = None
        if not isinstance(event, CardPresented):
            self.emit(ev.CardRefused(event.error))
            raise event.error
        return self._open_card(event.card, event.trail)

    def _open_card(self, card: Card, port: TrailPort | None) -> MemberSummary:
        self._tap = TapTrail.of(port)
        try:
            session = self._session(card)
        except FloreynError as exc:
            self.emit(ev.CardRefused(exc))
            raise
        self._card = session
        self.emit(ev.CardShown(session.summary))
        return session.summary

    def _session(self, card: Card) -> CardSession:
        ctx = self.context()
        snap = ctx.snapshot
        info = snap.card(card.card_hex) if snap else None
        if (info is not None and info.blocked) or (snap is not None and card.card_hex in snap.blocklist):
            raise CardBlocked()
        live: LiveCard | None = None
        if self.gateway is not None:
            try:
                live = self.gateway.card_summary(card.card_hex)
            except OnlineUnavailable:
                live = None  # offline: the snapshot decides
        if live is not None and live.blocked:
            raise CardBlocked()
        state = None
        if live is None:
            with self.store.read() as view:
                state = offline_state(view, snap, card.card_hex, info, ctx.age_s, self._tap)
        return summarize(ctx, card, info, live, state)

    def clear_card(self) -> None:
        self._card, self._tap, self._second = None, None, None

    # -- the second card of a group budget ----------------------------------------------------------

    def _second_card(self, event: CardEvent) -> MemberSummary:
        """A card laid on the reader while a quote waits for a second group member (SecondCardNeeded).

        Not the payer's card, not a blocked one, one of a member of the group: online the server decides
        (authorization with confirm_card_id), offline the snapshot (the card carries every budget to be
        confirmed: group budgets are listed under each member's card). A refusal leaves the quote waiting.

        Offline the payer's card then comes back (PayerCardNeeded): the payment is written onto its trail
        at commit, as every offline payment is, and the card that lay on the reader first has gone. Writing
        it before asking the second card would leave a cancelled sale on the card's odometer for good."""
        assert self._second is not None and self._card is not None
        quote_id, payer_back = self._second
        entry = self.quotes.get(quote_id)
        if entry is None:  # expired while the tenants looked for a card: the screen says so
            self._second = None
            gone = QuoteUnknown()
            self.emit(ev.SecondCardRefused(gone))
            raise gone
        quote, check = entry
        try:
            if payer_back:
                self._payer_back(quote, event)
            else:
                quote = self._confirm_with(quote, event)
        except FloreynError as exc:
            self.emit(ev.SecondCardRefused(exc))
            raise
        self.quotes.remember(quote, check)
        again = quote.offline and not payer_back
        self._second = (quote_id, True) if again else None
        self.emit(ev.SecondCardAccepted(quote, payer_again=again))
        return self._card.summary

    def _payer_back(self, quote: Quote, event: CardEvent) -> None:
        """The payer's card on the reader again, its trail read afresh: the commit writes onto it."""
        if not isinstance(event, CardPresented) or event.card.card_hex != quote.card_hex:
            raise PayerCardNeeded()
        self._tap = TapTrail.of(event.trail)

    def _confirm_with(self, quote: Quote, event: CardEvent) -> Quote:
        if not isinstance(event, CardPresented):
            raise SecondCardRefused(why="unreadable")
        card = event.card
        if card.card_hex == quote.card_hex:
            raise SecondCardRefused(why="same_card")
        snap = self.context().snapshot
        info = snap.card(card.card_hex) if snap is not None else None
        if (info is not None and info.blocked) or (snap is not None and card.card_hex in snap.blocklist):
            raise SecondCardRefused(why="blocked")
        if quote.offline:
            theirs = {b.budget_id for b in info.budgets} if info is not None else set()
            if not set(quote.confirm_budgets) <= theirs:
                raise SecondCardRefused(why="not_in_group")
        else:
            self._authorize_confirmed(quote, card.card_hex)
        return replace(quote, confirm_card_id=card.card_id)

    def _authorize_confirmed(self, quote: Quote, confirm_hex: str) -> None:
        """Online: the parts the quote left for the second card, authorized with it (the server checks the
        group); a decline names the server's reason (budget_confirmer_invalid, budget_member_cap, ...)."""
        assert self.gateway is not None and quote.card_hex is not None
        for part in quote.parts:
            if part.budget_id in quote.confirm_budgets:
                auth = self.gateway.authorize(quote.card_hex, part.fl_cents, str(part.record_id), part.budget_id,
                                              confirm_card_hex=confirm_hex)
                if not auth.approved:
                    if auth.reason == "budget_confirmer_invalid":
                        raise SecondCardRefused(why="not_in_group")
                    raise OnlineDeclined(server_reason=auth.reason or "")
                self.note_card_version(quote.card_hex, auth.card_version)

    def _ask_card(self, quote: Quote) -> None:
        """Bevestigen on a quote that waits for a card: the next card on the reader is that card."""
        if quote.needs_second_card:
            self._second = (quote.quote_id, False)
            raise SecondCardNeeded()
        if self._second == (quote.quote_id, True):
            raise PayerCardNeeded()

    @property
    def tap(self) -> TapTrail | None:
        """The card's trail at this tap (read by summary.offline_state)."""
        return self._tap

    def require_card(self) -> CardSession:
        if self._card is None:
            raise NoCard()
        return self._card

    @property
    def card(self) -> CardSession | None:
        return self._card

    # -- confirming --------------------------------------------------------------------------

    def cancel(self, quote_id: str) -> None:
        """Drop a quote unconfirmed; the holds an online quote has on the server are released."""
        if self._second is not None and self._second[0] == quote_id:
            self._second = None
        self.quotes.cancel(quote_id)

    def confirm(
        self,
        quote_id: str,
        *,
        tender: Tender | None = None,
        manager_pin: str | None = None,
        repeat_ok: bool = False,
        client_ref: str | None = None,
        fingerprint: str | None = None,
    ) -> TxResult:
        """Commit a quote. Refusals leave the quote open, so the app can ask and confirm again."""
        self.require_operator()
        entry = self.quotes.get(quote_id)
        if entry is None or self.clock.monotonic_ms() - entry[0].created_ms > self.config.till.quote_ttl_s * 1000:
            if entry is not None:
                self.cancel(quote_id)  # expired
            raise QuoteUnknown()
        quote, check = entry
        if quote.needs_manager:
            self._require_manager(manager_pin)
        parts = list(quote.parts)
        if quote.needs_tender:
            if tender is None:
                raise MixedPaymentNeedsTender(fl_cents=quote.fl.cents, fl_currency=Currency.FL,
                                              eur_cents=quote.eur.cents, eur_currency=Currency.EUR,
                                              total_cents=quote.asked.cents, total_currency=Currency.EUR)
            if tender not in (Tender.CASH, Tender.BANK_CARD):
                raise TenderNotAllowed()
            parts[-1] = dataclasses.replace(parts[-1], tender=tender)
        elif quote.kind is Kind.TOPUP and tender is not None:  # paid in cash (the quote's default) or by card
            if tender not in (Tender.CASH, Tender.BANK_CARD):
                raise TenderNotAllowed()
            parts[-1] = dataclasses.replace(parts[-1], tender=tender)
        ctx = self.context()  # read outside the write transaction; the re-checks use it inside
        merchant = ctx.merchant
        pots = pot_payouts(ctx, quote.kind, parts)
        drafts = [Draft(record_id=p.record_id, kind=quote.kind, card_id=quote.card_id, fl_cents=p.fl_cents,
                        eur_cents=p.eur_cents, tender=p.tender, budget_id=p.budget_id, ref_id=p.ref_id,
                        offline=quote.offline, balance_after_cents=quote.balance_after_cents,
                        budget_label=p.label or None, budget_left_cents=p.budget_left_cents,
                        budget_expires_on=p.budget_expires_on,
                        confirm_card_id=quote.confirm_card_id if p.budget_id in quote.confirm_budgets else None,
                        pot_campaign=pot[0], pot_cents=pot[1])
                  for p, pot in zip(parts, pots, strict=True)]

        def full_check(view: StoreView) -> None:
            self.disk.require_room()  # after the retry lookup (a committed retry still answers), before any write
            if not repeat_ok:
                self._repeat_guard(view, quote)
            if check is not None:
                check(view, ctx)

        ref = None
        if client_ref is not None:
            ref = (client_ref, fingerprint or f"{quote.fingerprint}:{int(tender or 0)}")
        self._ask_card(quote)
        written = self._write_trail(quote, ref, full_check) if quote.offline and quote.kind is Kind.SPEND else None
        if not quote.offline and quote.kind is Kind.SPEND and quote.card_hex is not None:
            self._stamp_trail(quote.card_hex)
        records, existed = self.store.commit_tx(
            drafts, key=self._key, merchant_id=merchant.merchant_id, check=full_check, client_ref=ref,
            contact_card=quote.card_hex if (quote.kind is Kind.SPEND and not quote.offline) else None,
            merchant_name=merchant.name,
        )
        self.quotes.confirmed(quote_id)
        if self._second is not None and self._second[0] == quote_id:
            self._second = None
        if written is not None:  # from now on this tap's trail is what the card holds
            self._tap = trail.TapTrail(self._tap.port if self._tap else None, written)
        return self._committed(records, existed, card_updated=True if written is not None else None)

    def note_card_version(self, card_hex: str, version: int) -> None:
        self._auth_version[card_hex] = max(version, self._auth_version.get(card_hex, 0))

    def _stamp_trail(self, card_hex: str) -> None:
        """An online spend: best effort, write the hold's state version on the card's trail, so a till
        whose snapshot predates this payment sees the card is newer and offers one tap at most."""
        version = self._auth_version.pop(card_hex, 0)
        if version and self._tap is not None:
            stamped = trail.stamp_version(self._tap, version)
            if stamped is not None:
                self._tap = trail.TapTrail(self._tap.port, stamped)

    def _write_trail(self, quote: Quote, ref: tuple[str, str] | None,
                     checks: Callable[[StoreView], None]) -> cardtrail.Trail | None:
        """Before an offline spend is committed: write it on the card's trail (engine/trail.py).

        `checks` (the commit's own: room on disk, the repeat guard, the quote's re-check) run here first, in
        the same read as the trail's figure: the card's odometer only grows, so a spend refused after the card
        was written would lower its offline allowance at every till for good. The commit runs them again
        inside its write transaction, where they decide."""
        info = self._card.info if self._card is not None else None
        assert quote.card_hex is not None
        with self.store.read() as view:  # one read: the retry's lookup (find_by_ref's) and the trail's figure
            if ref is not None and _committed_tx(view, *ref) is not None:
                return None  # a retry of what was committed: the card carries it already
            checks(view)
            # Only offline_state's local_cents, read the same way: the capacity it works out beside it (two
            # queries more, refusals built) is the re-check's, inside the write transaction.
            local = view.offline_spent_gross(quote.card_hex, view.snapshot_base_seq())
        next_seq = self.store.head.seq + 1  # the store's head in memory: the state row's, asserted at each commit
        try:
            written = trail.write_before_commit(self._tap, info=info, amount_cents=quote.fl.cents,
                                                local_cents=local, terminal_id=self.config.terminal_id,
                                                next_seq=next_seq)
        except trail.CardNotWritable as exc:
            self.emit(ev.CardRefused(exc))
            raise
        return written

    def _repeat_guard(self, view: StoreView, quote: Quote) -> None:
        if quote.card_hex is None or quote.kind not in (Kind.SPEND, Kind.SAVE, Kind.TOPUP):
            return
        last_ms = view.last_charge_mono_ms(quote.card_hex, quote.kind)
        if last_ms is None:
            return
        ago_ms = self.store.mono.peek_ms() - last_ms
        if ago_ms < self.config.till.repeat_guard_s * 1000:
            raise RepeatNeedsConfirmation(ago=max(0, ago_ms) // 1000)

    def repeat_ago_s(self, card_hex: str, kind: Kind) -> float | None:
        with self.store.read() as view:
            last_ms = view.last_charge_mono_ms(card_hex, kind)
        if last_ms is None:
            return None
        ago_ms = self.store.mono.peek_ms() - last_ms
        return ago_ms / 1000 if ago_ms < self.config.till.repeat_guard_s * 1000 else None

    def find_by_ref(self, client_ref: str, fingerprint: str) -> TxResult | None:
        """A request carried out before (a resumed script, a retried call): its result, or None."""
        with self.store.read() as view:
            tx_id = _committed_tx(view, client_ref, fingerprint)
            if tx_id is None:
                return None
            records = view.tx(tx_id)
        return self._result(records, existed=True)

    def _committed(self, records: list[StoredRecord], existed: bool, card_updated: bool | None = None) -> TxResult:
        # the app says "pas bijgewerkt" (engine/trail.py); a retry wrote nothing
        result = self._result(records, existed, card_updated=None if existed else card_updated)
        if existed:
            return result
        self.emit(ev.TxCommitted(result))
        if self.sync is not None:
            self.sync.request_sync()  # wake the sync thread (if running) to upload it soon; returns at once
        if self.defer_print:
            self.receipts.queue.append(result.tx_id)
            return result
        status, error = self.receipts.print(result.tx_id)
        return replace(result, existed=False, receipt_status=status, receipt_error=error)

    def _result(self, records: list[StoredRecord], existed: bool, card_updated: bool | None = None) -> TxResult:
        assert records
        report = None
        if records[0].kind is Kind.DAY_CLOSE:
            with self.store.read() as view:
                raw = view.day_report(records[0].day_no)
            report = json.loads(raw) if raw else None
        return TxResult(records[0].tx_id, records[0].kind, tuple(records), existed,
                        records[0].receipt_status, None, report, card_updated=card_updated)

    # -- day close -----------------------------------------------------------------------------

    def close_day(self, *, client_ref: str | None = None, fingerprint: str = "day_close",
                  manager_pin: str | None = None) -> TxResult:
        """Write the DAY_CLOSE record and freeze the Z-report; the next record opens a new day.

        A manager's act unless [till] day_close_needs_manager is false (docs/operations.md): checked here,
        not only hidden by the app, so no other front end (the scripted till, a future one) can close a
        day under a cashier's PIN."""
        if self.config.till.day_close_needs_manager:
            self._require_manager(manager_pin)
        else:
            self.require_operator()
        drafts = [Draft(record_id=record_ids(self.config.terminal_id, client_ref)(), kind=Kind.DAY_CLOSE)]
        ref = (client_ref, fingerprint) if client_ref else None
        merchant = self.context().merchant
        records, existed = self.store.commit_tx(drafts, key=self._key, merchant_id=merchant.merchant_id,
                                                client_ref=ref, merchant_name=merchant.name)
        self.quotes.drop_all()
        return self._committed(records, existed)

    # -- sync and status -------------------------------------------------------------------------

    def sync_now(self) -> dict[str, object]:
        if self.sync is None:
            raise OnlineUnavailable.no_server()
        self.sync.run_once()
        state = self.sync.state
        return {"last_sync_ms": state.last_sync_ms, "waiting": state.waiting, "snapshot_age_s": state.snapshot_age_s,
                "online": state.online, "last_error": state.last_error}

    def status(self) -> TillStatus:
        snap, age = self.snapshot()
        with self.store.read() as view:
            state = view.state()
            pending = view.count("pending")
            unprinted = len(view.receipts_to_print(MAX_RECEIPT_RETRIES))
        limits = snap.limits if snap else OfflineLimits()
        disk = self.disk.check()
        return TillStatus(
            terminal_id=self.config.terminal_id,
            operator=self._operator.name if self._operator else None,
            role=self._operator.role if self._operator else None,
            head_seq=state.head_seq, day_no=state.day_no, pending_uploads=pending, receipts_to_print=unprinted,
            snapshot_version=snap.snapshot_version if snap else None,
            snapshot_age_s=None if age is None else round(age, 1),
            snapshot_stale=age is None or age > limits.max_snapshot_age_s,
            online=self._online(),
            disk_free_mb=disk.free_mb, disk_low=disk.low, disk_full=disk.full,
            store_damaged=self.store.check_error is not None,
        )

    def _online(self) -> bool | None:
        """None only when no server is configured; else what the last sync round (or online call) found.
        Before either has run, not online: never "no server configured" while syncs succeed."""
        if self.sync is None and self.gateway is None:
            return None
        state = self.sync.state if self.sync is not None else None
        if state is not None and (state.last_sync_ms is not None or state.last_error is not None):
            return bool(state.online)
        return bool(self.gateway.last_ok) if self.gateway is not None else False

    # -- the collaborators' calls, forwarded (see quoting.py, printing.py, queries.py) -------------

    def quote_spend(self, amount: Money, *, source: str | None = None, online: bool | None = None,
                    ref: str | None = None) -> Quote:
        return self.quoting.quote_spend(amount, source=source, online=online, ref=ref)

    def quote_save(self, euro: Money, *, ref: str | None = None) -> Quote:
        return self.quoting.quote_save(euro, ref=ref)

    def quote_topup(self, euro: Money, *, ref: str | None = None) -> Quote:
        return self.quoting.quote_topup(euro, ref=ref)

    def quote_refund(self, tx_id: str, amount: Money | None = None, *, ref: str | None = None) -> Quote:
        return self.quoting.quote_refund(tx_id, amount, ref=ref)

    def quote_void(self, *, ref: str | None = None) -> Quote:
        return self.quoting.quote_void(ref=ref)

    def receipt_doc(self, tx_id: str, *, reprint: bool = False) -> PrintDoc:
        return self.receipts.receipt_doc(tx_id, reprint=reprint)

    def reprint(self, tx_id: str) -> TxResult:
        return self.receipts.reprint(tx_id)

    def retry_pending_receipts(self) -> int:
        return self.receipts.retry_pending_receipts()

    def drain_prints(self) -> list[tuple[str, str]]:
        return self.receipts.drain_prints()

    def print_welcome(self) -> PrintDoc:
        return self.receipts.print_welcome()

    def overview(self) -> Overview:
        return self.queries.overview()

    def recent_payments(self, limit: int = MAX_RECENT_PAYMENTS) -> list[Payment]:
        return self.queries.recent_payments(limit)

    def find_payment(self, receipt: str) -> Payment:
        return self.queries.find_payment(receipt)

    # -- amounts -----------------------------------------------------------------------------------

    def check_amount(self, amount: Money, currency: Currency, max_cents: int | None = None) -> None:
        if not isinstance(amount, Money):
            raise TypeError("amounts are Money")
        if amount.currency is not currency:
            raise AmountWrongCurrency(expected=currency.symbol, given=amount.currency.symbol)
        if amount.cents < 0:
            raise AmountNegative()
        if amount.cents == 0:
            raise AmountZero()
        limit = self.config.till.max_amount_cents if max_cents is None else max_cents
        if amount.cents > limit:
            raise AmountOverLimit(max_cents=limit, currency=currency)
