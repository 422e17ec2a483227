"""Admin changes reach the tills' snapshots; smaller admin paths (budgets list, remit limits, campaigns end)."""

import uuid


def test_member_merchant_and_campaign_changes_reach_the_snapshot(srv, world):
    merchant = world.merchant(save_rate_bp=200)
    member, card = world.member(alias="Piet")
    term = world.terminal(merchant)
    client = term.client(srv)
    base = client.snapshot()
    srv.admin("PATCH", f"/v1/admin/members/{member}", {"alias": "Piet J."})
    srv.admin("PATCH", f"/v1/admin/merchants/{merchant}", {"save_rate_bp": 750, "topup_allowed": False})
    campaign = f"C-{uuid.uuid4().hex[:8]}"
    srv.admin("POST", "/v1/admin/campaigns", {"campaign_id": campaign, "name": "Zomermarkt", "multiplier_bp": 20_000,
                                              "starts_on": "2020-06-01", "ends_on": "2099-08-31"})
    snap = client.snapshot(base=base)
    assert snap.card(card).alias == "Piet J."
    assert (snap.merchant.save_rate_bp, snap.merchant.topup_allowed) == (750, False)
    assert campaign in [c.campaign_id for c in snap.campaigns]
    srv.admin("POST", f"/v1/admin/campaigns/{campaign}/end", {"ends_on": "2020-06-30"})
    assert campaign not in [c.campaign_id for c in client.snapshot(base=snap).campaigns]
    ended = srv.admin("POST", f"/v1/admin/campaigns/{campaign}/end", {"ends_on": "2019-01-01"}, expect=409)
    assert ended["error"] == "state_refused"


def test_group_budget_reaches_every_member_of_the_group(srv, world):
    a, card_a = world.member()
    b, card_b = world.member()
    group = f"G-{uuid.uuid4().hex[:8]}"
    srv.admin("POST", "/v1/admin/groups", {"group_id": group, "name": "Hof 3", "member_ids": [a]})
    funder = world.funder(eur_cents=5_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{group}", "group_id": group, "label": "Hof", "expires_on": "2099-01-01",
         "amount_cents": 4_000}]})
    client = world.terminal().client(srv)
    snap = client.snapshot()
    assert [x.budget_id for x in snap.card(card_a).budgets] == [f"B-{group}"] and snap.card(card_b).budgets == ()
    srv.admin("POST", f"/v1/admin/groups/{group}/members", {"member_ids": [b]})
    assert [x.budget_id for x in client.snapshot(base=snap).card(card_b).budgets] == [f"B-{group}"]
    assert srv.admin("GET", "/v1/admin/budgets", group_id=group)["budgets"][0]["remaining_cents"] == 4_000
    assert srv.admin("GET", f"/v1/admin/groups/{group}")["members"] == sorted([a, b])
    assert srv.admin("GET", "/v1/admin/budgets", expect=422)["error"] == "request_invalid"


def test_remit_cannot_exceed_what_the_merchant_owes(srv, world):
    _, card = world.member()
    term = world.terminal()
    term.topup(card, 1_500, eur_cents=1_500)
    term.client(srv).upload(term.raws)
    refused = srv.admin("POST", "/v1/admin/desk/remit", {"merchant_id": term.merchant_id, "eur_cents": 1_501},
                        expect=409)
    assert refused["error"] == "state_refused"
    reserve = world.balance("coop:reserve")
    assert srv.admin("POST", "/v1/admin/desk/remit", {"merchant_id": term.merchant_id,
                                                      "eur_cents": 1_500})["eur_owed_cents"] == 0
    assert world.balance("coop:reserve") == reserve + 1_500
    merchant = srv.admin("GET", f"/v1/admin/merchants/{term.merchant_id}")
    assert merchant["eur_owed_cents"] == 0 and merchant["terminals"] == [term.terminal_id]


def test_member_search_by_alias_name_email_phone_and_card_end(srv, world):
    tag = uuid.uuid4().hex[:6]
    member, card = world.member(alias=f"Zoë {tag}")
    srv.admin("PATCH", f"/v1/admin/members/{member}", {"name": f"Zoë IJzerman {tag}", "phone": "06 1234 5678",
                                                        "email": f"zoe.{tag}@example.nl"})
    for q in (f"zoë {tag}", f"IJZERMAN {tag}", f"zoe.{tag}@", card[-4:].upper()):
        found = srv.admin("GET", "/v1/admin/members/search", q=q)
        assert member in [m["member_id"] for m in found["members"]], q
        hit = next(m for m in found["members"] if m["member_id"] == member)
        assert hit["cards"][0]["card_id"] == card
    assert srv.admin("GET", "/v1/admin/members/search", q="x", expect=422)["error"] == "request_invalid"
    srv.admin("POST", f"/v1/admin/members/{member}/erase", {})
    assert member not in [m["member_id"] for m in srv.admin("GET", "/v1/admin/members/search", q=tag)["members"]]


def test_campaign_update_and_an_end_that_changes_nothing_says_so(srv, world):
    merchant = world.merchant()
    campaign = f"C-{uuid.uuid4().hex[:8]}"
    srv.admin("POST", "/v1/admin/campaigns", {"campaign_id": campaign, "name": "Zomer", "multiplier_bp": 20_000,
                                              "starts_on": "2020-06-01", "ends_on": "2099-08-31"})
    later = srv.admin("POST", f"/v1/admin/campaigns/{campaign}/end", {"ends_on": "2099-12-31"})
    assert (later["result"], later["ends_on"]) == ("unchanged", "2099-08-31")
    changed = srv.admin("PATCH", f"/v1/admin/campaigns/{campaign}",
                        {"multiplier_bp": 15_000, "merchant_ids": [merchant], "name": "Zomer"})
    assert (changed["result"], changed["changed"]) == ("updated", ["merchant_ids", "multiplier_bp"])
    assert changed["merchant_ids"] == [merchant] and changed["multiplier_bp"] == 15_000
    bad = srv.admin("PATCH", f"/v1/admin/campaigns/{campaign}", {"ends_on": "2019-01-01"}, expect=422)
    assert bad["error"] == "request_invalid"
    ended = srv.admin("POST", f"/v1/admin/campaigns/{campaign}/end", {"ends_on": "2021-01-01"})
    assert (ended["result"], ended["ends_on"]) == ("ended", "2021-01-01")
