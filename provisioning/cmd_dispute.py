"""`dispute list | resolve`: what terminals' records claimed beyond the rules, and the admin's decision.

    floreyn-provision dispute list                       # open disputes
    floreyn-provision dispute list --status all
    floreyn-provision dispute resolve d-1a2b... --decision return --note "tampered till; member refunded"

Decisions: release (to the payee the record named, e.g. the merchant),
return (to the payer, e.g. the member's wallet), write_off (out of
circulation). Each is one balanced ledger transaction under a request id
stored before sending, and in the audit log.
"""

from __future__ import annotations

from typing import Any

from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.output import Col, fields, money_col, table


def add_parser(sub: Any) -> None:
    d = sub.add_parser("dispute", help="parked excess of till records over the rules").add_subparsers(
        dest="action", required=True
    )
    p = d.add_parser("list", help="disputes (default: open)")
    p.add_argument("--status", default="open", choices=("open", "released", "returned", "written_off", "voided", "all"))
    p.add_argument("--terminal", dest="terminal_id")
    p.set_defaults(run=dispute_list)
    p = d.add_parser("resolve", help="decide a dispute: release, return or write_off")
    p.add_argument("dispute_id")
    p.add_argument("--decision", required=True, choices=("release", "return", "write_off"))
    p.add_argument("--note", required=True, help="why (kept with the decision and in the audit log)")
    p.set_defaults(run=dispute_resolve)


def dispute_list(ctx: Ctx) -> int:
    params: dict[str, object] = {}
    if ctx.args.status != "all":
        params["status"] = ctx.args.status
    if ctx.args.terminal_id:
        params["terminal_id"] = parse.ident(ctx.args.terminal_id, "--terminal")
    r = ctx.api.get("/v1/admin/disputes", **params)
    ctx.out.result(r, lambda: table(r["disputes"], (
        Col("geschil", "dispute_id"), Col("kassa", "terminal_id"), Col("nr", "seq"), Col("regels", "rules"),
        Col("van", "payer_account"), Col("naar", "payee_account"), money_col("fl", "amount_cents"),
        Col("status", "status"))))
    return 0


def dispute_resolve(ctx: Ctx) -> int:
    a = ctx.args
    dispute_id = parse.ident(a.dispute_id, "dispute")
    answer = ctx.write("dispute.resolve", "POST", f"/v1/admin/disputes/{dispute_id}/resolve",
                       {"decision": a.decision, "note": a.note})
    ctx.out.result(answer, lambda: fields([
        ("geschil", answer["dispute_id"]), ("besluit", answer["status"]), ("naar", answer["to_account"]),
        ("transactie", f"{answer['tx_id']} ({answer.get('result')})")]))
    return 0
