"""TillService: the engine on one worker thread, results as futures and events, for the app."""

from __future__ import annotations

import threading
import time

import pytest
from till_helpers import CASHIER_PIN, open_till

from floreyn.money import Money
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.virtual import VirtualCardReader
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.service import TillService, _Stop


def wait_for(events: list, kind: type, timeout_s: float = 5.0):  # noqa: ANN201
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for e in list(events):
            if isinstance(e, kind):
                return e
        time.sleep(0.01)
    raise AssertionError(f"no {kind.__name__} in {events}")


def test_service_runs_everything_on_its_worker_and_reports_events(config, clock):
    till = open_till(config, clock, sign_in=False)
    events: list = []
    threads: set[str] = set()

    def notify(event: ev.Event) -> None:
        if not isinstance(event, ev.ReaderChanged):  # reader status comes from the reader's own thread
            threads.add(threading.current_thread().name)
        events.append(event)

    reader = VirtualCardReader(till.engine.verify_payload)
    service = TillService(till.engine, notify, reader=reader)
    assert service.start().result(5)["head_seq"] == 0
    try:
        assert service.sign_in(CASHIER_PIN).result(5).name == "Carla"
        reader.present(demo_setup.demo_payload("anna"))  # from the reader's thread, queued to the worker
        shown = wait_for(events, ev.CardShown)
        assert shown.summary.alias == "Anna"
        quote = service.quote_spend(Money.fl(250)).result(5)
        result = service.confirm(quote.quote_id, tender=None, manager_pin=None, repeat_ok=False).result(5)
        assert result.records[0].fl_cents == 250 and result.receipt_status == "printed"
        wait_for(events, ev.ReceiptPrinted)
        overview = service.overview().result(5)  # the app's status screen: an engine call like any other
        assert overview.status.head_seq == 1 and overview.printer.online and overview.sync is None
        assert overview.merchant.merchant_id == demo_setup.DEMO_MERCHANT.merchant_id
        assert [p.tx_id for p in service.recent_payments().result(5)] == [result.tx_id]
        refused = service.quote_spend(Money.fl(0))
        with pytest.raises(Exception) as info:
            refused.result(5)
        assert info.value.code == "amount_zero"
        done = [e for e in events if isinstance(e, ev.CallDone)]
        assert any(e.error is not None and e.error.code == "amount_zero" for e in done)
        reader.present(demo_setup.demo_payload("cees"))
        assert isinstance(wait_for(events, ev.CardRefused).error, E.CardBlocked)
        assert threads == {"till-worker"}  # every engine event, so every engine call, on the one worker
    finally:
        service.stop()
        till.store.close()


def test_a_full_queue_answers_busy_instead_of_blocking(config, clock):
    till = open_till(config, clock)
    gate = threading.Event()
    service = TillService(till.engine, lambda e: None)
    service.start().result(5)
    try:
        futures = [service.submit(lambda _engine: gate.wait(5), "slow") for _ in range(70)]
        busy = [f for f in futures if f.done() and f.exception() is not None]
        assert busy and busy[0].exception().code == "till_busy"
        gate.set()
    finally:
        service.stop()
        till.store.close()


def test_a_bug_in_a_call_is_reported_not_swallowed(config, clock):
    till = open_till(config, clock)
    events: list = []
    service = TillService(till.engine, events.append)
    service.start().result(5)
    try:
        with pytest.raises(E.InternalError):
            service.submit(lambda _engine: 1 / 0, "broken").result(5)
        assert service.overview().result(5).status.head_seq == 0  # the worker lives on
        assert any(isinstance(e, ev.CallDone) and e.name == "broken" and e.error.code == "internal"
                   for e in events if isinstance(e, ev.CallDone) and e.error is not None)
    finally:
        service.stop()
        till.store.close()


class _Mystery(BaseException):
    """What no library should raise, and one will."""


def test_a_base_exception_in_a_call_is_that_calls_answer(config, clock):
    till = open_till(config, clock)
    service = TillService(till.engine, lambda e: None)
    service.start().result(5)
    try:
        def odd(_engine: object) -> None:
            raise _Mystery("deep in a library")

        with pytest.raises(E.InternalError):
            service.submit(odd, "odd").result(5)
        overview = service.overview().result(5)
        assert overview.status.head_seq == 0 and overview.worker_restarts == 0
    finally:
        service.stop()
        till.store.close()


def test_a_dying_worker_loop_is_restarted_and_the_status_screen_says_so(config, clock):
    till = open_till(config, clock)
    broken = threading.Event()

    def notify(event: ev.Event) -> None:  # the app's listener failing on the worker thread
        if broken.is_set() and isinstance(event, ev.CallDone):
            broken.clear()
            raise _Mystery("listener failed")

    service = TillService(till.engine, notify)
    service.start().result(5)
    try:
        broken.set()
        # the answer was given before the listener failed; the loop died after it
        assert service.submit(lambda engine: engine.status(), "status").result(5).head_seq == 0
        overview = service.overview().result(5)  # the restarted loop answers
        assert overview.worker_restarts == 1 and "listener failed" in overview.worker_failure
    finally:
        service.stop()
        till.store.close()


def test_a_dead_worker_thread_is_replaced_by_the_next_call(config, clock):
    till = open_till(config, clock)
    service = TillService(till.engine, lambda e: None)
    service.start().result(5)
    try:
        dead = threading.Thread(target=lambda: None)
        dead.start()
        dead.join()
        old, service._thread = service._thread, dead  # as if the worker thread had ended
        service._queue.put(_Stop()) if old is not None else None  # let the real old worker go
        assert old is not None
        old.join(5)
        assert service.overview().result(5).worker_restarts == 1
        assert service._thread is not dead and service._thread.is_alive()
    finally:
        service.stop()
        till.store.close()
