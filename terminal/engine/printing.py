"""Receipts: built from stored records after commit, printed, their status kept in the store.

A committed record's receipt is printed after the commit (never before);
a PrinterError marks it failed and is reported as an event; reprint() and
retry_pending_receipts() print it later. Mixed into Engine.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from floreyn.errors import FloreynError
from floreyn.sync.record import Kind
from floreyn.terminal import receipts
from floreyn.terminal.drivers.base import PrintDoc, PrinterError
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.errors import TxNotFound
from floreyn.terminal.engine.model import TxResult

if TYPE_CHECKING:
    from floreyn.terminal.engine.core import Engine

MAX_RECEIPT_RETRIES = 50  # per call: a long queue drains over several calls, never in one long stall


class PrintingMixin:
    def receipt_context(self: Engine) -> receipts.ReceiptContext:
        ctx = self.context()
        snap = ctx.snapshot
        labels: dict[str, str] = {}
        for info in (snap.cards if snap else ()):
            for b in info.budgets:
                labels[b.budget_id] = b.label
        if self._card is not None:
            labels.update({b.budget_id: b.label for b in self._card.budgets})
        return receipts.ReceiptContext(
            cooperative=self.config.cooperative, merchant_name=ctx.merchant.name,
            terminal_id=self.config.terminal_id, timezone=self.config.timezone, budget_labels=labels,
            welcome_url=self.config.welcome_url,
        )

    def receipt_doc(self: Engine, tx_id: str, *, reprint: bool = False) -> PrintDoc:
        records = self.store.tx(tx_id) or self.store.tx_of_record(tx_id)
        if not records:
            raise TxNotFound(tx=tx_id[:8])
        ctx = self.receipt_context()
        if records[0].kind is Kind.DAY_CLOSE:
            with self.store.read() as view:
                raw = view.day_report(records[0].day_no)
            assert raw is not None, "a day-close record always has its report"
            return receipts.z_report_doc(json.loads(raw), receipts.as_committed(ctx, records[0]),
                                         tx_id=records[0].tx_id, reprint=reprint)
        return receipts.tx_receipt(records, ctx, reprint=reprint)

    def _print(self: Engine, tx_id: str, *, reprint: bool = False) -> tuple[str, FloreynError | None]:
        doc = self.receipt_doc(tx_id, reprint=reprint)
        tx_id = doc.qr_data or tx_id
        try:
            self.printer.print_doc(doc)
        except PrinterError as exc:
            self.store.set_receipt_status(tx_id, "failed", exc.code)
            self.emit(ev.ReceiptFailed(tx_id, exc))
            return "failed", exc
        self.store.set_receipt_status(tx_id, "printed")
        self.emit(ev.ReceiptPrinted(tx_id))
        return "printed", None

    def drain_prints(self: Engine) -> list[tuple[str, str]]:
        """Print receipts queued by deferred commits: [(tx_id, status)]."""
        done = []
        while self._print_queue:
            tx_id = self._print_queue.pop(0)
            done.append((tx_id, self._print(tx_id)[0]))
        return done

    def reprint(self: Engine, tx_id: str) -> TxResult:
        """Print any kept receipt again (marked DUPLICAAT once it was printed before)."""
        self.require_operator()
        records = self.store.tx(tx_id) or self.store.tx_of_record(tx_id)
        if not records:
            raise TxNotFound(tx=tx_id[:8])
        status, error = self._print(records[0].tx_id, reprint=records[0].receipt_status == "printed")
        return TxResult(records[0].tx_id, records[0].kind, tuple(self.store.tx(records[0].tx_id)), True,
                        status, error)

    def retry_pending_receipts(self: Engine) -> int:
        """Print receipts still pending or failed, oldest first; stops at the first printer error."""
        with self.store.read() as view:
            todo = view.receipts_to_print(MAX_RECEIPT_RETRIES)
        printed = 0
        for tx_id in todo:
            status, _ = self._print(tx_id)
            if status != "printed":
                break
            printed += 1
        return printed

    def print_welcome(self: Engine) -> PrintDoc:
        """The welcome slip for the card on the reader (not a transaction: nothing is stored)."""
        self.require_operator()
        session = self.require_card()
        doc = receipts.welcome_slip(session.summary.alias, session.card.card_id, self.receipt_context())
        self.printer.print_doc(doc)
        return doc
