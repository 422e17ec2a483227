"""The root of every refusal Floreyn gives.

Every refusal is typed (its class), carries a stable machine `code` that the
server returns in JSON and the scripted till prints, and one English `msgid`
with named params. Its words in each language live in the gettext catalogs
floreyn/locale/<lang>/LC_MESSAGES/refusals.po (floreyn/refusals.py; Dutch is
the till's and the portal's language); `message(lang)` translates at the edge
that shows it. A new refusal is one small subclass and its Dutch msgstr
(`python -m floreyn.refusals`; a test fails on any class without one).

A param that differs per language comes as `X_nl` / `X_en` (or `X` in Dutch
beside `X_en`) and fills the template's `{X}` in that language.

Amounts travel as integer cents, never as text formatted in one language:
a param `X_cents` with a companion currency (`X_currency`, else a shared
`currency`; a floreyn.money.Currency or its value "fl" / "EUR") fills the
template's `{X}`, formatted per language ("fl 1.234,50" in Dutch,
"fl 1,234.50" in English). `to_dict()` keeps `X` as the Dutch text it always
carried, beside `X_cents`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from floreyn.refusals import translate

if TYPE_CHECKING:  # money's errors derive from this module
    from floreyn.money import Currency

CENTS_SUFFIX = "_cents"


class RefusalDict(TypedDict):
    """A refusal as JSON (FloreynError.to_dict)."""

    error: str
    message: str
    message_nl: str
    params: dict[str, str]


class FloreynError(Exception):
    """Base of all Floreyn refusals.

    Subclasses set `code` and `msgid`; the translated template is formatted
    with the keyword arguments given at construction
    (`AmountTooLarge(max_cents=1000, currency=Currency.FL)` fills `{max}`).
    """

    code: ClassVar[str] = "error"
    msgid: ClassVar[str] = "Something went wrong."

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__()

    def __str__(self) -> str:
        # Worded when shown, not when raised: the till builds refusals it may never raise (the offline
        # capacity names the rule that caps it at every sale's re-check), and wording one costs more than
        # the rest of building it (translation lookup, amounts formatted).
        return self.message("en")

    def __repr__(self) -> str:  # as an Exception made with its message: Limit('At most fl 10.00.')
        return f"{type(self).__name__}({self.message('en')!r})"

    def message(self, lang: str = "nl") -> str:
        template = translate(self.msgid, lang)
        try:
            return template.format(**in_language(self.params, lang))
        except (KeyError, IndexError, TypeError):  # a template that lost a parameter must not hide the refusal
            return template

    def to_dict(self) -> RefusalDict:
        """The refusal as the server and the scripted till report it (params as strings, amounts in Dutch)."""
        params = {**self.params, **amounts(self.params, "nl")}
        return {
            "error": self.code,
            "message": self.message("en"),
            "message_nl": self.message("nl"),
            "params": {k: str(v.value if isinstance(v, enum.Enum) else v) for k, v in params.items()},
        }


def in_language(params: dict[str, object], lang: str) -> dict[str, object]:
    """The values a template in `lang` is filled with: `X_<lang>` as `X`, and each amount formatted."""
    suffix = f"_{lang}"
    own = {key[: -len(suffix)]: value for key, value in params.items() if key.endswith(suffix) and len(key) > len(suffix)}
    return {**params, **own, **amounts(params, lang)}


def amounts(params: dict[str, object], lang: str) -> dict[str, str]:
    """The formatted amount for every `X_cents` param with a known currency: {"X": "fl 10,00"}.

    A param without a currency, or with one this code does not know, is left
    alone (its template then shows whatever text the raiser passed as `X`).
    """
    from floreyn.money import Money, format_money  # money's errors derive from this module

    out: dict[str, str] = {}
    for key, cents in params.items():
        if not key.endswith(CENTS_SUFFIX) or type(cents) is not int or len(key) == len(CENTS_SUFFIX):
            continue
        name = key[: -len(CENTS_SUFFIX)]
        currency = _currency(params.get(f"{name}_currency", params.get("currency")))
        if currency is None:
            continue
        try:
            out[name] = format_money(Money(cents, currency), lang)
        except (ArithmeticError, ValueError, TypeError):  # out of Money's range: the raw cents still say it
            continue
    return out


def _currency(value: object) -> Currency | None:
    from floreyn.money import Currency

    if isinstance(value, Currency):
        return value
    if isinstance(value, str):
        for currency in Currency:
            if value in (currency.value, currency.value.lower(), currency.name, currency.symbol):
                return currency
    return None


class RemoteRefusal:
    """Mixin for a refusal the server answered: its own error code and HTTP status, kept in params.

    Shared by the sync client's and the desk tool's error families, which both
    wrap a server's JSON refusal {"error", "status", ...}.
    """

    params: dict[str, Any]

    @property
    def server_code(self) -> str:
        return str(self.params.get("server_code", ""))

    @property
    def status(self) -> int:
        return int(self.params.get("status", 0))

