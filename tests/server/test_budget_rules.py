"""The funder's rules for a group budget: a cap per member per month, a second member above a threshold
(a second card at the till, an approval call elsewhere), and a kept share at expiry."""

import uuid

from floreyn.server.testing import World


def group_budget(srv, world: World, **rules):
    funder = world.funder(eur_cents=100_000)
    (m1, c1), (m2, c2), (m3, c3) = world.member(), world.member(), world.member()
    gid = world.new_id("G")
    srv.admin("POST", "/v1/admin/groups", {"group_id": gid, "name": "Blok 7", "member_ids": [m1, m2]})
    bid = world.new_id("B")
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": bid, "group_id": gid, "label": "Blokbudget", "categories": [], "expires_on": "2099-12-31",
         "amount_cents": 30_000, **rules}]})
    return funder, bid, (m1, c1), (m2, c2), (m3, c3)


def test_a_member_over_the_cap_is_refused_and_a_second_card_confirms(srv, world):
    _, bid, (m1, c1), (m2, c2), (m3, c3) = group_budget(srv, world, member_cap_cents=10_000,
                                                        confirm_above_cents=5_000)
    client = world.terminal().client(srv)

    def auth(card, cents, confirm=None):
        return client.authorize_spend(card, cents, uuid.uuid4().hex, budget_id=bid, confirm_card_hex=confirm)

    whole = auth(c1, 30_000)  # one tenant spends the whole block budget in one tap: refused
    assert not whole.approved and whole.reason == "budget_member_cap"
    big = auth(c1, 6_000)
    assert not big.approved and big.reason == "budget_needs_confirmation"
    assert auth(c1, 6_000, confirm=c1).reason == "budget_confirmer_invalid"  # not the same card
    assert auth(c1, 6_000, confirm=c3).reason == "budget_confirmer_invalid"  # not outside the group
    assert auth(c1, 6_000, confirm=c2).approved
    assert auth(c1, 4_000).approved  # 6,000 held + 4,000 = the cap
    assert auth(c1, 1).reason == "budget_member_cap"
    assert auth(c2, 5_000).approved  # the cap is per member
    snap = client.snapshot()
    info = {b.budget_id: b for b in snap.card(c1).budgets}[bid]
    assert info.member_cap_left_cents == 0 and info.confirm_above_cents == 5_000


def test_an_approval_call_confirms_once(srv, world):
    _, bid, (m1, c1), (m2, _c2), (m3, _c3) = group_budget(srv, world, confirm_above_cents=1_000)
    client = world.terminal().client(srv)
    assert srv.admin("POST", f"/v1/admin/budgets/{bid}/approvals",
                     {"member_id": m1, "approver_member_id": m1, "amount_cents": 2_000}, expect=422)
    assert srv.admin("POST", f"/v1/admin/budgets/{bid}/approvals",
                     {"member_id": m1, "approver_member_id": m3, "amount_cents": 2_000}, expect=409)
    srv.admin("POST", f"/v1/admin/budgets/{bid}/approvals",
              {"member_id": m1, "approver_member_id": m2, "amount_cents": 2_000})
    assert client.authorize_spend(c1, 2_000, uuid.uuid4().hex, budget_id=bid).approved
    again = client.authorize_spend(c1, 2_000, uuid.uuid4().hex, budget_id=bid)
    assert again.reason == "budget_needs_confirmation"  # used once


def test_expiry_returns_the_rest_by_the_funders_rule(srv, world):
    funder, bid, (m1, c1), (m2, _), _ = group_budget(srv, world, keep_share_bp=5_000)
    before = world.balance(f"funder:{funder}")
    term = world.terminal()
    term.client(srv).upload([term.spend(c1, 2_001, budget_id=bid).raw])
    out = srv.admin("POST", "/v1/admin/budgets/expire", {"budget_ids": [bid]})["expired"][0]
    # rest 27,999: half (13,999) kept, split over two members (6,999 each), the odd cents back to the funder
    assert out["kept_by"] == {m1: 6_999, m2: 6_999} and out["returned_cents"] == 27_999 - 13_998
    assert world.balance(f"member:{m1}") == 6_999 and world.balance(f"budget:{bid}") == 0
    assert world.balance(f"funder:{funder}") == before + 14_001
    assert srv.admin("GET", "/v1/admin/replay")["ok"] is True


def test_the_till_takes_at_most_the_room_the_rules_leave():
    from floreyn.sync.rules import group_budget_room

    assert group_budget_room(30_000, 0, None, None) == 30_000  # no rules: the balance
    assert group_budget_room(30_000, 0, 15_000, None) == 15_000  # the member's cap left this month
    assert group_budget_room(30_000, 4_000, 15_000, None) == 11_000  # less what this till spent since
    assert group_budget_room(30_000, 0, 15_000, 10_000) == 10_000  # above this a second card is needed
    assert group_budget_room(30_000, 20_000, 15_000, 10_000) == 0  # never below zero


def alerts(srv, kind, terminal_id):
    found = srv.admin("GET", "/v1/admin/alerts", kind=kind, limit=1000)["alerts"]
    return [a for a in found if a["terminal_id"] == terminal_id]


def test_offline_spends_over_the_members_cap_park_the_excess_and_change_no_budget(srv, world):
    _, bid, (m1, c1), (m2, c2), _ = group_budget(srv, world, member_cap_cents=4_000)
    one, two = world.terminal(), world.terminal()
    one.spend(c1, 2_000, budget_id=bid)  # two offline tills, each within its snapshot's cap left (fl 40)
    two.spend(c1, 2_000, budget_id=bid)
    two.spend(c1, 1_000, budget_id=bid)  # together fl 50: fl 10 over the member's cap this month
    one.client(srv).upload(one.raws)
    two.client(srv).upload(two.raws)
    # No merchant is paid beyond the cap: the excess waits on the till's dispute account (rules.py)
    assert world.balance(f"merchant:{one.merchant_id}") + world.balance(f"merchant:{two.merchant_id}") == 4_000
    assert world.balance(f"dispute:{two.terminal_id}") == 1_000
    [alert] = alerts(srv, "group_member_cap", two.terminal_id)
    assert alert["detail"]["parked_cents"] == 1_000 and alert["detail"]["member_cap_cents"] == 4_000
    assert srv.admin("GET", f"/v1/admin/terminals/{two.terminal_id}")["status"] == "active"  # an honest race
    two.spend(c1, 500, budget_id=bid)  # the cap is used up: a later spend parks whole
    two.spend(c2, 500, budget_id=bid)  # the cap is per member
    two.client(srv).upload(two.raws)
    assert world.balance(f"merchant:{one.merchant_id}") + world.balance(f"merchant:{two.merchant_id}") == 4_500
    assert world.balance(f"dispute:{two.terminal_id}") == 1_500
    assert srv.admin("GET", "/v1/admin/replay")["ok"]


def test_an_offline_spend_above_the_threshold_needs_another_group_members_card(srv, world):
    _, bid, (m1, c1), (m2, c2), (m3, c3) = group_budget(srv, world, confirm_above_cents=1_000)
    shop = world.terminal()
    shop.spend(c1, 1_500, budget_id=bid)  # forged: no second card
    shop.spend(c1, 1_500, budget_id=bid, confirm_card=c3)  # a card from outside the group
    shop.client(srv).upload(shop.raws)
    assert world.balance(f"merchant:{shop.merchant_id}") == 2 * 1_000  # only up to the threshold is paid
    assert world.balance(f"dispute:{shop.terminal_id}") == 2 * 500
    found = alerts(srv, "group_second_member", shop.terminal_id)
    assert sorted(a["detail"]["confirm_card"] or "" for a in found) == sorted(["", c3])
    shop.spend(c1, 1_500, budget_id=bid, confirm_card=c2)  # a second member of the group: posts whole
    shop.client(srv).upload(shop.raws)
    assert world.balance(f"merchant:{shop.merchant_id}") == 2 * 1_000 + 1_500
    assert world.balance(f"dispute:{shop.terminal_id}") == 2 * 500
    assert srv.admin("GET", "/v1/admin/replay")["ok"]


def test_after_a_refused_second_card_another_card_may_confirm_under_the_same_request(srv, world):
    _, bid, (m1, c1), (m2, c2), (m3, c3) = group_budget(srv, world, confirm_above_cents=1_000)
    client = world.terminal().client(srv)
    request = uuid.uuid4().hex  # the till's record id: its upload consumes the hold by it
    wrong = client.authorize_spend(c1, 2_000, request, budget_id=bid, confirm_card_hex=c3)
    assert not wrong.approved and wrong.reason == "budget_confirmer_invalid"
    right = client.authorize_spend(c1, 2_000, request, budget_id=bid, confirm_card_hex=c2)
    assert right.approved and right.auth_id == wrong.auth_id  # one hold row, decided again with the new card
    again = client.authorize_spend(c1, 2_000, request, budget_id=bid, confirm_card_hex=c2)
    assert again.approved and again.result == "exists"  # a retry repeats the decision, holds once
    plain = uuid.uuid4().hex
    assert not client.authorize_spend(c1, 2_000, plain, budget_id=bid).approved
    assert not client.authorize_spend(c1, 2_000, plain, budget_id=bid).approved  # without a card: kept


def test_the_live_summary_and_the_snapshot_carry_the_rules_and_the_balance(srv, world):
    _, bid, (m1, c1), _, _ = group_budget(srv, world, member_cap_cents=10_000, confirm_above_cents=5_000)
    world.srv.admin("POST", "/v1/admin/desk/topup", {"member_id": m1, "eur_cents": 1_250})
    client = world.terminal().client(srv)
    [live] = client.card_summary(c1)["budgets"]
    assert (live["member_cap_left_cents"], live["confirm_above_cents"]) == (10_000, 5_000)
    card = client.snapshot().card(c1)
    assert card.balance_cents == 1_250  # offline the till names it beside the offline allowance


def test_a_forged_confirmation_with_a_card_nobody_issued_quarantines_the_till(srv, world):
    import pytest

    from floreyn.sync.client import SyncAuthFailed

    _, bid, (m1, c1), _, _ = group_budget(srv, world, confirm_above_cents=1_000)
    shop = world.terminal()
    shop.spend(c1, 2_000, budget_id=bid, confirm_card=uuid.uuid4().hex)
    with pytest.raises(SyncAuthFailed) as refused:
        shop.client(srv).upload(shop.raws)
    assert refused.value.server_code == "terminal_broke_rule" and refused.value.status == 409
    assert srv.admin("GET", f"/v1/admin/terminals/{shop.terminal_id}")["status"] == "quarantined"
    assert world.balance(f"merchant:{shop.merchant_id}") == 1_000  # only up to the threshold is paid
    assert world.balance(f"dispute:{shop.terminal_id}") == 1_000
    assert alerts(srv, "group_confirm_card_known", shop.terminal_id)
    assert srv.admin("GET", "/v1/admin/replay")["ok"]
