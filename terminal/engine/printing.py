"""Receipts: built from stored records after commit, printed, their status kept in the store.

A committed record's receipt is printed after the commit (never before);
a PrinterError marks it failed and is reported as an event; reprint() and
retry_pending_receipts() print it later.
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


class Receipts:
    """Receipts of an Engine, which forwards the public calls: built from stored records, printed, status kept."""
    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        self.queue: list[str] = []  # committed with defer_print: printed by drain_prints after the call

    def receipt_context(self) -> receipts.ReceiptContext:
        ctx = self.eng.context()
        snap = ctx.snapshot
        labels: dict[str, str] = {}
        for info in (snap.cards if snap else ()):
            for b in info.budgets:
                labels[b.budget_id] = b.label
        if self.eng.card is not None:
            labels.update({b.budget_id: b.label for b in self.eng.card.budgets})
        return receipts.ReceiptContext(
            cooperative=self.eng.config.cooperative, merchant_name=ctx.merchant.name,
            terminal_id=self.eng.config.terminal_id, timezone=self.eng.config.timezone, budget_labels=labels,
            welcome_url=self.eng.config.welcome_url,
        )

    def receipt_doc(self, tx_id: str, *, reprint: bool = False) -> PrintDoc:
        records = self.eng.store.tx(tx_id) or self.eng.store.tx_of_record(tx_id)
        if not records:
            raise TxNotFound(tx=tx_id[:8])
        ctx = self.receipt_context()
        if records[0].kind is Kind.DAY_CLOSE:
            with self.eng.store.read() as view:
                raw = view.day_report(records[0].day_no)
            assert raw is not None, "a day-close record always has its report"
            return receipts.z_report_doc(json.loads(raw), receipts.as_committed(ctx, records[0]),
                                         tx_id=records[0].tx_id, reprint=reprint)
        return receipts.tx_receipt(records, ctx, reprint=reprint)

    def print(self, tx_id: str, *, reprint: bool = False) -> tuple[str, FloreynError | None]:
        doc = self.receipt_doc(tx_id, reprint=reprint)
        tx_id = doc.qr_data or tx_id
        try:
            self.eng.printer.print_doc(doc)
        except PrinterError as exc:
            self.eng.store.set_receipt_status(tx_id, "failed", exc.code)
            self.eng.emit(ev.ReceiptFailed(tx_id, exc))
            return "failed", exc
        self.eng.store.set_receipt_status(tx_id, "printed")
        self.eng.emit(ev.ReceiptPrinted(tx_id))
        return "printed", None

    def drain_prints(self) -> list[tuple[str, str]]:
        """Print receipts queued by deferred commits: [(tx_id, status)]."""
        done = []
        while self.queue:
            tx_id = self.queue.pop(0)
            done.append((tx_id, self.print(tx_id)[0]))
        return done

    def reprint(self, tx_id: str) -> TxResult:
        """Print any kept receipt again (marked DUPLICAAT once it was printed before)."""
        self.eng.require_operator()
        records = self.eng.store.tx(tx_id) or self.eng.store.tx_of_record(tx_id)
        if not records:
            raise TxNotFound(tx=tx_id[:8])
        status, error = self.print(records[0].tx_id, reprint=records[0].receipt_status == "printed")
        return TxResult(records[0].tx_id, records[0].kind, tuple(self.eng.store.tx(records[0].tx_id)), True,
                        status, error)

    def retry_pending_receipts(self) -> int:
        """Print receipts still pending or failed, oldest first; stops at the first printer error."""
        with self.eng.store.read() as view:
            todo = view.receipts_to_print(MAX_RECEIPT_RETRIES)
        printed = 0
        for tx_id in todo:
            status, _ = self.print(tx_id)
            if status != "printed":
                break
            printed += 1
        return printed

    def print_welcome(self) -> PrintDoc:
        """The welcome slip for the card on the reader (not a transaction: nothing is stored)."""
        self.eng.require_operator()
        session = self.eng.require_card()
        doc = receipts.welcome_slip(session.summary.alias, session.card.card_id, self.receipt_context())
        self.eng.printer.print_doc(doc)
        return doc
