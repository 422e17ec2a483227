"""Snapshot pages over real HTTP: the same cards as the JSON snapshot, from kept entries, and requests only read.

Runs on SQLite, and on PostgreSQL when FLOREYN_TEST_PG_URL is set (tests/server/conftest.py).
"""

import dataclasses
import uuid

import pytest
from sqlalchemy import delete, event, func, select, update

from floreyn import keys
from floreyn.server import api_terminal, snapshot_cache, snapshots, state
from floreyn.server import schema as s
from floreyn.sync.client import SyncBadSnapshot
from floreyn.sync.snapshot import CardInfo, Snapshot
from floreyn.sync.snapshot_pages import PAGE_FORMAT, MemorySink, encode_card, encode_page
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.store.store import TerminalStore

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(snapshot_cache, "PAGE_CARDS", 3)  # the server runs in this process: pages of 3 cards


def same(a: Snapshot, b: Snapshot) -> None:
    """Equal as the till uses them: every field but the server time, and every card."""
    assert dataclasses.replace(a, server_time_ms=0, cards=(), blocklist=()) == \
        dataclasses.replace(b, server_time_ms=0, cards=(), blocklist=())
    if a.cards == b.cards:  # both paged: named alike
        assert a.blocklist == b.blocklist
        return
    assert named(a, b.cards) == b.cards  # `a` paged, `b` by full ids (JSON)
    assert len(a.blocklist) == len(b.blocklist) and all(a.card(c).blocked for c in b.blocklist)


def named(snap: Snapshot, like) -> tuple:
    """`snap`'s cards found as a till finds them (by full id: a paged snapshot names most by short ids),
    in the order of `like`; one of each, and no more cards than `like` has."""
    assert len(snap.cards) == len(like)
    return tuple(snap.card(c.card_id) for c in like)


def members_with_two_budgets(srv, world, n):
    funder = world.funder(eur_cents=1_000_000)
    out = []
    for i in range(n):
        member, card = world.member(eur_cents=1_000 + i, alias=f"Lid {i}")
        srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
            {"budget_id": f"B-{member}-{k}", "member_id": member, "label": label, "categories": [cat],
             "expires_on": "2099-12-31", "amount_cents": 500 + i} for k, label, cat in
            (("k", "Onderhoud", "klussen"), ("g", "Tuin", "groen"))]})
        out.append((member, card))
    return out


def made_now(srv) -> tuple:
    """Every card's figures made afresh from the ledger (what a rebuild per request gave), not the kept entries."""
    now = srv.ctx.clock()

    def read(conn):
        return snapshots.card_infos(conn, conn.execute(select(s.cards)).all(), (), state.local_date(now).isoformat(),
                                    state.get_settings(conn).limits.cumulative_cents, now)
    return srv.ctx.db.read(read)


def test_paged_and_json_snapshots_carry_the_cards_as_made_afresh_before_and_after_housekeeping(srv, world,
                                                                                               small_pages):
    people = members_with_two_budgets(srv, world, 7)
    client = world.terminal().client(srv)
    first = client.snapshot()
    assert named(first, made_now(srv)) == made_now(srv)
    same(first, client.snapshot_json())  # nothing kept yet: every entry made in the request
    srv.housekeeping()
    kept = srv.ctx.db.read(lambda conn: conn.execute(select(func.count()).select_from(s.snapshot_cards)).scalar())
    cards = srv.ctx.db.read(lambda conn: conn.execute(select(func.count()).select_from(s.cards)).scalar())
    assert kept == cards >= 7
    base = client.snapshot()
    assert named(base, made_now(srv)) == made_now(srv)
    same(base, client.snapshot_json())  # from the kept entries now
    assert len(base.card(people[0][1]).budgets) == 2
    # A change after the last housekeeping run: the request makes that card's entry itself.
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": people[3][0], "eur_cents": 2_500})
    merged = client.snapshot(base=base)  # by delta, in pages
    assert merged.card(people[3][1]).offline_allowance_cents == min(3_503, base.limits.cumulative_cents)
    assert named(merged, made_now(srv)) == made_now(srv)
    same(merged, client.snapshot_json())
    served = []
    real = snapshot_cache.page

    def watching(conn, terminal_id, **kw):
        served.append(real(conn, terminal_id, **kw))
        return served[-1]

    snapshot_cache.page = watching
    try:
        same(merged, client.snapshot())  # kept pages, the changed card in an overlay
    finally:
        snapshot_cache.page = real
    assert all(p.body is not None for p in served) and sum(p.header.overlay for p in served) == 1


def test_a_delta_in_pages_carries_many_changes_and_only_them(srv, world, small_pages):
    people = members_with_two_budgets(srv, world, 8)
    client = world.terminal().client(srv)
    base = client.snapshot()
    srv.housekeeping()
    for member, _ in people:
        srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100})
    fetched: list[int] = []
    real = snapshot_cache.page

    def counting(conn, terminal_id, **kw):
        served = real(conn, terminal_id, **kw)
        fetched.append(served.header.count + served.header.overlay)
        return served

    snapshot_cache.page = counting
    try:
        merged = client.snapshot(base=base)
    finally:
        snapshot_cache.page = real
    assert sum(fetched) == 8 and len(fetched) == 3  # three pages of at most three cards: just the eight changed
    same(merged, client.snapshot())


def test_a_snapshot_request_only_reads_and_the_housekeeping_job_expires_holds(srv, world):
    member, card = world.member(eur_cents=4_000)
    term, watcher = world.terminal(), world.terminal().client(srv)
    assert term.client(srv).authorize_spend(card, 1_500, "hold-1").approved
    base = watcher.snapshot()
    assert base.card(card).offline_allowance_cents == 2_500
    srv.ctx.db.write(lambda conn: conn.execute(update(s.holds).where(
        s.holds.c.terminal_id == term.terminal_id).values(expires_ms=1)))
    version = srv.ctx.db.read(state.current_version)
    watcher.snapshot(base=base)
    watcher.snapshot()
    watcher.snapshot_json()
    assert srv.ctx.db.read(state.current_version) == version  # nothing stamped: the requests only read
    status = srv.ctx.db.read(lambda conn: conn.execute(select(s.holds.c.status).where(
        s.holds.c.terminal_id == term.terminal_id)).scalar())
    assert status == "active"
    assert srv.housekeeping()["holds_expired"] >= 1
    assert watcher.snapshot(base=base).card(card).offline_allowance_cents == 4_000  # the delta carries it


def test_a_delta_from_a_version_the_server_does_not_know_becomes_a_full_snapshot(srv, world):
    _, card = world.member(eur_cents=700)
    client = world.terminal().client(srv)
    snap = client.snapshot()
    ahead = dataclasses.replace(snap, snapshot_version=snap.snapshot_version + 10**9, cards=())  # after a restore
    again = client.snapshot(base=ahead)
    assert again.card(card).offline_allowance_cents == 700 and again.snapshot_version <= snap.snapshot_version + 1


def test_an_entry_is_made_again_when_the_calendar_makes_it_wrong_and_only_then(srv, world):
    member, card = world.member(eur_cents=100)
    _, plain_card = world.member(eur_cents=100)
    now = srv.ctx.clock()
    tomorrow = state.local_date(now + DAY_MS).isoformat()
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": world.funder(eur_cents=1_000), "budgets": [
        {"budget_id": f"B-{member}-t", "member_id": member, "label": "Kort", "categories": ["winkel"],
         "expires_on": tomorrow, "amount_cents": 300}]})
    srv.housekeeping()
    assert srv.ctx.db.read(lambda conn: snapshot_cache.make_stale(conn, now, limit=10**6)) == []  # all current
    later = srv.ctx.db.read(lambda conn: snapshot_cache.make_stale(conn, now + 3 * DAY_MS, limit=10**6))
    made = {m["card_id"] for m in later}
    assert card in made and plain_card not in made  # its budget has lapsed; the other card is as it was


@pytest.mark.parametrize("attack, reason", [
    ("forged", "snapshot_bad_signature"),  # signed by another key
    ("replayed", "snapshot_page_mismatch"),  # a page of another fetch
    ("reordered", "snapshot_page_order"),  # the first page again where the second was asked for
    ("newer format", "snapshot_page_format"),  # a server a format ahead of this till
])
def test_a_till_refuses_a_bad_page_with_a_typed_error_and_keeps_its_snapshot(srv, world, small_pages, tmp_path,
                                                                            monkeypatch, attack, reason):
    _, card = world.member(eur_cents=900)
    term = world.terminal()
    store = TerminalStore(tmp_path / "terminal.db", term.terminal_id, FakeClock())
    client = term.client(srv)
    before = client.fetch_snapshot(store)
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": world.member()[0], "eur_cents": 100})
    real_page, real_sign = snapshot_cache.page, api_terminal.sign_page
    first: list = []

    def bad_page(conn, terminal_id, **kw):
        if attack == "replayed":
            kw["fetch"] = "0" * 32
        if attack == "reordered" and kw["after"]:
            kw = {**kw, "after": ""}
        served = real_page(conn, terminal_id, **kw)
        if attack == "reordered" and first and kw["after"] == "":
            return first[0]
        first.append(served)
        return served

    monkeypatch.setattr(snapshot_cache, "page", bad_page)
    if attack == "newer format":  # the header's own keys come after `common`'s: this one says the next format
        real_encode = snapshot_cache.encode_page
        monkeypatch.setattr(snapshot_cache, "encode_page", lambda header, *a, **kw: real_encode(
            dataclasses.replace(header, common={**header.common, "format": PAGE_FORMAT + 1}), *a, **kw))
    if attack == "forged":
        other = keys.new_private_key()
        monkeypatch.setattr(api_terminal, "sign_page", lambda wire, key: real_sign(wire, other))
    with pytest.raises(SyncBadSnapshot) as refused:
        client.fetch_snapshot(MemorySink(None))  # a new till's full fetch, several pages
    assert refused.value.params["reason"] == reason
    with pytest.raises(SyncBadSnapshot):
        client.fetch_snapshot(store)  # by delta, onto the till's own snapshot
    kept = store.current_snapshot()
    assert kept.snapshot_version == before.snapshot_version and kept.card(card).offline_allowance_cents == 900
    store.close()


def test_the_job_makes_every_stale_entry_in_small_rounds(srv, world, monkeypatch):
    monkeypatch.setattr(snapshot_cache, "REFRESH_CHUNK", 2)  # rounds of two cards, each after the one before
    for _ in range(5):
        world.member(eur_cents=200)
    srv.housekeeping()
    count = lambda table: srv.ctx.db.read(  # noqa: E731
        lambda conn: conn.execute(select(func.count()).select_from(table)).scalar())
    assert count(s.snapshot_cards) == count(s.cards)
    assert srv.ctx.db.read(lambda conn: snapshot_cache.make_stale(conn, srv.ctx.clock(), limit=10**6)) == []


def test_cards_made_in_the_request_go_out_as_the_very_bytes_their_entries_give(srv, world):
    """A page packs the cards it made itself as they are (no entry encoded only to be decoded again): the
    signed bytes must be those the entries give, for cards with no budgets, group budgets, holds, blocked."""
    from tests.server.test_budget_rules import group_budget

    base = srv.ctx.db.read(state.current_version)
    members_with_two_budgets(srv, world, 3)
    world.member(eur_cents=700, alias="Zonder budget")
    _, _, (_, capped), _, _ = group_budget(srv, world, member_cap_cents=10_000, confirm_above_cents=5_000)
    member, held = world.member(eur_cents=4_000)
    assert world.terminal().client(srv).authorize_spend(held, 1_500, "hold-1").approved
    _, blocked = world.member(eur_cents=900)
    srv.admin("POST", f"/v1/admin/cards/{blocked}/block", {"reason": "kwijt"})
    srv.ctx.db.write(lambda conn: (conn.execute(delete(s.snapshot_cards)), conn.execute(delete(s.snapshot_pages))))
    now = srv.ctx.clock()  # nothing kept (earlier tests ran the job on this server): every card made in the request
    terminal = world.terminal().terminal_id
    for since in (base, None):  # a delta, and a full page
        served = srv.ctx.db.read(lambda conn, since=since: snapshot_cache.page(
            conn, terminal, fetch="ab" * 16, since=since, after="", now_ms=now))
        made = [e for e in served.entries if isinstance(e, CardInfo)]
        assert {capped, held, blocked} <= {c.card_id for c in made} and len(made) == len(served.entries) >= 8
        kinds = {(bool(c.budgets), c.blocked, any(b.member_cap_left_cents is not None for b in c.budgets))
                 for c in made}
        assert {(False, False, False), (True, False, False), (True, False, True), (False, True, False)} <= kinds
        assert next(c for c in made if c.card_id == held).offline_allowance_cents == 2_500  # the hold counts
        old = encode_page(served.header, [encode_card(c) for c in made], body=served.body)
        assert served.wire() == old


def group_with_caps(srv, world, members: int) -> tuple[list[tuple[str, str]], str, str, str]:
    """`members` members in one group with two capped budgets (10,000 and 6,000 a month) and an uncapped one;
    (members, capped, capped, uncapped)."""
    funder = world.funder(eur_cents=1_000_000)
    people = [world.member() for _ in range(members)]
    gid = world.new_id("G")
    srv.admin("POST", "/v1/admin/groups", {"group_id": gid, "name": "Blok 7", "member_ids": [m for m, _ in people]})
    ids = [world.new_id("B") for _ in range(3)]
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": bid, "group_id": gid, "label": "Blokbudget", "categories": [], "expires_on": "2099-12-31",
         "amount_cents": 50_000, **rules} for bid, rules in
        zip(ids, ({"member_cap_cents": 10_000}, {"member_cap_cents": 6_000}, {"confirm_above_cents": 5_000}),
            strict=True)]})
    return people, *ids


def test_a_delta_of_cards_sharing_capped_group_budgets_carries_each_members_cap_left(srv, world, monkeypatch):
    """Issue 19: the caps of a delta's cards are read for all of them at once; each member's own spends and
    holds count against their cap, not the group's, and the delta's figures are the full snapshot's."""
    people, big, small, free = group_with_caps(srv, world, 4)
    (_, c0), (_, c1), (_, c2), (_, c3) = people
    client = world.terminal().client(srv)
    base = client.snapshot()
    srv.housekeeping()  # entries kept: the cards changed below are made in the delta's request
    shop = world.terminal()
    for card, budget, cents in ((c0, big, 1_500), (c1, big, 2_500), (c1, small, 1_000), (c3, small, 700),
                                (c3, free, 300)):
        shop.spend(card, cents, budget_id=budget)
    shop.client(srv).upload(shop.raws)
    assert client.authorize_spend(c2, 1_200, uuid.uuid4().hex, budget_id=small).approved  # held, not yet spent
    served: list[snapshot_cache.ServedPage] = []
    real = snapshot_cache.page

    def watching(conn, terminal_id, **kw):
        served.append(real(conn, terminal_id, **kw))
        return served[-1]

    monkeypatch.setattr(snapshot_cache, "page", watching)
    merged = client.snapshot(base=base)
    monkeypatch.undo()
    assert sum(p.header.count for p in served) == 4 and all(p.body is None for p in served)  # made in the request
    ours = {card for _, card in people}  # the server is shared with the tests before: only this test's cards
    caps = {(c, b.budget_id): b.member_cap_left_cents for c in ours for b in merged.card(c).budgets}
    assert caps == {(c0, big): 8_500, (c1, big): 7_500, (c2, big): 10_000, (c3, big): 10_000,
                    (c0, small): 6_000, (c1, small): 5_000, (c2, small): 4_800, (c3, small): 5_300,
                    **{(c, free): None for _, c in people}}
    full = client.snapshot()
    assert named(merged, made_now(srv)) == named(full, made_now(srv)) == made_now(srv)
    srv.housekeeping()
    assert named(client.snapshot(), made_now(srv)) == made_now(srv)  # and kept by the job, the same


def test_the_caps_of_a_delta_take_the_same_statements_for_few_cards_as_for_many(srv, world):
    """The group caps of every card a delta makes are one read, not three statements per capped budget of each
    card (which cost PostgreSQL some 1 ms each: issue 19's delta budget is 50 ms for 100 cards)."""
    few, big, _, _ = group_with_caps(srv, world, 2)
    many, _, _, _ = group_with_caps(srv, world, 8)
    shop = world.terminal()
    shop.spend(few[0][1], 1_000, budget_id=big)
    shop.client(srv).upload(shop.raws)
    now = srv.ctx.clock()

    def statements(people) -> tuple[int, tuple[CardInfo, ...]]:
        def read(conn):
            seen = []
            event.listen(conn, "before_cursor_execute", lambda *args: seen.append(args[2]))
            cards = conn.execute(select(s.cards).where(s.cards.c.member_id.in_([m for m, _ in people]))).all()
            infos = snapshots.card_infos(conn, cards, (), state.local_date(now).isoformat(), 5_000, now)
            return len(seen) - 1, infos
        return srv.ctx.db.read(read)

    (n_few, infos), (n_many, _) = statements(few), statements(many)
    assert n_few == n_many <= 3, (n_few, n_many)
    assert [b.member_cap_left_cents for b in infos[[c.card_id for c in infos].index(few[0][1])].budgets
            if b.budget_id == big] == [9_000]


def stored_keys(store: TerminalStore, lead: str) -> list[str]:
    with store.read() as view:
        return [k for k, in view.db.all("SELECT card_id FROM snapshot_cards WHERE card_id >= ? AND card_id < ?",
                                        (lead, lead + "g"))]


def test_cards_sharing_a_short_id_reach_tills_in_full_and_no_other_card_finds_them(srv, world, small_pages,
                                                                                  tmp_path):
    """A card issued with the first 8 bytes of a card tills already hold by its short id: the next delta
    names both in full (the old one's version bumped), so does a full fetch from the kept pages (the
    overlay), and a third card with those bytes finds neither: it never spends their balance."""
    lead = uuid.uuid4().hex[:16]
    first, second, stranger = (lead + uuid.uuid4().hex[:16] for _ in range(3))
    m1, _ = world.member(eur_cents=300)
    srv.admin("POST", "/v1/admin/cards", {"card_id": first, "member_id": m1})
    term = world.terminal()
    store = TerminalStore(tmp_path / "old" / "till.db", term.terminal_id, FakeClock())
    client = term.client(srv)
    client.fetch_snapshot(store)
    assert stored_keys(store, lead) == [lead]  # alone: by its short id
    srv.housekeeping()  # the kept page names `first` by its short id
    m2, _ = world.member(eur_cents=500)
    srv.admin("POST", "/v1/admin/cards", {"card_id": second, "member_id": m2})
    for till in (store, None):  # a delta onto the till's snapshot; a new till's full fetch
        till = till or TerminalStore(tmp_path / "new" / "till.db", term.terminal_id, FakeClock())
        snap = client.fetch_snapshot(till)
        assert stored_keys(till, lead) == sorted([first, second])
        assert snap.card(first).offline_allowance_cents == 300 and snap.card(second).offline_allowance_cents == 500
        assert snap.card(stranger) is None
        till.close()
    paged = client.snapshot()  # the same pages into memory (MemorySink)
    assert paged.card(first).card_id == first and paged.card(stranger) is None
    assert {c.card_id for c in paged.cards} >= {first, second}
    alone = world.member()[1]

    def shared(ids, **kw):
        return srv.ctx.db.read(lambda conn: snapshot_cache.shared_ids(conn, ids, **kw))
    lo, hi = sorted([first, second])
    # a page's run ending at `lo` (`hi` on the next page) or starting at `hi`: its outer neighbour tells
    assert shared([lo]) == shared([lo], run_after="") == {lo} and shared(sorted([alone, hi])) == {hi}
    assert shared([hi], run_after=lo) == {hi} and shared([alone]) == set()
