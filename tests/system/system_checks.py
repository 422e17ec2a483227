"""What must hold at the end of the system test's day, read from the tills' stores and the server's database."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import create_engine, text
from system_helpers import Admin, Till

from floreyn.sync.client import SyncClient
from floreyn.sync.record import Kind, decode, verify_chain
from floreyn.sync.snapshot import OfflineLimits, Snapshot

RECORD_COLUMNS = "seq, record_id, tx_id, kind, card_hex, fl_cents, eur_cents, budget_id, ref_id, offline, raw, wall_ms"


def records(till: Till) -> list[dict[str, Any]]:
    cols = [c.strip() for c in RECORD_COLUMNS.split(",")]
    rows = till.store_rows(f"SELECT {RECORD_COLUMNS} FROM records ORDER BY seq")
    return [{**dict(zip(cols, row, strict=True)), "kind": Kind(row[3])} for row in rows]


def check_chain(till: Till, recs: list[dict[str, Any]]) -> None:
    """Gapless from 1 (nothing pruned on the day), signed and hash-chained by the till's own key."""
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1)), f"{till.terminal_id}: sequence gaps"
    assert verify_chain([decode(bytes(r["raw"])) for r in recs], till.key.public_key()).seq == len(recs)


def check_one_tx_per_action(till: Till, recs: list[dict[str, Any]]) -> None:
    """Every transaction belongs to exactly one script action (its client reference): none made twice."""
    (refs, ref_txs), = till.store_rows("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM client_refs")
    assert refs == ref_txs == len({r["tx_id"] for r in recs}), (till.terminal_id, refs, ref_txs)


def upload_again(till: Till, server_url: str, server_key: Any, batch: int = 37) -> int:
    """Send every record the till holds again, in other batches than the till used: nothing may be posted."""
    raws = [bytes(r[0]) for r in till.store_rows("SELECT raw FROM records ORDER BY seq")]
    client = SyncClient(server_url, till.terminal_id, till.key, server_key, timeout_s=10)
    try:
        for start in range(0, len(raws), batch):
            ack = client.upload(raws[start : start + batch])
            assert (ack.accepted, ack.duplicates, ack.waiting) == (0, len(raws[start : start + batch]), 0), ack
            assert ack.acked_seq == len(raws)
    finally:
        client.session.close()
    return len(raws)


def check_ledger(db_url: str, tills: Iterable[Till], admin: Admin) -> dict[str, int]:
    """Every committed record is in the ledger exactly once; every posting balances."""
    by_till = {t.terminal_id: records(t) for t in tills}
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            server = c.execute(text("SELECT terminal_id, seq, record_id FROM records")).all()
            posted = c.execute(text("SELECT tx_id, terminal_id FROM transactions WHERE terminal_id IS NOT NULL")).all()
            totals = dict(c.execute(text("SELECT currency, SUM(amount_cents) FROM postings GROUP BY currency")).all())
            unbalanced = c.execute(text("SELECT tx_id, currency FROM postings GROUP BY tx_id, currency "
                                        "HAVING SUM(amount_cents) <> 0")).all()
            n_postings = c.execute(text("SELECT COUNT(*) FROM postings")).scalar_one()
    finally:
        engine.dispose()
    mine = {(tid, r["seq"], r["record_id"]) for tid, recs in by_till.items() for r in recs}
    assert len(server) == len({row[2] for row in server}) == len(mine), "each record id once at the server"
    assert {tuple(row) for row in server} == mine, "the server holds exactly the tills' records"
    money = {r["record_id"] for recs in by_till.values() for r in recs if r["kind"] is not Kind.DAY_CLOSE}
    assert len(posted) == len({row[0] for row in posted}), "no record posted twice"
    assert {row[0] for row in posted} == money, "every money record posted, and nothing else"
    assert all(int(v) == 0 for v in totals.values()) and set(totals) == {"fl", "EUR"}, totals
    assert not unbalanced, f"transactions whose postings do not sum to zero: {unbalanced[:5]}"
    replay = admin("GET", "/v1/admin/replay")
    assert replay["ok"] and replay["records"] == len(mine), replay
    return {"records": len(mine), "posted": len(money), "postings": int(n_postings)}


def check_settlements(admin: Admin, tills_of: dict[str, list[Till]], period: tuple[str, str]) -> None:
    """Each merchant's settlement statement equals its tills' day-close (Z) reports, to the cent."""
    for merchant_id, tills in tills_of.items():
        zs = [json.loads(r[0]) for t in tills for r in t.store_rows("SELECT report FROM days WHERE report IS NOT NULL")]
        recs = [r for t in tills for r in records(t)]
        assert sum(z["records"] for z in zs) == len(recs) and recs[-1]["kind"] is Kind.DAY_CLOSE, \
            f"{merchant_id}: the Z-reports cover every record (the day was closed last)"
        kind = lambda k, f: sum(z["kinds"][k][f] for z in zs)  # noqa: E731, B023 (used in this iteration only)
        by_id = {r["record_id"]: r for r in recs}
        voided_topup = [by_id[r["ref_id"]] for r in recs if r["kind"] is Kind.VOID and by_id[r["ref_id"]]["kind"]
                        is Kind.TOPUP]
        topup_fl = kind("TOPUP", "fl_cents") - sum(r["fl_cents"] for r in voided_topup)
        topup_eur = kind("TOPUP", "eur_cents") - sum(r["eur_cents"] for r in voided_topup)
        st = admin("GET", "/v1/admin/reports/settlement", merchant_id=merchant_id, **{"from": period[0],
                                                                                     "to": period[1]})
        fl, eur = st["fl"], st["eur"]
        assert fl["opening_cents"] == eur["opening_owed_cents"] == 0, st
        assert (fl["received_cents"], fl["refunded_cents"], fl["save_cost_cents"], eur["topups_taken_cents"]) == (
            kind("SPEND", "fl_cents"), kind("REFUND", "fl_cents"), kind("SAVE", "fl_cents"),
            kind("TOPUP", "eur_cents")), (merchant_id, st, zs)
        received = sum(z["fl_received_cents"] for z in zs)
        saves_net = sum(z["fl_issued_cents"] for z in zs) - topup_fl
        assert fl["closing_cents"] == received - saves_net, (merchant_id, fl, received, saves_net)
        assert eur["closing_owed_cents"] == topup_eur, (merchant_id, eur, topup_eur)


def check_offline_all_day(recs: list[dict[str, Any]], snap: Snapshot) -> dict[str, int]:
    """A till that had no online contact since its snapshot: per card, the whole day is one offline window."""
    limits = snap.limits
    spent: dict[str, int] = defaultdict(int)
    own: dict[str, int] = defaultdict(int)
    by_budget: dict[str, int] = defaultdict(int)
    taps: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        if r["kind"] is Kind.SPEND:
            assert r["offline"], "the stall was offline all day"
            spent[r["card_hex"]] += r["fl_cents"]
            taps[r["card_hex"]].add(r["tx_id"])
            if r["budget_id"]:
                by_budget[r["budget_id"]] += r["fl_cents"]
            else:
                own[r["card_hex"]] += r["fl_cents"]
    for card, cents in spent.items():
        assert cents <= limits.cumulative_cents and len(taps[card]) <= limits.max_count, (card, cents, taps[card])
        assert own[card] <= snap.card(card).offline_allowance_cents, (card, own[card])  # from the till's store
    budgets = {b.budget_id: b for card in spent for b in snap.card(card).budgets}
    for budget_id, cents in by_budget.items():
        assert cents <= budgets[budget_id].remaining_cents, (budget_id, cents)
    return {"cards": len(spent), "fl_cents": sum(spent.values())}


def check_per_tap(recs: list[dict[str, Any]], limits: OfflineLimits) -> int:
    per_tx: dict[str, int] = defaultdict(int)
    for r in recs:
        if r["kind"] is Kind.SPEND and r["offline"]:
            per_tx[r["tx_id"]] += r["fl_cents"]
    assert all(cents <= limits.per_tx_cents for cents in per_tx.values()), per_tx
    return len(per_tx)
