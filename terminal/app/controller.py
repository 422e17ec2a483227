"""The app's state and flows: what each tap asks of the till service, and which screen follows.

Runs on the Kivy main thread only. Every engine call is a typed EngineApi
method (terminal/engine/api.py) whose Future the Bridge watches; results and
engine events (routed by EVENTS, a table from event type to handler) come
back here on the main thread. The controller decides screens and words refusals, never
amounts or rules: those come from the engine.

Sale flow: sign-in -> idle (card prompt) -> member -> amount -> [source]
-> confirm -> done -> idle. Manager flows live in manager.py.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from kivy.clock import Clock
from kivy.properties import (
    BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty,
)

from floreyn.money import Currency, Money
from floreyn.sync.record import Kind, Tender
from floreyn.terminal.app import texts
from floreyn.terminal.app.i18n import LANGUAGE_NAMES, tr
from floreyn.terminal.app.manager import ManagerFlows
from floreyn.terminal.app.services import Bridge, Runtime
from floreyn.terminal.app.settings import AppSettings, save_settings
from floreyn.terminal.app.widgets import money_guard
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.api import EngineApi
from floreyn.terminal.engine.errors import QuoteUnknown, SecondCardNeeded
from floreyn.terminal.engine.model import Overview, Quote, TxResult

log = logging.getLogger(__name__)

OVERVIEW_EVERY_S = 60.0  # status and banner refresh; cheap reads on the worker, no redraw unless changed
FAILED_RECEIPT_TIMEOUT_S = 60  # a printer problem stays on screen longer than a good receipt
WAIT_NOTE_AFTER_S = 0.4  # a slow call (server, printer) answering later than this gets "one moment" on screen
SIGNOUT_ARM_S = 5.0  # after the first tap on "Afmelden", a second tap within this signs out
SIGNOUT_MIN_GAP_S = 0.8  # ... but not sooner: a double tap is one accident, not two decisions
T = TypeVar("T")
# The state the prepared texts are made from: a change of any re-makes them (Controller._prepare).
PREPARED_FROM = ("lang", "merchant", "operator", "reader_status", "member", "pending_amount", "quote", "result",
                 "receipt_state", "receipt_error", "overview", "dim_after_s", "second_stage")


def _wait_text() -> str:
    return tr._("One moment\u2026")


if TYPE_CHECKING:
    class _Dispatcher:
        """What the Controller uses of kivy's EventDispatcher. Kivy ships no type information, and a base
        the checker cannot see would make every attribute of the Controller pass unchecked."""

        def __init__(self, **kwargs: object) -> None: ...
        def fbind(self, name: str, func: Callable[..., object], *args: object) -> int: ...
else:
    from kivy.event import EventDispatcher as _Dispatcher


class Controller(_Dispatcher):
    screen = StringProperty("signin")
    operator = StringProperty("")
    is_manager = BooleanProperty(False)
    member = ObjectProperty(None, allownone=True)  # engine MemberSummary
    quote = ObjectProperty(None, allownone=True)  # engine Quote waiting for confirmation
    result = ObjectProperty(None, allownone=True)  # engine TxResult on the done/report screen
    receipt_state = StringProperty("")  # "", "printing", "printed", "failed"
    receipt_error = ObjectProperty(None, allownone=True)
    message = StringProperty("")  # the last refusal, in the current language
    message_level = StringProperty("error")
    banner_text = StringProperty("")
    banner_level = StringProperty("")
    sync_short = StringProperty("")  # the header's chip: the lasting sync state in a word or two (texts.sync_chip)
    sync_level = StringProperty("")
    reader_status = ObjectProperty(None, allownone=True)
    overview = ObjectProperty(None, allownone=True)  # engine Overview, refreshed every OVERVIEW_EVERY_S
    merchant = ObjectProperty(None, allownone=True)
    amount_mode = StringProperty("sale")  # the amount screen: "sale" or "refund"
    pending_amount = ObjectProperty(None, allownone=True)  # fl amount waiting for a source choice
    lang = StringProperty(tr.lang)
    busy = BooleanProperty(False)  # some call is on its way
    # A confirm is on its way: confirm buttons are disabled. It ends when the transaction is committed
    # (TxCommitted), not when the call returns: the call also waits for the receipt to print, and a
    # slow printer must not leave the next confirm (another sale, the day close) dead to the touch.
    confirming = BooleanProperty(False)
    signout_armed = BooleanProperty(False)  # "Afmelden" tapped once: the next tap (not too soon) signs out
    # A new amount to type: the amount screen starts empty when this changed since it last showed, and keeps
    # what was typed when the shopkeeper comes back to it ("Annuleren" on the confirm screen, "Terug").
    amount_session = NumericProperty(0)
    refusal = ObjectProperty(None, allownone=True)  # a refused card's error: the "refused" screen shows it
    payments = ListProperty([])
    refund_payment = ObjectProperty(None, allownone=True)
    report_text = StringProperty("")
    dim_after_s = NumericProperty(60)
    # -- prepared for the kv files, which read these and call nothing (see _prepare) --------------
    simulate = BooleanProperty(False)  # the demo: the header offers the demo cards
    title_text = StringProperty("")  # the shop's name: it gives way (shortened) to the operator and the reader
    operator_text = StringProperty("")
    reader_short = StringProperty("")
    other_lang_name = StringProperty("")
    signed_in_text = StringProperty("")
    member_alias = StringProperty("")
    member_spendable = StringProperty("")
    member_source = StringProperty("")
    source_title = StringProperty("")
    quote_title = StringProperty("")
    # The "secondcard" screen: which card it waits for ("second": another tenant's; "payer": offline, the
    # payer's again), and what it says.
    second_stage = StringProperty("")
    second_card_title = StringProperty("")
    second_card_text = StringProperty("")
    result_title = StringProperty("")
    result_amount = StringProperty("")
    receipt_line = StringProperty("")
    receipt_failed = BooleanProperty(False)
    receipt_printing = BooleanProperty(False)
    status_text = StringProperty("")
    dim_text = StringProperty("")

    def __init__(self, runtime: Runtime, settings: AppSettings, *, post: Callable[[Callable[[], None]], None]
                 | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._confirm_token: object | None = None  # which confirm call owns `confirming`
        self._confirm_args: tuple[Tender | None, str | None] = (None, None)  # the last confirm's tender and PIN
        self._message_make: Callable[[], str] | None = None  # makes `message` again after a language switch
        self.runtime = runtime
        self.settings = settings
        self.api: EngineApi = runtime.service
        self.bridge = Bridge(post or _clock_post)
        self.manager = ManagerFlows(self)
        self.dim_after_s = settings.dim_after_s
        self._done_timer = Clock.create_trigger(self._done_timeout, settings.done_timeout_s)
        self._member_timer = Clock.create_trigger(self._member_timeout, max(1, settings.member_timeout_s))
        self.fbind("screen", lambda *_a: self._arm_member_timer())
        self._signout_armed_at = float("-inf")
        self._signout_timer = Clock.create_trigger(self._disarm_signout, SIGNOUT_ARM_S)
        self.fbind("screen", self._disarm_signout)  # armed on the card prompt only
        self._wait_note = Clock.create_trigger(self._show_wait_note, WAIT_NOTE_AFTER_S)
        self._overview_timer = Clock.schedule_interval(lambda _dt: self.refresh_overview(), OVERVIEW_EVERY_S)
        self.fbind("overview", self._update_banner)
        self.fbind("member", self._update_banner)
        tr.on_switch(self._on_lang)
        if settings.lang != tr.lang:
            tr.switch(settings.lang)
        self.simulate = runtime.simulate
        for name in PREPARED_FROM:
            self.fbind(name, self._prepare)
        self._prepare()

    # -- plumbing --------------------------------------------------------------------------------

    def await_(self, future: Future[T], on_done: Callable[[T], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, *, slow: bool = False) -> None:
        """Wait (without blocking) for an EngineApi call's answer; a refusal lands in the message strip
        unless on_error handles it. `slow`: a call that may wait on the server or the printer."""
        self.busy = True
        if slow:
            self._wait_note()  # shown only if the answer takes longer than WAIT_NOTE_AFTER_S

        def settle() -> None:
            self.busy = self.bridge.pending > 0
            if not self.busy:
                self._wait_note.cancel()
                if self.message and self._message_make is _wait_text:
                    self.clear_message()

        def done(value: T) -> None:
            settle()
            if on_done is not None:
                on_done(value)

        def failed(error: BaseException) -> None:
            settle()
            (on_error or self.show_error)(error)

        self.bridge.watch(future, done, failed)

    def show(self, screen: str) -> None:
        self.screen = screen

    def _show_wait_note(self, *_args: object) -> None:
        """"Een moment..." while a slow call runs, unless the strip already says something: a refusal or a
        warning shown meanwhile ("tik nog een keer op Afmelden") outranks it, and the note, once the call
        settled, would have been cleared and taken that message with it."""
        if not self.message:
            self.show_text(_wait_text, "info")

    def show_error(self, error: BaseException, level: str = "error") -> None:
        self.show_text(lambda: tr.error_text(error), level)

    def show_text(self, make: Callable[[], str], level: str = "error") -> None:
        """Show a message made by `make()`; made again in the new language after a switch."""
        self._message_make = make
        self.message_level = level
        self.message = make()

    def clear_message(self) -> None:
        self._message_make = None
        self.message = ""

    def typed(self) -> None:
        """A key on a keypad: the shopkeeper is putting the mistake right (a wrong PIN, no amount, an
        unknown receipt number), so its refusal goes; warnings and notes stay."""
        if self.message and self.message_level == "error":
            self.clear_message()

    def _on_lang(self, lang: str) -> None:
        self.lang = lang
        make = self._message_make
        if self.message and make is not None:
            self.message = make()
        self._update_banner()

    def set_language(self, lang: str) -> None:
        tr.switch(lang)
        self.settings = replace(self.settings, lang=lang)
        save_settings(self.runtime.settings_path, self.settings)

    def toggle_language(self) -> None:
        self.set_language("en" if tr.lang == "nl" else "nl")

    def stop(self) -> None:
        self._overview_timer.cancel()
        self._done_timer.cancel()
        self._member_timer.cancel()
        self._wait_note.cancel()
        self._signout_timer.cancel()

    # -- start, status, events ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the TillService (engine check, reader) and fetch the first overview."""
        future = self.api.start()
        future.add_done_callback(lambda f: _clock_post(lambda: self._started(f)))

    def _started(self, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            self.show_error(error)
        self.refresh_overview()

    def refresh_overview(self) -> None:
        self.await_(self.api.overview(), self._got_overview, lambda e: log.warning("overview: %s", e))

    def _got_overview(self, overview: Overview) -> None:
        self.overview = overview
        if overview.merchant is not None:
            self.merchant = overview.merchant

    def _update_banner(self, *_args: object) -> None:
        self.banner_text, self.banner_level = texts.banner(self.overview, self.member, tr)
        self.sync_short, _full, self.sync_level = texts.sync_chip(self.overview, tr)

    def explain_sync(self) -> None:
        """A tap on the header's chip: its full wording, in the banner until a tap puts it away."""
        if self.sync_short:
            self.show_text(lambda: texts.sync_chip(self.overview, tr)[1], self.sync_level)

    def _prepare(self, *_args: object) -> None:
        """The texts the kv files show, made from the state in the shown language. Cheap string work;
        a kv rule redraws only when its property's value changed."""
        merchant, member, result, quote = self.merchant, self.member, self.result, self.quote
        self.title_text = merchant.name if merchant else "Floreyn"
        self.operator_text = "\u00b7 " + self.operator if self.operator else ""
        self.reader_short = texts.reader_text(self.reader_status, tr, short=True)
        self.other_lang_name = LANGUAGE_NAMES["en" if self.lang == "nl" else "nl"]
        self.signed_in_text = tr._("Signed in: {name}").format(name=self.operator)
        self.member_alias, self.member_spendable, self.member_source = (
            texts.member_lines(member, tr) if member is not None else ("", "", ""))
        self.source_title = tr._("Which budget pays {amount}?").format(
            amount=tr.money(self.pending_amount)) if self.pending_amount is not None else ""
        self.quote_title = tr._("Confirm: {what}").format(
            what=texts.kind_title(quote.kind, tr)) if quote is not None else ""
        self.second_card_title, self.second_card_text = texts.second_card_lines(
            quote, self.second_stage, member.alias if member is not None else "", tr) if quote is not None else ("", "")
        self.result_title, self.result_amount = texts.result_lines(result, tr) if result is not None else ("", "")
        self.receipt_line = texts.receipt_text(self.receipt_state, self.receipt_error, tr)
        self.receipt_failed = self.receipt_state == "failed"
        self.receipt_printing = self.receipt_state == "printing"
        self.status_text = "\n".join(texts.status_lines(self.overview, self.reader_status, tr))
        self.dim_text = texts.dim_text(int(self.dim_after_s), tr)

    def on_event(self, event: ev.Event) -> None:
        """Engine events, already on the main thread: routed by EVENTS (end of this module)."""
        EVENTS.dispatch(self, event)

    def _on_signed_in(self, event: ev.SignedIn) -> None:
        self.operator, self.is_manager = event.operator.name, event.operator.is_manager
        self.clear_message()
        self.show("idle")

    def _on_signed_out(self, _event: ev.SignedOut) -> None:
        self.operator, self.is_manager = "", False
        self._reset_sale()
        self.show("signin")

    def _on_card_shown(self, event: ev.CardShown) -> None:
        if not self.operator:
            return
        self._reset_sale()
        self.member = event.summary
        self.clear_message()
        self.show("member")
        self._arm_member_timer()  # also when the member screen already showed (another card)

    def _on_card_refused(self, event: ev.CardRefused) -> None:
        """A refused card fills the screen in the refusal colour until the next card or a tap: a thin
        strip under a big "hold the card to the reader" was read as "try again"."""
        self._reset_sale()
        if not self.operator:
            self.show_error(event.error)  # no card is taken before sign-in: the sign-in screen says so
            return
        self.clear_message()
        self.refusal = event.error
        self.show("refused")

    def _on_card_read_torn(self, event: ev.CardReadTorn) -> None:
        """"Hold it still", on the screen that shows: an open card and a typed amount stay as they were."""
        if self.screen == "refused":  # the refusal before was of another read; this one is a new try
            self.back_to_idle()
        self.show_error(event.error, "warn")  # no refusal: the warning's colour

    def dismiss_refusal(self) -> None:
        """A tap on the refusal screen: back to the card prompt."""
        if self.screen == "refused":
            self.back_to_idle()

    def _on_second_card_accepted(self, event: ev.SecondCardAccepted) -> None:
        """The second tenant's card confirmed the payment: book it as the shopkeeper confirmed it."""
        if self.screen != "secondcard" or self.quote is None or self.quote.quote_id != event.quote.quote_id:
            return
        self.quote = event.quote
        self.clear_message()
        if event.payer_again:  # offline: the payment goes onto the payer's card, which made way for this one
            self.second_stage = "payer"
            return
        tender, manager_pin = self._confirm_args
        self.confirm(tender=tender, manager_pin=manager_pin)

    def _on_second_card_refused(self, event: ev.SecondCardRefused) -> None:
        """Not a card that can confirm (the payer's own, another group's, blocked): say why; still waiting."""
        if self.screen == "secondcard":
            self.show_error(event.error)

    def _on_tx_committed(self, event: ev.TxCommitted) -> None:
        result = event.result
        self.confirming, self._confirm_token = False, None  # committed: a late answer of its call changes nothing
        self.quote = None
        self.result = result
        self.receipt_state, self.receipt_error = "printing", None
        if result.kind is Kind.DAY_CLOSE:
            self.manager.show_report(result)
        else:
            self.show("done")
        self._arm_done_timer()

    def _on_receipt_printed(self, event: ev.ReceiptPrinted) -> None:
        if self.result is not None and event.tx_id == self.result.tx_id:
            self.receipt_state, self.receipt_error = "printed", None
            self._arm_done_timer()
        self.refresh_overview()

    def _on_receipt_failed(self, event: ev.ReceiptFailed) -> None:
        if self.result is not None and event.tx_id == self.result.tx_id:
            self.receipt_state, self.receipt_error = "failed", event.error
            self._arm_done_timer()
        self.refresh_overview()

    def _on_reader_changed(self, event: ev.ReaderChanged) -> None:
        self.reader_status = event.status

    def _on_sync_changed(self, _event: ev.SyncChanged) -> None:
        """The server came back or went away: the banner and the status follow now (a cheap read)."""
        self.refresh_overview()

    def _on_call_done(self, _event: ev.CallDone) -> None:
        """Nothing to do: the app watches the Future of every call it makes, and the one call it does not
        make (a card on the reader) reports through CardShown and CardRefused."""

    # -- sign-in -------------------------------------------------------------------------------------

    def sign_in(self, pin: str) -> None:
        self.clear_message()
        self.await_(self.api.sign_in(pin), slow=True)  # SignedIn event shows the idle screen

    def sign_out(self) -> None:
        """Two deliberate taps: the first arms (and says so), a second between SIGNOUT_MIN_GAP_S and
        SIGNOUT_ARM_S later signs out. A stray tap, or a double tap, never ends the cashier's session."""
        now = money_guard.now()
        since = now - self._signout_armed_at
        if self.signout_armed and SIGNOUT_MIN_GAP_S <= since <= SIGNOUT_ARM_S:
            self._disarm_signout()
            self.await_(self.api.sign_out())
            return
        if self.signout_armed and since < SIGNOUT_MIN_GAP_S:
            return  # the second half of a double tap: still armed, still waiting for a deliberate tap
        self.signout_armed, self._signout_armed_at = True, now
        self.show_text(lambda: tr._("Tap Sign out again to sign out."), "warn")
        self._signout_timer.cancel()
        self._signout_timer()

    def _disarm_signout(self, *_args: object) -> None:
        if self.signout_armed:
            self.signout_armed = False
            if self.message == tr._("Tap Sign out again to sign out."):
                self.clear_message()

    # -- sale ------------------------------------------------------------------------------------------

    def _reset_sale(self) -> None:
        self.member, self.quote, self.result, self.pending_amount = None, None, None, None
        self.second_stage = ""
        self.refusal = None
        self.refund_payment = None
        self.receipt_state, self.receipt_error = "", None
        self._done_timer.cancel()

    def back_to_idle(self) -> None:
        """Forget the customer (also in the engine) and wait for the next card."""
        if self.quote is not None:
            self.await_(self.api.cancel(self.quote.quote_id))
        self._reset_sale()
        self.refund_payment = None
        self.clear_message()
        if self.operator:
            self.await_(self.api.clear_card())
            self.show("idle")
        else:
            self.show("signin")

    def enter_amount(self) -> None:
        self.amount_mode = "sale"
        self.amount_session += 1
        self.clear_message()
        self.show("amount")

    def amount_action(self, kind: str, cents: int | None) -> None:
        """Betalen / Sparen / Opwaarderen on the amount screen (a money button)."""
        self.clear_message()
        if cents is None or cents <= 0:
            from floreyn.money import AmountEmpty

            self.show_error(AmountEmpty())
            return
        if kind == "spend":
            amount = Money(cents, Currency.FL)
            sources = 0 if self.member is None else (
                len(texts.payable_sources(self.member)) + (1 if self.member.own.cents > 0 else 0))
            if sources > 1:
                self.pending_amount = amount  # more than one source can pay: let the member choose
                self.show("source")
                return
            self.await_(self.api.quote_spend(amount), self._got_quote, slow=True)
        elif kind == "save":
            self.await_(self.api.quote_save(Money(cents, Currency.EUR)), self._got_quote, slow=True)
        elif kind == "topup":
            self.await_(self.api.quote_topup(Money(cents, Currency.EUR)), self._got_quote, slow=True)
        else:
            raise ValueError(kind)

    def choose_source(self, source: str | None) -> None:
        """None: the engine's order (budgets first); "own"; or a budget id."""
        amount = self.pending_amount
        if amount is None:
            return
        self.clear_message()
        self.await_(self.api.quote_spend(amount, source=source), self._got_quote, slow=True)

    def _got_quote(self, quote: Quote) -> None:
        self.quote = quote
        self.show("confirm")

    def confirm(self, tender: Tender | None = None, manager_pin: str | None = None) -> None:
        """The deliberate second step of every money operation (a money button)."""
        quote = self.quote
        if quote is None or self.confirming:
            return
        self.clear_message()
        token = self.begin_confirm()
        self._confirm_args = (tender, manager_pin)  # asked again as they were once a second card confirms

        def done(result: TxResult) -> None:
            self.end_confirm(token)
            self.committed(result)

        def failed(error: BaseException) -> None:
            self.end_confirm(token)
            self._confirm_failed(error)

        self.await_(self.api.confirm(quote.quote_id, tender=tender, manager_pin=manager_pin,
                                     repeat_ok=quote.repeat_ago_s is not None), done, failed, slow=True)

    def ask_bank_card(self, manager_pin: str | None = None) -> None:
        """The euros go by bank card: ask whether the customer's card payment went through before booking."""
        if self.quote is None:
            return
        self._bank_card_pin = manager_pin
        self.clear_message()
        self.show("bankcard")

    def bank_card_answered(self, paid: bool) -> None:
        """Yes: book it as paid by card. No: back to the choice (cash, try the card again, or cancel)."""
        pin, self._bank_card_pin = getattr(self, "_bank_card_pin", None), None
        if self.quote is None:
            self.show("idle" if self.operator else "signin")
            return
        if paid:
            self.confirm(tender=Tender.BANK_CARD, manager_pin=pin)
            return
        self.show("confirm")
        self.show_text(lambda: tr._("The card payment did not go through: nothing is booked. Choose again."), "warn")

    def bank_card_amount(self) -> Money | None:
        """What the customer pays by card: the rest of a mixed payment, or the whole top-up."""
        return None if self.quote is None else self.quote.eur

    def begin_confirm(self) -> object:
        """A confirm call starts: it owns `confirming` (see end_confirm) under the token returned."""
        self.confirming = True
        token = self._confirm_token = object()
        return token

    def end_confirm(self, token: object) -> None:
        """The answer of the confirm that set `token`: ends `confirming` unless that confirm already
        ended (TxCommitted) and another one (a later sale, the day close) owns the flag now."""
        if self._confirm_token is token:
            self.confirming, self._confirm_token = False, None

    def committed(self, result: TxResult) -> None:
        """A confirm's result. Its TxCommitted event came first (same worker, same order) and showed
        it; only a retried request that already existed emits no event. By now the shopkeeper may
        have moved on: then the result changes nothing on screen."""
        if result.existed:
            self._on_tx_committed(ev.TxCommitted(result))
        elif self.result is not None and self.result.tx_id == result.tx_id:
            self._receipt_from(result)

    def _receipt_from(self, result: TxResult) -> None:
        if self.receipt_state == "printing" and result.receipt_status in ("printed", "failed"):
            self.receipt_state, self.receipt_error = result.receipt_status, result.receipt_error
            self._arm_done_timer()

    def _confirm_failed(self, error: BaseException) -> None:
        if isinstance(error, SecondCardNeeded):  # not a refusal: the next step, on a screen of its own
            self.clear_message()
            self.second_stage = "second"
            self.show("secondcard")
            return
        self.show_error(error)
        if isinstance(error, QuoteUnknown):
            self.quote = None
            self.show("member" if self.member is not None else "idle")

    def cancel_quote(self) -> None:
        if self.quote is not None:
            self.await_(self.api.cancel(self.quote.quote_id))
        self.quote = None
        self.clear_message()
        if self.refund_payment is not None:
            self.show("manager")
        else:
            self.show("amount" if self.member is not None else "idle")

    def reprint(self) -> None:
        if self.result is None:
            return
        self.receipt_state, self.receipt_error = "printing", None
        self.await_(self.api.reprint(self.result.tx_id), self._reprinted, self._reprint_failed, slow=True)

    def _reprinted(self, result: TxResult) -> None:
        self.receipt_state, self.receipt_error = result.receipt_status, result.receipt_error
        self._arm_done_timer()

    def _reprint_failed(self, error: BaseException) -> None:
        self.receipt_state, self.receipt_error = "failed", error
        self._arm_done_timer()

    def _arm_done_timer(self) -> None:
        self._done_timer.cancel()
        self._done_timer.timeout = (FAILED_RECEIPT_TIMEOUT_S if self.receipt_state == "failed"
                                    else self.settings.done_timeout_s)
        self._done_timer()

    def _done_timeout(self, *_args: object) -> None:
        if self.screen in ("done", "report"):
            self.back_to_idle()

    # -- the member screen's timeout -----------------------------------------------------------------

    def touched(self) -> None:
        """Any touch on the screen (the root calls this): the shopkeeper is still there."""
        if self.screen == "member":
            self._arm_member_timer()

    def _arm_member_timer(self) -> None:
        self._member_timer.cancel()
        seconds = self.settings.member_timeout_s
        if self.screen == "member" and seconds > 0:
            self._member_timer.timeout = seconds
            self._member_timer()

    def _member_timeout(self, *_args: object) -> None:
        """No touch for a while with a card shown: forget the card, back to the card prompt.
        Nothing was quoted on this screen, so nothing can move."""
        if self.screen == "member":
            self.back_to_idle()


def _clock_post(fn: Callable[[], None]) -> None:
    Clock.schedule_once(lambda _dt: fn(), 0)


EVENTS: ev.EventTable[Controller] = ev.EventTable()
"""Engine event type -> the Controller's handler (tests/terminal/app checks every Event type has one)."""
EVENTS.on(ev.SignedIn, Controller._on_signed_in)
EVENTS.on(ev.SignedOut, Controller._on_signed_out)
EVENTS.on(ev.CardShown, Controller._on_card_shown)
EVENTS.on(ev.CardRefused, Controller._on_card_refused)
EVENTS.on(ev.CardReadTorn, Controller._on_card_read_torn)
EVENTS.on(ev.SecondCardAccepted, Controller._on_second_card_accepted)
EVENTS.on(ev.SecondCardRefused, Controller._on_second_card_refused)
EVENTS.on(ev.TxCommitted, Controller._on_tx_committed)
EVENTS.on(ev.ReceiptPrinted, Controller._on_receipt_printed)
EVENTS.on(ev.ReceiptFailed, Controller._on_receipt_failed)
EVENTS.on(ev.ReaderChanged, Controller._on_reader_changed)
EVENTS.on(ev.SyncChanged, Controller._on_sync_changed)
EVENTS.on(ev.CallDone, Controller._on_call_done)
