"""Snapshots (full and delta, signed), online authorization with holds, and the card summary."""

import dataclasses
import uuid

import pytest
import requests
from sqlalchemy import select

from floreyn.sync.snapshot import short_id
from floreyn import keys
from floreyn.server import schema as s
from floreyn.sync import auth
from floreyn.sync.client import SyncBadResponse, SyncClient, SyncRefused
from floreyn.sync.record import Kind
from floreyn.sync.snapshot import Snapshot


def same_but_time(a: Snapshot, b: Snapshot) -> bool:
    return dataclasses.replace(a, server_time_ms=0) == dataclasses.replace(b, server_time_ms=0)


def test_full_snapshot_is_signed_and_carries_what_the_till_needs(srv, world):
    merchant = world.merchant(category="klussen", save_rate_bp=300)
    member, card = world.member(eur_cents=3_000, alias="Anna B.")
    term = world.terminal(merchant)
    funder = world.funder(eur_cents=50_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{member}-k", "member_id": member, "label": "Onderhoud", "categories": ["klussen"],
         "expires_on": "2099-12-31", "amount_cents": 7_500},
        {"budget_id": f"B-{member}-g", "member_id": member, "label": "Tuin", "categories": ["groen"],
         "expires_on": "2099-12-31", "amount_cents": 2_000}]})
    srv.admin("POST", "/v1/admin/campaigns", {"campaign_id": f"C-{merchant}", "name": "Dubbel sparen",
                                              "multiplier_bp": 20_000, "starts_on": "2020-01-01",
                                              "ends_on": "2099-01-01", "merchant_ids": [merchant]})
    snap = term.client(srv).snapshot()
    assert snap.terminal_id == term.terminal_id and snap.merchant.category == "klussen"
    assert snap.merchant.save_rate_bp == 300
    info = snap.card(card)
    assert info.alias == "Anna B." and not info.blocked
    assert info.offline_allowance_cents == 3_000  # below the cumulative limit of 50,00
    # Every budget the card has, also one that does not pay here: the till refuses it as the server would.
    assert [(b.budget_id, b.categories, b.remaining_cents) for b in info.budgets] == [
        (f"B-{member}-g", ("groen",), 2_000), (f"B-{member}-k", ("klussen",), 7_500)]
    assert any(c.campaign_id == f"C-{merchant}" for c in snap.campaigns)
    # The personal data of the member never travels to a till.
    assert b"example.org" not in requests.get(srv.base_url + "/v1/health").content
    assert "Test Lid" not in repr(snap)


def test_delta_merged_onto_the_old_snapshot_equals_a_fresh_full_one(srv, world):
    _, card = world.member(eur_cents=1_000)
    _, other = world.member(eur_cents=500)
    term = world.terminal()
    client = term.client(srv)
    base = client.snapshot()
    srv.admin("POST", f"/v1/admin/cards/{card}/block", {"reason": "kwijt"})
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": srv.admin("GET", f"/v1/admin/cards/{other}")["member_id"],
                                               "eur_cents": 700})
    merged = client.snapshot(base=base)
    assert merged.snapshot_version > base.snapshot_version
    assert merged.card(card).blocked and short_id(card) in merged.blocklist  # a page names it by its short id
    assert merged.card(other).offline_allowance_cents == 1_200
    fresh = term.client(srv).snapshot()
    assert same_but_time(merged, fresh)
    srv.admin("POST", f"/v1/admin/cards/{card}/unblock", {})
    assert not client.snapshot(base=merged).card(card).blocked


def snapshot_kind(srv, term, since):
    path = f"/v1/terminal/snapshot?since={since}"
    headers = term.signed_headers("GET", path, time_ms=srv.ctx.clock())
    resp = requests.get(srv.base_url + path, headers=headers, timeout=10)
    assert resp.status_code == 200
    return resp.headers["X-Floreyn-Snapshot-Kind"], resp.json()


def test_delta_asked_for_an_unknown_version_gets_a_full_snapshot(srv, world):
    term = world.terminal()
    client = term.client(srv)
    base = client.snapshot()
    kind, body = snapshot_kind(srv, term, base.snapshot_version)
    assert kind == "delta" and body["cards"] == [] and body["base_version"] == base.snapshot_version
    kind, body = snapshot_kind(srv, term, base.snapshot_version + 10_000)  # e.g. the server was restored
    assert kind == "full" and "blocklist" in body
    future = dataclasses.replace(base, snapshot_version=base.snapshot_version + 10_000)
    assert same_but_time(client.snapshot(base=future), term.client(srv).snapshot())


def test_snapshot_signed_by_another_key_is_refused(srv, world):
    term = world.terminal()
    client = SyncClient(srv.base_url, term.terminal_id, term.key, keys.new_private_key().public_key())
    with pytest.raises(SyncBadResponse):
        client.snapshot()


def test_unpinned_client_learns_the_server_key_once(srv, world):
    term = world.terminal()
    client = SyncClient(srv.base_url, term.terminal_id, term.key, None)
    client.snapshot()
    assert keys.public_raw(client.server_key) == keys.public_raw(srv.public_key)


def test_online_authorization_reserves_and_is_idempotent(srv, world):
    member, card = world.member(eur_cents=10_000)
    term, other = world.terminal(), world.terminal()
    client, other_client = term.client(srv), other.client(srv)
    first = client.authorize_spend(card, 6_000, "req-1")
    assert first.approved and first.reason is None
    again = client.authorize_spend(card, 6_000, "req-1")  # a retry: same answer, nothing reserved twice
    assert (again.auth_id, again.approved, again.result) == (first.auth_id, True, "exists")
    with pytest.raises(SyncRefused) as clash:
        client.authorize_spend(card, 5_000, "req-1")
    assert clash.value.server_code == "exists_with_different_params" and clash.value.status == 409
    # 60,00 of 100,00 is held: another till cannot have 50,00 too.
    declined = other_client.authorize_spend(card, 5_000, "req-2")
    assert not declined.approved and declined.reason == "insufficient_funds"
    # The spend arrives: the hold is consumed, the balance drops, 40,00 remains spendable.
    term.spend(card, 6_000)
    client.upload(term.raws)
    assert world.balance(f"member:{member}") == 4_000
    assert other_client.authorize_spend(card, 4_000, "req-3").approved
    assert not other_client.authorize_spend(card, 1, "req-4").approved


def test_authorization_refusals_by_card_state(srv, world):
    _, card = world.member(eur_cents=1_000)
    client = world.terminal().client(srv)
    assert client.authorize_spend(uuid.uuid4().hex, 100, "r1").reason == "card_unknown"
    srv.admin("POST", f"/v1/admin/cards/{card}/block", {"reason": "gestolen"})
    assert client.authorize_spend(card, 100, "r2").reason == "card_blocked"
    assert client.authorize_spend(card, 100, "r3", budget_id="B-none").reason == "card_blocked"


def test_authorization_on_a_budget_checks_category(srv, world):
    member, card = world.member()
    funder = world.funder(eur_cents=10_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{member}", "member_id": member, "label": "Groen", "categories": ["groen"],
         "expires_on": "2099-12-31", "amount_cents": 5_000}]})
    groen = world.terminal(world.merchant(category="groen")).client(srv)
    winkel = world.terminal(world.merchant(category="winkel")).client(srv)
    assert groen.authorize_spend(card, 5_000, "b1", budget_id=f"B-{member}").approved
    assert winkel.authorize_spend(card, 100, "b2", budget_id=f"B-{member}").reason == "budget_wrong_category"
    assert groen.authorize_spend(card, 100, "b3").reason == "insufficient_funds"  # the wallet is empty


def test_card_summary(srv, world):
    member, card = world.member(eur_cents=2_500, alias="Kees")
    summary = world.terminal().client(srv).card_summary(card)
    assert (summary["alias"], summary["balance_cents"], summary["blocked"]) == ("Kees", 2_500, False)
    with pytest.raises(SyncRefused) as missing:
        world.terminal().client(srv).card_summary(uuid.uuid4().hex)
    assert missing.value.status == 404


def test_responses_to_terminals_are_bound_to_the_request_nonce(srv, world):
    term = world.terminal()
    headers = term.signed_headers("GET", "/v1/terminal/snapshot", time_ms=srv.ctx.clock())
    resp = requests.get(srv.base_url + "/v1/terminal/snapshot", headers=headers, timeout=10)
    server_time = int(resp.headers[auth.H_SERVER_TIME])
    sig = resp.headers[auth.H_RESPONSE_SIGNATURE]
    assert auth.verify_response(srv.public_key, sig, headers[auth.H_NONCE], 200, server_time, resp.content)
    assert not auth.verify_response(srv.public_key, sig, auth.new_nonce(), 200, server_time, resp.content)


def test_a_hold_is_released_by_the_record_whose_id_it_was_requested_under(srv, world):
    _, card = world.member(eur_cents=3_000)
    term = world.terminal()
    client = term.client(srv)
    assert client.authorize_spend(card, 1_000, "hold-a").approved
    rec = term.record(Kind.SPEND, card_id=bytes.fromhex(card), fl_cents=1_000)
    assert client.authorize_spend(card, 1_000, str(rec.record.record_id)).approved
    client.upload(term.raws)

    def statuses(conn):
        return dict(conn.execute(select(s.holds.c.request_id, s.holds.c.status)
                                 .where(s.holds.c.terminal_id == term.terminal_id)).tuples().all())
    assert srv.ctx.db.read(statuses) == {"hold-a": "active", str(rec.record.record_id): "consumed"}
    assert not client.authorize_spend(card, 1_001, "hold-b").approved  # 30 - 10 spent - 10 held = 10 left
