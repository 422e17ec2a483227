"""Disputes: what a terminal's records claimed beyond the rules, parked until an admin decides.

Ingest (server/rules.py) posts a record's excess to the terminal's suspense
account `dispute:<terminal>` and opens a dispute naming where the excess
came from (payer) and where the record wanted it to go (payee). An admin
resolves it with one audited decision, posted as a normal balanced
transaction (kind `dispute`) under the admin's request id:

    release    dispute -> payee        (the record was right after all: e.g. the merchant is paid)
    return     dispute -> payer        (e.g. the member's wallet gets its Floreyn back)
    write_off  dispute -> coop:issued  (nobody gets it: the Floreyn leave circulation)

A void of the record (by its own till) reverses the parked part with the
rest and closes the dispute as `voided`.
"""

from __future__ import annotations

import uuid
from typing import Final

from sqlalchemy import Connection, select, update

from floreyn.money import Money
from floreyn.server import entries, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, StateRefused
from floreyn.server.rows import TableRow

DECISIONS: Final = ("release", "return", "write_off")
_STATUS: Final = {"release": "released", "return": "returned", "write_off": "written_off"}
MAX_LIST: Final = 1000


def dispute_dict(row: TableRow) -> dict[str, object]:
    return {k: getattr(row, k) for k in ("dispute_id", "terminal_id", "record_id", "seq", "rules", "payer_account",
                                         "payee_account", "amount_cents", "status", "created_ms", "resolved_ms",
                                         "resolved_by", "resolution_tx", "note")}


def list_disputes(conn: Connection, status: str | None = None, terminal_id: str | None = None) -> list[dict[str, object]]:
    q = select(s.disputes)
    if status is not None:
        q = q.where(s.disputes.c.status == status)
    if terminal_id is not None:
        q = q.where(s.disputes.c.terminal_id == terminal_id)
    return [dispute_dict(r) for r in conn.execute(q.order_by(s.disputes.c.created_ms, s.disputes.c.dispute_id)
                                                   .limit(MAX_LIST))]


def resolve(conn: Connection, dispute_id: str, decision: str, note: str, actor: str, request_id: str,
            now: int) -> dict[str, object]:
    """Post the admin's decision and close the dispute (once)."""
    assert decision in DECISIONS
    row = conn.execute(select(s.disputes).where(s.disputes.c.dispute_id == dispute_id).with_for_update()).first()
    if row is None:
        raise NotFound(what="dispute", id=dispute_id)
    if row.status != "open":
        raise StateRefused(detail=f"dispute {dispute_id} is {row.status}, not open")
    to = {"release": row.payee_account, "return": row.payer_account, "write_off": ledger.ISSUED}[decision]
    tx = entries.dispute_resolution(str(uuid.uuid4()), ledger.dispute_acct(row.terminal_id), to,
                                    Money.fl(int(row.amount_cents)), now, request_id,
                                    memo=f"{decision} {dispute_id}")  # the note stays on the dispute
    ledger.post(conn, [tx])
    conn.execute(update(s.disputes).where(s.disputes.c.dispute_id == dispute_id).values(
        status=_STATUS[decision], resolved_ms=now, resolved_by=actor, resolution_tx=tx.tx_id, note=note))
    kind, _, owner = ledger.account_kind(to)
    if kind == "member" and owner:
        state.touch_members(conn, state.bump_version(conn), [owner])
    view = dispute_dict(conn.execute(select(s.disputes).where(s.disputes.c.dispute_id == dispute_id)).one())
    return {**view, "tx_id": tx.tx_id, "to_account": to}
