"""The server's re-check of every uploaded record against the cooperative's rules.

A till is the least trusted place (a Pi in a shop, its key on an SD card),
so ingest posts a record only as far as these rules allow. Each check is
named by the rule it enforces; the definitions it shares with the till come
from floreyn.sync.rules (budget category and expiry, campaign factor, save
reward, top-up conversion), so till and server cannot drift.

What a violation does (the same everywhere, docs/operations.md):
- the record is a signed fact and is always stored; the part within the
  rules posts as usual; the excess goes to the terminal's suspense account
  (ledger.dispute_acct), never to a wallet, budget or merchant;
- every violation raises an alert of the rule's name (record, amounts);
- a rule that an honest till cannot break (`quarantines`) quarantines the
  terminal: no further uploads, the till is told with a typed refusal.
  Races between honest offline tills (two tills each within limits,
  together over; a late upload) only alert and park.

Which terms apply. A record carries no snapshot version, so the server keeps
what it sent each terminal (`terminal_terms`, one row per change, written
when the terminal fetches its snapshot) and accepts the most generous of:
the terms in force now, the last terms sent to this terminal (a till keeps
working with its last snapshot, however old), and any sent within
`Thresholds.terms_grace_s` before the upload. Rates come from ONE function,
`rates_for`, which reads the rate history (server/rates.py, rate_in_force).

Offline limits are counted per terminal and card from the head the server
held when it last served this terminal a snapshot (the till counts from its
snapshot too); an online-authorized spend (a hold) restarts the count, as
the till's card contact does. The server counts voided spends too (stricter
than the till), which is why the cumulative and count rules only park.
The snapshot-age limit cannot be checked from a record (it carries no time
the server can trust); the cumulative and count limits since the last
snapshot served bound what a till can do with an old snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Final, Sequence

from sqlalchemy import Connection, func, select, update

from floreyn.money import ExchangeRates
from floreyn.server import admin_categories, budget_rules, bulk, ledger, state
from floreyn.server import schema as s
from floreyn.server.rates import rate_in_force
from floreyn.server.rows import TableRow
from floreyn.sync import rules as shared
from floreyn.sync.record import Kind, TxRecord
from floreyn.sync.snapshot import Campaign, OfflineLimits


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # also the alert kind
    quarantines: bool  # True: only a tampered or buggy till breaks it


MERCHANT_MAY_TOPUP: Final = Rule("merchant_may_topup", True)
MERCHANT_OFFERS_SAVE: Final = Rule("merchant_offers_save", True)
TOPUP_AT_ASK_RATE: Final = Rule("topup_at_ask_rate", True)
SAVE_WITHIN_RATE: Final = Rule("save_within_rate", True)
REFUND_OF_KNOWN_PAYMENT: Final = Rule("refund_of_known_payment", True)
REFUND_SAME_PAYMENT: Final = Rule("refund_same_payment", True)  # same merchant, card and payer
REFUND_WITHIN_PAID: Final = Rule("refund_within_paid", True)
VOID_OWN_RECORD_ONCE: Final = Rule("void_own_record_once", True)
BUDGET_CATEGORY: Final = Rule("budget_category", True)
BUDGET_OWNER: Final = Rule("budget_owner", True)
BUDGET_BEFORE_EXPIRY: Final = Rule("budget_before_expiry", False)  # a late upload is possible
OFFLINE_PER_TAP: Final = Rule("offline_per_tap", True)
OFFLINE_CUMULATIVE: Final = Rule("offline_cumulative", False)
OFFLINE_COUNT: Final = Rule("offline_count", False)
# A group (block) budget's rules on an offline spend (server/budget_rules.py decides them online). Both only
# park: two offline tills may each keep a member within the cap and together go over, and a funder may lower
# the threshold or a member leave the group after a till's snapshot.
GROUP_MEMBER_CAP: Final = Rule("group_member_cap", False)
GROUP_SECOND_MEMBER: Final = Rule("group_second_member", False)
# A confirming card the server never knew: an honest till takes a second card only from its snapshot.
GROUP_CONFIRM_CARD_KNOWN: Final = Rule("group_confirm_card_known", True)
ALL_RULES: Final = (MERCHANT_MAY_TOPUP, MERCHANT_OFFERS_SAVE, TOPUP_AT_ASK_RATE, SAVE_WITHIN_RATE,
                    REFUND_OF_KNOWN_PAYMENT, REFUND_SAME_PAYMENT, REFUND_WITHIN_PAID, VOID_OWN_RECORD_ONCE,
                    BUDGET_CATEGORY, BUDGET_OWNER, BUDGET_BEFORE_EXPIRY, OFFLINE_PER_TAP, OFFLINE_CUMULATIVE,
                    OFFLINE_COUNT, GROUP_MEMBER_CAP, GROUP_SECOND_MEMBER, GROUP_CONFIRM_CARD_KNOWN)
MAX_TERMS_ROWS: Final = 50  # terms rows read per check: far more than a grace window ever holds


@dataclass(frozen=True, slots=True)
class Violation:
    rule: Rule
    claimed_cents: int
    allowed_cents: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How much of a record's fl posts as usual; the rest (claimed - allowed) is parked."""

    claimed_cents: int
    allowed_cents: int
    violations: tuple[Violation, ...] = ()

    @property
    def excess_cents(self) -> int:
        return self.claimed_cents - self.allowed_cents

    @property
    def quarantines(self) -> bool:
        return any(v.rule.quarantines for v in self.violations)


def _verdict(claimed: int, found: Sequence[Violation]) -> Verdict:
    if not found:
        return Verdict(claimed, claimed)  # the common case, on every record
    found = tuple(found)
    allowed = min([claimed, *(v.allowed_cents for v in found)])
    assert 0 <= allowed <= claimed
    return Verdict(claimed, allowed, found)


# -- the terms a till may be working with ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Terms:
    rates: tuple[ExchangeRates, ...]
    limits: tuple[OfflineLimits, ...]
    save_rate_bp: int
    topup_allowed: bool
    # The most generous of `limits`, worked out once: every offline spend of a batch reads all three.
    per_tap_cents: int = field(init=False)
    cumulative_cents: int = field(init=False)
    max_count: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_tap_cents", max(lim.per_tx_cents for lim in self.limits))
        object.__setattr__(self, "cumulative_cents", max(lim.cumulative_cents for lim in self.limits))
        object.__setattr__(self, "max_count", max(lim.max_count for lim in self.limits))

    def topup_fl_cents(self, eur_cents: int) -> int:
        return max(shared.topup_fl_cents(eur_cents, r) for r in self.rates)


def terms_dict(rates: ExchangeRates, limits: OfflineLimits, save_rate_bp: int, topup_allowed: bool
               ) -> dict[str, Any]:
    return {"rates": {"ask_bp": rates.ask_bp, "bid_bp": rates.bid_bp},
            "limits": {"per_tx_cents": limits.per_tx_cents, "cumulative_cents": limits.cumulative_cents,
                       "max_count": limits.max_count, "max_snapshot_age_s": limits.max_snapshot_age_s,
                       "unknown_card_allowance_cents": limits.unknown_card_allowance_cents},
            "save_rate_bp": save_rate_bp, "topup_allowed": topup_allowed}


def note_terms_served(conn: Connection, terminal_id: str, terms: dict[str, Any], now_ms: int) -> None:
    """A terminal fetched its snapshot: remember the terms it now holds and where its offline count starts."""
    text = json.dumps(terms, sort_keys=True)
    last = conn.execute(select(s.terminal_terms.c.terms).where(s.terminal_terms.c.terminal_id == terminal_id)
                        .order_by(s.terminal_terms.c.served_ms.desc(), s.terminal_terms.c.id.desc()).limit(1)
                        ).scalar()
    if last != text:
        conn.execute(s.terminal_terms.insert().values(terminal_id=terminal_id, served_ms=now_ms, terms=text))
    conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == terminal_id).values(
        snapshot_served_ms=now_ms, snapshot_base_seq=s.terminals.c.head_seq))


# The statements every upload runs once, straight to the driver (bulk.run).
_SERVED_TERMS: Final = (f"SELECT terms, served_ms FROM {s.terminal_terms.name} WHERE terminal_id = {{mark}}"
                        f" ORDER BY served_ms DESC, id DESC LIMIT {MAX_TERMS_ROWS}")
_CAMPAIGNS: Final = (f"SELECT campaign_id, name, multiplier_bp, starts_on, ends_on, merchant_ids FROM {s.campaigns.name}"
                     " WHERE ends_on >= {mark} AND starts_on <= {mark}")
_MERCHANT: Final = (f"SELECT merchant_id, category, save_rate_bp, topup_allowed FROM {s.merchants.name}"
                    " WHERE merchant_id = {mark}")


def _served_terms(conn: Connection, terminal_id: str, now_ms: int, grace_s: int) -> list[dict[str, Any]]:
    """Terms sent to this terminal: the last one, and every one sent within the grace window."""
    rows = bulk.run(conn, _SERVED_TERMS, (terminal_id,)).all()
    return [json.loads(r.terms) for i, r in enumerate(rows) if i == 0 or r.served_ms >= now_ms - grace_s * 1000]


def rates_for(conn: Connection, terminal_id: str, now_ms: int, settings: state.Settings,
              served: list[dict[str, Any]] | None = None) -> tuple[ExchangeRates, ...]:
    """THE rate lookup: every exchange rate a till may rightly have used for a record uploaded now.

    The rates in force now, the last rates sent to this terminal, and any
    sent within the grace window. The top-up check takes the most generous.
    (One function on purpose: a rate history kept as data replaces it here.)
    `served`: the terminal's terms when the caller has read them already.
    """
    if served is None:
        served = _served_terms(conn, terminal_id, now_ms, settings.thresholds.terms_grace_s)
    found = {rate_in_force(conn, now_ms, settings)} | {ExchangeRates(**t["rates"]) for t in served}
    return tuple(sorted(found, key=lambda r: (r.ask_bp, r.bid_bp)))


def terms_for(conn: Connection, terminal_id: str, merchant: TableRow, now_ms: int, settings: state.Settings) -> Terms:
    served = _served_terms(conn, terminal_id, now_ms, settings.thresholds.terms_grace_s)
    limits = {settings.limits} | {OfflineLimits(**t["limits"]) for t in served}
    return Terms(rates=rates_for(conn, terminal_id, now_ms, settings, served),
                 limits=tuple(sorted(limits, key=lambda lim: lim.per_tx_cents)),
                 save_rate_bp=max([int(merchant.save_rate_bp), *(int(t["save_rate_bp"]) for t in served)]),
                 topup_allowed=bool(merchant.topup_allowed) or any(t["topup_allowed"] for t in served))


def best_multiplier(conn: Connection, merchant_id: str, now_ms: int, grace_s: int) -> int:
    """The best campaign factor active at this merchant on any day a record uploaded now may be from."""
    first = state.local_date(now_ms - grace_s * 1000)
    last = state.local_date(now_ms)
    campaigns = [Campaign(campaign_id=c.campaign_id, name=c.name, multiplier_bp=c.multiplier_bp,
                          starts_on=c.starts_on, ends_on=c.ends_on, merchant_ids=tuple(json.loads(c.merchant_ids)))
                 for c in bulk.run(conn, _CAMPAIGNS, (first.isoformat(), last.isoformat()))]
    best, day = 0, first
    while day <= last:
        best = max(best, shared.best_campaign(campaigns, merchant_id, day)[0])
        day += dt.timedelta(days=1)
    return best


# -- what a batch needs to know -------------------------------------------------------


@dataclass
class BatchFacts:
    """Everything the checks of one batch read, loaded once (the checks themselves are pure)."""

    terminal_id: str
    merchant_categories: tuple[str, ...]
    terms: Terms
    multiplier_bp: int
    now_ms: int
    budget_expiry_grace_s: int
    refs: dict[str, Any]  # tx_id -> transactions row of referenced records
    merchant_paid: dict[str, int]  # spend tx_id -> fl the merchant received from it
    payer_of: dict[str, str]  # spend tx_id -> the account that paid it
    refunded: dict[str, int]  # spend tx_id -> fl refunded so far (grows while the batch is checked)
    reversed: set[str]  # tx ids already voided or reversed (grows while the batch is checked)
    usage: dict[str, tuple[int, int]]  # card -> (offline fl, offline taps) since the count's base
    base_seq: int  # offline usage counts from records above this sequence number
    # (card, seq, wall_ms, sources) of the batch's latest spend and the sources its tap drew on so far
    last_spend: tuple[str, int, int, frozenset[str]] = ("", 0, 0, frozenset())
    # (group budget, member) -> what the member spent from it this month, holds included (load_group_spent);
    # grows with the batch's offline spends as they are checked
    group_spent: dict[tuple[str, str], int] = field(default_factory=dict)


def load_facts(conn: Connection, term: TableRow, records: Sequence[TxRecord], now_ms: int,
               settings: state.Settings) -> BatchFacts:
    merchant = bulk.run(conn, _MERCHANT, (term.merchant_id,)).one()
    grace = settings.thresholds.terms_grace_s
    refs = sorted({str(r.ref_id) for r in records if r.ref_id is not None})
    rows = {t.tx_id: t for t in conn.execute(select(s.transactions).where(s.transactions.c.tx_id.in_(refs)))
            } if refs else {}
    postings = ledger.tx_postings(conn, rows) if rows else {}
    merchant_paid, payer_of = {}, {}
    for tx_id, ps in postings.items():
        if rows[tx_id].kind == ledger.TxKind.SPEND.value:
            merchant_paid[tx_id] = sum(p.amount.cents for p in ps if p.account.startswith("merchant:"))
            payer_of[tx_id] = next((p.account for p in ps if p.amount.cents < 0), "")
    refunded: dict[str, int] = {}
    reversed_: set[str] = set()
    if refs:
        refunded = {k: int(v) for k, v in conn.execute(
            select(s.refunds.c.ref_tx, func.sum(s.refunds.c.fl_cents)).where(
                s.refunds.c.ref_tx.in_(refs),
                ~select(s.transactions.c.tx_id).where(s.transactions.c.reverses == s.refunds.c.refund_tx).exists())
            .group_by(s.refunds.c.ref_tx)).tuples()}
        reversed_ = set(conn.execute(select(s.transactions.c.reverses).where(
            s.transactions.c.reverses.in_(refs))).scalars())
    base = int(term.snapshot_base_seq or 0)
    cards = sorted({r.card_id.hex() for r in records if r.kind is Kind.SPEND and r.card_id})
    usage = {}
    for card_id, base_seq, spent_cents, taps in bulk.rows_in(
            conn, "SELECT card_id, base_seq, spent_cents, taps FROM offline_usage WHERE terminal_id = {mark}"
                  " AND card_id IN ({values})", (term.terminal_id,), cards):
        if base_seq >= base:
            usage[card_id] = (int(spent_cents), int(taps))
    return BatchFacts(
        terminal_id=term.terminal_id,
        merchant_categories=admin_categories.of_merchant(conn, merchant.merchant_id, merchant.category),
        terms=terms_for(conn, term.terminal_id, merchant, now_ms, settings),
        multiplier_bp=best_multiplier(conn, term.merchant_id, now_ms, grace), now_ms=now_ms,
        budget_expiry_grace_s=settings.thresholds.budget_expiry_grace_s, refs=rows, merchant_paid=merchant_paid,
        payer_of=payer_of, refunded=refunded, reversed=reversed_, usage=usage, base_seq=base)


def load_group_spent(conn: Connection, facts: BatchFacts, pairs: set[tuple[str, str]]) -> None:
    """What each (group budget, member) of the batch spent this month, with its active holds: read before the
    batch's holds are consumed, so an online spend of this batch counts once, as its hold."""
    facts.group_spent.update(budget_rules.members_spent(conn, pairs, facts.now_ms))


@dataclass(frozen=True, slots=True)
class _BatchTx:
    """A spend posted earlier in the same batch, as check_refund reads a transactions row."""

    kind: str
    terminal_id: str
    merchant_id: str
    card_id: str | None


def remember_spend(facts: BatchFacts, rec: TxRecord, payer: str, posted_cents: int) -> None:
    """A spend of this batch: a later refund in the same batch may refer to it."""
    tx_id = str(rec.record_id)
    facts.refs[tx_id] = _BatchTx(ledger.TxKind.SPEND.value, rec.terminal_id, rec.merchant_id,
                                 rec.card_id.hex() if rec.card_id else None)
    facts.merchant_paid[tx_id] = posted_cents
    facts.payer_of[tx_id] = payer


def save_usage(conn: Connection, facts: BatchFacts, changed: set[str]) -> None:
    """Write back the offline usage of the cards this batch changed (upsert as delete + insert)."""
    if not changed:
        return
    cards = sorted(changed)
    bulk.rows_in(conn, "DELETE FROM offline_usage WHERE terminal_id = {mark} AND card_id IN ({values})",
                 (facts.terminal_id,), cards)
    bulk.insert_rows(conn, s.offline_usage, ("terminal_id", "card_id", "base_seq", "spent_cents", "taps"), [
        (facts.terminal_id, c, facts.base_seq, *facts.usage.get(c, (0, 0))) for c in cards])


# -- the checks, one per kind ------------------------------------------------------------


def check_topup(rec: TxRecord, facts: BatchFacts) -> Verdict:
    found = []
    if not facts.terms.topup_allowed:
        found.append(Violation(MERCHANT_MAY_TOPUP, rec.fl_cents, 0))
    due = facts.terms.topup_fl_cents(rec.eur_cents)
    if rec.fl_cents > due:
        found.append(Violation(TOPUP_AT_ASK_RATE, rec.fl_cents, due, {
            "eur_cents": rec.eur_cents, "ask_bp": [r.ask_bp for r in facts.terms.rates]}))
    return _verdict(rec.fl_cents, found)


def check_save(rec: TxRecord, facts: BatchFacts) -> Verdict:
    found = []
    if facts.terms.save_rate_bp <= 0:
        found.append(Violation(MERCHANT_OFFERS_SAVE, rec.fl_cents, 0))
    most = shared.max_save_reward_cents(rec.eur_cents, facts.terms.save_rate_bp, max(facts.multiplier_bp, 10_000))
    if rec.fl_cents > most:
        found.append(Violation(SAVE_WITHIN_RATE, rec.fl_cents, most, {
            "eur_cents": rec.eur_cents, "save_rate_bp": facts.terms.save_rate_bp,
            "multiplier_bp": facts.multiplier_bp}))
    return _verdict(rec.fl_cents, found)


def check_refund(rec: TxRecord, payer: str, facts: BatchFacts) -> Verdict:
    ref = str(rec.ref_id)
    tx = facts.refs.get(ref)
    if tx is None or tx.kind != ledger.TxKind.SPEND.value or tx.terminal_id is None:
        return _verdict(rec.fl_cents, [Violation(REFUND_OF_KNOWN_PAYMENT, rec.fl_cents, 0, {"ref": ref})])
    card_hex = rec.card_id.hex() if rec.card_id else None
    paid_by = facts.payer_of.get(ref)
    # A card unknown at the payment and registered since: its suspense moved to the member (a claim).
    claimed = paid_by == ledger.card_acct(card_hex or "") and payer.startswith("member:")
    if tx.merchant_id != rec.merchant_id or tx.card_id != card_hex or (paid_by != payer and not claimed):
        return _verdict(rec.fl_cents, [Violation(REFUND_SAME_PAYMENT, rec.fl_cents, 0, {
            "ref": ref, "ref_merchant": tx.merchant_id, "ref_card": tx.card_id, "ref_payer": facts.payer_of.get(ref),
            "payer": payer})])
    left = 0 if ref in facts.reversed else max(0, facts.merchant_paid.get(ref, 0) - facts.refunded.get(ref, 0))
    found = [] if rec.fl_cents <= left else [Violation(REFUND_WITHIN_PAID, rec.fl_cents, left, {
        "ref": ref, "paid_cents": facts.merchant_paid.get(ref, 0), "refunded_cents": facts.refunded.get(ref, 0)})]
    verdict = _verdict(rec.fl_cents, found)
    facts.refunded[ref] = facts.refunded.get(ref, 0) + verdict.allowed_cents
    return verdict


def check_void(rec: TxRecord, facts: BatchFacts, in_batch: set[str]) -> Verdict:
    """A void reverses a record of this same terminal, once. Moves nothing of its own (claimed 0)."""
    ref = str(rec.ref_id)
    tx = facts.refs.get(ref)
    own = ref in in_batch or (tx is not None and tx.terminal_id == facts.terminal_id)
    if not own or ref in facts.reversed:
        return Verdict(0, 0, (Violation(VOID_OWN_RECORD_ONCE, 0, 0, {
            "ref": ref, "reason": "already voided" if own else "not a record of this terminal"}),))
    facts.reversed.add(ref)
    return Verdict(0, 0)


def _budget_end_ms(expires_on: str) -> int:
    """The first moment after a budget's last day (Amersfoort); far-future and unreadable dates stay in range."""
    last = shared.iso_date(expires_on)
    if last >= dt.date(2999, 12, 31):
        return 2**62  # never, in any lifetime of this ledger
    if last == dt.date.min:
        return 0  # unreadable: long past, the safe side
    return state.day_start_ms(last + dt.timedelta(days=1))


def check_group_budget(rec: TxRecord, budget: TableRow, owners: Sequence[str], member: str, confirmer: str | None,
                       facts: BatchFacts) -> list[Violation]:
    """An offline spend from a group budget: within the member's cap this month, and above the funder's
    threshold confirmed by a second card of another member of the group (None: no card; "": an unknown one).
    What it lets through counts towards the member's month."""
    found = []
    key = (budget.budget_id, member)
    spent = facts.group_spent.get(key, 0)
    allowed = rec.fl_cents
    if budget.member_cap_cents is not None and spent + rec.fl_cents > budget.member_cap_cents:
        allowed = max(0, budget.member_cap_cents - spent)
        found.append(Violation(GROUP_MEMBER_CAP, rec.fl_cents, allowed, {
            "budget": budget.budget_id, "member_cap_cents": budget.member_cap_cents, "spent_before_cents": spent}))
    threshold = budget.confirm_above_cents
    confirm_card = rec.confirm_card_id.hex() if rec.confirm_card_id else None
    if threshold is not None and rec.fl_cents > threshold and (confirmer is None or confirmer == member
                                                                 or confirmer not in owners):
        allowed = min(allowed, threshold)
        rule = GROUP_CONFIRM_CARD_KNOWN if confirmer == "" else GROUP_SECOND_MEMBER
        found.append(Violation(rule, rec.fl_cents, threshold, {
            "budget": budget.budget_id, "confirm_above_cents": threshold, "confirm_card": confirm_card}))
    facts.group_spent[key] = spent + allowed
    return found


def check_spend(rec: TxRecord, budget: TableRow, owners: Sequence[str], member: str | None, online: bool,
                facts: BatchFacts, confirmer: str | None = None) -> Verdict:
    found = []
    if budget is not None and budget.owner_group_id is not None and member in owners and not online:
        assert member is not None
        found += check_group_budget(rec, budget, owners, member, confirmer, facts)
    if budget is not None:
        if not shared.budget_pays_at(json.loads(budget.categories), facts.merchant_categories):
            found.append(Violation(BUDGET_CATEGORY, rec.fl_cents, 0, {
                "budget": budget.budget_id, "categories": json.loads(budget.categories),
                "merchant_category": facts.merchant_categories[0],
                "merchant_categories": list(facts.merchant_categories)}))
        if member is None or member not in owners:
            found.append(Violation(BUDGET_OWNER, rec.fl_cents, 0, {"budget": budget.budget_id}))
        if facts.now_ms > _budget_end_ms(budget.expires_on) + facts.budget_expiry_grace_s * 1000:
            found.append(Violation(BUDGET_BEFORE_EXPIRY, rec.fl_cents, 0, {
                "budget": budget.budget_id, "expires_on": budget.expires_on}))
    card_hex = rec.card_id.hex() if rec.card_id else ""
    # The till splits one payment over its sources (budgets, own balance) into consecutive records signed
    # with one wall_ms, each source once: those are one tap for the count. (Per tap, each record is checked
    # alone: looser; the cumulative amount is the hard bound.)
    source = rec.budget_id or ""
    last_card, last_seq, last_wall, sources = facts.last_spend
    same_tap = (last_card, last_seq, last_wall) == (card_hex, rec.seq - 1, rec.wall_ms) and source not in sources
    facts.last_spend = (card_hex, rec.seq, rec.wall_ms, (sources if same_tap else frozenset()) | {source})
    if online:
        facts.usage[card_hex] = (0, 0)  # an online authorization is a contact: the count starts again
        return _verdict(rec.fl_cents, found)
    spent, taps = facts.usage.get(card_hex, (0, 0))
    new_tap = 0 if same_tap else 1
    terms = facts.terms
    if rec.fl_cents > terms.per_tap_cents:
        found.append(Violation(OFFLINE_PER_TAP, rec.fl_cents, terms.per_tap_cents,
                               {"per_tx_cents": terms.per_tap_cents}))
    if spent + rec.fl_cents > terms.cumulative_cents:
        found.append(Violation(OFFLINE_CUMULATIVE, rec.fl_cents, max(0, terms.cumulative_cents - spent),
                               {"spent_before_cents": spent, "cumulative_cents": terms.cumulative_cents}))
    if taps + new_tap > terms.max_count:
        found.append(Violation(OFFLINE_COUNT, rec.fl_cents, 0, {"taps_before": taps, "max_count": terms.max_count}))
    verdict = _verdict(rec.fl_cents, found)
    facts.usage[card_hex] = (spent + verdict.allowed_cents, taps + (new_tap if verdict.allowed_cents else 0))
    return verdict
