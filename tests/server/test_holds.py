"""Releasing an online authorization's hold: the till dropped the quote unconfirmed.

Terminal-authenticated like /authorize, idempotent, per terminal, and never
undoing a hold whose spend record was posted.
"""

import pytest
import requests
from sqlalchemy import select, update

from floreyn.server import schema as s
from floreyn.sync.client import SyncRefused


def status_of(srv, term, request_id):
    return srv.ctx.db.read(lambda conn: conn.execute(select(s.holds.c.status).where(
        s.holds.c.terminal_id == term.terminal_id, s.holds.c.request_id == request_id)).scalar_one())


def test_a_released_hold_frees_the_money_for_any_till_and_a_retry_changes_nothing(srv, world):
    member, card = world.member(eur_cents=10_000)
    term, other = world.terminal(), world.terminal()
    client, other_client = term.client(srv), other.client(srv)
    held = client.authorize_spend(card, 7_000, "q-1")
    assert held.approved and not other_client.authorize_spend(card, 5_000, "o-1").approved
    released = client.release_hold("q-1")
    assert (released.auth_id, released.status, released.result) == (held.auth_id, "released", "released")
    again = client.release_hold("q-1")  # a retry (the answer was lost): the same, nothing else moves
    assert (again.auth_id, again.status, again.result) == (held.auth_id, "released", "exists")
    assert other_client.authorize_spend(card, 5_000, "o-2").approved  # 100,00 - 50,00 held: free again
    assert world.balance(f"member:{member}") == 10_000  # a hold never moves money


def test_asking_again_under_a_released_request_id_decides_afresh_on_the_same_hold(srv, world):
    _, card = world.member(eur_cents=3_000)
    term, other = world.terminal(), world.terminal()
    client = term.client(srv)
    first = client.authorize_spend(card, 2_000, "q-2")
    client.release_hold("q-2")
    other_hold = other.client(srv).authorize_spend(card, 2_000, "o-3")  # meanwhile another till takes 20,00
    assert other_hold.approved
    declined = client.authorize_spend(card, 2_000, "q-2")  # only 10,00 free now
    assert (declined.auth_id, declined.approved, declined.reason, declined.result) == (
        first.auth_id, False, "insufficient_funds", "created")
    other.client(srv).release_hold("o-3")
    assert client.authorize_spend(card, 2_000, "q-2").approved is False  # a declined decision is kept
    with pytest.raises(SyncRefused) as clash:
        client.authorize_spend(card, 2_500, "q-2")
    assert clash.value.server_code == "exists_with_different_params"
    assert client.authorize_spend(card, 2_000, "q-3").approved and status_of(srv, term, "q-2") == "declined"
    assert client.release_hold("q-2").result == "nothing_held"


def test_a_hold_whose_spend_was_posted_is_not_released(srv, world):
    member, card = world.member(eur_cents=3_000)
    term = world.terminal()
    client = term.client(srv)
    rec = term.spend(card, 1_000)
    assert client.authorize_spend(card, 1_000, str(rec.record.record_id)).approved
    client.upload(term.raws)
    with pytest.raises(SyncRefused) as refused:
        client.release_hold(str(rec.record.record_id))
    assert (refused.value.server_code, refused.value.status) == ("hold_consumed", 409)
    assert status_of(srv, term, str(rec.record.record_id)) == "consumed"
    assert world.balance(f"member:{member}") == 2_000


def test_expired_unknown_and_other_terminals_holds(srv, world):
    _, card = world.member(eur_cents=3_000)
    term, other = world.terminal(), world.terminal()
    client = term.client(srv)
    assert client.authorize_spend(card, 1_000, "q-4").approved
    srv.ctx.db.write(lambda conn: conn.execute(update(s.holds).where(
        s.holds.c.terminal_id == term.terminal_id, s.holds.c.request_id == "q-4").values(expires_ms=1)))
    expired = client.release_hold("q-4")
    assert (expired.status, expired.result) == ("expired", "nothing_held")
    with pytest.raises(SyncRefused) as unknown:
        client.release_hold("never-asked")
    assert (unknown.value.server_code, unknown.value.status) == ("not_found", 404)
    assert client.authorize_spend(card, 1_000, "q-5").approved
    with pytest.raises(SyncRefused) as foreign:  # a till releases only its own holds
        other.client(srv).release_hold("q-5")
    assert foreign.value.status == 404 and status_of(srv, term, "q-5") == "active"


def test_release_needs_a_signed_terminal_request(srv):
    resp = requests.post(srv.base_url + "/v1/terminal/release", json={"request_id": "q-1"}, timeout=10)
    assert resp.status_code == 401 and resp.json()["error"].startswith("auth")


def test_a_terminal_with_too_many_open_holds_is_declined_until_one_is_released(srv, world, monkeypatch):
    from floreyn.server import authz

    monkeypatch.setattr(authz, "MAX_ACTIVE_HOLDS_PER_TERMINAL", 2)  # the server runs in this process
    _, card = world.member(eur_cents=10_000)
    term, other = world.terminal(), world.terminal()
    client = term.client(srv)
    assert client.authorize_spend(card, 100, "h-1").approved and client.authorize_spend(card, 100, "h-2").approved
    third = client.authorize_spend(card, 100, "h-3")
    assert (third.approved, third.reason) == (False, "too_many_holds")  # said, not silently past a cut-off
    assert other.client(srv).authorize_spend(card, 100, "o-1").approved  # per terminal
    client.release_hold("h-1")
    assert client.authorize_spend(card, 100, "h-4").approved
