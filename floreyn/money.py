"""Money: one immutable amount type in integer cents, for Floreyn (fl) and euro.

Amounts are integer cents everywhere they are stored, summed or sent. Decimal
text exists only at the edges: `parse` reads what a shopkeeper types and
`format` prints what a receipt shows. No float ever touches an amount.

The conversion rules (save rewards and the euro/Floreyn exchange) round in
one written direction each, always to whole cents, always in favour of the
cooperative's reserve:

* save reward  = floor(euro_cents * rate_bp * multiplier_bp / 10_000 / 10_000)
* top-up       : euros in -> Floreyn out = floor(euro_cents * 10_000 / ask_bp)
                 Floreyn wanted -> euros due = ceil(fl_cents * ask_bp / 10_000)
* cash-out     : Floreyn in -> euros out = floor(fl_cents * bid_bp / 10_000)

where a rate in basis points (bp) says how many euros one Floreyn is worth,
times 10,000 (10_000 bp = EUR 1.00 per fl 1.00).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from floreyn.errors import FloreynError

BP_ONE: Final = 10_000
"""Basis points in one whole (100 %)."""

DEFAULT_MAX_CENTS: Final = 1_000_000
"""The largest amount `parse` takes unless told otherwise: 10,000.00."""

# An int64 on both ends of the wire and in PostgreSQL BIGINT; far above any real sum.
MAX_ABS_CENTS: Final = 2**62


class Currency(enum.Enum):
    FL = "fl"
    EUR = "EUR"

    @property
    def symbol(self) -> str:
        return "fl" if self is Currency.FL else "€"


class MoneyError(FloreynError):
    code = "money"


class CurrencyMismatch(MoneyError):
    code = "currency_mismatch"
    msgid = "Amounts in {a} and {b} cannot be combined."


class AmountError(MoneyError):
    """The text typed is not an amount the till accepts."""

    code = "amount_invalid"
    msgid = "Not a valid amount: {text!r}."


class AmountEmpty(AmountError):
    code = "amount_empty"
    msgid = "Enter an amount."


class AmountNegative(AmountError):
    code = "amount_negative"
    msgid = "An amount cannot be negative."


class AmountTooPrecise(AmountError):
    code = "amount_too_precise"
    msgid = "At most two digits after the decimal point."


class AmountAmbiguous(AmountError):
    code = "amount_ambiguous"
    msgid = "Ambiguous amount {text!r}: write for example 1234 or 1,234.00."


class AmountTooLarge(AmountError):
    code = "amount_too_large"
    msgid = "Amount too large: at most {max}."


class AmountWrongCurrency(AmountError):
    code = "amount_wrong_currency"
    msgid = "This amount must be in {expected}, not {given}."


class AmountZero(AmountError):
    code = "amount_zero"
    msgid = "The amount must be more than zero."


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in whole cents of one currency. Immutable; arithmetic checks currency."""

    cents: int
    currency: Currency = Currency.FL

    def __post_init__(self) -> None:
        # bool is an int subclass; True cents is a bug, not an amount.
        if type(self.cents) is not int:
            raise TypeError(f"Money cents must be int, got {type(self.cents).__name__}")
        if not isinstance(self.currency, Currency):
            raise TypeError("Money currency must be a Currency")
        if abs(self.cents) > MAX_ABS_CENTS:
            raise OverflowError("amount outside the int64 range the ledger stores")

    # -- construction -------------------------------------------------------------
    @classmethod
    def fl(cls, cents: int) -> Money:
        return cls(cents, Currency.FL)

    @classmethod
    def eur(cls, cents: int) -> Money:
        return cls(cents, Currency.EUR)

    # -- arithmetic ---------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency is not self.currency:
            raise CurrencyMismatch(a=self.currency.symbol, b=other.currency.symbol)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + self._same(other).cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - self._same(other).cents, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.cents, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("Money can only be multiplied by an int; use the conversion functions for rates")
        return Money(self.cents * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.cents < self._same(other).cents

    def __le__(self, other: Money) -> bool:
        return self.cents <= self._same(other).cents

    def __gt__(self, other: Money) -> bool:
        return self.cents > self._same(other).cents

    def __ge__(self, other: Money) -> bool:
        return self.cents >= self._same(other).cents

    def __bool__(self) -> bool:
        return self.cents != 0

    def __str__(self) -> str:
        return format_money(self)


def money_sum(amounts: list[Money] | tuple[Money, ...], currency: Currency) -> Money:
    """Sum amounts of one currency; the empty sum is zero in that currency."""
    total = Money(0, currency)
    for amount in amounts:
        total = total + amount
    return total


# -- parsing -------------------------------------------------------------------------

_PREFIX = re.compile(r"^(?:€|eur|euro|fl|floreyn)\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"\s*(?:€|eur|euro|fl|floreyn)$", re.IGNORECASE)
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")
_MAX_TEXT_LEN = 32  # nothing a person types for an amount is longer; refuse before regex work


def parse_money(
    text: str,
    currency: Currency = Currency.FL,
    *,
    max_cents: int = DEFAULT_MAX_CENTS,
    allow_zero: bool = False,
) -> Money:
    """Read an amount as a Dutch shopkeeper types it.

    Accepts "12,50", "12.50", "€ 12,50", "fl 7", "1.234,50", "1,234.50", "12,5".
    With both separators present, the last one is the decimal mark and the
    other groups thousands. With one separator written once, it is the decimal
    mark; "1.234" (three digits after it) is refused as ambiguous rather than
    guessed, because guessing wrong at a till costs a factor of a thousand.
    """
    if not isinstance(text, str):
        raise AmountError(text=str(text))
    raw = text
    text = text.strip().replace("\u00a0", " ")
    if len(text) > _MAX_TEXT_LEN:
        raise AmountError(text=raw[:_MAX_TEXT_LEN] + "…")
    text = _strip_symbol(text, currency, raw)
    if not text:
        raise AmountEmpty()
    if text.startswith("-"):
        raise AmountNegative()
    if text.startswith("+"):
        text = text[1:]
    if " " in text:  # "1 234,50" groups thousands; "12 50" is a slip, not 1250
        if not re.fullmatch(r"\d{1,3}(?: \d{3})+(?:[.,]\d*)?", text):
            raise AmountError(text=raw)
        text = text.replace(" ", "")
    if text[:1] in (".", ","):  # ",50" is fifty cents, as typed on a keypad
        text = "0" + text
    if not text or not re.fullmatch(r"[0-9.,]+", text):
        raise AmountError(text=raw)
    whole, frac = _split(text, raw)
    if len(frac) > 2:
        raise AmountTooPrecise()
    cents = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
    limit = min(max_cents, MAX_ABS_CENTS)  # checked before Money(), which would raise OverflowError instead
    if cents > limit:
        raise AmountTooLarge(max_cents=limit, currency=currency)
    amount = Money(cents, currency)
    if cents == 0 and not allow_zero:
        raise AmountZero()
    return amount


def _strip_symbol(text: str, currency: Currency, raw: str) -> str:
    """Drop a leading or trailing currency word; it must name the field's own currency."""
    found = [m.group(0).strip().lower() for m in (_PREFIX.match(text), _SUFFIX.search(text)) if m]
    for word in found:
        named = Currency.EUR if word in ("€", "eur", "euro") else Currency.FL
        if named is not currency:
            raise AmountWrongCurrency(expected=currency.symbol, given=named.symbol)
    return _SUFFIX.sub("", _PREFIX.sub("", text)).strip()


def _split(text: str, raw: str) -> tuple[str, str]:
    """Split digits-and-separators into whole digits and fraction digits."""
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        mark = max(last_dot, last_comma)
        whole, frac = text[:mark], text[mark + 1 :]
        if not _GROUPED.match(whole) or (text[mark] in whole):
            raise AmountError(text=raw)
        group = "." if text[mark] == "," else ","
        if any(ch not in "0123456789" + group for ch in whole):
            raise AmountError(text=raw)
        return whole.replace(group, ""), _digits(frac, raw)
    sep = "." if last_dot >= 0 else "," if last_comma >= 0 else ""
    if not sep:
        return text, ""
    if text.count(sep) > 1:
        if not _GROUPED.match(text):
            raise AmountError(text=raw)
        return text.replace(sep, ""), ""
    whole, frac = text.split(sep)
    if len(frac) == 3 and whole[:1] != "0":  # "1.234" may mean 1234; "0,001" cannot
        raise AmountAmbiguous(text=raw)
    return whole, _digits(frac, raw)


def _digits(frac: str, raw: str) -> str:
    if not frac.isdigit() and frac != "":
        raise AmountError(text=raw)
    return frac


# -- formatting ----------------------------------------------------------------------


def format_money(amount: Money, lang: str = "nl", *, symbol: bool = True) -> str:
    """Print an amount: nl "fl 1.234,50" / "€ 12,50"; en "fl 1,234.50" / "€12.50"."""
    sign = "-" if amount.cents < 0 else ""
    whole, frac = divmod(abs(amount.cents), 100)
    group, mark = (".", ",") if lang == "nl" else (",", ".")
    digits = f"{whole:,}".replace(",", group)
    number = f"{sign}{digits}{mark}{frac:02d}"
    if not symbol:
        return number
    sym = amount.currency.symbol
    if lang != "nl" and amount.currency is Currency.EUR:
        return f"{sign}€{digits}{mark}{frac:02d}"
    return f"{sym} {number}"


# -- conversions ---------------------------------------------------------------------


class RateError(MoneyError):
    code = "rate_invalid"
    msgid = "Invalid rate: {detail}."


def _check_bp(name: str, value: int, *, upper: int) -> None:
    if type(value) is not int or not 0 <= value <= upper:
        raise RateError(detail=f"{name}={value!r} must be a whole number from 0 to {upper}")


def save_reward(euro: Money, rate_bp: int, multiplier_bp: int = BP_ONE) -> Money:
    """Floreyn a member saves for a euro purchase: floor(euros x rate x campaign multiplier).

    `rate_bp` is the merchant's save rate (500 = 5 %); `multiplier_bp` the
    active campaign's factor (20_000 = "dubbel sparen"). One floor, at the end,
    so stacking a campaign never loses a cent to intermediate rounding.
    """
    euro._same(Money.eur(0))  # type and currency check
    _check_bp("rate_bp", rate_bp, upper=BP_ONE)
    _check_bp("multiplier_bp", multiplier_bp, upper=10 * BP_ONE)
    if euro.cents < 0:
        raise AmountNegative()
    return Money.fl(euro.cents * rate_bp * multiplier_bp // (BP_ONE * BP_ONE))


@dataclass(frozen=True, slots=True)
class ExchangeRates:
    """The cooperative's euro price of one Floreyn, in basis points.

    ask: what a member pays to buy (top-up). bid: what a holder gets to sell
    (cash-out). bid <= ask; the spread is the cooperative's income.
    """

    ask_bp: int = BP_ONE
    bid_bp: int = 9_500

    def __post_init__(self) -> None:
        _check_bp("ask_bp", self.ask_bp, upper=100 * BP_ONE)
        _check_bp("bid_bp", self.bid_bp, upper=100 * BP_ONE)
        if self.ask_bp == 0:
            raise RateError(detail="ask_bp must be above zero")
        if self.bid_bp > self.ask_bp:
            raise RateError(detail="bid_bp must not exceed ask_bp")

    def topup_fl_for_eur(self, euro: Money) -> Money:
        """Floreyn a member receives for euros paid in: rounded down."""
        euro._same(Money.eur(0))
        return Money.fl(euro.cents * BP_ONE // self.ask_bp)

    def topup_eur_for_fl(self, fl: Money) -> Money:
        """Euros a member pays for a wanted Floreyn amount: rounded up."""
        fl._same(Money.fl(0))
        return Money.eur(-(-fl.cents * self.ask_bp // BP_ONE))

    def cashout_eur_for_fl(self, fl: Money) -> Money:
        """Euros paid out for Floreyn handed in: rounded down."""
        fl._same(Money.fl(0))
        return Money.eur(fl.cents * self.bid_bp // BP_ONE)
