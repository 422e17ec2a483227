"""Read-only questions the app asks: the status overview, today's payments, a payment by its receipt.

A collaborator of Engine, which forwards them; like every engine call they
run on the TillService's worker (the printer's status is device I/O, which
belongs there too).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from floreyn.errors import FloreynError
from floreyn.sync.record import Kind
from floreyn.terminal.engine.errors import RefundNotAllowed, TxNotFound
from floreyn.terminal.engine.model import Overview, Payment

if TYPE_CHECKING:
    from floreyn.terminal.engine.core import Engine

MAX_RECENT_PAYMENTS = 30  # one screen of refundable payments; older ones are found by their receipt
MAX_RECEIPT_CHARS = 64  # a transaction id is 36; anything longer is not a receipt of ours
_SEQ = re.compile(r"(\d{1,12})(?:\s*-\s*\d{1,12})?")  # "12", or "12-13" as a split payment's receipt shows


class Queries:
    """The read-only questions of an Engine, which forwards them."""
    def __init__(self, eng: Engine) -> None:
        self.eng = eng

    def overview(self) -> Overview:
        """The status screen and banners in one call (see Overview)."""
        printer, printer_error = None, None
        try:
            printer = self.eng.printer.status()
        except Exception as exc:  # noqa: BLE001 - a printer that cannot say is shown as such
            printer_error = exc
        merchant, merchant_error = None, None
        try:
            merchant = self.eng.context().merchant
        except FloreynError as exc:
            merchant_error = exc
        return Overview(status=self.eng.status(), printer=printer, printer_error=printer_error,
                        sync=None if self.eng.sync is None else self.eng.sync.state, merchant=merchant,
                        merchant_error=merchant_error)

    def recent_payments(self, limit: int = MAX_RECENT_PAYMENTS) -> list[Payment]:
        """Payments (SPEND transactions) of the open day, newest first; at most MAX_RECENT_PAYMENTS."""
        limit = max(1, min(limit, MAX_RECENT_PAYMENTS))
        with self.eng.store.read() as view:
            day_no = view.state().day_no
            out = []
            for tx_id in view.recent_tx_ids(limit, [int(Kind.SPEND)]):  # newest first: today's come first
                records = view.tx(tx_id)
                if records[0].day_no != day_no:
                    break
                out.append(Payment.of(records))
        return out

    def find_payment(self, receipt: str) -> Payment:
        """A payment of any day still kept here, by what its receipt shows.

        `receipt`: the QR code's text (the transaction id; a scanner types it)
        or the "Volgnummer" (a record number, "12", or a range "12-13" as a
        split payment prints it). Refuses what cannot be refunded, as
        quote_refund would.
        """
        self.eng.require_operator()
        text = receipt.strip() if isinstance(receipt, str) else ""
        if not text or len(text) > MAX_RECEIPT_CHARS:
            raise TxNotFound(tx=text[:12])
        key, seq = _as_uuid(text), _SEQ.fullmatch(text)
        if key is None and seq is None:
            raise TxNotFound(tx=text[:12])
        with self.eng.store.read() as view:
            if key is not None:
                records = view.tx(key)
                if not records:
                    one = view.record(key)
                    records = view.tx(one.tx_id) if one else []
            else:
                assert seq is not None
                first = int(seq.group(1))
                found = view.by_seq(first, first)
                records = view.tx(found[0].tx_id) if found else []
            if not records:
                raise TxNotFound(tx=text[:12])
            kinds = {r.kind for r in records}
            if kinds != {Kind.SPEND}:
                raise RefundNotAllowed(why="not_a_payment")
            if any(view.voided(r.record_id) for r in records):
                raise RefundNotAllowed(why="voided")
        return Payment.of(records)


def _as_uuid(text: str) -> str | None:
    """The canonical id when `text` is one (a scanner may type it in capitals), else None."""
    if len(text) < 32:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
