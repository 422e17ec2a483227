"""The engine's narrow view of the server: live card summary and online authorization.

Wraps floreyn.sync.client.SyncClient (written by the server engineer) so the
engine depends on two calls and one error family. Every network failure
becomes OnlineUnavailable; the engine then falls back to the offline policy
(summary) or tells the shopkeeper (explicit online authorization).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from floreyn.errors import FloreynError
from floreyn.sync.snapshot import BudgetInfo
from floreyn.terminal.engine.errors import OnlineUnavailable

MAX_LIVE_BUDGETS = 32
log = logging.getLogger("floreyn.terminal")


class ServerClient(Protocol):
    def authorize_spend(self, card_hex: str, amount_cents: int, request_id: str,
                        budget_id: str | None = None) -> Any: ...
    def card_summary(self, card_hex: str) -> dict[str, Any]: ...
    def release_hold(self, request_id: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class LiveCard:
    alias: str
    balance_cents: int
    blocked: bool
    budgets: tuple[BudgetInfo, ...]  # as the server knows them now


@dataclass(frozen=True, slots=True)
class Authorization:
    approved: bool
    reason: str
    auth_id: str


def _network_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    try:
        from floreyn.sync.client import SyncError

        errors.append(SyncError)
    except ImportError:  # the client is not there yet (or not installed): plain socket errors only
        pass
    return tuple(errors)


class OnlineGateway:
    def __init__(self, client: ServerClient) -> None:
        self._client = client
        self._net_errors = _network_errors()
        self.last_ok: bool | None = None

    def card_summary(self, card_hex: str) -> LiveCard:
        try:
            raw = self._client.card_summary(card_hex)
        except self._net_errors as exc:
            self.last_ok = False
            raise _unavailable(exc) from None
        self.last_ok = True
        return parse_live_card(raw)

    def authorize(self, card_hex: str, amount_cents: int, request_id: str,
                  budget_id: str | None = None) -> Authorization:
        """One hold on the server per record (the server holds per account: own balance or one budget).

        request_id is the record id: the server makes a retry return the same
        answer, and matches the hold to the record when it is uploaded.
        """
        try:
            auth = self._client.authorize_spend(card_hex, amount_cents, request_id, budget_id)
        except self._net_errors as exc:
            self.last_ok = False
            raise _unavailable(exc) from None
        self.last_ok = True
        return Authorization(bool(getattr(auth, "approved", False)), str(getattr(auth, "reason", "") or ""),
                             str(getattr(auth, "auth_id", "") or ""))

    def release(self, request_id: str) -> bool | None:
        """Best effort: give back the hold authorized under `request_id` (a quote dropped unconfirmed).

        True: the server holds nothing under it now. False: the server refused
        (its spend was posted, or it never authorized it). None: no connection;
        the hold then simply expires on the server (hold_ttl_s).
        """
        try:
            self._client.release_hold(request_id)
        except self._net_errors as exc:
            if getattr(exc, "status", 0):  # the server answered, with a refusal
                self.last_ok = True
                log.info("hold %s not released: %s", request_id, getattr(exc, "server_code", exc))
                return False
            self.last_ok = False
            return None
        self.last_ok = True
        return True


def parse_live_card(raw: dict[str, Any]) -> LiveCard:
    """Read the server's card summary defensively: a field we do not understand is no balance."""
    balance = raw.get("balance_cents", raw.get("own_cents", 0))
    budgets = []
    for b in list(raw.get("budgets") or ())[:MAX_LIVE_BUDGETS]:
        if isinstance(b, dict) and isinstance(b.get("budget_id"), str):
            remaining = b.get("remaining_cents", 0)
            cats = b.get("categories") or ()
            budgets.append(BudgetInfo(
                budget_id=b["budget_id"], label=str(b.get("label") or b["budget_id"]),
                categories=tuple(str(c) for c in cats) if isinstance(cats, (list, tuple)) else (),
                expires_on=str(b.get("expires_on") or ""),  # unreadable date = expired (pricing._date)
                remaining_cents=remaining if type(remaining) is int and remaining > 0 else 0,
                funder=str(b.get("funder") or ""),
            ))
    return LiveCard(
        alias=str(raw.get("alias") or ""),
        balance_cents=balance if type(balance) is int and balance > 0 else 0,
        blocked=bool(raw.get("blocked", False)) or bool(raw.get("flagged", False)),  # flagged: suspected copy
        budgets=tuple(budgets),
    )


DECLINE_NL = {
    "insufficient_funds": "onvoldoende saldo",
    "card_unknown": "de pas is onbekend bij de server",
    "card_blocked": "de pas is geblokkeerd",
    "card_flagged": "de pas is gemarkeerd; verwijs naar de coöperatie",
    "budget_category": "dit budget geldt niet bij deze winkel",
    "budget_not_usable": "dit budget is niet (meer) bruikbaar",
    "budget_member_cap": "dit lid heeft zijn deel van het groepsbudget voor deze maand op",
    "budget_needs_confirmation": "een tweede lid van de groep moet dit bedrag bevestigen (tweede pas)",
    "budget_confirmer_invalid": "de tweede pas is niet van een ander lid van de groep",
}
DECLINE_EN = {
    "insufficient_funds": "insufficient balance",
    "card_unknown": "the card is unknown to the server",
    "card_blocked": "the card is blocked",
    "card_flagged": "the card is flagged; refer the member to the cooperative",
    "budget_category": "this budget cannot be used at this merchant",
    "budget_not_usable": "this budget can no longer be used",
    "budget_member_cap": "this member has used their share of the group budget for this month",
    "budget_needs_confirmation": "a second member of the group must confirm this amount (second card)",
    "budget_confirmer_invalid": "the second card is not another member of the group",
}


def decline_reason_nl(code: str) -> str:
    return DECLINE_NL.get(code, code or "geweigerd")


def decline_reason_en(code: str) -> str:
    return DECLINE_EN.get(code, code or "declined")


def _unavailable(exc: BaseException) -> OnlineUnavailable:
    """Both languages and a code: a sync error words itself; a socket error is named by its type."""
    if isinstance(exc, FloreynError):
        return OnlineUnavailable(detail=exc.message("nl"), detail_en=exc.message("en"), detail_code=exc.code)
    name = type(exc).__name__
    return OnlineUnavailable(detail=name, detail_en=name, detail_code="network")
