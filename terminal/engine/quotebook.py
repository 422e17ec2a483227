"""The open quotes of a till session: shown, waiting for the shopkeeper's confirm.

Part of the engine's session state (with the operator and the card). Each
quote keeps the re-check confirm() runs inside the write transaction. A
quote that will never be confirmed (cancelled, evicted, the session ended)
gives an online spend's holds back to the member at once, instead of when
they expire on the server.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from floreyn.sync.record import Kind
from floreyn.terminal.engine.model import Part, Quote
from floreyn.terminal.engine.online import OnlineGateway
from floreyn.terminal.engine.quoting import Recheck
from floreyn.terminal.store import TerminalStore

MAX_OPEN_QUOTES = 8  # a ninth quote drops the oldest (its holds go back); a counter never needs more


class QuoteBook:
    def __init__(self, store: TerminalStore, gateway: OnlineGateway | None) -> None:
        self._store = store
        self._gateway = gateway
        self._open: OrderedDict[str, tuple[Quote, Recheck | None]] = OrderedDict()

    def remember(self, quote: Quote, check: Recheck | None) -> Quote:
        self._open[quote.quote_id] = (quote, check)
        while len(self._open) > MAX_OPEN_QUOTES:
            self._drop(self._open.popitem(last=False)[1][0])
        return quote

    def get(self, quote_id: str) -> tuple[Quote, Recheck | None] | None:
        return self._open.get(quote_id)

    def confirmed(self, quote_id: str) -> None:
        """Its records are committed: forget it (its holds are consumed by the upload, not released)."""
        self._open.pop(quote_id, None)

    def cancel(self, quote_id: str) -> None:
        """Drop a quote unconfirmed; the holds an online quote has on the server are released."""
        entry = self._open.pop(quote_id, None)
        if entry is not None:
            self._drop(entry[0])

    def drop_all(self) -> None:
        quotes = [q for q, _ in self._open.values()]
        self._open.clear()
        for quote in quotes:
            self._drop(quote)

    def _drop(self, quote: Quote) -> None:
        """A quote that will never be confirmed: an online spend's holds go back to the member now,
        not when they expire on the server (15 min in which the money looks spent to every till)."""
        if quote.kind is Kind.SPEND and not quote.offline:
            self.release_holds(quote.parts)

    def release_holds(self, parts: Sequence[Part]) -> int:
        """Best effort: release the server's holds requested under these parts' record ids.

        A part committed here is skipped: its record, once uploaded, consumes
        the hold (releasing it would let the money be held twice meanwhile).
        Stops at the first failed connection: offline, holds simply expire.
        Returns how many the server confirmed.
        """
        if self._gateway is None or not parts:
            return 0
        with self._store.read() as view:
            todo = [p for p in parts if view.record(str(p.record_id)) is None]
        released = 0
        for part in todo:
            done = self._gateway.release(str(part.record_id))
            if done is None:
                break
            released += int(done)
        return released
