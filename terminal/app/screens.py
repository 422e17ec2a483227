"""The sale screens: sign-in, card prompt, member, amount, source, confirm, done.

Layout in kv/screens.kv. Buttons whose set depends on the situation (which
actions the merchant offers, which budgets can pay, whether a manager PIN
is needed) are built here, from the controller's state.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from floreyn.money import Currency, Money
from floreyn.sync.record import Kind, Tender
from floreyn.terminal.app import texts, theme
from floreyn.terminal.app.entry import BACKSPACE_KEY, CLEAR_KEY, AmountEntry, PinEntry
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.guard import CONFIRM_READ_S, DOUBLE_TAP_WINDOW_S
from floreyn.terminal.app.widgets import TButton, money_guard

if TYPE_CHECKING:
    from floreyn.terminal.app.controller import Controller

Action = Callable[[], None]
# (text, colour, money?, action): one button of a row that fill() lays out.
ButtonSpec = tuple[str, tuple[float, ...], bool, Action]

MAX_RECEIPT_CHARS = 64  # as the engine's find_payment accepts
RECEIPT_CHARS = frozenset("0123456789abcdefABCDEF-")  # a receipt number, or a transaction id from its QR code
ENTER_KEYS = (13, 271)  # Enter, keypad Enter (Kivy key codes)
BACKSPACE_KEYCODE = 8


class TillScreen(Screen):
    if TYPE_CHECKING:  # the type checker sees the controller's type through the Kivy property
        ctl: Controller
    else:
        ctl = ObjectProperty(None, rebind=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # the kv rule is applied: its ids exist, ctl is set
        for wid, action in self.actions(self.ctl).items():
            self.ids[wid].bind(on_tap=lambda _button, act=action: act())

    def actions(self, ctl: Controller) -> dict[str, Action]:
        """kv id -> what a tap on that button does. Wired here, not in the kv file, so the type
        checker sees every call into the controller."""
        return {}

    def on_ctl(self, _screen: Any, ctl: Any) -> None:
        ctl.fbind("lang", self._lang_changed)

    def _lang_changed(self, *_args: object) -> None:
        if self.manager is not None and self.manager.current == self.name:
            self.refresh()

    def on_pre_enter(self, *_args: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Rebuild what Python builds on this screen (kv rules update themselves)."""


def fill(box: Any, specs: Sequence[ButtonSpec]) -> list[TButton]:
    """Replace box's children with buttons: (text, colour, money?, action)."""
    box.clear_widgets()
    out = []
    for text, colour, money, action in specs:
        button = TButton(text=text, bg=colour, money=money)
        button.bind(on_tap=lambda _b, act=action: act())
        box.add_widget(button)
        out.append(button)
    return out


class PinMixin:
    pin_text = StringProperty("")
    if TYPE_CHECKING:
        ctl: Controller

    def _pin_entry(self) -> PinEntry:
        if not hasattr(self, "_pin"):
            self._pin = PinEntry()
        return self._pin

    def on_pin_key(self, key: str) -> None:
        self._pin_entry().press(key)
        self.pin_text = self._pin_entry().masked()
        self.ctl.typed()

    def take_pin(self) -> str | None:
        entry = self._pin_entry()
        if not entry.complete:
            self.ctl.show_text(lambda: tr._("Enter a PIN of at least 4 digits."))
            return None
        pin = entry.take()
        self.pin_text = ""
        return pin


class SignInScreen(PinMixin, TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"lang": ctl.toggle_language}

    def submit(self) -> None:
        pin = self.take_pin()
        if pin is not None:
            self.ctl.sign_in(pin)


class IdleScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"manager": ctl.manager.open_manager, "lang": ctl.toggle_language, "signout": ctl.sign_out}


class MemberScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"amount": ctl.enter_amount, "cancel": ctl.back_to_idle}

    def on_ctl(self, screen: Any, ctl: Any) -> None:
        super().on_ctl(screen, ctl)
        ctl.fbind("member", self._lang_changed)  # another card while this screen shows: its own lines

    def refresh(self) -> None:
        box = self.ids.budgets
        box.clear_widgets()
        member = self.ctl.member if self.ctl else None
        if member is None:
            return
        from kivy.factory import Factory

        for text, usable in texts.budget_lines(member, tr):
            label = Factory.TText(text=text, font_size=theme.theme.font_body)
            label.color = theme.TEXT if usable else theme.TEXT_MUTED
            box.add_widget(label)


class AmountScreen(TillScreen):
    display = StringProperty("0")
    hint = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        self.entry = AmountEntry()
        self.action_buttons: dict[str, TButton] = {}
        self._session = -1
        super().__init__(**kwargs)

    def on_pre_enter(self, *_args: object) -> None:
        if self.ctl.amount_session != self._session:  # a new amount; coming back keeps the typed one
            self.entry.clear()
            self._session = self.ctl.amount_session
        super().on_pre_enter()

    def on_key(self, key: str) -> None:
        self.entry.press(key)
        self._update_display()
        self._relabel()
        self.ctl.typed()

    def cents(self) -> int | None:
        return self.entry.cents()

    def _update_display(self) -> None:
        mark = "," if tr.lang == "nl" else "."
        self.display = self.entry.text(mark) or "0"

    def refresh(self) -> None:
        self._update_display()
        ctl = self.ctl
        specs: list[tuple[str, str, tuple[float, ...], bool, Callable[[], None]]] = []
        if ctl.amount_mode == "refund":
            pay = ctl.refund_payment
            self.hint = tr._("Refund of payment no. {seq} ({when}): {amount}").format(
                seq=pay.seq, when=texts.clock_text(pay.wall_ms, tr),
                amount=tr.money(Money.fl(pay.fl_cents))) if pay else ""
            specs.append(("refund", "", theme.DANGER, True, lambda: ctl.manager.refund(self.cents())))
            specs.append(("refund_all", "", theme.DANGER, True, lambda: ctl.manager.refund(None)))
            specs.append(("back", tr._("Back"), theme.NEUTRAL, False, ctl.manager.open_manager))
        else:
            merchant = ctl.merchant
            self.hint = tr._("Type the amount, then choose")
            specs.append(("spend", "", theme.PAY, True, lambda: ctl.amount_action("spend", self.cents())))
            if merchant is not None and merchant.save_rate_bp > 0:
                specs.append(("save", "", theme.SAVE, True, lambda: ctl.amount_action("save", self.cents())))
            if merchant is not None and merchant.topup_allowed:
                specs.append(("topup", "", theme.TOPUP, True, lambda: ctl.amount_action("topup", self.cents())))
            specs.append(("back", tr._("Back"), theme.NEUTRAL, False, lambda: ctl.show("member")))
        buttons = fill(self.ids.actions, [(text, colour, money, act) for _k, text, colour, money, act in specs])
        self.action_buttons = {spec[0]: b for spec, b in zip(specs, buttons, strict=True)}
        self._relabel()

    def _relabel(self) -> None:
        """Money buttons show what they will do with the amount typed."""
        cents = self.entry.cents() or 0
        fl, eur = tr.money(Money(cents, Currency.FL)), tr.money(Money(cents, Currency.EUR))
        labels = {
            "spend": tr._("Pay\n{amount}").format(amount=fl),
            "save": tr._("Save on\n{amount}").format(amount=eur),
            "topup": tr._("Top up\n{amount}").format(amount=eur),
            "refund": tr._("Refund\n{amount}").format(amount=fl),
            "refund_all": tr._("Refund all"),
        }
        for key, button in self.action_buttons.items():
            if key in labels:
                button.text = labels[key]


class SourceScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"back": partial(ctl.show, "amount")}

    def refresh(self) -> None:
        ctl = self.ctl
        member, amount = ctl.member, ctl.pending_amount
        if member is None or amount is None:
            return
        specs: list[ButtonSpec] = []
        for b in texts.payable_sources(member):
            specs.append((tr._("{label}\n{amount} left").format(label=b.label, amount=tr.money(b.remaining)),
                          theme.SAVE, True, partial(ctl.choose_source, b.budget_id)))
        if member.own.cents > 0:
            specs.append((tr._("From own balance\n{amount}").format(amount=tr.money(member.own)), theme.PAY, True,
                          partial(ctl.choose_source, "own")))
        specs.append((tr._("Combined\n(budgets first)"), theme.NEUTRAL, True, partial(ctl.choose_source, None)))
        fill(self.ids.sources, specs)


class ConfirmScreen(PinMixin, TillScreen):
    lines = StringProperty("")
    pin_needed = BooleanProperty(False)

    def needs_pin(self) -> bool:
        quote = self.ctl.quote
        return bool(quote is not None and quote.needs_manager and not self.ctl.is_manager)

    def refresh(self) -> None:
        ctl = self.ctl
        quote = ctl.quote
        if quote is None:
            return
        self.lines = "\n".join(texts.quote_lines(quote, tr))
        self.pin_needed = self.needs_pin()
        if not hasattr(self, "_pinbox"):  # keep it alive while it is out of the tree
            self._pinbox = self.ids.pinbox.__self__
        pinbox, column = self._pinbox, self.ids.column
        if self.pin_needed and pinbox.parent is None:
            column.add_widget(pinbox, index=len(column.children))
        elif not self.pin_needed and pinbox.parent is not None:
            column.remove_widget(pinbox)
        cancel: ButtonSpec = (tr._("Cancel"), theme.DANGER, False, ctl.cancel_quote)
        specs: list[ButtonSpec]
        if quote.needs_tender:
            specs = [cancel, (tr._("Rest in cash"), theme.PAY, True, lambda: self._confirm(Tender.CASH)),
                     (tr._("Rest by bank card"), theme.PAY, True, lambda: self._confirm(Tender.BANK_CARD))]
        elif quote.kind is Kind.TOPUP:  # euros in at the till: cash or bank card, counted apart on the Z-report
            specs = [cancel, (tr._("Cash received"), theme.TOPUP, True, lambda: self._confirm(Tender.CASH)),
                     (tr._("By bank card"), theme.TOPUP, True, lambda: self._confirm(Tender.BANK_CARD))]
        else:
            specs = [cancel, (tr._("Confirm"), theme.PAY, True, lambda: self._confirm(None))]
        self.confirm_buttons = fill(self.ids.buttons, specs)
        if len(specs) == 2:  # Annuleren left, Bevestigen right, the middle third empty
            self.ids.buttons.add_widget(Widget(), index=1)
        ready = money_guard.now() + CONFIRM_READ_S
        for button in self.confirm_buttons[1:]:
            button.ready_at = ready

    def _confirm(self, tender: Tender | None) -> None:
        pin = None
        if self.needs_pin():
            pin = self.take_pin()
            if pin is None:
                return
        if tender is Tender.BANK_CARD:  # the bank card terminal first; booked only when the customer's pin went through
            self.ctl.ask_bank_card(manager_pin=pin)
            return
        self.ctl.confirm(tender=tender, manager_pin=pin)


class BankCardScreen(TillScreen):
    """ "Is de pinbetaling gelukt?": the euros are booked as paid by card only after the shopkeeper says yes."""

    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"yes": partial(ctl.bank_card_answered, True), "no": partial(ctl.bank_card_answered, False)}

    ask_text = StringProperty("")

    def refresh(self) -> None:
        amount = self.ctl.bank_card_amount()
        self.ask_text = "" if amount is None else tr._(
            "Let the customer pay {amount} on the bank card terminal.").format(amount=tr.money(amount))
        ready = money_guard.now() + CONFIRM_READ_S
        self.ids.yes.ready_at = ready
        self.ids.no.ready_at = ready


class DoneScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"reprint": ctl.reprint, "done": ctl.back_to_idle}

    def refresh(self) -> None:
        # The bounce of the tap that confirmed lands here, where "Bevestigen" was: the paid screen
        # (and "Pas bijgewerkt") stays until it can have been seen, however fast the commit was.
        ready = money_guard.now() + DOUBLE_TAP_WINDOW_S
        self.ids.reprint.ready_at = ready
        self.ids.done.ready_at = ready


class RefusedScreen(TillScreen):
    """A refused card: the reason and what to do, over the whole screen, until the next card or a tap."""

    def on_touch_up(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos) and self.ctl is not None:
            self.ctl.dismiss_refusal()
            return True
        return bool(super().on_touch_up(touch))


# -- manager screens (layout in kv/manager.kv) ------------------------------------------------------


class ManagerScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        m = ctl.manager
        return {"refund": m.start_refund, "void": m.start_void, "dayclose": m.ask_day_close,
                "status": m.open_status, "sync": m.sync_now, "back": ctl.back_to_idle}


class RefundsScreen(TillScreen):
    """Today's payments to pick from, and a receipt number or scanned QR code for any earlier one."""

    receipt_text = StringProperty("")

    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"back": ctl.manager.open_manager}

    def on_pre_enter(self, *_args: object) -> None:
        self.receipt_text = ""
        super().on_pre_enter()

    def on_receipt_key(self, key: str) -> None:
        """The keypad: digits of the receipt number (Volgnummer), backspace, clear."""
        self.ctl.typed()
        if key == BACKSPACE_KEY:
            self.receipt_text = self.receipt_text[:-1]
        elif key == CLEAR_KEY:
            self.receipt_text = ""
        elif key.isdigit() and len(self.receipt_text) < MAX_RECEIPT_CHARS:
            self.receipt_text += key

    def key_input(self, key: int, codepoint: str | None) -> bool:
        """Keys while this screen shows (TillRoot hands them here): a QR scanner types the
        transaction id and Enter, like a keyboard. True when the key was taken."""
        if key in ENTER_KEYS:
            self.find()
            return True
        if key == BACKSPACE_KEYCODE:
            self.receipt_text = self.receipt_text[:-1]
            return True
        if codepoint and len(codepoint) == 1 and codepoint in RECEIPT_CHARS:
            if len(self.receipt_text) < MAX_RECEIPT_CHARS:
                self.receipt_text += codepoint
            return True
        return False

    def find(self) -> None:
        text = self.receipt_text.strip()
        if not text:
            self.ctl.show_text(lambda: tr._("Type the receipt number first, or scan the receipt."))
            return
        self.ctl.manager.find_refund(text)

    def refresh(self) -> None:
        box = self.ids.payments
        box.clear_widgets()
        ctl = self.ctl
        for pay in ctl.payments:
            when = texts.clock_text(pay.wall_ms, tr)
            card = ("\u2022\u2022\u2022\u2022 " + pay.card_hex[-4:].upper()) if pay.card_hex else ""
            text = tr._("No. {seq}  {when}  {card}  {amount}").format(
                seq=pay.seq, when=when, card=card, amount=tr.money(Money.fl(pay.fl_cents)))
            button = TButton(text=text, bg=theme.KEY, fg=theme.KEY_TEXT, size_hint_y=None,
                             height=theme.theme.touch_px * 1.2)
            button.bind(on_tap=lambda _b, p=pay: ctl.manager.pick_refund(p))
            box.add_widget(button)


class DayCloseScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"cancel": ctl.manager.open_manager, "confirm": ctl.manager.confirm_day_close}


class ManagerPinScreen(PinMixin, TillScreen):
    """A cashier closes the day: a manager types their PIN here ("Annuleren" goes back to the menu).

    A wrong PIN, or a cashier's, is refused by the engine: the reason shows in the banner, the PIN
    is emptied, and the screen stays for another try."""

    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"cancel": ctl.manager.open_manager, "confirm": self.submit}

    def on_pre_enter(self, *_args: Any) -> None:
        self._pin_entry().take()  # a PIN half typed before "Annuleren" is not kept
        self.pin_text = ""
        super().on_pre_enter()

    def refresh(self) -> None:
        # The tap that led here was on the day close screen's "Dag afsluiten": a confirm takes no tap
        # that began before this screen could be read.
        self.ids.confirm.ready_at = money_guard.now() + CONFIRM_READ_S

    def submit(self) -> None:
        pin = self.take_pin()
        if pin is not None:
            self.ctl.manager.close_day(manager_pin=pin)


class ReportScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        return {"reprint": ctl.reprint, "done": ctl.back_to_idle}


class StatusScreen(TillScreen):
    def actions(self, ctl: Controller) -> dict[str, Action]:
        m = ctl.manager
        return {"sync": m.sync_now, "lang": ctl.toggle_language, "dim": m.cycle_dim, "power": m.ask_power_off,
                "back": m.open_manager}
