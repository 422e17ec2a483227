"""Cards blocked for offline overspend: listed for the desk, and reinstated by the cooperative's rule."""

from sqlalchemy import select, update

from floreyn.server import reinstate
from floreyn.server import schema as s

DAY_MS = 24 * 3600 * 1000


def card_row(srv, card):
    return srv.ctx.db.read(lambda conn: conn.execute(select(s.cards).where(s.cards.c.card_id == card)).first())


def overspend_blocked(srv, world):
    member, card = world.member(eur_cents=1_000)
    term = world.terminal()
    term.spend(card, 2_500)  # offline at a till that could not know better: 15,00 below zero
    term.client(srv).upload(term.raws)
    assert card_row(srv, card).status == "blocked" and card_row(srv, card).blocked_reason == "overspend"
    return member, card, term


def test_the_desk_sees_the_blocked_card_with_its_balance_and_the_rule_brings_it_back(srv, world):
    member, card, term = overspend_blocked(srv, world)
    watcher = world.terminal().client(srv)
    listed = {b["card_id"]: b for b in srv.admin("GET", "/v1/admin/reports/overspend")["blocked"]}
    assert (listed[card]["balance_cents"], listed[card]["nonneg_since_ms"]) == (-1_500, None)
    srv.housekeeping()  # the every-minute job reviews the blocked cards
    base = watcher.snapshot()
    assert base.card(card).blocked and card_row(srv, card).nonneg_since_ms is None  # still below zero
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 2_000})
    srv.housekeeping()
    after_topup = watcher.snapshot(base=base)
    row = card_row(srv, card)
    assert row.status == "blocked" and row.nonneg_since_ms is not None  # back at >= 0: the 24 h start now
    listed = {b["card_id"]: b for b in srv.admin("GET", "/v1/admin/reports/overspend")["blocked"]}
    assert listed[card]["reinstate_at_ms"] == row.nonneg_since_ms + DAY_MS
    # A day passes (moved back in the database rather than waited for).
    srv.ctx.db.write(lambda conn: conn.execute(update(s.cards).where(s.cards.c.card_id == card)
                                               .values(nonneg_since_ms=row.nonneg_since_ms - DAY_MS)))
    srv.housekeeping()
    back = watcher.snapshot(base=after_topup)  # by delta: the reinstatement stamps the card
    assert not back.card(card).blocked and not back.blocklist
    assert back.card(card).offline_allowance_cents == 500
    row = card_row(srv, card)
    assert (row.status, row.blocked_reason, row.flagged_ms, row.nonneg_since_ms) == ("active", None, None, None)
    alerts = srv.admin("GET", "/v1/admin/alerts")
    assert any(a["kind"] == "card_reinstated" and a["card_id"] == card for a in alerts["alerts"])


def test_dropping_below_zero_again_restarts_the_wait_and_zero_switches_the_rule_off(srv, world):
    member, card, term = overspend_blocked(srv, world)
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 1_500})  # exactly 0
    srv.ctx.db.write(lambda conn: reinstate.review(conn, 10 * DAY_MS))
    assert card_row(srv, card).nonneg_since_ms == 10 * DAY_MS
    term.spend(card, 100)  # a late offline record: below zero again
    term.client(srv).upload(term.raws)
    srv.ctx.db.write(lambda conn: reinstate.review(conn, 12 * DAY_MS))
    assert card_row(srv, card).nonneg_since_ms is None and card_row(srv, card).status == "blocked"
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100})
    srv.admin("PATCH", "/v1/admin/config", {"reinstate_after_s": 0})
    try:
        srv.ctx.db.write(lambda conn: reinstate.review(conn, 13 * DAY_MS))
        assert srv.ctx.db.write(lambda conn: reinstate.review(conn, 30 * DAY_MS)) == []
        assert card_row(srv, card).status == "blocked"  # only the desk lifts it now
    finally:
        srv.admin("PATCH", "/v1/admin/config", {"reinstate_after_s": 24 * 3600})


def test_the_rule_itself():
    assert reinstate.reinstate_due(0, DAY_MS, 24 * 3600)
    assert not reinstate.reinstate_due(1, DAY_MS, 24 * 3600)
    assert not reinstate.reinstate_due(None, 99 * DAY_MS, 24 * 3600)
    assert not reinstate.reinstate_due(0, 99 * DAY_MS, 0)
