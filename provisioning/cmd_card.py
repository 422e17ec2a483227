"""`card issue | block | unblock | replace | show`.

    floreyn-provision card issue --member m-1a2b3c            # one card, on the reader now
    floreyn-provision card issue --batch leden-ids.csv         # a stack: "kaart 7 van 40 - leg de volgende ..."
    floreyn-provision card block 0011...eeff --reason verloren
    floreyn-provision card block DA15 --reason verloren        # the end the receipt shows, the member or the alias
    floreyn-provision card unblock 0011...eeff                 # e.g. blocked for overspend, now paid back
    floreyn-provision card replace 0011...eeff                 # new card on the reader; balance and budgets move

Order of a card issue: the member is looked up (a wrong token or an
unknown member stops before a card is touched); the card is signed,
written, read back, verified and locked; only then is it registered at the
server; then the welcome slip prints. The new card id is kept in the
journal until the server has it, so a rerun after any failure writes and
registers the *same* card id (a card already carrying it is recognised and
left as it is) instead of making a second card.

A batch skips members who already hold an active card, so rerunning a
batch that stopped half-way continues where it stopped.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from floreyn import card as cards
from floreyn.card import CardError
from floreyn.provisioning import cardio, cmd_portal, csvin, parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import Ambiguous, ServerRefused, invalid, worded
from floreyn.provisioning.journal import command_key
from floreyn.provisioning.output import Col, fields, listed, money_col, table, word

MAX_BATCH = 1_000
CARD_COLS = (
    Col("lid", "member_id"),
    Col("alias", "alias"),
    Col("pas", "card_id"),
    Col("resultaat", "result", word),
    Col("bon", "slip"),
)


def add_parser(sub: Any) -> None:
    c = sub.add_parser("card", help="member cards").add_subparsers(dest="action", required=True)
    p = c.add_parser("issue", help="sign, write, verify and lock a card for a member")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", action="append", dest="members", metavar="MEMBER_ID")
    who.add_argument("--batch", metavar="CSV", help="a CSV with a member_id column: one card per member, in order")
    cardio.add_device_options(p)
    p.set_defaults(run=issue)
    p = c.add_parser("block", help="block a card (lost, stolen); terminals learn it at their next sync")
    p.add_argument(
        "card_id",
        metavar="CARD",
        help="the card number, its last 4 characters as on the receipt (•••• DA15), the member id or the alias",
    )
    p.add_argument("--reason", default="geblokkeerd door de coöperatie")
    p.set_defaults(run=block)
    p = c.add_parser("unblock", help="lift a block (also one for overspend, see `report overspend`); audited")
    p.add_argument("card_id")
    p.set_defaults(run=unblock)
    p = c.add_parser("replace", help="a new card for the same member; the old one is blocked")
    p.add_argument("card_id", help="the old card's id")
    cardio.add_device_options(p)
    p.set_defaults(run=replace)
    p = c.add_parser("show", help="one card")
    p.add_argument("card_id")
    p.set_defaults(run=show)


# -- issue ----------------------------------------------------------------------------


def _member_id(row: csvin.Row) -> str:
    return parse.ident(row.cells["member_id"], "member_id")


def _member_ids(ctx: Ctx) -> list[str]:
    if ctx.args.batch:
        path = Path(ctx.args.batch)
        file = csvin.read(path, {"member_id": ("lidnummer", "lid", "id")}, required=("member_id",))
        checked = file.checked
        ids = [
            checked.check(row, functools.partial(_member_id, row)) for row in file.rows
        ]
        checked.raise_if_bad()
    else:
        ids = [parse.ident(m, "--member") for m in ctx.args.members]
    if len(ids) > MAX_BATCH:
        raise invalid("--batch", "at most {max_batch} cards at a time", max_batch=MAX_BATCH)
    if len(set(ids)) != len(ids):
        raise invalid("--batch", "a member appears twice")
    return ids


def issue(ctx: Ctx) -> int:
    ids = _member_ids(ctx)
    batch = bool(ctx.args.batch) or len(ids) > 1
    desk = cardio.open_desk(ctx)
    results: list[dict[str, Any]] = []
    try:
        for i, member_id in enumerate(ids, 1):
            member = ctx.api.get(f"/v1/admin/members/{member_id}")
            pending = ctx.settings.pending_dir / f"{command_key('card.issue', {'member_id': member_id})}.json"
            if batch and not pending.exists() and any(c["status"] == "active" for c in member.get("cards", [])):
                results.append(
                    {"member_id": member_id, "alias": member["alias"], "card_id": "", "result": "skipped", "slip": ""}
                )
                ctx.out.progress(
                    ctx.out.say(
                        f"kaart {i} van {len(ids)} - {member['alias']} heeft al een pas, overgeslagen",
                        f"card {i} of {len(ids)} - {member['alias']} has a card already, skipped",
                    )
                )
                continue
            which_nl, which_en = ("volgende", "next") if i > 1 else ("eerste", "first")
            ctx.out.progress(
                ctx.out.say(
                    f"kaart {i} van {len(ids)} - leg de {which_nl} kaart op de lezer ({member['alias']})",
                    f"card {i} of {len(ids)} - put the {which_en} card on the reader ({member['alias']})",
                )
            )
            try:
                results.append(_issue_one(ctx, desk, member, patient=batch))
                if batch:
                    ctx.out.progress(
                        ctx.out.say("klaar - haal de kaart van de lezer", "done - take the card off the reader")
                    )
            except BaseException:
                if batch:
                    done = sum(r["result"] != "skipped" for r in results)
                    ctx.out.progress(
                        ctx.out.say(
                            f"gestopt bij kaart {i} van {len(ids)} ({done} uitgegeven); voer dezelfde opdracht opnieuw "
                            "uit om verder te gaan",
                            f"stopped at card {i} of {len(ids)} ({done} issued); run the same "
                            "command again to continue",
                        )
                    )
                raise
    finally:
        desk.close()
    ctx.out.result(results if batch else results[0], lambda: table(results, CARD_COLS))
    return 0


def _issue_one(ctx: Ctx, desk: cardio.Desk, member: dict[str, Any], *, patient: bool) -> dict[str, object]:
    if member.get("erased_ms") is not None:
        raise ServerRefused(
            server_code="state_refused",
            status=409,
            **worded("message", "member {member_id} was erased.", member_id=member['member_id']),
        )
    entry = ctx.journal.begin("card.issue", {"member_id": member["member_id"]})
    ctx.note_resumed(entry)
    card = _card_for(ctx, desk, entry)
    written = _write(ctx, desk, entry, card, patient)
    answer = ctx.send_pending(
        entry, "POST", "/v1/admin/cards", {"card_id": card.card_hex, "member_id": member["member_id"]}
    )
    slip = cardio.print_slip(ctx, desk, member["alias"], card.card_id, cmd_portal.slip_code(ctx, member["member_id"]))
    return {
        "member_id": member["member_id"],
        "alias": member["alias"],
        "card_id": card.card_hex,
        "uid": written.get("uid", ""),
        "locked": written.get("locked", False),
        "result": answer.get("result", "created"),
        "claimed_cents": answer.get("claimed_cents", 0),
        "slip": slip,
    }


def _card_for(ctx: Ctx, desk: cardio.Desk, entry: Any) -> cards.Card:
    """The journal's card id (a rerun writes the same card) or a new random one, stored before it is written."""
    card_hex = entry.state.get("card_id")
    if not card_hex:
        card_hex = cards.new_card_id().hex()
        ctx.journal.update(entry, card_id=card_hex)
    return cards.issue(desk.issuer, bytes.fromhex(card_hex))


def _write(ctx: Ctx, desk: cardio.Desk, entry: Any, card: cards.Card, patient: bool) -> dict[str, object]:
    if entry.state.get("written"):  # an earlier run wrote it; only the registration was missing
        ctx.out.progress(
            ctx.out.say(
                "deze pas is al beschreven; alleen registreren", "this card is written already; registering only"
            )
        )
        return dict(entry.state["written"])

    def problem(exc: CardError) -> None:
        ctx.out.progress(exc.message(ctx.out.lang))

    result = desk.write_patiently(card, problem) if patient else desk.write(card)
    written = {"uid": result.uid.hex(), "locked": result.protected, "product": result.product}
    ctx.journal.update(entry, written=written)
    ctx.out.progress(
        ctx.out.say(
            f"pas {cards.mask_card_id(card.card_id)} beschreven en gecontroleerd"
            f"{' en vergrendeld' if result.protected else ''}; registreren bij de server",
            f"card {cards.mask_card_id(card.card_id)} written and verified{' and locked' if result.protected else ''}; "
            "registering at the server",
        )
    )
    return written


# -- block, replace, show --------------------------------------------------------------


MIN_CARD_END = 4  # the receipt shows the last 4 characters; fewer would fit too many cards


def _resolve_card(ctx: Ctx, who: str) -> str:
    """A card id from what the desk has at hand: the full number, its end, the member id or the alias.

    Only active cards count (blocking a blocked card helps nobody); more than one fits: every
    candidate is listed and nothing is blocked."""
    cleaned = who.strip()
    if len(cleaned.replace(" ", "").replace("-", "")) == 32:
        return parse.card_hex(cleaned)
    end = cleaned.removeprefix("••••").strip().lower()
    is_end = len(end) >= MIN_CARD_END and all(ch in "0123456789abcdef" for ch in end)
    found = ctx.api.get("/v1/admin/members/search", q=cleaned if not is_end else end)["members"]
    fits = [
        (m, c)
        for m in found
        for c in m["cards"]
        if c["status"] == "active"
        and (
            m["member_id"] == cleaned
            or m["alias"].casefold() == cleaned.casefold()
            or (is_end and c["card_id"].endswith(end))
        )
    ]
    if not fits:
        raise invalid(
            "pas",
            "no active card found for {cleaned!r} (card number, last 4 characters, member or alias)",
            cleaned=cleaned,
        )
    if len(fits) > 1:
        raise Ambiguous(
            what=cleaned,
            count=len(fits),
            candidates="\n".join(
                f"  {c['card_id']}  •••• {c['card_id'][-4:].upper()}  {m['alias']} ({m['member_id']})" for m, c in fits
            ),
            card_ids=[c["card_id"] for _, c in fits],
        )
    return str(fits[0][1]["card_id"])


def block(ctx: Ctx) -> int:
    card_hex = _resolve_card(ctx, ctx.args.card_id)
    answer = ctx.write(
        "card.block",
        "POST",
        f"/v1/admin/cards/{card_hex}/block",
        {"reason": parse.text(ctx.args.reason, "--reason", 200)},
    )
    ctx.out.result(answer, lambda: _card_text(answer))
    return 0


def unblock(ctx: Ctx) -> int:
    """An admin write like any other: idempotent by its request id and in the server's audit log."""
    card_hex = parse.card_hex(ctx.args.card_id)
    answer = ctx.write("card.unblock", "POST", f"/v1/admin/cards/{card_hex}/unblock", {})
    ctx.out.result(answer, lambda: _card_text(answer))
    return 0


def replace(ctx: Ctx) -> int:
    old_hex = parse.card_hex(ctx.args.card_id)
    old = ctx.api.get(f"/v1/admin/cards/{old_hex}")
    entry_key = {"old_card_id": old_hex}
    pending = (ctx.settings.pending_dir / f"{command_key('card.replace', entry_key)}.json").exists()
    if old["status"] == "replaced" and not pending:
        raise ServerRefused(
            server_code="state_refused",
            status=409,
            **worded("message", "card {old_hex} was already replaced by {replaced_by}.", old_hex=old_hex, replaced_by=old['replaced_by']),
        )
    member = ctx.api.get(f"/v1/admin/members/{old['member_id']}")
    desk = cardio.open_desk(ctx)
    try:
        entry = ctx.journal.begin("card.replace", entry_key)
        ctx.note_resumed(entry)
        ctx.out.progress(
            ctx.out.say(
                f"leg een lege kaart op de lezer voor {member['alias']}",
                f"put a blank card on the reader for {member['alias']}",
            )
        )
        card = _card_for(ctx, desk, entry)
        written = _write(ctx, desk, entry, card, patient=False)
        answer = ctx.send_pending(entry, "POST", f"/v1/admin/cards/{old_hex}/replace", {"new_card_id": card.card_hex})
        slip = cardio.print_slip(ctx, desk, member["alias"], card.card_id)
    finally:
        desk.close()
    data = {
        **answer,
        "member_id": member["member_id"],
        "alias": member["alias"],
        "new_card_id": card.card_hex,
        "uid": written.get("uid", ""),
        "locked": written.get("locked", False),
        "slip": slip,
    }
    budgets = [f"{b['label']} {money_col('', 'remaining_cents').cell(b).strip()}" for b in answer.get("budgets", [])]
    ctx.out.result(
        data,
        lambda: fields(
            [
                ("lid", f"{member['alias']} ({member['member_id']})"),
                ("oude pas", f"{old_hex} (geblokkeerd)"),
                ("nieuwe pas", f"{card.card_hex} ({'vergrendeld' if data['locked'] else 'niet vergrendeld'})"),
                ("saldo", money_col("", "balance_cents").cell(answer).strip()),
                ("budgetten", listed(budgets) or "-"),
                ("welkomstbon", slip),
            ]
        ),
    )
    return 0


def show(ctx: Ctx) -> int:
    card = ctx.api.get(f"/v1/admin/cards/{parse.card_hex(ctx.args.card_id)}")
    ctx.out.result(card, lambda: _card_text(card))
    return 0


def _card_text(c: dict[str, Any]) -> str:
    return fields(
        [
            ("pas", c["card_id"]),
            ("lid", c["member_id"]),
            ("status", word(c["status"])),
            ("reden", c.get("blocked_reason") or "-"),
            ("vervangen door", c.get("replaced_by") or "-"),
        ]
    )
