"""FloreynError: one msgid translated per language (floreyn/refusals.py); amounts carried as cents and formatted per language."""

from __future__ import annotations

import pytest

from floreyn import errors, refusals
from floreyn.errors import FloreynError, amounts
from floreyn.money import AmountTooLarge, Currency, parse_money


class Limit(FloreynError):
    code = "limit_test"
    msgid = "At most {max}, {left} left."


class Split(FloreynError):
    code = "split_test"
    msgid = "{fl} of {total}"


class Pair(FloreynError):
    code = "pair_test"
    msgid = "Not now: {why}"


# The Dutch of these test-only refusals (the real ones are in floreyn/locale/nl/LC_MESSAGES/refusals.po).
DUTCH = {Limit.msgid: "Maximaal {max}, nog {left} over.", Split.msgid: "{fl} van {total}", Pair.msgid: "Nu niet: {why}"}


@pytest.fixture(autouse=True)
def test_catalog(monkeypatch):
    def translate(msgid: str, lang: str) -> str:
        return DUTCH[msgid] if lang == "nl" and msgid in DUTCH else refusals.translate(msgid, lang)
    monkeypatch.setattr(errors, "translate", translate)


def test_cents_with_a_currency_are_formatted_in_the_language_of_the_message():
    err = Limit(max_cents=123_456, left_cents=50, currency=Currency.FL)
    assert err.message("nl") == "Maximaal fl 1.234,56, nog fl 0,50 over."
    assert err.message("en") == "At most fl 1,234.56, fl 0.50 left."
    assert str(err) == err.message("en")


def test_each_amount_may_name_its_own_currency():
    err = Split(fl_cents=500, fl_currency="fl", total_cents=123_450, total_currency=Currency.EUR,
                currency="EUR")  # the amount's own currency wins over the shared one
    assert err.message("nl") == "fl 5,00 van € 1.234,50"
    assert err.message("en") == "fl 5.00 of €1,234.50"


def test_to_dict_keeps_params_as_strings_with_the_dutch_amount_beside_the_cents():
    d = Limit(max_cents=123_456, left_cents=0, currency=Currency.FL).to_dict()
    assert d == {
        "error": "limit_test",
        "message": "At most fl 1,234.56, fl 0.00 left.",
        "message_nl": "Maximaal fl 1.234,56, nog fl 0,00 over.",
        "params": {"max_cents": "123456", "left_cents": "0", "currency": "fl", "max": "fl 1.234,56",
                   "left": "fl 0,00"},
    }


@pytest.mark.parametrize("params", [
    {"max_cents": 100, "left_cents": 5},  # no currency: nothing to format with
    {"max_cents": 100, "left_cents": 5, "currency": "dollar"},  # a currency this code does not know
    {"max_cents": True, "left_cents": 5, "currency": "fl"},  # a bool is not an amount
    {"max_cents": 10**30, "left_cents": 5, "currency": "fl"},  # beyond Money's range
])
def test_amounts_that_cannot_be_formatted_leave_the_refusal_readable(params):
    err = Limit(**params)
    assert "max" not in amounts(err.params, "en")
    assert err.message("en") == Limit.msgid  # the bare template, never an exception
    assert err.to_dict()["params"]["max_cents"] == str(params["max_cents"])


def test_an_explicit_text_is_used_when_no_currency_comes_with_the_cents():
    err = Limit(max="fl 9,99", left="fl 1,00", max_cents=999)
    assert err.message("en") == "At most fl 9,99, fl 1,00 left."


def test_parse_money_limit_is_formatted_per_language():
    with pytest.raises(AmountTooLarge) as info:
        parse_money("12.345,67", Currency.EUR, max_cents=1_000_000)
    assert info.value.message("nl") == "Bedrag te hoog: maximaal € 10.000,00."
    assert info.value.message("en") == "Amount too large: at most €10,000.00."
    assert info.value.to_dict()["params"]["max"] == "€ 10.000,00"


def test_a_param_in_two_languages_fills_one_placeholder_in_each():
    assert Pair(why_nl="te laat", why_en="too late").message("nl") == "Nu niet: te laat"
    assert Pair(why_nl="te laat", why_en="too late").message("en") == "Not now: too late"
    assert Pair(why="te laat", why_en="too late").message("nl") == "Nu niet: te laat"  # Dutch as the plain param
    assert Pair(why="te laat", why_en="too late").message("en") == "Not now: too late"


def test_a_language_without_a_catalog_reads_the_english_msgid():
    assert AmountTooLarge(max_cents=100, currency=Currency.FL).message("fr") == "Amount too large: at most fl 1.00."


class _Worded:
    """A param that counts how often a template is filled with it."""

    times = 0

    def __format__(self, spec: str) -> str:
        _Worded.times += 1
        return "worded"


def test_a_refusal_is_worded_when_shown_not_when_built():
    # The till builds refusals it mostly never raises (the offline capacity names the rule that caps it, at
    # every sale's re-check); wording one at construction cost more than the rest of building it.
    _Worded.times = 0
    err = Pair(why=_Worded())
    assert _Worded.times == 0
    assert str(err) == "Not now: worded" and _Worded.times == 1
    assert repr(err) == "Pair('Not now: worded')"  # as before: the class and its English message
    assert err.message("nl") == "Nu niet: worded"
