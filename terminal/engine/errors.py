"""Every refusal the till engine gives: typed, with a stable code and a Dutch message.

A refusal never changes anything: the engine checks everything it can
before it opens a database transaction, and the store re-checks the
invariants it owns (sequence, chain, refund totals) inside the transaction.

Language: a refusal's params never carry Dutch-only words, and no raiser
writes Dutch or English: a refusal with several causes is raised with the
cause's code (`why`, `server_reason`) and words it itself from its REASONS,
in both languages (the params `reason` / `reason_en`, kept for the scripted
till's JSON); `detail` / `detail_en` and `age` / `age_en` likewise come from
one place each (OnlineUnavailable, SnapshotStale.of). Amounts come only as cents with their currency
(`max_cents` + `currency`, see floreyn/errors.py), so `message(lang)` and the
app format them in the language they show: never a Dutch "fl 1.234,50" in
an English sentence.
"""

from __future__ import annotations

from typing import Any, ClassVar

from floreyn.refusals import translate
from floreyn.terminal.errors import (
    ClientRefConflict as ClientRefConflict,
    ConfigError as ConfigError,
    StoreCorrupt as StoreCorrupt,
    StoreLocked as StoreLocked,
    TillError as TillError,
    UnknownCategory as UnknownCategory,
)


# -- sign-in --------------------------------------------------------------------------


class NotSignedIn(TillError):
    code = "not_signed_in"
    msgid = "Sign in with your PIN first."


class WrongPin(TillError):
    code = "pin_wrong"
    msgid = "Wrong PIN. {left} more tries, then the till locks for a while."


class PinLockedOut(TillError):
    code = "pin_locked"
    msgid = "Too many wrong PINs. Try again in {seconds} seconds."


class ManagerRequired(TillError):
    code = "manager_required"
    msgid = "This needs a manager's PIN."


# -- card ------------------------------------------------------------------------------


class NoCard(TillError):
    code = "no_card"
    msgid = "Present the member's card first."


class CardBlocked(TillError):
    code = "card_blocked"
    msgid = "This card is blocked. Do not accept it; refer the member to the cooperative."


# -- amounts and sources -----------------------------------------------------------------


class AmountOverLimit(TillError):
    """params: max_cents, currency."""

    code = "amount_over_limit"
    msgid = "Amount too high: at most {max} per transaction."


class InsufficientBalance(TillError):
    """params: available_cents, currency."""

    code = "insufficient_balance"
    msgid = "Insufficient balance: {available} available."


class BudgetUnknown(TillError):
    code = "budget_unknown"
    msgid = "This budget does not belong to this card."


class BudgetNotUsableHere(TillError):
    code = "budget_wrong_category"
    msgid = "{label} is only for {for_categories}, not for this merchant."


class BudgetExpired(TillError):
    code = "budget_expired"
    msgid = "{label} expired on {expires_on}."


class BudgetEmpty(TillError):
    """The chosen budget has nothing left: ask before paying from the own balance instead."""

    code = "budget_empty"
    msgid = "{label} is empty. Choose 'own balance' to pay from the member's own balance."


class MixedPaymentNeedsTender(TillError):
    """params: fl_cents, eur_cents, total_cents, each with its `<name>_currency`."""

    code = "tender_required"
    msgid = "The balance covers {fl} of {total}. Choose cash or bank card for the rest ({eur})."


class TenderNotAllowed(TillError):
    code = "tender_invalid"
    msgid = "Choose cash or bank card."


class SaveNotOffered(TillError):
    code = "save_not_offered"
    msgid = "This merchant does not grant savings."


class SaveTooSmall(TillError):
    code = "save_too_small"
    msgid = "This purchase amount earns no savings yet."


class TopupTooSmall(TillError):
    code = "topup_too_small"
    msgid = "This amount buys no Floreyn yet; choose a larger amount."


class TopupNotAllowed(TillError):
    code = "topup_not_allowed"
    msgid = "Top-up is not offered at this merchant."


class RepeatNeedsConfirmation(TillError):
    code = "repeat_confirm"
    msgid = "This card was just charged ({ago} s ago). Confirm again if this really is a new payment."


# -- offline risk policy -------------------------------------------------------------------


class OfflineRefused(TillError):
    """An offline spend outside the risk policy; `online_possible` tells the app to offer online."""

    code = "offline_refused"
    msgid = "Offline payment is not possible here."


class OfflinePerTxLimit(OfflineRefused):
    """params: max_cents, currency."""

    code = "offline_per_tx_limit"
    msgid = "Without a connection at most {max} per payment."


class OfflineCumulativeLimit(OfflineRefused):
    """params: left_cents, max_cents, currency."""

    code = "offline_cumulative_limit"
    msgid = "Without a connection this card can spend only {left} more ({max} until the next connection)."


class OfflineCountLimit(OfflineRefused):
    """params: count (offline payments since the last connection), max_count."""

    code = "offline_count_limit"
    msgid = "This card was used {count} times without a connection; connect first."


class OfflineAllowanceUsed(OfflineRefused):
    """params: left_cents, currency."""

    code = "offline_allowance_used"
    msgid = "Without a connection this card can spend only {left} more from its own balance."


class SnapshotStale(OfflineRefused):
    """params: age_s (seconds; "" when unknown, after a restart without a connection), age / age_en (worded)."""

    code = "snapshot_stale"
    msgid = "The server data is too old ({age}); offline payment needs a connection first."
    WORDS: ClassVar[dict[str, str]] = {
        "unknown": "unknown (restarted without a connection)",
        "minutes": "{minutes} min",
        "hours": "{hours} h",
    }

    @classmethod
    def of(cls, age_s: float | None) -> SnapshotStale:
        return cls(age=cls.age_text(age_s, "nl"), age_en=cls.age_text(age_s, "en"),
                   age_s="" if age_s is None else int(age_s))

    @classmethod
    def age_text(cls, age_s: float | None, lang: str) -> str:
        if age_s is None:
            return translate(cls.WORDS["unknown"], lang)
        if age_s < 3600:
            return translate(cls.WORDS["minutes"], lang).format(minutes=int(age_s // 60))
        hours = f"{age_s / 3600:.1f}"  # a number, not a word: Dutch writes its decimal comma
        return translate(cls.WORDS["hours"], lang).format(hours=hours.replace(".", ",") if lang == "nl" else hours)


class UnknownCardOffline(OfflineRefused):
    code = "card_unknown_offline"
    msgid = "This card is not yet known to this till; paying needs a connection. Saving works."


class OnlineUnavailable(TillError):
    """params: detail / detail_en, detail_code ("no_server", "network", or the code of the sync error)."""

    code = "online_unavailable"
    msgid = "No connection to the server: {detail}"

    WORDS: ClassVar[dict[str, str]] = {"no_server": "no server configured"}

    @classmethod
    def no_server(cls) -> OnlineUnavailable:
        en = cls.WORDS["no_server"]
        return cls(detail=translate(en, "nl"), detail_en=en, detail_code="no_server")


class WhyRefusal(TillError):
    """A refusal with several causes, raised with the cause's code; REASONS names each cause's English msgid.

    params: the code under `WHY` ("why", or "server_reason"), and `reason` / `reason_en` filled from REASONS
    (an unknown code, e.g. a server's newer one, is shown as itself). The words of each msgid are in the
    refusal catalogs (floreyn/refusals.py extracts REASONS and FALLBACK as it does `msgid`).
    """

    WHY: ClassVar[str] = "why"
    REASONS: ClassVar[dict[str, str]] = {}
    FALLBACK: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        code = str(params.get(self.WHY) or "")
        en = self.REASONS.get(code, code or self.FALLBACK)
        # a cause worded by another refusal (e.g. a card's write error) comes as reason / reason_en and wins
        super().__init__(**{"reason": translate(en, "nl"), "reason_en": en, **params})


class OnlineDeclined(WhyRefusal):
    """params: server_reason (the server's code)."""

    code = "online_declined"
    msgid = "The server declined this payment: {reason}"
    WHY = "server_reason"
    REASONS = {
        "insufficient_funds": "insufficient balance",
        "card_unknown": "the card is unknown to the server",
        "card_blocked": "the card is blocked",
        "card_flagged": "the card is flagged; refer the member to the cooperative",
        "budget_wrong_category": "this budget cannot be used at this merchant",
        "budget_category": "this budget cannot be used at this merchant",  # what servers before issue 14 answered
        "budget_not_usable": "this budget can no longer be used",
        "budget_member_cap": "this member has used their share of the group budget for this month",
        "budget_needs_confirmation": "a second member of the group must confirm this amount (second card)",
        "budget_confirmer_invalid": "the second card is not another member of the group",
    }
    FALLBACK = "declined"


# -- the second card of a group budget (server/budget_rules.py) --------------------------------


class SecondCardNeeded(TillError):
    """Not a refusal of the sale: the next step. The quote stays open until a second card confirms it."""

    code = "second_card_needed"
    msgid = "Second resident: hold your card to the reader to confirm this payment from the group budget."


class PayerCardNeeded(TillError):
    """Offline, after the second card: the payer's card again, so the payment is written onto it."""

    code = "payer_card_needed"
    msgid = "Now hold the payer's card to the reader again: without a connection the payment goes onto that card."


class SecondCardRefused(WhyRefusal):
    """params: why ("same_card", "not_in_group", "blocked", "unreadable")."""

    code = "second_card_refused"
    msgid = "{reason} Let another resident of the group hold their card to the reader, or cancel."
    REASONS = {
        "same_card": "This is the payer's own card.",
        "not_in_group": "This card does not belong to a resident of the same group.",
        "blocked": "This card is blocked.",
        "unreadable": "This card cannot be read or is not genuine.",
    }


# -- quotes, refunds, voids, days -------------------------------------------------------------


class QuoteUnknown(TillError):
    code = "quote_unknown"
    msgid = "This transaction has expired or was already handled. Start again."


class TxNotFound(TillError):
    code = "tx_not_found"
    msgid = "Transaction {tx} not found (or already pruned)."


class RefundNotAllowed(WhyRefusal):
    """params: why ("refund_of_refund", "not_a_payment", "voided")."""

    code = "refund_not_allowed"
    msgid = "{reason}"
    REASONS = {
        "refund_of_refund": "A refund cannot be refunded.",
        "not_a_payment": "Only payments can be refunded; use void.",
        "voided": "This payment was voided.",
    }


class RefundTooLarge(TillError):
    """params: max_cents, currency."""

    code = "refund_too_large"
    msgid = "Refund too large: at most {max} can still be refunded."


class NothingToVoid(WhyRefusal):
    """params: why ("no_transaction", "day_closed", "last_is_void", "newer_transaction")."""

    code = "void_nothing"
    msgid = "There is no transaction to void: {reason}"
    REASONS = {
        "no_transaction": "no transaction yet.",
        "day_closed": "the day is closed.",
        "last_is_void": "the last transaction is itself a void.",
        "newer_transaction": "a newer transaction came in between.",
    }


class InternalError(TillError):
    """A bug, not a refusal: reported to the app so a screen never waits forever; the log has the trace."""

    code = "internal"
    msgid = "Internal till error ({detail}). The last action may not have been carried out."


class DiskFull(TillError):
    """Below [store] disk_floor_mb free: new money transactions wait until there is room (engine/disk.py)."""

    code = "disk_full"
    msgid = ("The till's storage is full ({free_mb} MB free). New transactions must wait until there is room; "
             "everything already paid is safely stored. Contact the cooperative.")
