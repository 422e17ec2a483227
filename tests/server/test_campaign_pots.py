"""Joint campaigns with a pot: merchants pay in; saving extras and redeeming bonuses are paid from it at every
participating till while it lasts; tills learn it ran dry; the report adds up to the pot."""

import datetime as dt

from floreyn.server import state


def test_a_pot_pays_until_it_is_empty(srv, world):
    bakery, stall = world.merchant(save_rate_bp=500), world.merchant(save_rate_bp=500)
    member, card = world.member(eur_cents=10_000)
    t_bakery, t_stall = world.terminal(bakery), world.terminal(stall)
    # Both merchants earn some Floreyn to pay in with.
    t_bakery.client(srv).upload([t_bakery.spend(card, 2_000).raw])
    t_stall.client(srv).upload([t_stall.spend(card, 2_000).raw])
    today = state.local_date(state.now_ms())
    cid = world.new_id("C")
    refused = srv.admin("POST", "/v1/admin/campaigns", {
        "campaign_id": cid, "name": "x", "multiplier_bp": 10_000, "starts_on": today.isoformat(),
        "ends_on": today.isoformat(), "redeem_bonus_bp": 1_000}, expect=422)
    assert refused["error"] == "request_invalid"
    srv.admin("POST", "/v1/admin/campaigns", {
        "campaign_id": cid, "name": "Zomermarkt", "multiplier_bp": 20_000, "starts_on": today.isoformat(),
        "ends_on": (today + dt.timedelta(days=30)).isoformat(), "merchant_ids": [bakery, stall], "pot": True,
        "redeem_bonus_bp": 1_000})
    assert srv.admin("POST", f"/v1/admin/campaigns/{cid}/pot", {"merchant_id": bakery, "fl_cents": 5_000},
                     expect=409)["error"] == "insufficient_funds"
    srv.admin("POST", f"/v1/admin/campaigns/{cid}/pot", {"merchant_id": bakery, "fl_cents": 600})
    srv.admin("POST", f"/v1/admin/campaigns/{cid}/pot", {"merchant_id": stall, "fl_cents": 400})
    other = world.merchant()
    assert srv.admin("POST", f"/v1/admin/campaigns/{cid}/pot", {"merchant_id": other, "fl_cents": 1},
                     expect=409)["error"] == "state_refused"
    snap = t_bakery.client(srv).snapshot()
    assert [c.pot_left_cents for c in snap.campaigns if c.campaign_id == cid] == [1_000]

    # A double save at the bakery on € 40: fl 4,00, of which fl 2,00 is the campaign's extra: from the pot.
    bakery_before = world.balance(f"merchant:{bakery}")
    t_bakery.client(srv).upload([t_bakery.save(card, 400, eur_cents=4_000).raw])
    assert world.balance(f"merchant:{bakery}") == bakery_before - 400 + 200
    # A spend of fl 20 at the stall: 10 % back from the pot (fl 2,00).
    wallet = world.balance(f"member:{member}")
    t_stall.client(srv).upload([t_stall.spend(card, 2_000).raw])
    assert world.balance(f"member:{member}") == wallet - 2_000 + 200
    # The pot has fl 6,00 left: a save extra of fl 10 gets only 6; then the pot is dry and pays nothing.
    stall_before = world.balance(f"merchant:{stall}")
    t_stall.client(srv).upload([t_stall.save(card, 2_000, eur_cents=20_000).raw])
    assert world.balance(f"merchant:{stall}") == stall_before - 2_000 + 600
    assert world.balance(f"pot:{cid}") == 0
    wallet = world.balance(f"member:{member}")
    t_stall.client(srv).upload([t_stall.spend(card, 1_000).raw])
    assert world.balance(f"member:{member}") == wallet - 1_000  # no bonus from a dry pot
    snap = t_stall.client(srv).snapshot()
    assert [c.pot_left_cents for c in snap.campaigns if c.campaign_id == cid] == [0]

    report = srv.admin("GET", f"/v1/admin/campaigns/{cid}/report")
    assert (report["paid_in_cents"], report["paid_out_cents"], report["pot_cents"]) == (1_000, 1_000, 0)
    by = {m["merchant_id"]: m for m in report["merchants"]}
    assert by[bakery] == {"merchant_id": bakery, "paid_in_cents": 600, "paid_out_cents": 200}
    assert by[stall] == {"merchant_id": stall, "paid_in_cents": 400, "paid_out_cents": 800}
    assert srv.admin("GET", "/v1/admin/replay")["ok"] is True


def test_a_dry_pot_stops_the_campaign_at_the_till():
    from floreyn.sync import rules
    from floreyn.sync.snapshot import Campaign

    day = dt.date(2026, 7, 1)
    live = Campaign("C", "Zomer", 20_000, "2026-06-01", "2026-08-31", (), pot_left_cents=1)
    dry = Campaign("C", "Zomer", 20_000, "2026-06-01", "2026-08-31", (), pot_left_cents=0)
    assert rules.best_campaign([live], "M", day)[0] == 20_000
    assert rules.best_campaign([dry], "M", day)[0] == 10_000
