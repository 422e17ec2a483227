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
    nl = "Meld u eerst aan met uw pincode."
    en = "Sign in with your PIN first."


class WrongPin(TillError):
    code = "pin_wrong"
    nl = "Onjuiste pincode. U kunt het nog {left} keer proberen, daarna gaat de kassa even op slot."
    en = "Wrong PIN. {left} more tries, then the till locks for a while."


class PinLockedOut(TillError):
    code = "pin_locked"
    nl = "Te veel onjuiste pincodes. Probeer het over {seconds} seconden opnieuw."
    en = "Too many wrong PINs. Try again in {seconds} seconds."


class ManagerRequired(TillError):
    code = "manager_required"
    nl = "Hiervoor is de pincode van een beheerder nodig."
    en = "This needs a manager's PIN."


# -- card ------------------------------------------------------------------------------


class NoCard(TillError):
    code = "no_card"
    nl = "Houd eerst de pas van de klant tegen de lezer."
    en = "Present the member's card first."


class CardBlocked(TillError):
    code = "card_blocked"
    nl = "Deze pas is geblokkeerd. Niet accepteren; verwijs naar de coöperatie."
    en = "This card is blocked. Do not accept it; refer the member to the cooperative."


# -- amounts and sources -----------------------------------------------------------------


class AmountOverLimit(TillError):
    """params: max_cents, currency."""

    code = "amount_over_limit"
    nl = "Bedrag te hoog: maximaal {max} per transactie."
    en = "Amount too high: at most {max} per transaction."


class InsufficientBalance(TillError):
    """params: available_cents, currency."""

    code = "insufficient_balance"
    nl = "Onvoldoende saldo: er is {available} beschikbaar."
    en = "Insufficient balance: {available} available."


class BudgetUnknown(TillError):
    code = "budget_unknown"
    nl = "Dit budget hoort niet bij deze pas."
    en = "This budget does not belong to this card."


class BudgetNotUsableHere(TillError):
    code = "budget_wrong_category"
    nl = "{label} is alleen voor {for_categories}, niet voor deze winkel."
    en = "{label} is only for {for_categories}, not for this merchant."


class BudgetExpired(TillError):
    code = "budget_expired"
    nl = "{label} is verlopen op {expires_on}."
    en = "{label} expired on {expires_on}."


class BudgetEmpty(TillError):
    """The chosen budget has nothing left: ask before paying from the own balance instead."""

    code = "budget_empty"
    nl = "{label} is leeg. Kies 'eigen saldo' om van het eigen saldo te betalen."
    en = "{label} is empty. Choose 'own balance' to pay from the member's own balance."


class MixedPaymentNeedsTender(TillError):
    """params: fl_cents, eur_cents, total_cents, each with its `<name>_currency`."""

    code = "tender_required"
    nl = "Het saldo dekt {fl} van {total}. Kies contant of pin voor de rest ({eur})."
    en = "The balance covers {fl} of {total}. Choose cash or bank card for the rest ({eur})."


class TenderNotAllowed(TillError):
    code = "tender_invalid"
    nl = "Kies contant of pin."
    en = "Choose cash or bank card."


class SaveNotOffered(TillError):
    code = "save_not_offered"
    nl = "Deze winkel geeft geen spaartegoed."
    en = "This merchant does not grant savings."


class SaveTooSmall(TillError):
    code = "save_too_small"
    nl = "Dit aankoopbedrag levert nog geen spaartegoed op."
    en = "This purchase amount earns no savings yet."


class TopupTooSmall(TillError):
    code = "topup_too_small"
    nl = "Voor dit bedrag krijgt de klant nog geen Floreyn; kies een hoger bedrag."
    en = "This amount buys no Floreyn yet; choose a larger amount."


class TopupNotAllowed(TillError):
    code = "topup_not_allowed"
    nl = "Opwaarderen kan niet bij deze winkel."
    en = "Top-up is not offered at this merchant."


class RepeatNeedsConfirmation(TillError):
    code = "repeat_confirm"
    nl = "Deze pas is net al afgerekend ({ago} s geleden). Bevestig opnieuw als dit echt een nieuwe betaling is."
    en = "This card was just charged ({ago} s ago). Confirm again if this really is a new payment."


# -- offline risk policy -------------------------------------------------------------------


class OfflineRefused(TillError):
    """An offline spend outside the risk policy; `online_possible` tells the app to offer online."""

    code = "offline_refused"
    nl = "Offline betalen is hier niet mogelijk."
    en = "Offline payment is not possible here."


class OfflinePerTxLimit(OfflineRefused):
    """params: max_cents, currency."""

    code = "offline_per_tx_limit"
    nl = "Zonder verbinding kan maximaal {max} per betaling."
    en = "Without a connection at most {max} per payment."


class OfflineCumulativeLimit(OfflineRefused):
    """params: left_cents, max_cents, currency."""

    code = "offline_cumulative_limit"
    nl = "Zonder verbinding kan deze pas nog maar {left} besteden (maximaal {max} tot de volgende verbinding)."
    en = "Without a connection this card can spend only {left} more ({max} until the next connection)."


class OfflineCountLimit(OfflineRefused):
    """params: count (offline payments since the last connection), max_count."""

    code = "offline_count_limit"
    nl = "Deze pas is al {count} keer zonder verbinding gebruikt; maak eerst verbinding."
    en = "This card was used {count} times without a connection; connect first."


class OfflineAllowanceUsed(OfflineRefused):
    """params: left_cents, currency."""

    code = "offline_allowance_used"
    nl = "Zonder verbinding kan deze pas nog {left} van het eigen saldo besteden."
    en = "Without a connection this card can spend only {left} more from its own balance."


class SnapshotStale(OfflineRefused):
    """params: age_s (seconds; "" when unknown, after a restart without a connection), age / age_en (worded)."""

    code = "snapshot_stale"
    nl = "De gegevens van de server zijn te oud ({age}); offline betalen kan pas na een verbinding."
    en = "The server data is too old ({age_en}); offline payment needs a connection first."

    @classmethod
    def of(cls, age_s: float | None) -> SnapshotStale:
        return cls(age=_age_text(age_s, "nl"), age_en=_age_text(age_s, "en"),
                   age_s="" if age_s is None else int(age_s))


def _age_text(age_s: float | None, lang: str) -> str:
    if age_s is None:
        return "onbekend (herstart zonder verbinding)" if lang == "nl" else "unknown (restarted without a connection)"
    if age_s < 3600:
        return f"{int(age_s // 60)} min"
    hours = f"{age_s / 3600:.1f}"
    return f"{hours.replace('.', ',')} uur" if lang == "nl" else f"{hours} h"


class UnknownCardOffline(OfflineRefused):
    code = "card_unknown_offline"
    nl = "Deze pas is nog niet bekend op deze kassa; betalen kan alleen met verbinding. Sparen kan wel."
    en = "This card is not yet known to this till; paying needs a connection. Saving works."


class OnlineUnavailable(TillError):
    """params: detail / detail_en, detail_code ("no_server", "network", or the code of the sync error)."""

    code = "online_unavailable"
    nl = "Geen verbinding met de server: {detail}"
    en = "No connection to the server: {detail_en}"

    @classmethod
    def no_server(cls) -> OnlineUnavailable:
        return cls(detail="geen server ingesteld", detail_en="no server configured", detail_code="no_server")


class WhyRefusal(TillError):
    """A refusal with several causes, raised with the cause's code; REASONS words each (Dutch, English).

    params: the code under `WHY` ("why", or "server_reason"), and `reason` / `reason_en` filled from REASONS
    (an unknown code, e.g. a server's newer one, is shown as itself).
    """

    WHY: ClassVar[str] = "why"
    REASONS: ClassVar[dict[str, tuple[str, str]]] = {}
    FALLBACK: ClassVar[tuple[str, str]] = ("", "")

    def __init__(self, **params: Any) -> None:
        code = str(params.get(self.WHY) or "")
        nl, en = self.REASONS.get(code, (code or self.FALLBACK[0], code or self.FALLBACK[1]))
        super().__init__(**params, reason=nl, reason_en=en)


class OnlineDeclined(WhyRefusal):
    """params: server_reason (the server's code)."""

    code = "online_declined"
    nl = "De server weigert deze betaling: {reason}"
    en = "The server declined this payment: {reason_en}"
    WHY = "server_reason"
    REASONS = {
        "insufficient_funds": ("onvoldoende saldo", "insufficient balance"),
        "card_unknown": ("de pas is onbekend bij de server", "the card is unknown to the server"),
        "card_blocked": ("de pas is geblokkeerd", "the card is blocked"),
        "card_flagged": ("de pas is gemarkeerd; verwijs naar de coöperatie",
                         "the card is flagged; refer the member to the cooperative"),
        "budget_wrong_category": ("dit budget geldt niet bij deze winkel",
                                  "this budget cannot be used at this merchant"),
        "budget_category": ("dit budget geldt niet bij deze winkel",  # what servers before issue 14 answered
                            "this budget cannot be used at this merchant"),
        "budget_not_usable": ("dit budget is niet (meer) bruikbaar", "this budget can no longer be used"),
        "budget_member_cap": ("dit lid heeft zijn deel van het groepsbudget voor deze maand op",
                              "this member has used their share of the group budget for this month"),
        "budget_needs_confirmation": ("een tweede lid van de groep moet dit bedrag bevestigen (tweede pas)",
                                      "a second member of the group must confirm this amount (second card)"),
        "budget_confirmer_invalid": ("de tweede pas is niet van een ander lid van de groep",
                                     "the second card is not another member of the group"),
    }
    FALLBACK = ("geweigerd", "declined")


# -- the second card of a group budget (server/budget_rules.py) --------------------------------


class SecondCardNeeded(TillError):
    """Not a refusal of the sale: the next step. The quote stays open until a second card confirms it."""

    code = "second_card_needed"
    nl = "Tweede bewoner: houd uw pas bij de lezer om deze betaling uit het groepsbudget te bevestigen."
    en = "Second resident: hold your card to the reader to confirm this payment from the group budget."


class PayerCardNeeded(TillError):
    """Offline, after the second card: the payer's card again, so the payment is written onto it."""

    code = "payer_card_needed"
    nl = "Houd nu de pas van de betaler weer bij de lezer: zonder verbinding komt de betaling op die pas."
    en = "Now hold the payer's card to the reader again: without a connection the payment goes onto that card."


class SecondCardRefused(WhyRefusal):
    """params: why ("same_card", "not_in_group", "blocked", "unreadable")."""

    code = "second_card_refused"
    nl = "{reason} Laat een andere bewoner uit de groep zijn of haar pas bij de lezer houden, of annuleer."
    en = "{reason_en} Let another resident of the group hold their card to the reader, or cancel."
    REASONS = {
        "same_card": ("Dit is dezelfde pas als die van de betaler.", "This is the payer's own card."),
        "not_in_group": ("Deze pas hoort niet bij een bewoner van dezelfde groep.",
                         "This card does not belong to a resident of the same group."),
        "blocked": ("Deze pas is geblokkeerd.", "This card is blocked."),
        "unreadable": ("Deze pas is niet te lezen of niet echt.", "This card cannot be read or is not genuine."),
    }


# -- quotes, refunds, voids, days -------------------------------------------------------------


class QuoteUnknown(TillError):
    code = "quote_unknown"
    nl = "Deze transactie is verlopen of al afgehandeld. Begin opnieuw."
    en = "This transaction has expired or was already handled. Start again."


class TxNotFound(TillError):
    code = "tx_not_found"
    nl = "Transactie {tx} niet gevonden (of al opgeruimd)."
    en = "Transaction {tx} not found (or already pruned)."


class RefundNotAllowed(WhyRefusal):
    """params: why ("refund_of_refund", "not_a_payment", "voided")."""

    code = "refund_not_allowed"
    nl = "{reason}"
    en = "{reason_en}"
    REASONS = {
        "refund_of_refund": ("Een terugbetaling kan niet worden terugbetaald.", "A refund cannot be refunded."),
        "not_a_payment": ("Alleen betalingen kunnen worden terugbetaald; gebruik storno.",
                          "Only payments can be refunded; use void."),
        "voided": ("Deze betaling is gestorneerd.", "This payment was voided."),
    }


class RefundTooLarge(TillError):
    """params: max_cents, currency."""

    code = "refund_too_large"
    nl = "Terugbetaling te hoog: er kan nog maximaal {max} terug."
    en = "Refund too large: at most {max} can still be refunded."


class NothingToVoid(WhyRefusal):
    """params: why ("no_transaction", "day_closed", "last_is_void", "newer_transaction")."""

    code = "void_nothing"
    nl = "Er is geen transactie om te storneren: {reason}"
    en = "There is no transaction to void: {reason_en}"
    REASONS = {
        "no_transaction": ("er is nog geen transactie.", "no transaction yet."),
        "day_closed": ("de dag is al afgesloten.", "the day is closed."),
        "last_is_void": ("de laatste transactie is zelf een storno.", "the last transaction is itself a void."),
        "newer_transaction": ("er is intussen een nieuwe transactie.", "a newer transaction came in between."),
    }


class InternalError(TillError):
    """A bug, not a refusal: reported to the app so a screen never waits forever; the log has the trace."""

    code = "internal"
    nl = "Interne fout in de kassa ({detail}). De laatste handeling is mogelijk niet uitgevoerd."
    en = "Internal till error ({detail}). The last action may not have been carried out."


class DiskFull(TillError):
    """Below [store] disk_floor_mb free: new money transactions wait until there is room (engine/disk.py)."""

    code = "disk_full"
    nl = ("De opslag van de kassa is vol (nog {free_mb} MB vrij). Nieuwe transacties kunnen pas weer als er "
          "ruimte is; alles wat al is afgerekend is veilig bewaard. Neem contact op met de coöperatie.")
    en = ("The till's storage is full ({free_mb} MB free). New transactions must wait until there is room; "
          "everything already paid is safely stored. Contact the cooperative.")
