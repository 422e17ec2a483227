"""Hot-path SQL by lists (server/bulk.py): every value of a list longer than one statement's chunk is taken."""

import uuid

from floreyn.server import bulk, ledger

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
