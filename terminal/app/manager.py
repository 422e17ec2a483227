"""Manager flows: refund, void, day close, status and settings, sync now.

A mixin of the Controller (same main-thread rules). Refund and void are
quotes like a sale and go through the same confirm screen; the engine marks
both `needs_manager`, and the confirm screen then asks for a manager's PIN
unless a manager is signed in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from kivy.clock import Clock

from floreyn.money import Currency, Money
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.settings import DIM_CHOICES_S, save_settings

POWER_ARM_S = 5.0  # the second tap on "Shut down" must come within this


class ManagerFlows:
    # -- menu ------------------------------------------------------------------------------------

    def open_manager(self) -> None:
        self.clear_message()
        self.refund_payment = None
        self.show("manager")

    # -- void ------------------------------------------------------------------------------------

    def start_void(self) -> None:
        self.clear_message()
        self.refund_payment = None
        self.call("quote_void", on_done=self._got_manager_quote)

    def _got_manager_quote(self, quote: Any) -> None:
        self.quote = quote
        self.show("confirm")

    # -- refund ----------------------------------------------------------------------------------

    def start_refund(self) -> None:
        self.clear_message()
        self.call("recent_payments", on_done=self._got_payments)

    def _got_payments(self, payments: list[Any]) -> None:
        self.payments = list(payments)
        self.show("refunds")

    def find_refund(self, receipt: str) -> None:
        """A payment of any day still kept here, by its receipt number or QR code text."""
        self.clear_message()
        self.call("find_payment", receipt, on_done=self.pick_refund)

    def pick_refund(self, payment: Any) -> None:
        self.refund_payment = payment
        self.amount_mode = "refund"
        self.clear_message()
        self.show("amount")

    def refund(self, cents: int | None) -> None:
        """Refund part (cents) or all (None) of the chosen payment (a money button)."""
        payment = self.refund_payment
        if payment is None:
            return
        self.clear_message()
        amount = None if cents is None else Money(cents, Currency.FL)
        self.call("quote_refund", payment.tx_id, amount, on_done=self._got_manager_quote)

    # -- day close -------------------------------------------------------------------------------

    def ask_day_close(self) -> None:
        self.clear_message()
        self.show("dayclose")

    def confirm_day_close(self) -> None:
        if self.confirming:
            return
        self.confirming = True
        token = self._confirm_token = object()  # see Controller._end_confirm

        def done(result: Any) -> None:
            self._end_confirm(token)
            self._committed(result)

        def failed(error: BaseException) -> None:
            self._end_confirm(token)
            self.show_error(error)

        self.call("close_day", on_done=done, on_error=failed)

    def show_report(self, result: Any) -> None:
        """The Z-report on screen: the very document the printer gets."""
        self.result = result
        if self.receipt_state == "":
            self.receipt_state = "printing"
        self.report_text = ""
        self.show("report")
        self.call("receipt_doc", result.tx_id, on_done=self._got_report_doc)

    def _got_report_doc(self, doc: Any) -> None:
        self.report_text = doc.text(self.runtime.config.columns)

    # -- status, settings, sync --------------------------------------------------------------------

    def open_status(self) -> None:
        self.clear_message()
        self.refresh_overview()
        self.show("status")

    def sync_now(self) -> None:
        self.clear_message()

        def done(_state: Any) -> None:
            self.show_text(lambda: tr._("Synchronised with the server."), "info")
            self.refresh_overview()

        def failed(error: BaseException) -> None:
            self.show_error(error)
            self.refresh_overview()

        self.call("sync_now", on_done=done, on_error=failed)

    # -- shutting down (terminal/power.py) ---------------------------------------------------------

    def ask_power_off(self) -> None:
        """First tap arms, a second tap within POWER_ARM_S shuts down: a stray touch never turns the till off."""
        now = time.monotonic()
        if now - getattr(self, "_power_armed_at", -POWER_ARM_S) > POWER_ARM_S:
            self._power_armed_at = now
            self.show_text(lambda: tr._(
                "Tap Shut down again to turn the till off. Wait until the screen is dark before you pull the plug."
            ), "warn")
            return
        self._power_armed_at = -POWER_ARM_S
        power = self.runtime.power
        if power is None:
            self.show_text(lambda: tr._("This is the demo: the till is not really turned off."), "info")
            return
        self.show_text(lambda: tr._("Shutting down\u2026 Wait until the screen is dark."), "info")

        def run() -> None:
            try:
                power.power_off()  # systemd now stops the app with SIGTERM; it closes the store cleanly
            except Exception as exc:  # noqa: BLE001 - shown, the till keeps working
                error = exc
                Clock.schedule_once(lambda _dt: self.show_error(error), 0)

        threading.Thread(target=run, name="floreyn-power-off", daemon=True).start()

    def cycle_dim(self) -> None:
        """Next choice of 'dim the screen after' (30 s, 1, 2, 5 min, never)."""
        now = self.settings.dim_after_s
        i = DIM_CHOICES_S.index(now) if now in DIM_CHOICES_S else 0
        self.settings = replace(self.settings, dim_after_s=DIM_CHOICES_S[(i + 1) % len(DIM_CHOICES_S)])
        save_settings(self.runtime.settings_path, self.settings)
        self.dim_after_s = self.settings.dim_after_s
