"""The service boundary: what the core hands the app, and how the app talks to it.

The app holds no business rules. It is handed a `Runtime` (electrum-style:
the GUI gets the daemon's objects, it does not build them) whose
`service` is the engine's TillService: one worker thread, a bounded queue,
every engine and device call on it. The app calls `Bridge.call(...)`; the
result comes back on the Kivy main thread through `post` (Clock), and engine
events arrive the same way through `Bridge.notify`.

`install_app_queries` adds two read-only calls the engine does not offer
(yet): the status screen's overview (including the printer's status, which
must be asked on the worker thread like every device call) and the list of
recent payments to refund. They run on the worker like every other call.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from floreyn.errors import FloreynError
from floreyn.sync.record import Kind

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]
MAX_RECENT_PAYMENTS = 30  # one screen of refundable payments; older ones need the receipt's number


class TillServicePort(Protocol):
    """What the app uses of floreyn.terminal.engine.service.TillService."""

    engine: Any

    def start(self) -> Future: ...
    def stop(self, timeout_s: float = 5.0) -> None: ...
    def call(self, method: str, *args: Any, **kwargs: Any) -> Future: ...


@dataclass(frozen=True)
class DemoCard:
    key: str  # the keyboard key that presents it ("1".."9")
    name: str
    payload: bytes


@dataclass
class Runtime:
    """Everything main() builds before the first frame; the app only uses it."""

    service: TillServicePort
    config: Any  # TerminalConfig (frozen: safe to read from the main thread)
    printer: Any
    reader: Any = None
    present: Callable[[bytes], None] | None = None  # VirtualCardReader.present, with --simulate
    demo_cards: tuple[DemoCard, ...] = ()
    settings_path: Path | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False

    @property
    def simulate(self) -> bool:
        return self.present is not None

    def close(self) -> None:
        """Stop the service (and with it the reader), then the rest, last built first. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.service.stop()
        finally:
            for close in reversed(self.closers):
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing must go on
                    log.exception("closing %s failed", close)


class Bridge:
    """Main-thread side of the TillService: callbacks always run on the UI thread."""

    def __init__(self, service: TillServicePort, post: Post) -> None:
        self.service = service
        self._post = post
        self.pending = 0

    def call(self, method: str, *args: Any, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None, **kwargs: Any) -> None:
        self.pending += 1
        future = self.service.call(method, *args, **kwargs)
        future.add_done_callback(lambda f: self._post(lambda: self._deliver(method, f, on_done, on_error)))

    def _deliver(self, method: str, future: Future, on_done, on_error) -> None:
        self.pending -= 1
        assert self.pending >= 0
        error = future.exception()
        if error is None:
            if on_done is not None:
                on_done(future.result())
            return
        if not isinstance(error, FloreynError):
            log.error("till call %s failed", method, exc_info=error)
        if on_error is not None:
            on_error(error)


# -- read-only queries the app adds to the engine ------------------------------------------------


@dataclass(frozen=True)
class Payment:
    """A payment of the open day, as the refund list shows it."""

    tx_id: str
    seq: int
    wall_ms: int
    card_hex: str | None
    fl_cents: int
    eur_cents: int


def install_app_queries(engine: Any) -> None:
    """Add `app_overview` and `app_recent_payments` to `engine`, unless it has its own."""
    if not hasattr(engine, "app_overview"):
        engine.app_overview = lambda: overview(engine)
    if not hasattr(engine, "app_recent_payments"):
        engine.app_recent_payments = lambda limit=MAX_RECENT_PAYMENTS: recent_payments(engine, limit)


def overview(engine: Any) -> dict[str, Any]:
    """Status screen and banners: till status, printer, sync, merchant (runs on the worker)."""
    out: dict[str, Any] = {"status": engine.status(), "printer": None, "sync": None, "merchant": None}
    try:
        out["printer"] = engine.printer.status()
    except Exception as exc:  # noqa: BLE001 - a printer that cannot say is shown as such
        out["printer_error"] = exc
    state = getattr(getattr(engine, "sync", None), "state", None)
    if state is not None:
        out["sync"] = {k: getattr(state, k, None) for k in ("last_sync_ms", "waiting", "online", "last_error")}
    try:
        out["merchant"] = engine.merchant()
    except FloreynError as exc:
        out["merchant_error"] = exc
    return out


def recent_payments(engine: Any, limit: int = MAX_RECENT_PAYMENTS) -> list[Payment]:
    """Payments (SPEND transactions) of the open day, newest first."""
    limit = max(1, min(limit, MAX_RECENT_PAYMENTS))
    with engine.store.txn() as view:
        day_no = view.state().day_no
        records = view.day(day_no)
    by_tx: dict[str, list[Any]] = {}
    for rec in records:
        by_tx.setdefault(rec.tx_id, []).append(rec)
    out = []
    for tx_id, recs in by_tx.items():
        if {r.kind for r in recs} != {Kind.SPEND}:
            continue
        out.append(Payment(tx_id, recs[0].seq, recs[0].wall_ms, recs[0].card_hex,
                           sum(r.fl_cents for r in recs), sum(r.eur_cents for r in recs)))
    out.sort(key=lambda p: p.seq, reverse=True)
    return out[:limit]
