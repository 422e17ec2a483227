"""Hot-path SQL by lists (server/bulk.py): every value of a list longer than one statement's chunk is taken."""

import uuid

import pytest
from sqlalchemy import String, bindparam, literal, or_, select
from sqlalchemy.exc import IntegrityError, NoResultFound

from floreyn.server import bulk, ledger
from floreyn.server import schema as s

NOW = 1_780_000_000_000
MANY = 2 * bulk.IN_LIST_CHUNK + 7  # three statements


def _accounts(database, n):
    keys = [ledger.member_acct(f"bulk-{uuid.uuid4().hex[:12]}") for _ in range(n)]
    database.write(lambda conn: ledger.ensure_accounts(conn, keys, NOW))
    return sorted(keys)


def test_rows_in_reads_updates_and_deletes_every_value_of_a_long_list(database):
    keys = _accounts(database, MANY)
    database.write(lambda conn: bulk.add_to_column(conn, "accounts", "balance_cents", "key",
                                                   [(k, i + 1) for i, k in enumerate(keys)]))
    unknown = ledger.member_acct("bulk-never-made")

    read = database.read(lambda conn: bulk.rows_in(
        conn, "SELECT key, balance_cents FROM accounts WHERE kind = {mark} AND key IN ({values})", ("member",),
        [*keys, unknown]))
    assert sorted(read) == [(k, i + 1) for i, k in enumerate(keys)]
    assert database.read(lambda conn: ledger.balances(conn, [*keys, unknown])) == {
        **{k: i + 1 for i, k in enumerate(keys)}, unknown: 0}
    # The parameters before the list are bound to their own place in every chunk's statement.
    assert database.read(lambda conn: bulk.rows_in(
        conn, "SELECT key FROM accounts WHERE kind = {mark} AND key IN ({values})", ("merchant",), keys)) == []

    changed = database.write(lambda conn: bulk.rows_in(
        conn, "UPDATE accounts SET balance_cents = {mark} WHERE key IN ({values})", (-5,), keys))
    assert changed == []  # a statement that returns no rows
    assert set(database.read(lambda conn: ledger.balances(conn, keys)).values()) == {-5}

    database.write(lambda conn: bulk.rows_in(conn, "DELETE FROM accounts WHERE key IN ({values})", (), keys[1:]))
    assert database.read(lambda conn: bulk.rows_in(
        conn, "SELECT key FROM accounts WHERE key IN ({values})", (), keys)) == [(keys[0],)]


def test_rows_in_with_no_values_sends_no_statement(database):
    assert database.read(lambda conn: bulk.rows_in(conn, "SELECT key FROM accounts WHERE key IN ({values})", (),
                                                   [])) == []


def test_balance_changes_make_the_new_accounts_and_add_to_the_others(database):
    old, unchanged = _accounts(database, 2)
    database.write(lambda conn: ledger.apply_deltas(conn, {old: 300, unchanged: 7}, NOW))
    new, new_at_zero = (ledger.member_acct(f"bulk-{uuid.uuid4().hex[:12]}") for _ in range(2))
    database.write(lambda conn: ledger.apply_deltas(conn, {old: -120, unchanged: 0, new: 55, new_at_zero: 0}, NOW + 1))
    assert database.read(lambda conn: ledger.balances(conn, [old, unchanged, new, new_at_zero])) == {
        old: 180, unchanged: 7, new: 55, new_at_zero: 0}
    made = dict(database.read(lambda conn: bulk.rows_in(
        conn, "SELECT key, created_ms FROM accounts WHERE key IN ({values})", (), [old, new, new_at_zero])))
    assert made == {old: NOW, new: NOW + 1, new_at_zero: NOW + 1}  # made once, when first posted to


def test_run_answers_as_sqlalchemys_results_did_and_raises_its_errors(database):
    tag = f"bulk-{uuid.uuid4().hex[:12]}"
    insert = "INSERT INTO settings (key, value) VALUES ({mark}, {mark})"
    assert database.write(lambda conn: bulk.run(conn, insert, (tag, "7")).all()) == []  # no rows: nothing to read
    read = "SELECT key, value FROM settings WHERE key = {mark}"
    row = database.read(lambda conn: bulk.run(conn, read, (tag,)).first())
    assert (row.key, row.value) == (tag, "7") and tuple(row) == (tag, "7") and row[1] == "7"
    assert database.read(lambda conn: bulk.run(conn, read, (tag,)).one()) == (tag, "7")
    assert database.read(lambda conn: bulk.run(conn, read, (tag + "-none",)).first()) is None
    assert database.read(lambda conn: bulk.run(conn, read, (tag,)).scalars().all()) == [tag]
    assert database.read(lambda conn: dict(bulk.run(conn, read, (tag,)).tuples().all())) == {tag: "7"}
    assert database.read(lambda conn: [r.value for r in bulk.run(conn, read, (tag,))]) == ["7"]
    with pytest.raises(NoResultFound):
        database.read(lambda conn: bulk.run(conn, read, (tag + "-none",)).scalar_one())
    # A broken constraint is SQLAlchemy's IntegrityError (ingest refuses a batch with a used record id by it),
    # and the transaction's other writes are undone with it.
    other = f"{tag}-other"

    def twice(conn):
        bulk.run(conn, insert, (other, "1"))
        bulk.insert_rows(conn, s.settings, ("key", "value"), [(tag, "8")])

    with pytest.raises(IntegrityError):
        database.write(twice)
    assert database.read(lambda conn: bulk.run(conn, read, (other,)).first()) is None


def test_a_pipeline_runs_its_statements_in_order_in_the_transaction_and_raises_as_sqlalchemy(pg_database):
    keys = _accounts(pg_database, 3)

    def run(conn):
        return bulk.pipelined(conn, [
            bulk.Statement(ledger.APPLY_DELTAS, ledger.delta_rows({k: 10 for k in keys}, NOW), many=True),
            bulk.Statement(bulk.add_to_column_sql("accounts", "balance_cents", "key"),
                           bulk.add_to_column_rows([(keys[0], 5)]), many=True),
            bulk.Statement("SELECT key, balance_cents FROM accounts WHERE key IN ({mark}, {mark}) ORDER BY key",
                           keys[:2]),
        ])

    applied, added, read = pg_database.write(run)
    assert applied.rows is None and added.rowcount == 1
    assert read.rows == [(keys[0], 15), (keys[1], 10)]  # each statement saw the ones before it

    def fails(conn):
        bulk.pipelined(conn, [bulk.Statement("UPDATE accounts SET balance_cents = 0 WHERE key = {mark}", (keys[2],)),
                              bulk.Statement(ledger.APPLY_DELTAS, ledger.delta_rows({keys[0]: 1}, NOW), many=True),
                              bulk.Statement("INSERT INTO meta (key, value) VALUES ('data_version', 1)")])

    with pytest.raises(IntegrityError):  # the driver's UniqueViolation, as SQLAlchemy raises it
        pg_database.write(fails)
    assert pg_database.read(lambda conn: ledger.balances(conn, keys)) == {keys[0]: 15, keys[1]: 10, keys[2]: 10}


def test_a_compiled_statement_answers_as_sqlalchemy_does_with_its_literals_and_given_parameters(database):
    """bulk.Compiled (the card summary's statement): compiled once per dialect, sent straight to the driver, with
    the statement's own literal values and the parameters given by name, in any order in the SQL."""
    keys = _accounts(database, 3)
    database.write(lambda conn: [bulk.run(conn, "UPDATE accounts SET balance_cents = {mark} WHERE key = {mark}",
                                          (100 * i, k)) for i, k in enumerate(keys)])
    stmt = (select(s.accounts.c.key, (s.accounts.c.balance_cents + bindparam("extra")).label("plus"),
                   literal("member:", String).label("prefix"))
            .where(or_(*(s.accounts.c.key == k for k in keys)), s.accounts.c.balance_cents >= bindparam("least"),
                   s.accounts.c.kind == "member")
            .order_by(s.accounts.c.key))
    compiled = bulk.Compiled(stmt)
    for least, extra in ((0, 1), (100, 5), (1_000, 0)):
        given = {"least": least, "extra": extra}
        ours = database.read(lambda conn, given=given: [tuple(r) for r in compiled.run(conn, given)])
        theirs = database.read(lambda conn, given=given: [tuple(r) for r in conn.execute(stmt, given)])
        assert ours == theirs and len(ours) == sum(100 * i >= least for i in range(3))
    row = database.read(lambda conn: compiled.run(conn, {"least": 200, "extra": 1}).one())
    assert (row.key, row.plus, row.prefix) == (keys[2], 201, "member:")
    listed = bulk.Compiled(select(s.accounts.c.key).where(s.accounts.c.key.in_(keys)))  # rendered per call: rows_in
    with pytest.raises(ValueError, match="rows_in"):
        database.read(lambda conn: listed.run(conn, {}))
