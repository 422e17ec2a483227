"""The engine's narrow view of the server: live card summary and online authorization.

Wraps floreyn.sync.client.SyncClient (written by the server engineer) so the
engine depends on two calls and one error family. Every network failure
becomes OnlineUnavailable; the engine then falls back to the offline policy
(summary) or tells the shopkeeper (explicit online authorization).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from floreyn.errors import FloreynError
from floreyn.sync.snapshot import BudgetInfo
from floreyn.terminal.engine.errors import OnlineUnavailable

if TYPE_CHECKING:  # the client (and `requests`) loads only for a till with a server: see OnlineGateway
    from floreyn.sync.client import Authorization, HoldRelease

MAX_LIVE_BUDGETS = 32
log = logging.getLogger("floreyn.terminal")


class ServerClient(Protocol):
    """The server as the online checks see it (floreyn.sync.client.SyncClient)."""

    def authorize_spend(self, card_hex: str, amount_cents: int, request_id: str,
                        budget_id: str | None = None, confirm_card_hex: str | None = None) -> Authorization: ...
    def card_summary(self, card_hex: str) -> dict[str, Any]: ...  # the server's JSON, read by parse_live_card
    def release_hold(self, request_id: str) -> HoldRelease: ...


@dataclass(frozen=True, slots=True)
class LiveCard:
    alias: str
    balance_cents: int
    blocked: bool
    budgets: tuple[BudgetInfo, ...]  # as the server knows them now
    offline_uploaded_cents: int = 0  # the card's offline spends the server has received (floreyn/cardtrail.py)


class OnlineGateway:
    def __init__(self, client: ServerClient) -> None:
        from floreyn.sync.client import SyncError  # here, not at import: a till without a server never loads it

        self._client = client
        self._net_errors: tuple[type[BaseException], ...] = (OSError, TimeoutError, SyncError)
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
                  budget_id: str | None = None, confirm_card_hex: str | None = None) -> Authorization:
        """One hold on the server per record (the server holds per account: own balance or one budget).

        request_id is the record id: the server makes a retry return the same
        answer, and matches the hold to the record when it is uploaded.
        confirm_card_hex: a second group member's card, for a group-budget part above the funder's threshold.
        """
        try:
            auth = self._client.authorize_spend(card_hex, amount_cents, request_id, budget_id, confirm_card_hex)
        except self._net_errors as exc:
            self.last_ok = False
            raise _unavailable(exc) from None
        self.last_ok = True
        return auth

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
                member_cap_left_cents=_cents_or_none(b.get("member_cap_left_cents")),
                confirm_above_cents=_cents_or_none(b.get("confirm_above_cents")),
            ))
    uploaded = raw.get("offline_uploaded_cents", 0)
    return LiveCard(
        offline_uploaded_cents=uploaded if type(uploaded) is int and uploaded > 0 else 0,
        alias=str(raw.get("alias") or ""),
        balance_cents=balance if type(balance) is int and balance > 0 else 0,
        blocked=bool(raw.get("blocked", False)) or bool(raw.get("flagged", False)),  # flagged: suspected copy
        budgets=tuple(budgets),
    )


def _cents_or_none(value: Any) -> int | None:
    """A group budget's rule figure; anything unreadable as no rule (the server re-checks every spend)."""
    return value if type(value) is int and value >= 0 else None


def _unavailable(exc: BaseException) -> OnlineUnavailable:
    """Both languages and a code: a sync error words itself; a socket error is named by its type."""
    if isinstance(exc, FloreynError):
        return OnlineUnavailable(detail=exc.message("nl"), detail_en=exc.message("en"), detail_code=exc.code)
    name = type(exc).__name__
    return OnlineUnavailable(detail=name, detail_en=name, detail_code="network")
