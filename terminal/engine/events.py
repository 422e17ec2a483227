"""Events the engine emits to its listener (the app, via TillService, on the worker thread).

The app must hand them to its main thread (Kivy: Clock.schedule_once); the
engine never calls into the UI itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from floreyn.errors import FloreynError
from floreyn.terminal.config import Operator
from floreyn.terminal.drivers.base import ReaderStatus
from floreyn.terminal.engine.model import MemberSummary, TxResult


@dataclass(frozen=True)
class SignedIn:
    operator: Operator


@dataclass(frozen=True)
class SignedOut:
    pass


@dataclass(frozen=True)
class CardShown:
    summary: MemberSummary


@dataclass(frozen=True)
class CardRefused:
    """A card was presented and refused (tampered, blocked, unreadable): show `error.message('nl')`."""

    error: FloreynError


@dataclass(frozen=True)
class TxCommitted:
    result: TxResult


@dataclass(frozen=True)
class ReceiptPrinted:
    tx_id: str


@dataclass(frozen=True)
class ReceiptFailed:
    """The record is safe; only the paper is missing. Offer reprint once the printer is fixed."""

    tx_id: str
    error: FloreynError


@dataclass(frozen=True)
class ReaderChanged:
    status: ReaderStatus


@dataclass(frozen=True)
class CallDone:
    """TillService: the result of a submitted call (`error` set instead when it was refused)."""

    call_id: int
    method: str
    result: Any = None
    error: FloreynError | None = None


Event = (SignedIn | SignedOut | CardShown | CardRefused | TxCommitted | ReceiptPrinted | ReceiptFailed
         | ReaderChanged | CallDone)
Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default listener."""
