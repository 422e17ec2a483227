"""`category add | list`: the cooperative's merchant categories, as data on the server.

    floreyn-provision category add duurzaam "Duurzaamheid"
    floreyn-provision category add klussen/vakman "Gecertificeerd vakman (cv-ketel, elektra)"
    floreyn-provision category add klussen/handig "Handige buur (klein klussenwerk)"
    floreyn-provision category list

A budget that names "klussen" pays at klussen/vakman and klussen/handig; one that names klussen/vakman only
there. Tills get the list with their next snapshot; a new category needs no till upgrade.
"""

from __future__ import annotations

from typing import Any

from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.output import Col, table

COLS = (Col("categorie", "category"), Col("naam", "name"), Col("hoort bij", "parent", lambda v: v or "-"))


def add_parser(sub: Any) -> None:
    c = sub.add_parser("category", help="merchant categories (budgets name them)").add_subparsers(
        dest="action", required=True
    )
    p = c.add_parser("add", help="define a category, or a sub-category as parent/name")
    p.add_argument("category", help="e.g. duurzaam or klussen/vakman")
    p.add_argument("name", help='what people read, e.g. "Duurzaamheid"')
    p.set_defaults(run=add)
    c.add_parser("list", help="all categories").set_defaults(run=list_)


def known(ctx: Ctx) -> set[str]:
    """The categories the server knows (asked before a merchant write, so a typo is refused before sending)."""
    return {row["category"] for row in ctx.api.get("/v1/admin/categories")["categories"]}


def add(ctx: Ctx) -> int:
    body = {"category": parse.category(ctx.args.category, "categorie"), "name": parse.text(ctx.args.name, "naam", 80)}
    answer = ctx.write("category.create", "POST", "/v1/admin/categories", body)
    ctx.out.result(answer, lambda: table([answer], (*COLS, Col("resultaat", "result"))))
    return 0


def list_(ctx: Ctx) -> int:
    rows = ctx.api.get("/v1/admin/categories")["categories"]
    ctx.out.result(rows, lambda: table(rows, COLS))
    return 0
