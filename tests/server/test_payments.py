"""Payments between accounts over real HTTP: who may pay whom, budgets, limits, idempotency, the ledger."""

import uuid

import pytest

from floreyn.server import payments


def pay(srv, payer, payee, amount_cents, *, expect=200, **extra):
    body = {"payer": {"kind": payer[0], "id": payer[1]}, "payee": {"kind": payee[0], "id": payee[1]},
            "amount_cents": amount_cents, "request_id": extra.pop("request_id", uuid.uuid4().hex), **extra}
    return srv.admin("POST", "/v1/admin/payments", body, expect=expect)


def grant(srv, world, member, categories, amount_cents=10_000, expires_on="2099-12-31"):
    funder = world.funder(eur_cents=amount_cents)
    budget_id = world.new_id("B")
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": budget_id, "member_id": member, "label": "Onderhoud", "categories": categories,
         "expires_on": expires_on, "amount_cents": amount_cents}]})
    return budget_id


def test_member_pays_member_and_merchant_pays_back(srv, world):
    anna, _ = world.member(eur_cents=5_000)
    bert, _ = world.member()
    harry = world.merchant(category="klussen")
    out = pay(srv, ("member", anna), ("member", bert), 1_250, memo="boodschappen")
    assert out["result"] == "created" and out["from_account"] == f"member:{anna}"
    pay(srv, ("member", anna), ("merchant", harry), 2_000)
    pay(srv, ("merchant", harry), ("member", bert), 500)
    assert world.balance(f"member:{anna}") == 1_750
    assert world.balance(f"member:{bert}") == 1_750
    assert world.balance(f"merchant:{harry}") == 1_500
    tx = srv.admin("GET", f"/v1/admin/transactions/{out['payment_id']}")
    assert tx["kind"] == "payment" and sum(p["amount_cents"] for p in tx["postings"]) == 0


def test_a_retry_pays_once_and_other_parameters_are_refused(srv, world):
    anna, _ = world.member(eur_cents=5_000)
    bert, _ = world.member()
    rid = uuid.uuid4().hex
    first = pay(srv, ("member", anna), ("member", bert), 1_000, request_id=rid)
    again = pay(srv, ("member", anna), ("member", bert), 1_000, request_id=rid)
    assert again["result"] == "exists" and again["payment_id"] == first["payment_id"]
    refused = pay(srv, ("member", anna), ("member", bert), 1_001, request_id=rid, expect=409)
    assert refused["error"] == "exists_with_different_params"
    assert world.balance(f"member:{anna}") == 4_000


def test_budget_pays_a_merchant_of_a_fitting_category_only(srv, world):
    anna, _ = world.member()
    bert, _ = world.member()
    harry = world.merchant(category="klussen")
    bakery = world.merchant(category="winkel")
    budget = grant(srv, world, anna, ["klussen"])
    pay(srv, ("member", anna), ("merchant", harry), 2_500, budget_id=budget)
    assert world.balance(f"budget:{budget}") == 7_500
    wrong = pay(srv, ("member", anna), ("merchant", bakery), 100, budget_id=budget, expect=409)
    assert wrong["error"] == "budget_not_usable" and "winkel" in wrong["message_nl"]
    to_member = pay(srv, ("member", anna), ("member", bert), 100, budget_id=budget, expect=409)
    assert to_member["error"] == "budget_not_usable"
    other = pay(srv, ("member", bert), ("merchant", harry), 100, budget_id=budget, expect=409)
    assert other["error"] == "budget_not_usable"
    expired = grant(srv, world, anna, [], expires_on="2020-01-01")
    assert pay(srv, ("member", anna), ("merchant", harry), 100, budget_id=expired, expect=409)["error"] == \
        "budget_not_usable"


def test_refusals_are_typed_and_change_nothing(srv, world):
    anna, _ = world.member(eur_cents=1_000)
    shop = world.merchant()
    assert pay(srv, ("member", anna), ("member", anna), 100, expect=422)["error"] == "payment_to_self"
    poor = pay(srv, ("member", anna), ("merchant", shop), 1_001, expect=409)
    assert poor["error"] == "insufficient_funds"
    assert pay(srv, ("member", anna), ("merchant", "nobody"), 100, expect=404)["error"] == "not_found"
    assert pay(srv, ("merchant", shop), ("member", anna), 1, expect=409)["error"] == "insufficient_funds"
    bad = srv.admin("POST", "/v1/admin/payments", {"request_id": "x", "payer": {"kind": "funder", "id": "F"},
                                                   "payee": {"kind": "member", "id": anna},
                                                   "amount_cents": 1}, expect=422)
    assert bad["error"] == "request_invalid"
    assert world.balance(f"member:{anna}") == 1_000 and world.balance(f"merchant:{shop}") == 0


def test_limits_per_payment_and_per_day(srv, world):
    anna, _ = world.member(eur_cents=300_000)
    shop = world.merchant()
    before = srv.admin("GET", "/v1/admin/payments/limits")
    try:
        srv.admin("PUT", "/v1/admin/payments/limits", {"limits": {"member_per_payment_cents": 40_000,
                                                                  "member_per_day_cents": 60_000}})
        over = pay(srv, ("member", anna), ("merchant", shop), 40_001, expect=422)
        assert over["error"] == "payment_over_limit" and "400,00" in over["message_nl"]
        pay(srv, ("member", anna), ("merchant", shop), 40_000)
        day = pay(srv, ("member", anna), ("merchant", shop), 20_001, expect=409)
        assert day["error"] == "payment_day_limit" and "200,00" in day["message_nl"]
        pay(srv, ("member", anna), ("merchant", shop), 20_000)
    finally:
        srv.admin("PUT", "/v1/admin/payments/limits", {"limits": {
            k: before[k] for k in ("member_per_payment_cents", "member_per_day_cents")}})


def test_a_clerk_may_pay_an_auditor_may_not(srv, world):
    anna, _ = world.member(eur_cents=1_000)
    shop = world.merchant()
    tokens = {}
    for role in ("clerk", "auditor"):
        tokens[role] = srv.admin("POST", "/v1/admin/tokens", {"name": world.new_id(role), "role": role})["token"]
    body = {"request_id": uuid.uuid4().hex, "payer": {"kind": "member", "id": anna},
            "payee": {"kind": "merchant", "id": shop}, "amount_cents": 100}
    srv.admin("POST", "/v1/admin/payments", body, token=tokens["clerk"])
    refused = srv.admin("POST", "/v1/admin/payments", {**body, "request_id": uuid.uuid4().hex},
                        token=tokens["auditor"], expect=403)
    assert refused["error"] == "admin_forbidden"


def test_ledger_replays_clean_after_payments(srv, world):
    anna, _ = world.member(eur_cents=2_000)
    pay(srv, ("member", anna), ("merchant", world.merchant()), 700)
    assert srv.admin("GET", "/v1/admin/replay")["ok"] is True


@pytest.mark.parametrize("merchant, budget, expected", [
    ("klussen", [], True), ("klussen/handig", ["klussen"], True), ("klussen", ["klussen/handig"], False),
    ("klussenaar", ["klussen"], False), ("winkel", ["groen", "winkel"], True)])
def test_category_fits(merchant, budget, expected):
    assert payments.category_fits(merchant, budget) is expected
