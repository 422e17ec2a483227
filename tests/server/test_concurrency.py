"""20 terminals upload at once over real HTTP, with retries, duplicated, overlapping and reordered batches.

The expected balances come from a model written here, independent of the
server: every record counted once, voids undoing their record once.
"""

import random
import threading
from collections import Counter, defaultdict

from sqlalchemy import func, select

from floreyn.server import schema as s
from floreyn.sync.client import SyncError

TERMINALS = 20
RECORDS_PER_TERMINAL = 50
MEMBERS = 30
MAX_ROUNDS = 400


def make_records(term, cards, rng, model):
    spends = []
    voided = set()
    refunded: Counter = Counter()
    while len(term.records) < RECORDS_PER_TERMINAL:
        roll = rng.random()
        member, card = rng.choice(cards)
        if roll < 0.45 or not spends:
            amount = rng.randint(1, 500)
            rec = term.spend(card, amount)
            spends.append((rec, member, amount))
            model[f"member:{member}"] -= amount
            model[f"merchant:{term.merchant_id}"] += amount
        elif roll < 0.7:
            amount = rng.randint(1, 100)
            term.save(card, amount, eur_cents=amount * 20)
            model[f"member:{member}"] += amount
            model[f"merchant:{term.merchant_id}"] -= amount
        elif roll < 0.8:
            amount = rng.randint(100, 1_000)
            term.topup(card, amount, eur_cents=amount)
            model[f"member:{member}"] += amount
            model[f"merchant_eur:{term.merchant_id}"] += amount
        elif roll < 0.9:
            rec, spender, amount = rng.choice(spends)
            back = max(1, amount // 2)
            if rec.record.record_id in voided or refunded[rec.record.record_id] + back > amount:
                continue  # the till refunds at most what a live payment paid (server/rules.py)
            refunded[rec.record.record_id] += back
            term.refund(rec.record.card_id.hex(), back, rec)
            model[f"member:{spender}"] += back
            model[f"merchant:{term.merchant_id}"] -= back
        else:
            rec, spender, amount = rng.choice(spends)
            if rec.record.record_id in voided:
                continue  # a till voids a record once
            term.void(rec)
            voided.add(rec.record.record_id)
            model[f"member:{spender}"] += amount
            model[f"merchant:{term.merchant_id}"] -= amount


def hammer(term, client, rng, errors):
    raws = term.raws
    acked = 0
    try:
        for _ in range(MAX_ROUNDS):
            if acked == len(raws):
                return
            start = max(0, acked - rng.randint(0, 5))  # overlap what was sent before
            if rng.random() < 0.2:
                start = min(len(raws) - 1, acked + rng.randint(1, 6))  # ahead of a gap
            batch = raws[start : start + rng.randint(1, 15)]
            rng.shuffle(batch)
            try:
                ack = client.upload(batch)
                if rng.random() < 0.2:
                    assert client.upload(batch).acked_seq >= ack.acked_seq  # a retry answers the same or later
            except SyncError:
                continue  # a timeout under load: send again, as the worker would
            assert ack.acked_seq >= acked, "the acknowledgement never goes back"
            acked = ack.acked_seq
        errors.append(f"{term.terminal_id} did not finish: acked {acked} of {len(raws)}")
    except Exception as exc:  # reported to the main thread
        errors.append(f"{term.terminal_id}: {exc!r}")


def test_twenty_terminals_at_once_post_every_record_exactly_once(srv, world):
    rng = random.Random(20)
    merchants = [world.merchant() for _ in range(5)]
    cards = [world.member(eur_cents=100_000) for _ in range(MEMBERS)]
    model: Counter = Counter()
    start = {f"member:{m}": world.balance(f"member:{m}") for m, _ in cards}
    terminals = [world.terminal(merchants[i % 5]) for i in range(TERMINALS)]
    for term in terminals:
        make_records(term, cards, rng, model)
    errors: list[str] = []
    threads = [threading.Thread(target=hammer, args=(t, t.client(srv, timeout_s=20), random.Random(i), errors))
               for i, t in enumerate(terminals)]
    live_checks: list[dict] = []

    def audit_while_busy():  # the treasurer runs a check while the tills upload: it must see one moment
        while any(t.is_alive() for t in threads) and len(live_checks) < 5:
            live_checks.append(srv.admin("GET", "/v1/admin/replay"))
    for t in threads:
        t.start()
    auditor = threading.Thread(target=audit_while_busy)
    auditor.start()
    for t in threads:
        t.join(timeout=240)
    auditor.join(timeout=60)
    assert not errors, errors
    assert live_checks and all(c["ok"] for c in live_checks), [c for c in live_checks if not c["ok"]][:1]
    for account, delta in model.items():
        assert world.balance(account) == start.get(account, 0) + delta, account
    ids = [t.terminal_id for t in terminals]

    def counts(conn):
        records = dict(conn.execute(select(s.records.c.terminal_id, func.count()).where(
            s.records.c.terminal_id.in_(ids)).group_by(s.records.c.terminal_id)).tuples().all())
        txs = dict(conn.execute(select(s.transactions.c.terminal_id, func.count()).where(
            s.transactions.c.terminal_id.in_(ids)).group_by(s.transactions.c.terminal_id)).tuples().all())
        return records, txs
    records, txs = srv.ctx.db.read(counts)
    assert records == {i: RECORDS_PER_TERMINAL for i in ids}
    expected_txs = defaultdict(int)
    for term in terminals:
        seen = set()
        for r in term.records:
            ref = r.record.ref_id
            if r.record.kind.name != "VOID" or ref not in seen:
                expected_txs[term.terminal_id] += 1
            if r.record.kind.name == "VOID":
                seen.add(ref)
    assert txs == dict(expected_txs)
    report = srv.admin("GET", "/v1/admin/replay")
    assert report["ok"], report
