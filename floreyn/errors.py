"""The root of every refusal Floreyn gives.

Every refusal is typed (its class), carries a stable machine `code` that the
server returns in JSON and the scripted till prints, and says why in Dutch
(the till's language) and English. The message templates live on the class,
so a new refusal is one small subclass and nothing else to keep in step.

Amounts travel as integer cents, never as text formatted in one language:
a param `X_cents` with a companion currency (`X_currency`, else a shared
`currency`; a floreyn.money.Currency or its value "fl" / "EUR") fills the
template's `{X}`, formatted per language ("fl 1.234,50" in Dutch,
"fl 1,234.50" in English). `to_dict()` keeps `X` as the Dutch text it always
carried, beside `X_cents`.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

CENTS_SUFFIX = "_cents"


class FloreynError(Exception):
    """Base of all Floreyn refusals.

    Subclasses set `code`, `nl` and `en`; the templates are formatted with
    the keyword arguments given at construction
    (`AmountTooLarge(max_cents=1000, currency=Currency.FL)` fills `{max}`).
    """

    code: ClassVar[str] = "error"
    nl: ClassVar[str] = "Er ging iets mis."
    en: ClassVar[str] = "Something went wrong."

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "nl") -> str:
        template = self.nl if lang == "nl" else self.en
        try:
            return template.format(**{**self.params, **amounts(self.params, lang)})
        except (KeyError, IndexError, TypeError):  # a template that lost a parameter must not hide the refusal
            return template

    def to_dict(self) -> dict[str, Any]:
        """The refusal as the server and the scripted till report it (params as strings, amounts in Dutch)."""
        params = {**self.params, **amounts(self.params, "nl")}
        return {
            "error": self.code,
            "message": self.message("en"),
            "message_nl": self.message("nl"),
            "params": {k: str(v.value if isinstance(v, enum.Enum) else v) for k, v in params.items()},
        }


def amounts(params: dict[str, Any], lang: str) -> dict[str, str]:
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


def _currency(value: Any) -> Any:
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

