"""Admin API: roles, idempotent writes, audit log, GDPR, card replacement, desk money, reports, CSV."""

import csv
import io
import uuid

import requests

from floreyn.sync.snapshot import short_id
from floreyn.money import ExchangeRates, Money


def token(srv, role):
    return srv.admin("POST", "/v1/admin/tokens", {"name": f"{role}-{uuid.uuid4().hex[:6]}", "role": role})["token"]


def test_roles_and_tokens(srv, world):
    auditor, clerk = token(srv, "auditor"), token(srv, "clerk")
    member, _ = world.member()
    assert srv.admin("GET", "/v1/admin/merchants", token=auditor)["merchants"] is not None
    refused = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100}, token=auditor,
                        expect=403)
    assert refused["error"] == "admin_forbidden"
    assert srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100}, token=clerk)["fl_cents"] == 100
    assert srv.admin("POST", "/v1/admin/merchants", {"merchant_id": "M-x", "name": "x", "category": "winkel"},
                     token=clerk, expect=403)["error"] == "admin_forbidden"
    assert srv.admin("GET", "/v1/admin/merchants", token="fla_wrong", expect=401)["error"] == "admin_unauthorized"
    assert requests.get(srv.base_url + "/v1/admin/merchants", timeout=10).status_code == 401
    name = srv.admin("GET", "/v1/admin/audit", limit=1)  # any read works with the bootstrap token
    assert name["entries"] is not None
    tokens = srv.admin("POST", "/v1/admin/tokens", {"name": "tmp-token", "role": "auditor"})
    srv.admin("POST", "/v1/admin/tokens/tmp-token/revoke", {})
    srv.admin("GET", "/v1/admin/merchants", token=tokens["token"], expect=401)


def test_writes_are_idempotent_by_request_id(srv, world):
    member, _ = world.member()
    body = {"request_id": f"topup-{uuid.uuid4().hex}", "member_id": member, "eur_cents": 1_000}
    first = srv.admin("POST", "/v1/admin/desk/topup", body)
    second = srv.admin("POST", "/v1/admin/desk/topup", body)
    assert first["result"] == "created" and second["result"] == "exists" and first["tx_id"] == second["tx_id"]
    clash = srv.admin("POST", "/v1/admin/desk/topup", {**body, "eur_cents": 2_000}, expect=409)
    assert clash["error"] == "exists_with_different_params"
    assert world.balance(f"member:{member}") == 1_000
    # A natural key created again with the same fields is "exists"; with other fields, a conflict.
    merchant = {"merchant_id": f"M-{uuid.uuid4().hex[:8]}", "name": "Slager", "category": "winkel"}
    assert srv.admin("POST", "/v1/admin/merchants", merchant)["result"] == "created"
    assert srv.admin("POST", "/v1/admin/merchants", merchant)["result"] == "exists"
    assert srv.admin("POST", "/v1/admin/merchants", {**merchant, "name": "Bakker"}, expect=409)["error"] \
        == "exists_with_different_params"


def test_audit_log_records_actions_without_personal_data(srv, world):
    rid = f"member-{uuid.uuid4().hex}"
    srv.admin("POST", "/v1/admin/members", {"request_id": rid, "name": "Jan Geheim", "email": "jan@geheim.nl"})
    srv.admin("GET", "/v1/admin/members", limit=1)
    srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": "M-does-not-exist", "fl_cents": 1}, expect=404)
    entries = srv.admin("GET", "/v1/admin/audit", limit=1000)["entries"]
    created = [e for e in entries if e["request_id"] == rid]
    assert len(created) == 1 and created[0]["action"] == "member.create" and created[0]["actor"] == "bootstrap"
    assert created[0]["detail"]["name"] == "<redacted>"
    assert "Geheim" not in str(entries) and "geheim.nl" not in str(entries)
    assert any(e["method"] == "GET" and e["path"] == "/v1/admin/members" for e in entries)
    assert any(e["path"] == "/v1/admin/desk/cashout" and e["status"] == 404 for e in entries)


def test_gdpr_export_and_erasure_keep_the_ledger_whole(srv, world):
    member = srv.admin("POST", "/v1/admin/members", {"name": "Els de Vries", "email": "els@example.org",
                                                      "phone": "0612345678", "address": "Langestraat 1"})["member_id"]
    card = uuid.uuid4().hex
    srv.admin("POST", "/v1/admin/cards", {"card_id": card, "member_id": member})
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 2_000})
    term = world.terminal()
    term.spend(card, 500)
    term.client(srv).upload(term.raws)
    export = srv.admin("GET", f"/v1/admin/members/{member}/export")
    assert export["name"] == "Els de Vries" and export["balance_cents"] == 1_500
    assert sorted(p["amount_cents"] for p in export["postings"]) == [-500, 2_000]
    erased = srv.admin("POST", f"/v1/admin/members/{member}/erase", {})
    assert erased["alias"].startswith("gewist-")
    view = srv.admin("GET", f"/v1/admin/members/{member}")
    assert (view["name"], view["email"], view["phone"], view["address"]) == (None, None, None, None)
    assert view["cards"][0]["status"] == "blocked" and view["balance_cents"] == 1_500
    assert "Els" not in str(srv.admin("GET", "/v1/admin/audit", limit=1000))
    assert srv.admin("GET", "/v1/admin/replay")["ok"]
    # An offline record of the erased member's card still posts to the pseudonymous wallet.
    term.spend(card, 100)
    term.client(srv).upload(term.raws)
    assert world.balance(f"member:{member}") == 1_400


def test_card_replacement_moves_balance_and_budgets(srv, world):
    member, old = world.member(eur_cents=3_000)
    funder = world.funder(eur_cents=10_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{member}", "member_id": member, "label": "Zorg", "categories": [],
         "expires_on": "2099-12-31", "amount_cents": 4_000}]})
    new = uuid.uuid4().hex
    replaced = srv.admin("POST", f"/v1/admin/cards/{old}/replace", {"new_card_id": new})
    assert replaced["balance_cents"] == 3_000 and replaced["budgets"][0]["remaining_cents"] == 4_000
    assert replaced["old"]["status"] == "replaced"
    term = world.terminal()
    snap = term.client(srv).snapshot()
    assert snap.card(old).blocked and short_id(old) in snap.blocklist  # named by its short id
    assert snap.card(new).offline_allowance_cents == 3_000 and snap.card(new).budgets[0].remaining_cents == 4_000
    term.spend(old, 200)  # sold offline on the old card before the till heard of the block
    term.spend(new, 300, budget_id=f"B-{member}")
    term.client(srv).upload(term.raws)
    assert world.balance(f"member:{member}") == 2_800 and world.balance(f"budget:B-{member}") == 3_700


def test_desk_money_and_spread_income(srv, world):
    srv.admin("PATCH", "/v1/admin/config", {"rates": {"ask_bp": 10_500, "bid_bp": 9_500}})
    try:
        member, card = world.member(eur_cents=10_500)  # 105,00 euro buys fl 100,00 at ask 1,05
        assert world.balance(f"member:{member}") == 10_000
        term = world.terminal()
        term.authorize(srv, term.spend(card, 6_000))  # above the offline limits: authorized online
        term.client(srv).upload(term.raws)
        income_before = world.balance("coop:income")
        out = srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": term.merchant_id, "fl_cents": 6_000})
        rates = ExchangeRates(ask_bp=10_500, bid_bp=9_500)
        assert out["eur_paid_cents"] == rates.cashout_eur_for_fl(Money.fl(6_000)).cents == 5_700
        assert out["income_cents"] == 6_300 - 5_700
        assert world.balance("coop:income") - income_before == 600
        refused = srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": term.merchant_id, "fl_cents": 1},
                            expect=409)
        assert refused["error"] == "insufficient_funds"
    finally:
        srv.admin("PATCH", "/v1/admin/config", {"rates": {"ask_bp": 10_000, "bid_bp": 9_500}})
    assert srv.admin("GET", "/v1/admin/replay")["ok"]


def test_settlement_statement(srv, world):
    _, card = world.member(eur_cents=20_000)
    term = world.terminal()
    term.authorize(srv, term.spend(card, 5_000))  # above the offline limits: authorized online
    term.save(card, 250, eur_cents=5_000)
    spend = term.spend(card, 1_000)
    term.refund(card, 1_000, spend)
    term.topup(card, 3_000, eur_cents=3_000)
    term.client(srv).upload(term.raws)
    srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": term.merchant_id, "fl_cents": 2_000})
    srv.admin("POST", "/v1/admin/desk/remit", {"merchant_id": term.merchant_id, "eur_cents": 1_000})
    st = srv.admin("GET", "/v1/admin/reports/settlement", merchant_id=term.merchant_id,
                   **{"from": "2000-01-01", "to": "2099-12-31"})
    assert st["fl"] == {"opening_cents": 0, "received_cents": 6_000, "refunded_cents": 1_000, "save_cost_cents": 250,
                        "voids_cents": 0, "corrections_cents": 0, "cashed_out_cents": 2_000, "payments_cents": 0,
                        "bought_cents": 0, "campaign_pot_cents": 0, "settled_cents": 0, "disputes_cents": 0,
                        "other_cents": 0, "closing_cents": 2_750}
    assert st["eur"]["topups_taken_cents"] == 3_000 and st["eur"]["remitted_cents"] == 1_000
    assert st["eur"]["cashout_paid_cents"] == 1_900 and st["eur"]["closing_owed_cents"] == 2_000
    s = st["settlement"]
    assert s["coop_owes_merchant_eur_cents"] == 2_612  # floor(27,50 x 0,95)
    assert s["merchant_owes_coop_eur_cents"] == 2_000 and s["net_eur_cents"] == 612
    empty = srv.admin("GET", "/v1/admin/reports/settlement", merchant_id=term.merchant_id,
                      **{"from": "2000-01-01", "to": "2000-01-31"})
    assert empty["fl"]["received_cents"] == 0


def test_circulation_and_csv_export_reconcile(srv, world):
    circ = srv.admin("GET", "/v1/admin/reports/circulation")
    assert circ["fl_issued_cents"] == sum(circ["fl_by_holder_cents"].values())
    assert circ["eur_reserve_cents"] >= 0
    text = srv.admin("GET", "/v1/admin/reports/export.csv", **{"from": "2000-01-01", "to": "2099-12-31"})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and set(rows[0]) == {"date", "time", "tx_id", "kind", "account", "currency", "amount",
                                     "amount_cents", "terminal_id", "record_seq", "merchant_id", "card_id",
                                     "reverses", "memo"}
    for currency in ("fl", "EUR"):
        assert sum(int(r["amount_cents"]) for r in rows if r["currency"] == currency) == 0
    by_account = {}
    for r in rows:
        by_account[r["account"]] = by_account.get(r["account"], 0) + int(r["amount_cents"])
    assert by_account["coop:reserve"] == circ["eur_reserve_cents"]
    bad = srv.admin("GET", "/v1/admin/reports/export.csv", expect=422, **{"from": "2020-02-30", "to": "2020-03-01"})
    assert bad["error"] == "request_invalid"


def test_budget_expiry_returns_the_rest_to_the_funder(srv, world):
    member, card = world.member()
    group_member, group_card = world.member()
    group = f"G-{uuid.uuid4().hex[:8]}"
    srv.admin("POST", "/v1/admin/groups", {"group_id": group, "name": "Blok 7", "member_ids": [group_member]})
    funder = world.funder(eur_cents=10_000)
    refused = srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": "B-too-much", "member_id": member, "label": "Te veel", "expires_on": "2020-01-01",
         "amount_cents": 10_001}]}, expect=409)
    assert refused["error"] == "insufficient_funds"
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{member}-old", "member_id": member, "label": "Oud", "expires_on": "2020-01-01",
         "amount_cents": 3_000},
        {"budget_id": f"B-{group}", "group_id": group, "label": "Blok", "expires_on": "2099-01-01",
         "amount_cents": 5_000}]})
    assert world.balance(f"funder:{funder}") == 2_000
    term = world.terminal()
    term.spend(card, 1_000, budget_id=f"B-{member}-old")
    term.spend(group_card, 1_500, budget_id=f"B-{group}")
    term.client(srv).upload(term.raws)
    out = srv.admin("POST", "/v1/admin/budgets/expire", {"budget_ids": [f"B-{member}-old"]})
    assert out["expired"] == [{"budget_id": f"B-{member}-old", "funder_id": funder, "returned_cents": 2_000}]
    assert world.balance(f"funder:{funder}") == 4_000 and world.balance(f"budget:B-{member}-old") == 0
    assert srv.admin("GET", f"/v1/admin/budgets/B-{group}")["remaining_cents"] == 3_500
    assert srv.admin("GET", f"/v1/admin/budgets/B-{member}-old")["status"] == "expired"


def test_reversal_is_a_new_transaction_and_happens_once(srv, world):
    member, _ = world.member()
    top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 900})
    rev = srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": "verkeerd lid"})
    assert world.balance(f"member:{member}") == 0
    assert srv.admin("GET", f"/v1/admin/transactions/{top['tx_id']}")["reversed_by"] == rev["tx_id"]
    again = srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": "nog eens"}, expect=409)
    assert again["error"] == "state_refused"


def test_openapi_is_served_and_lists_the_api(srv):
    spec = requests.get(srv.base_url + "/openapi.json", timeout=10).json()
    paths = set(spec["paths"])
    for path in ("/v1/terminal/upload", "/v1/terminal/snapshot", "/v1/terminal/authorize", "/v1/admin/members",
                 "/v1/admin/cards/{card_id}/replace", "/v1/admin/budgets/grant", "/v1/admin/desk/cashout",
                 "/v1/admin/reports/settlement", "/v1/admin/reports/export.csv", "/v1/health"):
        assert path in paths
