"""Fixtures for the device driver tests: keys and cards, an event collector, fake printers.

The NFC card emulations live in the package (floreyn.terminal.drivers.nfc_emulator,
nfc_emulator_ntag) so the engine, app and provisioning tests can use them too.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # escpos_decode, escpos_fake_printer, escpos_samples

from escpos_fake_printer import FakeNetworkPrinter, FakeSerialPrinter  # noqa: E402

from floreyn import card as floreyn_card  # noqa: E402
from floreyn.keys import PrivateKey  # noqa: E402
from floreyn.terminal.drivers.base import CardEvent, ReaderState, ReaderStatus  # noqa: E402

WAIT_S = 30.0  # upper bound for anything the udp radio does; normal is milliseconds, seconds on a loaded machine


@pytest.fixture(scope="session")
def issuer() -> PrivateKey:
    return PrivateKey(bytes(range(32)))


@pytest.fixture(scope="session")
def verify(issuer: PrivateKey) -> Callable[[bytes], floreyn_card.Card]:
    issuers = floreyn_card.issuer_map([issuer.public_key()])
    return lambda payload: floreyn_card.verify_payload(payload, issuers)


@pytest.fixture
def member(issuer: PrivateKey) -> floreyn_card.Card:
    return floreyn_card.issue(issuer, bytes.fromhex("00112233445566778899aabbccddeeff"))


class Collector:
    """Receives reader callbacks (on the reader thread) and lets a test wait for them."""

    def __init__(self) -> None:
        self.cards: list[CardEvent] = []
        self.statuses: list[ReaderStatus] = []
        self._cond = threading.Condition()

    def on_card(self, event: CardEvent) -> None:
        with self._cond:
            self.cards.append(event)
            self._cond.notify_all()

    def on_status(self, status: ReaderStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def wait_cards(self, count: int, timeout_s: float = WAIT_S) -> list[CardEvent]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.cards) >= count, timeout_s), f"cards so far: {self.cards}"
            return list(self.cards)

    def wait_state(self, state: ReaderState, after: int = 0, timeout_s: float = WAIT_S) -> ReaderStatus:
        """The first status in `state` at index >= after."""
        def found() -> ReaderStatus | None:
            return next((s for s in self.statuses[after:] if s.state is state), None)

        with self._cond:
            assert self._cond.wait_for(lambda: found() is not None, timeout_s), f"statuses: {self.statuses}"
            return found()  # type: ignore[return-value]

    def states(self) -> list[ReaderState]:
        with self._cond:
            return [s.state for s in self.statuses]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def readers() -> Iterator[list]:
    """Readers a test starts; all stopped at teardown even when the test fails."""
    started: list = []
    yield started
    for reader in started:
        reader.stop()


@pytest.fixture
def network_printer() -> Iterator[FakeNetworkPrinter]:
    with FakeNetworkPrinter() as printer:
        yield printer


@pytest.fixture
def serial_printer() -> Iterator[FakeSerialPrinter]:
    with FakeSerialPrinter() as printer:
        yield printer
