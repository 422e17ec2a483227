"""`member add | import | list | find | show | update | erase` and `group add`.

    floreyn-provision member add --alias "Anna B." --name "Anna Bakker" --email anna@example.org
    floreyn-provision member import leden.csv --out leden-ids.csv
    floreyn-provision member find bakker            # name, e-mail, alias, phone or the card's last 4 ("DA15")
    floreyn-provision member update m-1a2b --phone "06 1234 5678"
    floreyn-provision member erase m-1a2b           # GDPR erasure; asks first (or --yes)
    floreyn-provision group add --id G-blok-7 --name "Blok 7" --member m-1 --member m-2

A member is known to the tills only by an opaque id and an alias ("Anna
B."); name, e-mail, phone and address stay on the server.

`member import` reads the whole file and checks every row (and, for rows
that give a member id, that the server does not hold that id with other
data) before it sends anything; a bad file is refused with every bad line
listed. Each row's request id comes from the file's content and the line,
so running the same file again after an interruption finishes the import
without making anyone twice. Columns (header names, Dutch or English):
member_id (lidnummer), alias (roepnaam), name (naam), email (e-mail),
phone (telefoon), address (adres). Every row needs a name and an alias;
e-mail addresses are checked with email-validator, phone numbers with
phonenumbers (a number without +country is Dutch) and stored as
"+31 6 12345678". A row equal to another, or with the same name and the
same e-mail or phone as another row, is refused as a (likely) duplicate
unless --allow-duplicates.
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path
from typing import Any, Final

import email_validator
import phonenumbers

from floreyn.provisioning import csvin, parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import ServerRefused, invalid
from floreyn.provisioning.output import Col, fields, listed, money_col, table, word
from floreyn.provisioning.tomlw import write_private
from floreyn.text import csv_row

PERSONAL: Final = (("alias", 80), ("name", 200), ("email", 200), ("phone", 50), ("address", 300))
COLUMNS: Final = {
    "member_id": ("lidnummer", "lid", "id"),
    "alias": ("roepnaam", "weergavenaam"),
    "name": ("naam",),
    "email": ("e_mail", "mail"),
    "phone": ("telefoon", "tel"),
    "address": ("adres",),
}
REQUIRED_IN_IMPORT: Final = ("name", "alias")  # a member without them is a typo the desk finds out too late
PHONE_REGION: Final = "NL"  # a number written without +country is Dutch
PROGRESS_EVERY: Final = 100
MAX_LIST: Final = 100_000


def add_parser(sub: Any) -> None:
    m = sub.add_parser("member", help="members (contact details stay on the server)").add_subparsers(
        dest="action", required=True
    )
    p = m.add_parser("add", help="register one member")
    p.add_argument("--id", dest="member_id", help="opaque member id (default: the server makes one); never a name")
    for name, _ in PERSONAL:
        p.add_argument(f"--{name}")
    p.set_defaults(run=add)
    p = m.add_parser("import", help="register members from a CSV file")
    p.add_argument("file")
    p.add_argument("--out", metavar="PATH", help="write line, member_id, alias, result as CSV (no personal data)")
    p.add_argument(
        "--allow-duplicates", action="store_true", help="import rows that look like another row (same person twice)"
    )
    p.set_defaults(run=import_)
    p = m.add_parser("list", help="member ids and aliases")
    p.set_defaults(run=list_)
    p = m.add_parser("find", help="members by name, e-mail, alias, phone or the last 4 characters of a card")
    p.add_argument("query")
    p.set_defaults(run=find)
    p = m.add_parser("show", help="one member with cards, budgets, groups and balance")
    p.add_argument("member_id")
    p.set_defaults(run=show)
    p = m.add_parser("update", help="change a member's alias or contact details")
    p.add_argument("member_id")
    for name, _ in PERSONAL:
        p.add_argument(f"--{name}")
    p.set_defaults(run=update)
    p = m.add_parser("erase", help="GDPR erasure: personal data blanked, cards blocked, the ledger kept whole")
    p.add_argument("member_id")
    p.add_argument("--yes", action="store_true", help="do not ask first")
    p.set_defaults(run=erase)

    g = sub.add_parser("group", help="groups of members that can hold budgets").add_subparsers(
        dest="action", required=True
    )
    p = g.add_parser("add", help="create a group or add members to it")
    p.add_argument("--id", required=True, dest="group_id")
    p.add_argument("--name", required=True)
    p.add_argument("--member", action="append", default=[], dest="members")
    p.set_defaults(run=group_add)


def _personal(values: dict[str, str | None], where: str) -> dict[str, object]:
    out: dict[str, Any] = {}
    for name, max_len in PERSONAL:
        raw = values.get(name)
        if raw is not None:
            out[name] = parse.text(raw, f"{where}{name}", max_len, required=False)
    if out.get("email"):
        out["email"] = email(out["email"], f"{where}email")
    if out.get("phone"):
        out["phone"] = phone(out["phone"], f"{where}phone")
    return {k: v for k, v in out.items() if v is not None}


def email(text: str, field: str) -> str:
    """An e-mail address as email-validator reads it (no DNS look-up: the desk may be offline)."""
    try:
        return str(email_validator.validate_email(text, check_deliverability=False).normalized)
    except email_validator.EmailNotValidError as exc:
        raise invalid(field, "{text!r} is not a valid e-mail address ({exc})", text=text, exc=exc) from None


def phone(text: str, field: str) -> str:
    """A phone number, Dutch unless it starts with +country, as "+31 6 12345678"."""
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise invalid(field, "{text!r} is not a valid phone number", text=text)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


MEMBER_COLS = (Col("id", "member_id"), Col("alias", "alias"), Col("resultaat", "result", word))


def add(ctx: Ctx) -> int:
    args = ctx.args
    body = _personal({name: getattr(args, name) for name, _ in PERSONAL}, "--")
    if args.member_id:
        body["member_id"] = parse.ident(args.member_id, "--id")
    if not body:
        raise invalid("member add", "give at least --alias or --name")
    answer = ctx.write("member.create", "POST", "/v1/admin/members", body)
    ctx.out.result(answer, lambda: table([answer], MEMBER_COLS))
    return 0


def import_(ctx: Ctx) -> int:
    path = Path(ctx.args.file)
    file = csvin.read(path, COLUMNS)
    checked = file.checked
    bodies: list[tuple[csvin.Row, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for row in file.rows:
        body = checked.check(row, functools.partial(_row_body, row))
        if body is None:
            continue
        mid = body.get("member_id")
        if mid in seen:
            checked.add(row.line, "member id {mid} is also on line {seen}", mid=mid, seen=seen[mid])
            continue
        if mid:
            seen[mid] = row.line
        bodies.append((row, body))
    if not ctx.args.allow_duplicates:
        _check_duplicates(checked, bodies)
    checked.raise_if_bad()
    _check_against_server(ctx, checked, bodies)
    checked.raise_if_bad()
    results = []
    for i, (row, body) in enumerate(bodies, 1):
        try:
            answer = ctx.api.send(
                "POST", "/v1/admin/members", {**body, "request_id": csvin.row_request_id(file, "member", row)}
            )
        except Exception:
            ctx.out.progress(
                ctx.out.say(
                    f"{i - 1} van {len(bodies)} regels verstuurd; voer dezelfde opdracht opnieuw uit om af te maken.",
                    f"{i - 1} of {len(bodies)} rows sent; run the same command again to finish.",
                )
            )
            raise
        results.append(
            {
                "line": row.line,
                "member_id": answer["member_id"],
                "alias": answer.get("alias", body.get("alias", "")),
                "result": answer.get("result", "created"),
            }
        )
        if i % PROGRESS_EVERY == 0:
            ctx.out.progress(f"{i}/{len(bodies)}")
    if ctx.args.out:
        _write_mapping(Path(ctx.args.out), results)
    summary = {
        "file": str(path),
        "sha256": file.sha256,
        "rows": len(results),
        "created": sum(r["result"] == "created" for r in results),
        "exists": sum(r["result"] == "exists" for r in results),
        "members": results,
    }
    ctx.out.result(
        summary,
        lambda: (
            table(results, (Col("regel", "line", right=True), *MEMBER_COLS))
            + ctx.out.say(
                f"{summary['created']} nieuw, {summary['exists']} bestonden al\n",
                f"{summary['created']} created, {summary['exists']} existed\n",
            )
        ),
    )
    return 0


def _row_body(row: csvin.Row) -> dict[str, object]:
    missing = [name for name in REQUIRED_IN_IMPORT if not row.cells.get(name, "").strip()]
    if missing:
        nl = {"name": "naam", "alias": "roepnaam (alias)"}
        names = {"names_nl": " en ".join(nl[m] for m in missing), "names_en": " and ".join(missing)}
        if len(missing) == 1:
            raise invalid(missing[0], "{names} is missing", **names)
        raise invalid(missing[0], "{names} are missing", **names)
    body = _personal({k: v for k, v in row.cells.items() if k != "member_id"}, "")
    if row.cells.get("member_id"):
        body["member_id"] = parse.ident(row.cells["member_id"], "member_id")
    return body


def _check_duplicates(checked: csvin.Checked, bodies: list[tuple[csvin.Row, dict[str, Any]]]) -> None:
    """Refuse a row equal to an earlier one, or with its name and its e-mail or phone (the same person twice)."""
    exact: dict[tuple[Any, ...], int] = {}
    likely: dict[tuple[str, str, str], int] = {}
    for row, body in bodies:
        key = tuple(body.get(name) for name, _ in PERSONAL)
        if key in exact:
            checked.add(
                row.line,
                "same data as line {exact} (use --allow-duplicates if these really are two members)",
                exact=exact[key],
            )
            continue
        exact[key] = row.line
        name = (body.get("name") or "").casefold()
        for what, value in (("email", body.get("email")), ("phone", body.get("phone"))):
            if not value:
                continue
            probe = (name, what, value.casefold())
            if probe in likely:
                how_nl = "e-mailadres" if what == "email" else "telefoonnummer"
                checked.add(
                    row.line,
                    "probably the same person as line {likely} (same name and {what}; "
                    "use --allow-duplicates if these really are two members)",
                    likely=likely[probe],
                    what=what,
                    what_nl=how_nl,
                )
                break
            likely[probe] = row.line


def _check_against_server(ctx: Ctx, checked: csvin.Checked, bodies: list[tuple[csvin.Row, dict[str, Any]]]) -> None:
    """Rows naming a member id the server holds with other data would be refused half-way: refuse them now."""
    for row, body in bodies:
        mid = body.get("member_id")
        if not mid:
            continue
        try:
            held = ctx.api.get(f"/v1/admin/members/{mid}")
        except ServerRefused as exc:
            if exc.server_code == "not_found":
                continue
            raise
        want = {name: body.get(name) for name, _ in PERSONAL}
        want["alias"] = want["alias"] or f"Lid {mid[-4:]}"  # the server's default alias
        if held.get("erased_ms") is not None:
            checked.add(row.line, "member {mid} was erased", mid=mid)
        elif any(held.get(k) != v for k, v in want.items()):
            checked.add(row.line, "member {mid} exists with other data", mid=mid)


def _write_mapping(path: Path, results: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["line", "member_id", "alias", "result"])
    for r in results:
        writer.writerow(csv_row([r["line"], r["member_id"], r["alias"], r["result"]]))  # no live formulas
    write_private(path, buf.getvalue().encode(), 0o640)


def list_(ctx: Ctx) -> int:
    rows: list[dict[str, Any]] = []
    after = ""
    while len(rows) < MAX_LIST:
        page = ctx.api.get("/v1/admin/members", after=after, limit=1000)["members"]
        rows += page
        if len(page) < 1000:
            break
        after = page[-1]["member_id"]
    ctx.out.result(
        rows,
        lambda: table(
            rows, (Col("id", "member_id"), Col("alias", "alias"), Col("gewist", "erased", lambda v: "ja" if v else ""))
        ),
    )
    return 0


def _card_line(c: dict[str, Any]) -> str:
    return f"{c['card_id']} (•••• {c['card_id'][-4:].upper()}, {word(c['status'])})"


def _budget_line(b: dict[str, Any]) -> str:
    left = money_col("", "remaining_cents").cell(b).strip()
    return f"{b['label']}: {left} tot en met {b['expires_on']} ({word(b['status'])})"


def show(ctx: Ctx) -> int:
    member_id = parse.ident(ctx.args.member_id, "member")
    m = ctx.api.get(f"/v1/admin/members/{member_id}")
    m["budgets"] = ctx.api.get("/v1/admin/budgets", member_id=member_id)["budgets"]
    ctx.out.result(
        m,
        lambda: fields(
            [
                ("id", m["member_id"]),
                ("alias", m["alias"]),
                ("naam", m.get("name") or "-"),
                ("e-mail", m.get("email") or "-"),
                ("telefoon", m.get("phone") or "-"),
                ("adres", m.get("address") or "-"),
                ("saldo", money_col("", "balance_cents").cell(m)),
                ("groepen", listed(m.get("groups")) or "-"),
                ("gewist", "ja" if m.get("erased_ms") is not None else "nee"),
            ]
        )
        + "".join(f"pas      {_card_line(c)}\n" for c in m.get("cards", []))
        + "".join(f"budget   {_budget_line(b)}\n" for b in m["budgets"]),
    )
    return 0


def find(ctx: Ctx) -> int:
    query = parse.text(ctx.args.query, "zoekterm", 200) or ""
    found = ctx.api.get("/v1/admin/members/search", q=query)
    rows = [
        {**m, "card_ends": ", ".join(f"{c['card_id'][-4:].upper()} ({word(c['status'])})" for c in m["cards"])}
        for m in found["members"]
    ]
    cols = (
        Col("id", "member_id"),
        Col("alias", "alias"),
        Col("naam", "name"),
        Col("e-mail", "email"),
        Col("telefoon", "phone"),
        Col("passen", "card_ends"),
    )

    def text() -> str:
        if not rows:
            return ctx.out.say(f"Geen lid gevonden voor {query!r}.\n", f"No member found for {query!r}.\n")
        more = ctx.out.say("(er zijn er meer: zoek preciezer)\n", "(there are more: search more precisely)\n")
        return table(rows, cols) + (more if found["more"] else "")

    ctx.out.result(found, text)
    return 0


def update(ctx: Ctx) -> int:
    args = ctx.args
    member_id = parse.ident(args.member_id, "member")
    body = _personal({name: getattr(args, name) for name, _ in PERSONAL}, "--")
    if not body:
        raise invalid("member update", "give what changes, e.g. --phone or --email")
    answer = ctx.write("member.update", "PATCH", f"/v1/admin/members/{member_id}", body)
    ctx.out.result(
        answer,
        lambda: fields([("lid", member_id), ("gewijzigd", ", ".join(answer["updated"]) or "niets")]),
    )
    return 0


def erase(ctx: Ctx) -> int:
    member_id = parse.ident(ctx.args.member_id, "member")
    m = ctx.api.get(f"/v1/admin/members/{member_id}")
    if not ctx.args.yes and m.get("erased_ms") is None:
        ctx.confirm(
            "Erase all personal data of {alias} ({member_id}) and block the cards? This cannot be undone.",
            "--yes",
            alias=m['alias'],
            member_id=member_id,
        )
    answer = ctx.write("member.erase", "POST", f"/v1/admin/members/{member_id}/erase", {})
    ctx.out.result(
        answer,
        lambda: fields(
            [
                ("lid", member_id),
                ("nu bekend als", answer.get("alias", m["alias"])),
                ("resultaat", "was al gewist" if answer.get("result") == "exists" else "gewist, passen geblokkeerd"),
                ("saldo", money_col("", "balance_cents").cell(answer).strip() or "-"),
            ]
        ),
    )
    return 0


def group_add(ctx: Ctx) -> int:
    args = ctx.args
    body = {
        "group_id": parse.ident(args.group_id, "--id"),
        "name": parse.text(args.name, "--name", 200),
        "member_ids": sorted({parse.ident(m, "--member") for m in args.members}),
    }
    answer = ctx.write("group.create", "POST", "/v1/admin/groups", body)
    ctx.out.result(
        answer,
        lambda: fields(
            [
                ("groep", answer["group_id"]),
                ("nieuw", listed(answer["added"]) or "-"),
                ("leden", listed(answer["members"]) or "-"),
            ]
        ),
    )
    return 0
