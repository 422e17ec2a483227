"""Money: parsing what shopkeepers type, formatting, arithmetic and the rounding rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floreyn import money
from floreyn.money import (
    AmountAmbiguous,
    AmountEmpty,
    AmountError,
    AmountNegative,
    AmountTooLarge,
    AmountTooPrecise,
    AmountWrongCurrency,
    AmountZero,
    Currency,
    CurrencyMismatch,
    ExchangeRates,
    Money,
    RateError,
    format_money,
    parse_money,
    save_reward,
)

BIG = 10**12


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12,50", 1250),
        ("12.50", 1250),
        ("€ 12,50", 1250),
        ("1.234,50", 123450),
        ("1,234.50", 123450),
        ("7", 700),
        ("12,5", 1250),
        (",50", 50),
        ("  3 ", 300),
        ("12,", 1200),
        ("1.234.567", 123456700),
        ("12,50 €", 1250),
        ("1 234,50", 123450),
    ],
)
def test_parse_accepts_what_shopkeepers_type(text: str, cents: int) -> None:
    assert parse_money(text, Currency.EUR, max_cents=BIG) == Money.eur(cents)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("12,5,0", AmountError),
        ("-3", AmountNegative),
        ("", AmountEmpty),
        ("   ", AmountEmpty),
        ("1e3", AmountError),
        ("abc", AmountError),
        ("12,505", AmountAmbiguous),
        ("1.234", AmountAmbiguous),
        ("12,5055", AmountTooPrecise),
        ("0,001", AmountTooPrecise),
        ("10000,01", AmountTooLarge),
        ("0", AmountZero),
        ("0,00", AmountZero),
        ("1.2.3", AmountError),
        ("1,234,5", AmountError),
        ("1.23,4.5", AmountError),
        ("12 50", AmountError),
        ("fl 3", AmountWrongCurrency),
        ("٣", AmountError),  # non-ASCII digits are not what a Dutch keypad sends
        ("1" * 40, AmountError),
    ],
)
def test_parse_refuses_with_a_typed_reason(text: str, error: type[AmountError]) -> None:
    with pytest.raises(error) as info:
        parse_money(text, Currency.EUR)
    assert type(info.value) is error
    assert info.value.message("nl")  # says why, in Dutch
    assert info.value.code.startswith("amount")


def test_parse_maximum_is_configurable_and_named_in_the_message() -> None:
    with pytest.raises(AmountTooLarge) as info:
        parse_money("25,01", max_cents=2500)
    assert info.value.message("nl") == "Bedrag te hoog: maximaal fl 25,00."
    assert parse_money("25", max_cents=2500) == Money.fl(2500)


def test_zero_allowed_only_when_asked() -> None:
    assert parse_money("0", allow_zero=True) == Money.fl(0)


@pytest.mark.parametrize(
    ("amount", "nl", "en"),
    [
        (Money.fl(1250), "fl 12,50", "fl 12.50"),
        (Money.eur(1250), "€ 12,50", "€12.50"),
        (Money.fl(123456789), "fl 1.234.567,89", "fl 1,234,567.89"),
        (Money.eur(-5), "€ -0,05", "-€0.05"),
        (Money.fl(0), "fl 0,00", "fl 0.00"),
    ],
)
def test_format(amount: Money, nl: str, en: str) -> None:
    assert format_money(amount) == nl
    assert format_money(amount, "en") == en
    assert str(amount) == nl


cents = st.integers(min_value=0, max_value=BIG)
currencies = st.sampled_from(list(Currency))


@given(cents, currencies, st.sampled_from(["nl", "en"]))
def test_format_parse_round_trip(value: int, currency: Currency, lang: str) -> None:
    amount = Money(value, currency)
    text = format_money(amount, lang)
    assume_nonzero = value != 0
    if assume_nonzero:
        assert parse_money(text, currency, max_cents=BIG) == amount
    bare = format_money(amount, lang, symbol=False)
    assert parse_money(bare, currency, max_cents=BIG, allow_zero=True) == amount


@given(st.text(max_size=40))
def test_parse_never_crashes_and_never_returns_nonsense(text: str) -> None:
    try:
        amount = parse_money(text, max_cents=BIG)
    except AmountError:
        return
    assert type(amount.cents) is int and 0 < amount.cents <= BIG


@given(st.integers(-BIG, BIG), st.integers(-BIG, BIG), st.integers(-BIG, BIG))
def test_arithmetic_is_exact_integer_arithmetic(a: int, b: int, c: int) -> None:
    x, y, z = Money.fl(a), Money.fl(b), Money.fl(c)
    assert (x + y) + z == x + (y + z)
    assert x + y - y == x
    assert (x - y).cents == a - b
    assert -(-x) == x  # noqa: B002 (negation twice, on purpose)
    assert x * 3 == x + x + x
    assert (x < y) == (a < b)


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.fl(1) + Money.eur(1)
    with pytest.raises(CurrencyMismatch):
        Money.fl(1) < Money.eur(2)  # noqa: B015 (the comparison itself must raise)
    with pytest.raises(TypeError):
        Money.fl(1) + 1  # type: ignore[operator]


@pytest.mark.parametrize("bad", [1.5, "12", True, None])
def test_money_refuses_non_integer_cents(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.fl(100) * bad  # type: ignore[operator]


def test_money_is_immutable() -> None:
    m = Money.fl(100)
    with pytest.raises(AttributeError):
        m.cents = 5  # type: ignore[misc]


def test_money_sum() -> None:
    assert money.money_sum([Money.fl(1), Money.fl(2)], Currency.FL) == Money.fl(3)
    assert money.money_sum([], Currency.EUR) == Money.eur(0)


# -- conversions: one rounding rule each, never a fractional cent ----------------------------


def test_save_reward_floors_once_after_the_campaign() -> None:
    # 5 % of EUR 24.50 = 122.5 cents -> 122; doubled by a campaign: 245 exactly (not 2 x 122).
    assert save_reward(Money.eur(2450), 500) == Money.fl(122)
    assert save_reward(Money.eur(2450), 500, 20_000) == Money.fl(245)
    assert save_reward(Money.eur(19), 500) == Money.fl(0)


@given(st.integers(0, BIG), st.integers(0, 10_000), st.integers(0, 100_000))
def test_save_reward_never_exceeds_the_exact_value(euro: int, rate: int, mult: int) -> None:
    fl = save_reward(Money.eur(euro), rate, mult).cents
    exact_times_10e8 = euro * rate * mult
    assert fl * 10**8 <= exact_times_10e8 < (fl + 1) * 10**8


def test_save_reward_refuses_bad_input() -> None:
    with pytest.raises(RateError):
        save_reward(Money.eur(100), -1)
    with pytest.raises(RateError):
        save_reward(Money.eur(100), 10_001)
    with pytest.raises(CurrencyMismatch):
        save_reward(Money.fl(100), 500)


@given(st.integers(1, 20_000), st.integers(0, 20_000), st.integers(0, BIG))
def test_exchange_rounds_in_favour_of_the_reserve(ask: int, bid_raw: int, amount: int) -> None:
    bid = min(bid_raw, ask)
    rates = ExchangeRates(ask_bp=ask, bid_bp=bid)
    # Top-up: euros in buy at most their exact Floreyn worth.
    fl = rates.topup_fl_for_eur(Money.eur(amount)).cents
    assert fl * ask <= amount * 10_000
    # Asking for Floreyn costs at least their exact euro price.
    eur = rates.topup_eur_for_fl(Money.fl(amount)).cents
    assert eur * 10_000 >= amount * ask
    # Cash-out pays at most the exact euro value.
    out = rates.cashout_eur_for_fl(Money.fl(amount)).cents
    assert out * 10_000 <= amount * bid
    # A round trip through the cooperative never makes money for the member.
    assert rates.cashout_eur_for_fl(rates.topup_fl_for_eur(Money.eur(amount))).cents <= amount


def test_exchange_rates_are_checked() -> None:
    with pytest.raises(RateError):
        ExchangeRates(ask_bp=9_000, bid_bp=9_500)
    with pytest.raises(RateError):
        ExchangeRates(ask_bp=0, bid_bp=0)
    rates = ExchangeRates(ask_bp=10_000, bid_bp=9_500)
    assert rates.topup_fl_for_eur(Money.eur(2000)) == Money.fl(2000)
    assert rates.cashout_eur_for_fl(Money.fl(1999)) == Money.eur(1899)  # 18.9905 -> 18.99
