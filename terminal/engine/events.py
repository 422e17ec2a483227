"""Events the engine emits to its listener (the app, via TillService, on the worker thread).

The app must hand them to its main thread (Kivy: Clock.schedule_once); the
engine never calls into the UI itself. Every event is a frozen subclass of
`Event`; a receiver routes them through an `EventTable` (type -> handler),
never by class name, and tests/terminal/app checks that the app's table has
a handler for every subclass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from floreyn.errors import FloreynError
from floreyn.terminal.config import Operator
from floreyn.terminal.drivers.base import ReaderStatus
from floreyn.terminal.engine.model import MemberSummary, Quote, TxResult

log = logging.getLogger("floreyn.terminal")


@dataclass(frozen=True)
class Event:
    """Base of every engine event."""


@dataclass(frozen=True)
class SignedIn(Event):
    operator: Operator


@dataclass(frozen=True)
class SignedOut(Event):
    pass


@dataclass(frozen=True)
class CardShown(Event):
    summary: MemberSummary


@dataclass(frozen=True)
class CardRefused(Event):
    """A card was presented and refused (tampered, blocked, unreadable, nobody signed in): show `error`."""

    error: FloreynError


@dataclass(frozen=True)
class CardReadTorn(Event):
    """A read broke off (the card moved, or answered late: drivers/base.py TORN_READ_ERRORS). It is no
    refusal: an open card and its sale stay, and the screen asks to hold the card still."""

    error: FloreynError


@dataclass(frozen=True)
class SecondCardAccepted(Event):
    """A second group member's card confirmed `quote`: confirm it again to commit; offline (`payer_again`)
    first the payer's card comes back to the reader (Engine.second_card), then this event again."""

    quote: Quote
    payer_again: bool = False


@dataclass(frozen=True)
class SecondCardRefused(Event):
    """The card laid on the reader cannot confirm the waiting quote (same card, not of the group, ...):
    show `error`; the quote still waits for a second card."""

    error: FloreynError


@dataclass(frozen=True)
class TxCommitted(Event):
    result: TxResult


@dataclass(frozen=True)
class ReceiptPrinted(Event):
    tx_id: str


@dataclass(frozen=True)
class ReceiptFailed(Event):
    """The record is safe; only the paper is missing. Offer reprint once the printer is fixed."""

    tx_id: str
    error: FloreynError


@dataclass(frozen=True)
class ReaderChanged(Event):
    status: ReaderStatus


@dataclass(frozen=True)
class SyncChanged(Event):
    """The sync worker's last round reached the server (online) or failed: the offline banner follows this,
    seconds after it happens, not the next payment or status refresh."""

    online: bool


@dataclass(frozen=True)
class CallDone(Event):
    """TillService: a queued call ended (`error` set when it was refused). `name` labels it for logs."""

    call_id: int
    name: str
    result: object = None
    error: FloreynError | None = None


Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default listener."""


def event_types() -> frozenset[type[Event]]:
    """Every concrete event type (all subclasses of Event, at any depth)."""
    out: set[type[Event]] = set()
    todo: list[type[Event]] = [Event]
    while todo:
        for sub in todo.pop().__subclasses__():
            out.add(sub)
            todo.append(sub)
    return frozenset(out)


R = TypeVar("R")
E = TypeVar("E", bound=Event)


class EventTable(Generic[R]):
    """Event type -> handler of a receiver `R`. `on` is typed, so a handler must take its event's type."""

    def __init__(self) -> None:
        # Stored as Any: one dict holds handlers of different event types; `on` checks each pair.
        self._handlers: dict[type[Event], Callable[[R, Any], None]] = {}

    def on(self, kind: type[E], handler: Callable[[R, E], None]) -> None:
        assert kind not in self._handlers, f"two handlers for {kind.__name__}"
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[type[Event]]:
        return frozenset(self._handlers)

    def dispatch(self, receiver: R, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:  # tests keep the table complete; a stray event must not stop the till
            log.warning("no handler for event %s", type(event).__name__)
            return
        handler(receiver, event)
