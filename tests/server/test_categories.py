"""Categories as data: defined on the server, several per merchant, parents cover sub-categories, in the snapshot;
old data migrates."""

import uuid

from sqlalchemy import text

from floreyn.categories import covers, valid_category
from floreyn.server import db as dbmod
from floreyn.server.db import Database


def test_the_covering_rule():
    assert covers([], ["winkel"]) and covers(["klussen"], ["klussen/handig"])
    assert not covers(["klussen/vakman"], ["klussen/handig"]) and not covers(["klus"], ["klussen"])
    assert covers(["duurzaam", "groen"], ["winkel", "duurzaam"])
    assert valid_category("klussen/vakman") and not valid_category("a/b/c") and not valid_category("Winkel")


def test_categories_are_data_and_budgets_follow_them(srv, world):
    funder = world.funder(eur_cents=100_000)
    member, card = world.member()
    grant = {"funder_id": funder, "budgets": [{"budget_id": f"B-{uuid.uuid4().hex[:8]}", "member_id": member,
                                               "label": "Verduurzamen", "categories": ["duurzaam"],
                                               "expires_on": "2099-12-31", "amount_cents": 5_000}]}
    unknown = srv.admin("POST", "/v1/admin/budgets/grant", grant, expect=404)
    assert unknown["error"] == "not_found" and "duurzaam" in unknown["message"]
    assert srv.admin("POST", "/v1/admin/categories", {"category": "klussen/x", "name": "X"})["result"] == "created"
    assert srv.admin("POST", "/v1/admin/categories", {"category": "nope/x", "name": "X"}, expect=404)["error"] \
        == "not_found"  # a sub-category needs its parent
    assert srv.admin("POST", "/v1/admin/categories", {"category": "Duurzaam!", "name": "X"}, expect=422)["error"] \
        == "request_invalid"
    for cat, name in (("duurzaam", "Duurzaamheid"), ("klussen/vakman", "Vakman"), ("klussen/handig", "Handig")):
        srv.admin("POST", "/v1/admin/categories", {"category": cat, "name": name})
    srv.admin("POST", "/v1/admin/budgets/grant", grant)
    names = {c["category"]: c for c in srv.admin("GET", "/v1/admin/categories")["categories"]}
    assert names["klussen/vakman"]["parent"] == "klussen" and names["winkel"]["name"] == "Winkel"

    harry = world.new_id("Z")
    made = srv.admin("POST", "/v1/admin/merchants", {"merchant_id": harry, "name": "Handige Harry",
                                                     "category": "klussen/handig", "categories": ["duurzaam"],
                                                     "kind": "zelfstandige"})
    assert made["categories"] == ["klussen/handig", "duurzaam"]
    assert srv.admin("POST", "/v1/admin/merchants", {"merchant_id": world.new_id("M"), "name": "x",
                                                     "category": "bakkerij"}, expect=404)["error"] == "not_found"
    klus = world.new_id("B")
    vak = world.new_id("B")
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": klus, "member_id": member, "label": "Klussen", "categories": ["klussen"],
         "expires_on": "2099-12-31", "amount_cents": 1_000},
        {"budget_id": vak, "member_id": member, "label": "CV-ketel", "categories": ["klussen/vakman"],
         "expires_on": "2099-12-31", "amount_cents": 1_000}]})
    term = world.terminal(harry)
    client = term.client(srv)
    snap = client.snapshot()
    assert snap.merchant.all_categories() == ("klussen/handig", "duurzaam")
    assert snap.extra["categories"]["klussen/handig"] == "Handig"
    mine = {b.budget_id for b in snap.card(card).budgets}
    # Every budget the card has travels (issue 14), the one that does not pay here too: the till refuses
    # it by its categories, as the server does online (budget_wrong_category), not as unknown.
    assert {klus, grant["budgets"][0]["budget_id"], vak} <= mine
    vak_info = next(b for b in snap.card(card).budgets if b.budget_id == vak)
    assert not covers(vak_info.categories, snap.merchant.all_categories())
    assert client.authorize_spend(card, 100, uuid.uuid4().hex, budget_id=klus).approved
    refused = client.authorize_spend(card, 100, uuid.uuid4().hex, budget_id=vak)
    assert not refused.approved and refused.reason == "budget_wrong_category"
    # The main category changes; its other categories stay unless named.
    moved = srv.admin("PATCH", f"/v1/admin/merchants/{harry}", {"category": "klussen/vakman"})
    assert moved["categories"] == ["klussen/vakman", "duurzaam"]
    assert client.authorize_spend(card, 100, uuid.uuid4().hex, budget_id=vak).approved


def test_old_merchants_get_their_category_as_data(db_url):
    db = Database(db_url)
    try:
        dbmod.migrate(db, "0002")
        with db.writer.begin() as conn:
            conn.execute(text("INSERT INTO merchants (merchant_id, name, category, save_rate_bp, topup_allowed, "
                              "created_ms) VALUES ('M-old', 'Oud', 'bakkerij', 0, false, 1)"))
        db.migrate()
        with db.writer.connect() as conn:
            cats = dict(conn.execute(text("SELECT category, name FROM categories")).all())
            mine = conn.execute(text("SELECT category FROM merchant_categories WHERE merchant_id = 'M-old'")).all()
            kind = conn.execute(text("SELECT kind FROM merchants WHERE merchant_id = 'M-old'")).scalar()
        assert {"winkel", "klussen", "groen", "zorg", "markt", "bakkerij"} <= set(cats)
        assert mine == [("bakkerij",)] and kind == "winkel"
    finally:
        db.dispose()
