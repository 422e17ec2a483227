"""TillService: the engine behind one worker thread, for the app.

The app (Kivy) must never block its main thread on a database commit, a
printer or the network. It calls `service.call("quote_spend", amount)`,
which queues the call for the worker thread and returns a Future at once;
the result also arrives as a `CallDone` event. Every engine event is passed
to `notify` on the worker thread: the app's notify hands it to the main
thread (Clock.schedule_once). Card reader callbacks are queued the same way,
so all device I/O and all engine state changes happen on the one worker.

Between calls the worker retries unprinted receipts every
`receipt_retry_s` and prunes once a day.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from floreyn.errors import FloreynError
from floreyn.terminal.drivers.base import CardEvent, CardReader, ReaderStatus
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.core import Engine
from floreyn.terminal.engine.errors import InternalError

log = logging.getLogger("floreyn.terminal")

QUEUE_LIMIT = 64  # calls waiting; a till cannot sensibly queue more than this
_STOP = object()


class ServiceBusy(FloreynError):
    code = "till_busy"
    nl = "De kassa is nog bezig; probeer het zo opnieuw."
    en = "The till is still busy; try again shortly."


class TillService:
    def __init__(self, engine: Engine, notify: ev.Listener, *, reader: CardReader | None = None,
                 receipt_retry_s: float = 30.0, prune_every_s: float = 86_400.0) -> None:
        self.engine = engine
        self._notify = notify
        self._reader = reader
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._retry_s = receipt_retry_s
        self._prune_s = prune_every_s
        engine.listener = notify

    def start(self) -> Future[Any]:
        """Start the worker (it runs engine.start() first) and the reader; the Future gives the start report."""
        assert self._thread is None
        self._thread = threading.Thread(target=self._run, name="till-worker", daemon=True)
        self._thread.start()
        started = self.call("start")
        if self._reader is not None:
            self._reader.start(self._on_card, self._on_reader_status)
        if self.engine.sync is not None:
            self.engine.sync.start()  # its own thread: uploads and snapshots never wait in the till's queue
        return started

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._reader is not None:
            self._reader.stop()
        if self.engine.sync is not None:
            self.engine.sync.stop(timeout_s)
        if self._thread is not None:
            self._queue.put(_STOP, timeout=timeout_s)
            self._thread.join(timeout_s)
            self._thread = None

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue engine.<method>(*args, **kwargs) for the worker; refusals arrive as the Future's exception."""
        if method.startswith("_") or not callable(getattr(self.engine, method, None)):
            raise AttributeError(method)
        future: Future[Any] = Future()
        call_id = next(self._ids)
        try:
            self._queue.put_nowait((call_id, method, args, kwargs, future))
        except queue.Full:
            future.set_exception(ServiceBusy())
        return future

    def _on_card(self, event: CardEvent) -> None:
        self.call("card_event", event)

    def _on_reader_status(self, status: ReaderStatus) -> None:
        self._notify(ev.ReaderChanged(status))

    def _run(self) -> None:
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
            if item is _STOP:
                return
            self._execute(*item)

    def _execute(self, call_id: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = getattr(self.engine, method)(*args, **kwargs)
        except FloreynError as exc:
            future.set_exception(exc)
            self._notify(ev.CallDone(call_id, method, error=exc))
            return
        except Exception as exc:  # a bug: log it, tell the app, keep the till alive
            log.exception("till call %s failed", method)
            error = InternalError(detail=type(exc).__name__)
            future.set_exception(error)
            self._notify(ev.CallDone(call_id, method, error=error))
            return
        if self.engine.defer_print:
            self.engine.drain_prints()
        future.set_result(result)
        self._notify(ev.CallDone(call_id, method, result=result))

    def _housekeeping(self, *, prune: bool) -> None:
        try:
            self.engine.retry_pending_receipts()
            if prune:
                self.engine.store.prune(retention_ms=self.engine.config.store.retention_days * 86_400_000)
        except FloreynError:
            pass  # the next round tries again; errors were already reported as events
