"""`budget grant` from CSV and `budget list`.

    floreyn-provision budget grant budgetten.csv
    floreyn-provision budget list --member m-1a2b3c

The CSV has one budget per row. Columns (Dutch or English header names):

    member_id (lidnummer) | group_id (groep)   who holds it: exactly one of the two per row
    amount (bedrag)                            fl, e.g. 25 or 12,50
    categories (categorieen)                   where it may be spent, e.g. "winkel markt"; empty: anywhere
    expires_on (vervaldatum, geldig_tot)       last day it can be spent, YYYY-MM-DD
    funder_id (fonds)                          who pays it (or --funder for every row)
    label (omschrijving)                       what the till shows (or --label for every row)
    budget_id                                  optional; by default derived from the file and the line

The whole file is checked first: every row, then against the server (every
funder, member and group exists; each funder holds enough fl for its rows).
Only then is it sent, as one request per funder (at most 1000 budgets each),
each with a request id derived from the file's content, so running the same
file again never grants twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path
from typing import Any, Final

from floreyn.money import Currency, Money, format_money
from floreyn.provisioning import cmd_category, csvin, parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import ServerRefused, invalid
from floreyn.provisioning.output import Col, listed, money_col, table

COLUMNS: Final = {
    "member_id": ("lidnummer", "lid"),
    "group_id": ("groep",),
    "amount": ("bedrag",),
    "categories": ("categorieen", "categorieën", "category", "categorie"),
    "expires_on": ("vervaldatum", "geldig_tot", "expiry", "expires"),
    "funder_id": ("fonds", "funder"),
    "label": ("omschrijving", "naam"),
    "budget_id": ("budget",),
    "member_cap": ("max_per_lid", "plafond_per_lid"),
    "confirm_above": ("bevestigen_boven", "tweede_lid_boven"),
    "keep_share": ("zelf_houden", "houden_procent"),
}
CHUNK: Final = 1000  # the server's limit per grant
BUDGET_COLS = (
    Col("budget", "budget_id"),
    Col("lid", "member_id"),
    Col("groep", "group_id"),
    Col("omschrijving", "label"),
    Col("categorieën", "categories", listed),
    Col("tot en met", "expires_on"),
    money_col("resterend", "remaining_cents"),
    Col("status", "status"),
)


def add_parser(sub: Any) -> None:
    b = sub.add_parser("budget", help="labeled budgets from funders").add_subparsers(dest="action", required=True)
    p = b.add_parser("grant", help="grant budgets from a CSV file")
    p.add_argument("file")
    p.add_argument("--funder", help="funder for rows without a funder_id")
    p.add_argument("--label", help="label for rows without one")
    p.set_defaults(run=grant)
    p = b.add_parser("list", help="budgets of a member, a group or a funder")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", dest="member_id")
    who.add_argument("--group", dest="group_id")
    who.add_argument("--funder", dest="funder_id")
    p.set_defaults(run=list_)
    p = b.add_parser("expire", help="expire budgets past their last day by the funder's rule (also a daily job)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="expire budgets whose last day is before this (default today)")
    p.add_argument("--budget", action="append", default=[], dest="budgets", help="only this budget (repeat)")
    p.set_defaults(run=expire)


def _spec(
    file: csvin.CsvFile,
    row: csvin.Row,
    default_funder: str | None,
    default_label: str | None,
    today: str,
    known: set[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    c = row.cells
    member, group = c.get("member_id", ""), c.get("group_id", "")
    if bool(member) == bool(group):
        raise invalid("member_id/group_id", "give a member or a group (not both)")
    funder = c.get("funder_id") or default_funder
    if not funder:
        raise invalid("funder_id", "no funder (column funder_id or --funder)")
    expires = parse.iso_date(c.get("expires_on", ""), "expires_on")
    if expires < today:
        raise invalid("expires_on", "{expires} has passed", expires=expires)
    budget_id = c.get("budget_id") or "B-" + hashlib.sha256(f"{file.sha256}:{row.line}".encode()).hexdigest()[:20]
    spec: dict[str, Any] = {
        "budget_id": parse.ident(budget_id, "budget_id"),
        "label": parse.text(c.get("label") or default_label or "", "label", 80),
        "categories": parse.categories(c.get("categories", ""), "categories", known),
        "expires_on": expires,
        "amount_cents": parse.money(c.get("amount", ""), "amount", Currency.FL).cents,
    }
    spec["member_id" if member else "group_id"] = parse.ident(member or group, "member_id" if member else "group_id")
    if c.get("member_cap"):
        spec["member_cap_cents"] = parse.money(c["member_cap"], "member_cap", Currency.FL).cents
    if c.get("confirm_above"):
        spec["confirm_above_cents"] = parse.money(c["confirm_above"], "confirm_above", Currency.FL).cents
    if c.get("keep_share"):
        spec["keep_share_bp"] = parse.percent_bp(c["keep_share"], "keep_share")
    return parse.ident(funder, "funder_id"), spec


def grant(ctx: Ctx) -> int:
    path = Path(ctx.args.file)
    file = csvin.read(path, COLUMNS, required=("amount", "expires_on"), one_of=("member_id", "group_id"))
    checked = file.checked
    today = dt.date.today().isoformat()
    rows: list[tuple[csvin.Row, str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    known = cmd_category.known(ctx)  # the server's categories: a typo is reported with its line, nothing sent
    for row in file.rows:
        got = checked.check(row, functools.partial(_spec, file, row, ctx.args.funder, ctx.args.label, today, known))
        if got is None:
            continue
        funder, spec = got
        if spec["budget_id"] in seen:
            checked.add(
                row.line,
                "budget {budget_id} is also on line {seen}",
                budget_id=spec['budget_id'],
                seen=seen[spec['budget_id']],
            )
            continue
        seen[spec["budget_id"]] = row.line
        rows.append((row, funder, spec))
    checked.raise_if_bad()
    _check_against_server(ctx, checked, rows)
    checked.raise_if_bad()
    chunks = _chunks(rows)
    results: list[dict[str, Any]] = []
    for n, (funder, chunk) in enumerate(chunks):
        body = {
            "funder_id": funder,
            "budgets": [spec for _, _, spec in chunk],
            "request_id": csvin.row_request_id(file, "grant", None, extra=f"{funder}:{n}"),
        }
        try:
            answer = ctx.api.send("POST", "/v1/admin/budgets/grant", body)
        except Exception:
            ctx.out.progress(
                ctx.out.say(
                    f"{n} van {len(chunks)} delen verstuurd; voer dezelfde opdracht opnieuw uit om af te maken.",
                    f"{n} of {len(chunks)} parts sent; run the same command again to finish.",
                )
            )
            raise
        for row, _, spec in chunk:
            results.append({"line": row.line, "funder_id": funder, **spec, "result": answer.get("result", "created")})
    summary = {
        "file": str(path),
        "sha256": file.sha256,
        "budgets": results,
        "total_cents": sum(r["amount_cents"] for r in results),
    }
    ctx.out.result(
        summary,
        lambda: (
            table(
                results,
                (
                    Col("regel", "line", right=True),
                    Col("budget", "budget_id"),
                    Col("lid", "member_id"),
                    Col("groep", "group_id"),
                    money_col("bedrag", "amount_cents"),
                    Col("categorieën", "categories", listed),
                    Col("tot en met", "expires_on"),
                    Col("fonds", "funder_id"),
                    Col("resultaat", "result"),
                ),
            )
            + ctx.out.say(
                f"totaal {format_money(Money.fl(summary['total_cents']))}\n",
                f"total {format_money(Money.fl(summary['total_cents']), 'en')}\n",
            )
        ),
    )
    return 0


def _chunks(rows: list[tuple[csvin.Row, str, dict[str, Any]]]) -> list[tuple[str, list[Any]]]:
    """Per funder in order of first appearance, at most CHUNK budgets each: the same file, the same chunks."""
    by_funder: dict[str, list[Any]] = {}
    for item in rows:
        by_funder.setdefault(item[1], []).append(item)
    return [(f, items[i : i + CHUNK]) for f, items in by_funder.items() for i in range(0, len(items), CHUNK)]


def _check_against_server(ctx: Ctx, checked: csvin.Checked, rows: list[tuple[csvin.Row, str, dict[str, Any]]]) -> None:
    """Refuse now what the server would refuse half-way through the file."""
    funders = {f["funder_id"]: f["balance_cents"] for f in ctx.api.get("/v1/admin/funders")["funders"]}
    known: dict[str, bool] = {}

    def exists(path: str) -> bool:
        if path not in known:
            try:
                ctx.api.get(path)
                known[path] = True
            except ServerRefused as exc:
                if exc.server_code != "not_found":
                    raise
                known[path] = False
        return known[path]

    granted = {
        b["budget_id"]: b
        for f in {f for _, f, _ in rows}
        if f in funders
        for b in ctx.api.get("/v1/admin/budgets", funder_id=f)["budgets"]
    }
    wanted: dict[str, int] = {}
    for row, funder, spec in rows:
        if funder not in funders:
            checked.add(row.line, "funder {funder} does not exist", funder=funder)
        prior = granted.get(spec["budget_id"])
        if prior is not None:  # granted by an earlier run of this file: answered "exists", costs nothing now
            same = all(
                prior.get(k) == spec.get(k) for k in ("member_id", "group_id", "label", "categories", "expires_on")
            )
            if not same or prior.get("funder_id") != funder:
                checked.add(row.line, "budget {budget_id} exists with other data", budget_id=spec['budget_id'])
            continue
        wanted[funder] = wanted.get(funder, 0) + spec["amount_cents"]
        owner = (
            f"/v1/admin/members/{spec['member_id']}" if "member_id" in spec else f"/v1/admin/groups/{spec['group_id']}"
        )
        if not exists(owner):
            what = ("lid", "member") if "member_id" in spec else ("groep", "group")
            checked.add(
                row.line,
                "{what} {who} does not exist",
                what_nl=what[0],
                what_en=what[1],
                who=spec.get("member_id") or spec.get("group_id"),
            )
    for funder, cents in wanted.items():
        held = funders.get(funder)
        if held is not None and held < cents:
            line = next(r.line for r, f, _ in rows if f == funder)
            checked.add(
                line,
                "funder {funder} holds {held}, the rows need {need}",
                funder=funder,
                held_cents=held,
                need_cents=cents,
                currency=Currency.FL,
            )


def list_(ctx: Ctx) -> int:
    a = ctx.args
    rows = ctx.api.get("/v1/admin/budgets", member_id=a.member_id, group_id=a.group_id, funder_id=a.funder_id)[
        "budgets"
    ]
    ctx.out.result(rows, lambda: table(rows, BUDGET_COLS))
    return 0


def expire(ctx: Ctx) -> int:
    a = ctx.args
    body: dict[str, object] = {}
    if a.as_of:
        body["as_of"] = parse.iso_date(a.as_of, "--as-of")
    if a.budgets:
        body["budget_ids"] = sorted({parse.ident(b, "--budget") for b in a.budgets})
    answer = ctx.write("budget.expire", "POST", "/v1/admin/budgets/expire", body)
    rows = answer["expired"]
    ctx.out.result(
        answer,
        lambda: table(
            rows,
            (
                Col("budget", "budget_id"),
                Col("fonds", "funder_id"),
                money_col("terug naar fonds", "returned_cents"),
                money_col("zelf gehouden", "kept_cents"),
            ),
        )
        + ("(meer dan 1000: voer het nog eens uit)\n" if answer.get("more") else ""),
    )
    return 0
