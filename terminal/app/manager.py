"""Manager flows: refund, void, day close, status and settings, sync now.

A collaborator of the Controller (same main-thread rules), reached as
`ctl.manager`. Refund and void are quotes like a sale and go through the
same confirm screen; the engine marks both `needs_manager`, and the confirm
screen then asks for a manager's PIN unless a manager is signed in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from kivy.clock import Clock

from floreyn.money import Currency, Money
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.settings import DIM_CHOICES_S, save_settings
from floreyn.terminal.drivers.base import PrintDoc
from floreyn.terminal.engine.api import SyncReport
from floreyn.terminal.engine.model import Payment, Quote, TxResult

if TYPE_CHECKING:
    from floreyn.terminal.app.controller import Controller

POWER_ARM_S = 5.0  # the second tap on "Shut down" must come within this


class ManagerFlows:
    def __init__(self, ctl: Controller) -> None:
        self.ctl = ctl
        self._power_armed_at = -POWER_ARM_S

    # -- menu ------------------------------------------------------------------------------------

    def open_manager(self) -> None:
        ctl = self.ctl
        ctl.clear_message()
        ctl.refund_payment = None
        ctl.show("manager")

    # -- void ------------------------------------------------------------------------------------

    def start_void(self) -> None:
        ctl = self.ctl
        ctl.clear_message()
        ctl.refund_payment = None
        ctl.await_(ctl.api.quote_void(), self._got_manager_quote, slow=True)

    def _got_manager_quote(self, quote: Quote) -> None:
        self.ctl.quote = quote
        self.ctl.show("confirm")

    # -- refund ----------------------------------------------------------------------------------

    def start_refund(self) -> None:
        self.ctl.clear_message()
        self.ctl.await_(self.ctl.api.recent_payments(), self._got_payments)

    def _got_payments(self, payments: list[Payment]) -> None:
        self.ctl.payments = list(payments)
        self.ctl.show("refunds")

    def find_refund(self, receipt: str) -> None:
        """A payment of any day still kept here, by its receipt number or QR code text."""
        self.ctl.clear_message()
        self.ctl.await_(self.ctl.api.find_payment(receipt), self.pick_refund)

    def pick_refund(self, payment: Payment) -> None:
        ctl = self.ctl
        ctl.refund_payment = payment
        ctl.amount_mode = "refund"
        ctl.amount_session += 1
        ctl.clear_message()
        ctl.show("amount")

    def refund(self, cents: int | None) -> None:
        """Refund part (cents) or all (None) of the chosen payment (a money button)."""
        ctl = self.ctl
        payment = ctl.refund_payment
        if payment is None:
            return
        ctl.clear_message()
        amount = None if cents is None else Money(cents, Currency.FL)
        ctl.await_(ctl.api.quote_refund(payment.tx_id, amount), self._got_manager_quote, slow=True)

    # -- day close -------------------------------------------------------------------------------

    def ask_day_close(self) -> None:
        self.ctl.clear_message()
        self.ctl.show("dayclose")

    def day_close_needs_pin(self) -> bool:
        """A cashier closes the day only with a manager's PIN ([till] day_close_needs_manager, the default)."""
        return self.ctl.runtime.config.till.day_close_needs_manager and not self.ctl.is_manager

    def confirm_day_close(self) -> None:
        """"Dag afsluiten" on the day close screen: closes the day, or first asks for a manager's PIN."""
        if self.day_close_needs_pin():
            self.ctl.clear_message()
            self.ctl.show("managerpin")
            return
        self.close_day()

    def close_day(self, manager_pin: str | None = None) -> None:
        """The engine checks the PIN (and the role); a refusal stays on the screen that asked."""
        ctl = self.ctl
        if ctl.confirming:
            return
        ctl.clear_message()
        token = ctl.begin_confirm()

        def done(result: TxResult) -> None:
            ctl.end_confirm(token)
            ctl.committed(result)

        def failed(error: BaseException) -> None:
            ctl.end_confirm(token)
            ctl.show_error(error)

        ctl.await_(ctl.api.close_day(manager_pin=manager_pin), done, failed, slow=True)

    def show_report(self, result: TxResult) -> None:
        """The Z-report on screen: the very document the printer gets."""
        ctl = self.ctl
        ctl.result = result
        if ctl.receipt_state == "":
            ctl.receipt_state = "printing"
        ctl.report_text = ""
        ctl.show("report")
        ctl.await_(ctl.api.receipt_doc(result.tx_id), self._got_report_doc)

    def _got_report_doc(self, doc: PrintDoc) -> None:
        self.ctl.report_text = doc.text(self.ctl.runtime.config.columns)

    # -- status, settings, sync --------------------------------------------------------------------

    def open_status(self) -> None:
        self.ctl.clear_message()
        self.ctl.refresh_overview()
        self.ctl.show("status")

    def sync_now(self) -> None:
        ctl = self.ctl
        ctl.clear_message()

        def done(_report: SyncReport) -> None:
            ctl.show_text(lambda: tr._("Synchronised with the server."), "info")
            ctl.refresh_overview()

        def failed(error: BaseException) -> None:
            ctl.show_error(error)
            ctl.refresh_overview()

        ctl.await_(ctl.api.sync_now(), done, failed, slow=True)

    # -- shutting down (terminal/power.py) ---------------------------------------------------------

    def ask_power_off(self) -> None:
        """First tap arms, a second tap within POWER_ARM_S shuts down: a stray touch never turns the till off."""
        ctl = self.ctl
        now = time.monotonic()
        if now - self._power_armed_at > POWER_ARM_S:
            self._power_armed_at = now
            ctl.show_text(lambda: tr._(
                "Tap Shut down again to turn the till off. Wait until the screen is dark before you pull the plug."
            ), "warn")
            return
        self._power_armed_at = -POWER_ARM_S
        power = ctl.runtime.power
        if power is None:
            ctl.show_text(lambda: tr._("This is the demo: the till is not really turned off."), "info")
            return
        ctl.show_text(lambda: tr._("Shutting down\u2026 Wait until the screen is dark."), "info")

        def run() -> None:
            try:
                power.power_off()  # systemd now stops the app with SIGTERM; it closes the store cleanly
            except Exception as exc:  # noqa: BLE001 - shown, the till keeps working
                error = exc
                Clock.schedule_once(lambda _dt: ctl.show_error(error), 0)

        threading.Thread(target=run, name="floreyn-power-off", daemon=True).start()

    def cycle_dim(self) -> None:
        """Next choice of 'dim the screen after' (30 s, 1, 2, 5 min, never)."""
        ctl = self.ctl
        now = ctl.settings.dim_after_s
        i = DIM_CHOICES_S.index(now) if now in DIM_CHOICES_S else 0
        ctl.settings = replace(ctl.settings, dim_after_s=DIM_CHOICES_S[(i + 1) % len(DIM_CHOICES_S)])
        save_settings(ctl.runtime.settings_path, ctl.settings)
        ctl.dim_after_s = ctl.settings.dim_after_s
