"""One figure for "what may this card spend now, here": snapshot, card summary and authorization agree.

The pure rules are checked by hypothesis without a database; the shared
figure is checked by hypothesis over random sequences of holds, releases,
expiries and uploads against the real server, reading it the three ways a
till does (full snapshot, delta snapshot, card summary) and asking it to
authorize.
"""

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from floreyn.server import authz, ledger, snapshots, spendable, state
from floreyn.server import schema as s

cents = st.integers(min_value=-10**9, max_value=10**9)
held = st.integers(min_value=0, max_value=10**9)


@given(cents, held, st.integers(min_value=0, max_value=10**7), st.booleans())
def test_the_offline_allowance_never_exceeds_the_free_amount_or_the_cap(balance, on_hold, cap, usable):
    free = spendable.free_cents(balance, on_hold)
    allowance = spendable.offline_allowance_cents(free, cap, usable=usable)
    assert 0 <= allowance <= cap
    assert allowance <= max(0, free)
    assert usable or allowance == 0
    if usable and 0 <= free <= cap:
        assert allowance == free  # nothing withheld that the card holds free


@given(cents, held, held, st.integers(min_value=1, max_value=10**9))
def test_more_held_never_means_more_to_spend(balance, on_hold, more, amount):
    before = spendable.free_cents(balance, on_hold)
    after = spendable.free_cents(balance, on_hold + more)
    assert after <= before
    assert not spendable.may_authorize(after, amount) or spendable.may_authorize(before, amount)
    assert spendable.budget_offline_cents(after) <= spendable.budget_offline_cents(before)


@given(cents, held, st.integers(min_value=-10, max_value=10**9))
def test_authorization_grants_exactly_what_is_free(balance, on_hold, amount):
    free = spendable.free_cents(balance, on_hold)
    assert spendable.may_authorize(free, amount) == (0 < amount <= balance - on_hold)


# -- against the server: the three readings agree and follow every event ------------

step = st.one_of(
    st.tuples(st.just("hold"), st.integers(min_value=1, max_value=4_000)),
    st.tuples(st.just("release"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("expire"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("upload"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("topup"), st.integers(min_value=1, max_value=3_000)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
def test_snapshot_summary_and_authorization_use_one_figure(srv, world, steps):
    member_id, card = world.member(eur_cents=5_000)
    term, other = world.terminal(), world.terminal()
    client, watcher = term.client(srv), other.client(srv)
    base = watcher.snapshot()
    pending: list[tuple[str, int]] = []  # approved holds whose spend is not yet made: (request id, cents)
    for i, (kind, n) in enumerate(steps):
        if kind == "hold":
            rid = world.new_id("q")
            if client.authorize_spend(card, n, rid).approved:
                pending.append((rid, n))
        elif kind == "release" and pending:
            client.release_hold(pending.pop(n % len(pending))[0])
        elif kind == "expire" and pending:
            rid, _ = pending.pop(n % len(pending))
            srv.ctx.db.write(lambda conn, rid=rid: conn.execute(update(s.holds).where(
                s.holds.c.terminal_id == term.terminal_id, s.holds.c.request_id == rid).values(expires_ms=1)))
            srv.housekeeping()  # the every-minute job marks it expired and stamps the card it frees
        elif kind == "upload" and pending:
            _, amount = pending.pop(n % len(pending))
            term.spend(card, amount)  # the spend the hold was for; ingest consumes the hold (card, amount)
            client.upload(term.raws)
        elif kind == "topup":
            srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member_id, "eur_cents": n})
        balance = world.balance(f"member:{member_id}")  # read once: nothing moves it between the two lines
        free = balance - _open_holds(srv, f"member:{member_id}")
        assert free == balance - sum(c for _, c in pending)
        merged = watcher.snapshot(base=base)
        full = watcher.snapshot()
        base = merged
        cap = full.limits.cumulative_cents
        assert merged.card(card) == full.card(card), f"step {i}: a delta missed the change of {kind}"
        assert full.card(card).offline_allowance_cents == max(0, min(free, cap))
        assert watcher.card_summary(card)["balance_cents"] == free
    if free > 0:
        probe = world.new_id("probe")
        assert watcher.authorize_spend(card, free, probe).approved
        assert not watcher.authorize_spend(card, 1, probe + "-2").approved  # nothing beyond the figure
        watcher.release_hold(probe)


def test_a_hold_reaches_a_till_that_syncs_by_delta_and_its_release_too(srv, world):
    """The issue's case: T-bakker-1 paid online (not uploaded); T-bakker-2 syncs and must see less."""
    _, card = world.member(eur_cents=2_000)
    first, second = world.terminal(), world.terminal()
    watcher = second.client(srv)
    base = watcher.snapshot()
    assert base.card(card).offline_allowance_cents == 2_000
    assert first.client(srv).authorize_spend(card, 1_567, "bakker-1").approved
    held = watcher.snapshot(base=base)
    assert held.snapshot_version > base.snapshot_version
    assert held.card(card).offline_allowance_cents == 433
    assert held.card(card).state_version > base.card(card).state_version
    first.client(srv).release_hold("bakker-1")
    assert watcher.snapshot(base=held).card(card).offline_allowance_cents == 2_000


def test_the_summary_quotes_what_authorization_grants(srv, world):
    """Online: balance fl 20,00 shown after a fl 3,50 payment was the bug; the split must fit the figure."""
    _, card = world.member(eur_cents=2_000)
    term = world.terminal()
    client = term.client(srv)
    assert client.authorize_spend(card, 350, "q-350").approved
    summary = client.card_summary(card)
    assert (summary["balance_cents"], summary["ledger_balance_cents"]) == (1_650, 2_000)
    assert client.authorize_spend(card, summary["balance_cents"], "q-rest").approved


def _open_holds(srv, account):
    return srv.ctx.db.read(lambda conn: sum(conn.execute(select(s.holds.c.amount_cents).where(
        s.holds.c.account == account, s.holds.c.status == "active", s.holds.c.expires_ms >= 2)).scalars()))


def test_the_summary_of_a_member_with_budgets_and_holds_agrees_with_the_general_readers(srv, world):
    """The card summary reads in one or two statements of its own (authz._CARD_SUMMARY): the same figures as
    free_by_account and member_budgets, which the snapshot and authorization read; own budgets first."""
    funder = world.funder(eur_cents=100_000)
    (m1, c1), (m2, _) = world.member(eur_cents=2_000), world.member()
    gid = world.new_id("G")
    srv.admin("POST", "/v1/admin/groups", {"group_id": gid, "name": "Blok 7", "member_ids": [m1, m2]})
    own, others, group = world.new_id("B"), world.new_id("B"), world.new_id("B")
    grant = {"categories": [], "expires_on": "2099-12-31"}
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": group, "group_id": gid, "label": "Blok", "amount_cents": 30_000, "member_cap_cents": 10_000,
         **grant},
        {"budget_id": own, "member_id": m1, "label": "Zorg", "amount_cents": 4_000, **grant},
        {"budget_id": others, "member_id": m2, "label": "Zorg", "amount_cents": 5_000, **grant}]})
    client = world.terminal().client(srv)
    assert client.authorize_spend(c1, 700, "w").approved
    assert client.authorize_spend(c1, 1_000, "b", budget_id=own).approved
    assert client.authorize_spend(c1, 2_500, "g", budget_id=group).approved
    summary = client.card_summary(c1)
    assert (summary["balance_cents"], summary["ledger_balance_cents"]) == (1_300, 2_000)
    assert [(b["budget_id"], b["remaining_cents"], b["member_cap_left_cents"]) for b in summary["budgets"]] == [
        (own, 3_000, None), (group, 27_500, 7_500)]
    now = srv.ctx.clock()

    def general(conn):
        budgets = snapshots.member_budgets(conn, [m1], state.local_date(now).isoformat())[m1]
        accounts = [ledger.member_acct(m1)] + [ledger.budget_acct(b.budget_id) for b in budgets]
        return {b.budget_id for b in budgets}, spendable.free_by_account(conn, accounts, now)

    ids, free = srv.ctx.db.read(general)
    assert ids == {own, group}
    assert free[ledger.member_acct(m1)] == summary["balance_cents"]
    assert all(free[ledger.budget_acct(b["budget_id"])] == b["remaining_cents"] for b in summary["budgets"])


def test_the_summary_of_a_card_without_budgets_is_one_statement(srv, world):
    """A till asks at every tap; seven statements built per call cost ~5 ms of server Python per read."""
    _, card = world.member(eur_cents=1_500)
    statements: list[str] = []

    def summary(conn):  # counted at the driver: the summary goes to it straight (bulk.Compiled)
        with _statements_sent(conn, statements):
            return authz.card_summary(conn, card, srv.ctx.clock())

    assert srv.ctx.db.read(summary)["balance_cents"] == 1_500
    assert len(statements) == 1, statements


@contextlib.contextmanager
def _statements_sent(conn, sent: list[str]):
    """Every statement the driver under `conn` executes meanwhile (sqlite3's trace callback; psycopg's cursors)."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        driver.set_trace_callback(sent.append)
        try:
            yield
        finally:
            driver.set_trace_callback(None)
        return
    plain = driver.cursor_factory

    class Counted(plain):
        def execute(self, query, *args, **kwargs):
            sent.append(str(query))
            return super().execute(query, *args, **kwargs)

    driver.cursor_factory = Counted
    try:
        yield
    finally:
        driver.cursor_factory = plain
