"""The cooperative's double-entry ledger, in integer cents, Floreyn and euro kept apart.

Every account holds one currency. A transaction is a set of postings whose
amounts sum to zero *per currency*: Floreyn never turns into euros inside an
account; a top-up or cash-out is two balanced legs, one in each currency.
Signs: a positive balance is value the account holds (a member's fl, the
reserve's euros); the contra accounts carry the other side:

    coop:issued     fl   minus the Floreyn in circulation (top-ups credit it, cash-outs debit it)
    coop:reserve    EUR  euros the cooperative holds against circulation
    coop:income     EUR  the spread earned on cash-outs
    world:eur       EUR  the outside world: euros that came in (negative) or went out
    member:<id>     fl   a member's wallet
    budget:<id>     fl   a labeled budget (of a member or of a group)
    merchant:<id>   fl   a merchant's or freelancer's Floreyn (negative: owes the cooperative)
    merchant_eur:<id> EUR euros a merchant took for top-ups at its till and owes the cooperative
    funder:<id>     fl   a funder's Floreyn, bought at the desk, granted to budgets
    card:<hex>      fl   suspense for a genuine card the server has not registered yet
    clearing:<id>   EUR  euros booked with a merchant but not yet through the bank: positive = to pay the
                         merchant, negative = to collect from it (stands in for world:eur until the batch
                         is confirmed; see settlement.py)
    pot:<campaign>  fl   a joint campaign's pot: merchants pay in, it pays saving extras and redeeming bonuses
    dispute:<terminal> fl suspense for what a terminal's records claimed beyond the rules (server/rules.py);
                         frozen until an admin decides, so not counted as Floreyn held against the reserve

Postings are never changed (the tables refuse UPDATE and DELETE); balances
are kept incrementally on `accounts`, and `floreyn-server replay` recomputes
them from the postings and compares.
"""

from __future__ import annotations

import enum
import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Final, Iterable, Sequence

from sqlalchemy import Connection, select

from floreyn.money import Currency, Money
from floreyn.server import bulk
from floreyn.server import schema as s

ISSUED: Final = "coop:issued"
RESERVE: Final = "coop:reserve"
INCOME: Final = "coop:income"
WORLD: Final = "world:eur"
FIXED_ACCOUNTS: Final = (ISSUED, RESERVE, INCOME, WORLD)
# transactions.memo is String(MAX_MEMO_CHARS) (schema.py). A longer memo is refused where
# the transaction is made (LedgerTx raises MemoTooLong), never cut where it is written;
# the admin API's reasons and notes are limited to this length before they get here.
MAX_MEMO_CHARS: Final = 200
MAX_POSTINGS_PER_TX: Final = 2_002  # a bulk grant of 1,000 budgets plus its funder leg, with room


def member_acct(member_id: str) -> str:
    return f"member:{member_id}"


def budget_acct(budget_id: str) -> str:
    return f"budget:{budget_id}"


def merchant_acct(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def merchant_eur_acct(merchant_id: str) -> str:
    return f"merchant_eur:{merchant_id}"


def funder_acct(funder_id: str) -> str:
    return f"funder:{funder_id}"


def clearing_acct(merchant_id: str) -> str:
    return f"clearing:{merchant_id}"


def card_acct(card_hex: str) -> str:
    return f"card:{card_hex}"


def pot_acct(campaign_id: str) -> str:
    return f"pot:{campaign_id}"


def dispute_acct(terminal_id: str) -> str:
    return f"dispute:{terminal_id}"


_PREFIXES: Final = {
    "member": Currency.FL, "budget": Currency.FL, "merchant": Currency.FL, "funder": Currency.FL,
    "card": Currency.FL, "merchant_eur": Currency.EUR, "clearing": Currency.EUR, "dispute": Currency.FL,
    "pot": Currency.FL,
}
_FIXED: Final = {ISSUED: Currency.FL, RESERVE: Currency.EUR, INCOME: Currency.EUR, WORLD: Currency.EUR}


@functools.lru_cache(maxsize=65_536)  # a pure function of the key, asked for every posting
def account_kind(key: str) -> tuple[str, Currency, str | None]:
    """(kind, currency, owner id) of an account key; refuses keys outside the chart."""
    if key in _FIXED:
        return key.split(":")[0] if key != WORLD else "world", _FIXED[key], None
    prefix, _, owner = key.partition(":")
    if prefix not in _PREFIXES or not owner:
        raise ValueError(f"not an account key: {key!r}")
    return prefix, _PREFIXES[prefix], owner


class TxKind(str, enum.Enum):  # noqa: UP042 (StrEnum would change str() of a member, which logs and messages use)
    SPEND = "spend"
    SAVE = "save"
    TOPUP = "topup"
    CASHOUT = "cashout"
    REMIT = "remit"  # a merchant hands in the euros of top-ups taken at its till
    GRANT = "grant"
    EXPIRY = "expiry"
    REFUND = "refund"
    VOID = "void"
    REVERSAL = "reversal"  # an admin's correction of an earlier transaction
    CLAIM = "claim"  # an unregistered card's suspense moves to the member it is issued to
    SETTLE = "settle"  # a merchant's period settled: fl handed in at bid / bought at ask, till euros netted
    PAYOUT = "payout"  # a confirmed bank batch: clearing accounts against the outside world
    POT_IN = "pot_in"  # a merchant pays into a joint campaign's pot
    POT_PAY = "pot_pay"  # the pot pays a saving extra (to the merchant that granted it) or a redeeming bonus
    PAYMENT = "payment"  # between accounts, outside a till (server/payments.py)
    DISPUTE = "dispute"  # an admin's decision on a parked excess (release, return, write off)


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Money

    def __post_init__(self) -> None:
        _, currency, _ = account_kind(self.account)
        if currency is not self.amount.currency:
            raise ValueError(f"{self.account} holds {currency.value}, posting is in {self.amount.currency.value}")
        if self.amount.cents == 0:
            raise ValueError("a posting of zero is no posting")


class MemoTooLong(ValueError):
    """A bug, not input: whoever makes a transaction keeps its memo within MAX_MEMO_CHARS."""


class Unbalanced(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LedgerTx:
    tx_id: str
    kind: TxKind
    postings: tuple[Posting, ...]
    created_ms: int
    terminal_id: str | None = None
    record_seq: int | None = None
    card_id: str | None = None
    merchant_id: str | None = None
    reverses: str | None = None
    request_id: str | None = None
    memo: str = ""

    def __post_init__(self) -> None:
        if len(self.memo) > MAX_MEMO_CHARS:
            raise MemoTooLong(f"{self.tx_id}: a memo of {len(self.memo)} characters, at most {MAX_MEMO_CHARS}")
        if not 2 <= len(self.postings) <= MAX_POSTINGS_PER_TX:
            raise Unbalanced(f"{self.tx_id}: {len(self.postings)} postings")
        # The two currencies summed in one loop: made for every posted record, inside ingest's write lock
        # (currency_totals' dict of enum keys cost more than the rest of the transaction's checks). A posting
        # not in fl is in euros: _TWO_CURRENCIES below fails at import if Currency ever gains a third.
        fl = eur = 0
        for p in self.postings:
            if p.amount.currency is Currency.FL:
                fl += p.amount.cents
            else:
                eur += p.amount.cents
        if fl or eur:
            currency, total = (Currency.FL, fl) if fl else (Currency.EUR, eur)
            raise Unbalanced(f"{self.tx_id}: {currency.value} postings sum to {total}, not zero")


_TWO_CURRENCIES: Final = (Currency.FL, Currency.EUR)
assert tuple(Currency) == _TWO_CURRENCIES, "LedgerTx's balance check sums fl and everything else as euros"


def currency_totals(postings: Iterable[Posting]) -> dict[Currency, int]:
    totals: dict[Currency, int] = defaultdict(int)
    for p in postings:
        totals[p.amount.currency] += p.amount.cents
    return dict(totals)


def legs(*pairs: tuple[str, Money]) -> tuple[Posting, ...]:
    """Postings from (account, amount) pairs, leaving out zero amounts."""
    return tuple(Posting(acct, amount) for acct, amount in pairs if amount.cents != 0)


def cents_legs(pairs: Iterable[tuple[str, int]], currency: Currency) -> tuple[Posting, ...]:
    """As legs(), from (account, cents) pairs in one currency: no Money arithmetic on the way (ingest's hot path)."""
    return tuple(Posting(acct, Money(cents, currency)) for acct, cents in pairs if cents != 0)


def reversed_postings(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    return tuple(Posting(p.account, -p.amount) for p in postings)


def post(conn: Connection, txs: Sequence[LedgerTx]) -> dict[str, int]:
    """Write transactions, their postings and the balance changes; returns the change per account.

    Balances are updated in sorted key order so concurrent writers on
    PostgreSQL lock account rows in the same order and cannot deadlock.
    """
    deltas = write_entries(conn, txs)
    if txs:
        apply_deltas(conn, deltas, txs[0].created_ms)
    return deltas


def write_entries(conn: Connection, txs: Sequence[LedgerTx]) -> dict[str, int]:
    """Write transactions and their postings, not yet the balances; returns the change per account.

    The caller applies the changes with apply_deltas in the same transaction. Ingest does that
    last, just before its commit: on PostgreSQL an account row (coop:issued, a merchant) stays
    locked from its UPDATE to the COMMIT, so every other upload waits that long for it.
    """
    if not txs:
        return {}
    bulk.insert_rows(conn, s.transactions, _TX_COLUMNS, [_tx_row(tx) for tx in txs])
    # One pass over the postings for their rows and the balance changes: this runs for every posted record.
    rows: list[tuple[object, ...]] = []
    deltas: dict[str, int] = defaultdict(int)
    for tx in txs:
        tx_id, kind, created_ms = tx.tx_id, tx.kind.value, tx.created_ms
        for p in tx.postings:
            rows.append((tx_id, p.account, p.amount.currency.value, p.amount.cents, kind, created_ms))
            deltas[p.account] += p.amount.cents
    bulk.insert_rows(conn, s.postings, _POSTING_COLUMNS, rows)
    return dict(deltas)


def apply_deltas(conn: Connection, deltas: dict[str, int], now_ms: int) -> None:
    """Add each account's change to its balance (accounts made when new), in sorted key order."""
    # One statement for both (an upsert): the ensure-then-update pair was a second pass over the same rows.
    bulk.insert_or_add(conn, s.accounts, _ACCOUNT_COLUMNS, delta_rows(deltas, now_ms), "balance_cents")


def delta_rows(deltas: dict[str, int], now_ms: int) -> list[tuple[object, ...]]:
    """apply_deltas' rows (APPLY_DELTAS' parameters), in sorted key order: the lock order."""
    return [_account_row(k, now_ms, deltas[k]) for k in sorted(deltas)]


_TX_COLUMNS = ("tx_id", "kind", "created_ms", "terminal_id", "record_seq", "card_id", "merchant_id", "reverses",
               "request_id", "memo")
_POSTING_COLUMNS = ("tx_id", "account", "currency", "amount_cents", "kind", "created_ms")


def _tx_row(tx: LedgerTx) -> tuple[object, ...]:
    return (tx.tx_id, tx.kind.value, tx.created_ms, tx.terminal_id, tx.record_seq, tx.card_id, tx.merchant_id,
            tx.reverses, tx.request_id, tx.memo)


_ACCOUNT_COLUMNS = ("key", "kind", "currency", "owner_id", "balance_cents", "created_ms")
# apply_deltas' statement for one account ({mark}: each parameter), for a caller that sends it in a pipeline.
APPLY_DELTAS: Final = bulk.insert_or_add_sql(s.accounts, _ACCOUNT_COLUMNS, "balance_cents")
BALANCES: Final = "SELECT key, balance_cents FROM accounts WHERE key IN ({values})"  # see balances()


def _account_row(key: str, now_ms: int, balance_cents: int = 0) -> tuple[object, ...]:
    kind, currency, owner = account_kind(key)
    return (key, kind, currency.value, owner, balance_cents, now_ms)


def ensure_accounts(conn: Connection, keys: Sequence[str], now_ms: int) -> None:
    bulk.insert_rows(conn, s.accounts, _ACCOUNT_COLUMNS, [_account_row(k, now_ms) for k in sorted(keys)],
                     ignore_existing=True)


def balance(conn: Connection, key: str) -> Money:
    """One account's balance: a primary-key read, never a sum over history."""
    _, currency, _ = account_kind(key)
    cents = conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == key)).scalar()
    return Money(cents or 0, currency)


def balances(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    keys = sorted(set(keys))
    found = dict(bulk.rows_in(conn, BALANCES, (), keys))
    return {k: found.get(k, 0) for k in keys}


def tx_postings(conn: Connection, tx_ids: Iterable[str]) -> dict[str, list[Posting]]:
    ids = sorted(set(tx_ids))
    out: dict[str, list[Posting]] = defaultdict(list)
    for chunk in bulk.chunks(ids):
        rows = conn.execute(select(s.postings.c.tx_id, s.postings.c.account, s.postings.c.currency,
                                   s.postings.c.amount_cents).where(s.postings.c.tx_id.in_(chunk))
                            .order_by(s.postings.c.id))
        for tx_id, account, currency, cents in rows:
            out[tx_id].append(Posting(account, Money(cents, Currency(currency))))
    return dict(out)
