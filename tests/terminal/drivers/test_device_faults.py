"""Whatever a device library raises, the till keeps answering and reports a committed sale truly.

A python-escpos network printer (to the fake printer on loopback) is wrapped
so that one driver call raises an arbitrary exception: pyusb's ValueError
for a missing endpoint (the mis-set 58 mm USB printer), a USBError, a
RuntimeError, a BaseException no library should raise, a KeyboardInterrupt
raised on the worker thread. The sale is committed, the screen is told
"paid, receipt not printed: <reason>", the receipt waits for a reprint, and
the worker thread keeps serving calls, also through the idle receipt retries.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import usb.core
from escpos import printer as escpos
from escpos_decode import decode
from till_helpers import CASHIER_PIN, open_till

from floreyn.money import Money
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.base import PrinterError
from floreyn.terminal.drivers.escpos_printer import EscposPrinter
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.service import TillService

WAIT_S = 10.0  # generous: a busy 2-core machine


class Mystery(BaseException):
    """A BaseException from a library's depths (as gevent's Timeout is)."""


FAULTS = [
    ValueError("Invalid endpoint address 0x1"),
    usb.core.USBError("Pipe error", -9, 32),
    RuntimeError("library bug"),
    ConnectionResetError("peer reset"),
    Mystery("odd"),
    KeyboardInterrupt(),
]
CALLS = ("open", "query_status", "_raw", "device", "close")


class Faulty:
    """A python-escpos printer whose driver call `call` raises `fault` (`times` times, then works)."""

    def __init__(self, real: Any, plan: Plan) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_plan", plan)

    def __getattr__(self, name: str) -> Any:
        plan = self._plan
        if name == "device":
            plan.tick("device")
        attr = getattr(self._real, name)
        if name in CALLS and callable(attr):
            def call(*args: Any, **kwargs: Any) -> Any:
                if name == "close":  # a close that fails after letting go of the socket
                    attr(*args, **kwargs)
                plan.tick(name)
                return attr(*args, **kwargs)
            return call
        return attr


class Plan:
    def __init__(self, call: str, fault: BaseException, times: int = 1) -> None:
        self.call, self.fault, self.left, self.raised = call, fault, times, 0

    def tick(self, name: str) -> None:
        if name == self.call and self.left > 0:
            self.left -= 1
            self.raised += 1
            raise self.fault


def faulty_printer(fake: Any, plan: Plan) -> EscposPrinter:
    connect = lambda: Faulty(escpos.Network("127.0.0.1", port=fake.port, timeout=3), plan)  # noqa: E731
    return EscposPrinter(connect, kind="network", status_timeout_s=0.5)


def started_service(config: Any, clock: Any, printer: EscposPrinter, **kw: Any) -> tuple[Any, TillService, list]:
    till = open_till(config, clock, printer=printer, sign_in=False)  # type: ignore[arg-type]
    events: list = []
    service = TillService(till.engine, events.append, **kw)
    service.start().result(WAIT_S)
    service.sign_in(CASHIER_PIN).result(WAIT_S)
    service.submit(lambda engine: engine.present_card(demo_setup.demo_payload("anna"))).result(WAIT_S)
    return till, service, events


def sell(service: TillService, cents: int = 250) -> Any:
    quote = service.quote_spend(Money.fl(cents)).result(WAIT_S)
    return service.confirm(quote.quote_id, tender=None, manager_pin=None, repeat_ok=False).result(WAIT_S)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
def test_any_fault_at_any_driver_call_leaves_the_sale_paid_and_the_till_answering(
    config, clock, network_printer, call, fault
):
    plan = Plan(call, fault)
    till, service, events = started_service(config, clock, faulty_printer(network_printer, plan))
    try:
        result = sell(service)  # a committed sale: never "the last action may not have been carried out"
        assert plan.raised == 1 and result.records[0].fl_cents == 250
        assert till.store.tx(result.tx_id)  # committed, whatever the printer did
        if call == "close":  # the receipt was out before closing failed: it counts as printed
            assert result.receipt_status == "printed"
        else:
            assert result.receipt_status == "failed" and isinstance(result.receipt_error, PrinterError)
            failed = next(e for e in events if isinstance(e, ev.ReceiptFailed))
            assert failed.tx_id == result.tx_id
            assert service.overview().result(WAIT_S).status.receipts_to_print == 1
            again = service.reprint(result.tx_id).result(WAIT_S)  # the receipt waited for this
            assert again.receipt_status == "printed"
        assert "250" in decode(network_printer.last_job()).text(32).replace(",", "")
        assert service.overview().result(WAIT_S).status.receipts_to_print == 0
    finally:
        service.stop()
        till.store.close()


def test_the_reason_reaches_the_screen(config, clock, network_printer):
    plan = Plan("_raw", ValueError("Invalid endpoint address 0x1"))
    till, service, _ = started_service(config, clock, faulty_printer(network_printer, plan))
    try:
        result = sell(service)
        assert result.receipt_error.message("nl") == "Printerfout: ValueError: Invalid endpoint address 0x1"
    finally:
        service.stop()
        till.store.close()


def test_idle_receipt_retries_against_a_broken_driver_keep_the_worker_alive(config, clock, network_printer):
    plan = Plan("_raw", ValueError("Invalid endpoint address 0x1"), times=10**6)
    till, service, _ = started_service(config, clock, faulty_printer(network_printer, plan), receipt_retry_s=1.0)
    try:
        result = sell(service)
        assert result.receipt_status == "failed"
        deadline = time.monotonic() + WAIT_S
        while plan.raised < 3 and time.monotonic() < deadline:  # the worker retried twice on its own
            time.sleep(0.1)
        assert plan.raised >= 3
        assert service.overview().result(WAIT_S).status.receipts_to_print == 1  # still answering
        plan.left = 0  # the printer is fixed: the next idle retry prints the waiting receipt
        deadline = time.monotonic() + WAIT_S
        while till.store.tx(result.tx_id)[0].receipt_status != "printed" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.overview().result(WAIT_S).status.receipts_to_print == 0
    finally:
        service.stop()
        till.store.close()


def test_a_till_starts_with_a_receipt_waiting_and_a_broken_printer(config, clock, network_printer):
    plan = Plan("_raw", ValueError("Invalid endpoint address 0x1"), times=10**6)
    till, service, _ = started_service(config, clock, faulty_printer(network_printer, plan))
    try:
        assert sell(service).receipt_status == "failed"
    finally:
        service.stop()
        till.store.close()
    again = open_till(config, clock, install_snapshot=False, printer=faulty_printer(network_printer, plan),
                      sign_in=False)  # type: ignore[arg-type]
    try:  # open_till ran engine.start(): the resumed receipt failed again, typed, and start went on
        service = TillService(again.engine, lambda e: None)
        report = service.start().result(WAIT_S)  # at start: no InternalError
        assert report["receipts_resumed"] == 0
        assert service.overview().result(WAIT_S).status.receipts_to_print == 1
        service.stop()
    finally:
        again.store.close()
