"""The member summary speaks no language: reasons are codes with raw params, and it says how near a card
is to its offline limits. Refusal details come in Dutch and English, with a code."""

from __future__ import annotations

import json

import pytest
from till_helpers import MANAGER_PIN

from floreyn.money import Money
from floreyn.terminal.engine import errors as E


def test_budget_reasons_are_codes_with_their_params(till):
    anna = till.present("anna")
    (elsewhere,) = [b for b in anna.budgets if not b.usable]
    assert elsewhere.why_not == "budget_wrong_category"
    assert isinstance(elsewhere.reason, E.BudgetNotUsableHere)
    assert elsewhere.reason.params == {"label": "Onderhoudsbudget Portaal", "category": "winkel", "for_categories": "klussen"}
    assert [b.why_not for b in anna.budgets if b.usable] == [""]
    (expired,) = till.present("eva").budgets
    assert expired.why_not == "budget_expired" and expired.reason.params["expires_on"] == expired.expires_on
    row = expired.to_dict()
    assert row["why_not"] == "budget_expired" and "verlopen op" in row["why_not_nl"]  # code + Dutch convenience


def test_offline_note_is_a_code_and_the_json_keeps_the_dutch_text(till):
    dirk = till.present("dirk")  # genuine, not in the snapshot
    assert dirk.offline_note == "card_unknown_offline" and isinstance(dirk.offline_reason, E.UnknownCardOffline)
    row = json.loads(json.dumps(dirk.to_dict()))
    assert row["offline_note"] == "card_unknown_offline" and "alleen met verbinding" in row["offline_note_nl"]
    assert till.present("anna").offline_note == "" and till.present("anna").to_dict()["offline_note_nl"] == ""


def test_count_limit_note_carries_raw_numbers(till):
    till.present("fenna")
    for _ in range(5):
        till.spend(100, repeat_ok=True)
    fenna = till.present("fenna")
    assert fenna.offline_note == "offline_count_limit"
    assert fenna.offline_reason.params == {"count": 5, "max_count": 5}
    assert (fenna.offline_taps_left, fenna.near_offline_limits) == (0, True)


def test_near_the_offline_limits_after_four_of_five_taps(till):
    fresh = till.present("fenna")
    assert (fresh.offline_taps_left, fresh.offline_left_cents, fresh.near_offline_limits) == (5, 5_000, False)
    for _ in range(3):
        till.spend(100, repeat_ok=True)
    assert not till.present("fenna").near_offline_limits  # two taps left
    till.spend(100, repeat_ok=True)
    fenna = till.present("fenna")
    assert (fenna.offline_taps_left, fenna.offline_left_cents, fenna.near_offline_limits) == (1, 4_600, True)
    row = fenna.to_dict()
    assert (row["offline_taps_left"], row["offline_left_cents"], row["near_offline_limits"]) == (1, 4_600, True)
    assert fenna.offline_note == ""  # near, not yet refused
    till.engine.confirm(till.engine.quote_void().quote_id, manager_pin=MANAGER_PIN)  # a void gives the tap back
    assert till.present("fenna").offline_taps_left == 2


def test_near_the_offline_limits_when_a_fifth_of_the_amount_is_left(till):
    till.present("anna")
    till.spend(2_500)
    till.spend(1_400, repeat_ok=True)
    anna = till.present("anna")
    assert (anna.offline_taps_left, anna.offline_left_cents, anna.near_offline_limits) == (3, 1_100, False)
    till.spend(100, repeat_ok=True)
    anna = till.present("anna")
    assert (anna.offline_left_cents, anna.near_offline_limits) == (1_000, True)  # exactly 20 % of fl 50


def test_no_server_detail_is_worded_in_both_languages_with_a_code(till):
    with pytest.raises(E.OnlineUnavailable) as info:
        till.engine.sync_now()
    err = info.value
    assert err.params["detail_code"] == "no_server"
    assert err.message("nl") == "Geen verbinding met de server: geen server ingesteld"
    assert err.message("en") == "No connection to the server: no server configured"
    till.present("anna")
    with pytest.raises(E.OnlineUnavailable) as info:
        till.engine.quote_spend(Money.fl(100), online=True)
    assert info.value.message("en").endswith("no server configured")


def test_refusal_reasons_have_a_code(till):
    with pytest.raises(E.NothingToVoid) as info:
        till.engine.quote_void()
    assert info.value.params["why"] == "no_transaction" and "no transaction yet" in info.value.message("en")
    till.present("anna")
    paid = till.spend(500)
    refund = till.engine.confirm(till.engine.quote_refund(paid.tx_id).quote_id, manager_pin=MANAGER_PIN)
    with pytest.raises(E.RefundNotAllowed) as info:
        till.engine.quote_refund(refund.tx_id)
    assert info.value.params["why"] == "refund_of_refund"
