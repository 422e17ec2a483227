"""TillService: the engine behind one worker thread, for the app; it implements EngineApi.

The app (Kivy) must never block its main thread on a database commit, a
printer or the network. It calls `service.quote_spend(amount)`, which
queues the call for the worker thread and returns a Future at once; a
`CallDone` event follows each call. Every engine event is passed to
`notify` on the worker thread: the app's notify hands it to the main thread
(Clock.schedule_once). Card reader callbacks are queued the same way, so all
device I/O and all engine state changes happen on the one worker.

Between calls the worker retries unprinted receipts every
`receipt_retry_s` and prunes once a day.

The worker is supervised: whatever a job raises becomes that job's answer
(InternalError for anything that is not a refusal), and should the loop or
the thread itself die all the same, it is restarted (in place, or by the
next call finding the thread gone), the job in hand gets InternalError, and
the status screen shows the restarts (Overview.worker_restarts). A till
whose worker silently died would look alive and answer nothing.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Callable, Generic, TypeVar

from floreyn.errors import FloreynError
from floreyn.money import Money
from floreyn.sync.record import Tender
from floreyn.terminal.config import Operator
from floreyn.sync.worker import SyncState
from floreyn.terminal.drivers.base import CardEvent, PrintDoc, ReaderStatus
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.api import StartReport, SyncReport
from floreyn.terminal.engine.core import Engine
from floreyn.terminal.engine.errors import InternalError
from floreyn.terminal.engine.model import Overview, Payment, Quote, TxResult
from floreyn.terminal.engine.ports import Reader

log = logging.getLogger("floreyn.terminal")

QUEUE_LIMIT = 64  # calls waiting; a till cannot sensibly queue more than this: the next answers ServiceBusy
MAX_FAILURE_CHARS = 160  # the last worker failure as the status screen shows it
T = TypeVar("T")


class ServiceBusy(FloreynError):
    code = "till_busy"
    msgid = "The till is still busy; try again shortly."


@dataclass(frozen=True)
class _Job(Generic[T]):
    call_id: int
    name: str  # for the log and CallDone only: nothing is looked up by it
    run: Callable[[Engine], T]
    future: Future[T]


class _Stop:
    pass


class TillService:
    """EngineApi on the worker thread (see engine/api.py), plus `submit` for any other engine work."""

    def __init__(self, engine: Engine, notify: ev.Listener, *, reader: Reader | None = None,
                 receipt_retry_s: float = 30.0, prune_every_s: float = 86_400.0) -> None:
        self.engine = engine
        self._notify = notify
        self._reader = reader
        self._queue: queue.Queue[_Job[object] | _Stop] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._retry_s = receipt_retry_s
        self._prune_s = prune_every_s
        self._sync_online: bool | None = None  # what the app was last told (SyncChanged)
        self._stopping = False
        self._current: _Job[object] | None = None  # the job the worker is running
        self._supervise = threading.Lock()  # one restart at a time
        self.restarts = 0  # times the worker loop or thread died and was started again
        self.last_failure = ""  # why it died the last time, for the status screen
        engine.listener = notify

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Future[StartReport]:
        """Start the worker (it runs engine.start() first) and the reader; the Future gives the start report."""
        assert self._thread is None
        self._stopping = False
        self._start_thread()
        started = self.submit(Engine.start, "start")
        if self._reader is not None:
            self._reader.start(self._on_card, self._on_reader_status)
        if self.engine.sync is not None:
            self.engine.sync.on_state = self._on_sync_state
            self.engine.sync.start()  # its own thread: uploads and snapshots never wait in the till's queue
        return started

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        if self._reader is not None:
            self._reader.stop()
        if self.engine.sync is not None:
            self.engine.sync.stop(timeout_s)
        if self._thread is not None:
            self._queue.put(_Stop(), timeout=timeout_s)
            self._thread.join(timeout_s)
            self._thread = None

    # -- EngineApi -------------------------------------------------------------------------------

    def sign_in(self, pin: str) -> Future[Operator]:
        return self.submit(lambda e: e.sign_in(pin), "sign_in")

    def sign_out(self) -> Future[None]:
        return self.submit(Engine.sign_out, "sign_out")

    def clear_card(self) -> Future[None]:
        return self.submit(Engine.clear_card, "clear_card")

    def quote_spend(self, amount: Money, *, source: str | None = None) -> Future[Quote]:
        return self.submit(lambda e: e.quote_spend(amount, source=source), "quote_spend")

    def quote_save(self, euro: Money) -> Future[Quote]:
        return self.submit(lambda e: e.quote_save(euro), "quote_save")

    def quote_topup(self, euro: Money) -> Future[Quote]:
        return self.submit(lambda e: e.quote_topup(euro), "quote_topup")

    def quote_refund(self, tx_id: str, amount: Money | None) -> Future[Quote]:
        return self.submit(lambda e: e.quote_refund(tx_id, amount), "quote_refund")

    def quote_void(self) -> Future[Quote]:
        return self.submit(lambda e: e.quote_void(), "quote_void")

    def cancel(self, quote_id: str) -> Future[None]:
        return self.submit(lambda e: e.cancel(quote_id), "cancel")

    def confirm(self, quote_id: str, *, tender: Tender | None, manager_pin: str | None,
                repeat_ok: bool) -> Future[TxResult]:
        return self.submit(lambda e: e.confirm(quote_id, tender=tender, manager_pin=manager_pin,
                                               repeat_ok=repeat_ok), "confirm")

    def close_day(self, *, manager_pin: str | None = None) -> Future[TxResult]:
        return self.submit(lambda e: e.close_day(manager_pin=manager_pin), "close_day")

    def reprint(self, tx_id: str) -> Future[TxResult]:
        return self.submit(lambda e: e.reprint(tx_id), "reprint")

    def receipt_doc(self, tx_id: str) -> Future[PrintDoc]:
        return self.submit(lambda e: e.receipt_doc(tx_id), "receipt_doc")

    def overview(self) -> Future[Overview]:
        return self.submit(
            lambda e: replace(e.overview(), worker_restarts=self.restarts, worker_failure=self.last_failure),
            "overview",
        )

    def recent_payments(self) -> Future[list[Payment]]:
        return self.submit(lambda e: e.recent_payments(), "recent_payments")

    def find_payment(self, receipt: str) -> Future[Payment]:
        return self.submit(lambda e: e.find_payment(receipt), "find_payment")

    def sync_now(self) -> Future[SyncReport]:
        return self.submit(Engine.sync_now, "sync_now")

    # -- the worker ------------------------------------------------------------------------------

    def submit(self, run: Callable[[Engine], T], name: str = "job") -> Future[T]:
        """Queue `run(engine)` for the worker; refusals arrive as the Future's exception.

        The app uses the EngineApi methods above; this is their one way in,
        and the scripted tools' and tests' way to run other engine work on
        the worker.
        """
        future: Future[T] = Future()
        job = _Job(next(self._ids), name, run, future)
        self._revive()
        try:
            self._queue.put_nowait(job)  # type: ignore[arg-type]  # a _Job[T] is a _Job[object] to the worker
        except queue.Full:
            future.set_exception(ServiceBusy())
        return future

    def _on_card(self, event: CardEvent) -> None:
        self.submit(lambda e: e.card_event(event), "card_event")

    def _on_reader_status(self, status: ReaderStatus) -> None:
        self._notify(ev.ReaderChanged(status))

    def _on_sync_state(self, state: SyncState) -> None:
        """On the sync thread, after every round: tell the app when online/offline flipped (or first known)."""
        if state.online != self._sync_online:
            self._sync_online = state.online
            self._notify(ev.SyncChanged(state.online))

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="till-worker", daemon=True)
        self._thread.start()

    def _revive(self) -> None:
        """Start a new worker if the thread is gone (it should never be: `_run` catches everything)."""
        with self._supervise:
            thread = self._thread
            if thread is None or thread.is_alive() or self._stopping:
                return
            self._died("the worker thread ended")
            self._start_thread()

    def _died(self, reason: str) -> None:
        self.restarts += 1
        self.last_failure = reason[:MAX_FAILURE_CHARS]
        log.error("till worker restarted (%d): %s", self.restarts, reason)
        job, self._current = self._current, None
        if job is not None and not job.future.done():  # the job in hand when it died: answer it
            job.future.set_exception(InternalError(detail=f"kassa herstart: {self.last_failure}"))

    def _run(self) -> None:
        """The worker thread: the loop, restarted in place if anything escapes it."""
        while True:
            try:
                self._serve()
                return  # stopped
            except BaseException as exc:  # noqa: BLE001 - nothing may end the worker but stop()
                log.exception("till worker loop failed")
                with self._supervise:
                    self._died(f"{type(exc).__name__}: {exc}")

    def _serve(self) -> None:
        idle_s = 0.0
        since_prune_s = 0.0
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                idle_s += 1.0
                since_prune_s += 1.0
                if idle_s >= self._retry_s:
                    idle_s = 0.0
                    self._housekeeping(prune=since_prune_s >= self._prune_s)
                    if since_prune_s >= self._prune_s:
                        since_prune_s = 0.0
                continue
            if isinstance(item, _Stop):
                return
            self._execute(item)

    def _execute(self, job: _Job[object]) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        self._current = job
        try:
            self._answer(job)
        finally:
            self._current = None

    def _answer(self, job: _Job[object]) -> None:
        try:
            result = job.run(self.engine)
        except FloreynError as exc:
            job.future.set_exception(exc)
            self._notify(ev.CallDone(job.call_id, job.name, error=exc))
            return
        except BaseException as exc:  # noqa: BLE001 - a bug (any kind): log it, tell the app, keep the till alive
            log.exception("till call %s failed", job.name)
            error = InternalError(detail=type(exc).__name__)
            job.future.set_exception(error)
            self._notify(ev.CallDone(job.call_id, job.name, error=error))
            return
        if self.engine.defer_print:
            self.engine.drain_prints()
        job.future.set_result(result)
        self._notify(ev.CallDone(job.call_id, job.name, result=result))

    def _housekeeping(self, *, prune: bool) -> None:
        try:
            self.engine.retry_pending_receipts()
            if prune:
                self.engine.store.prune(retention_ms=self.engine.config.store.retention_days * 86_400_000)
        except FloreynError:
            pass  # the next round tries again; errors were already reported as events
        except Exception:  # a bug must not end the worker: log it, the next round tries again
            log.exception("till housekeeping failed")
