"""`portal code | invite`: who may sign in to the portal (server/portal).

    floreyn-provision portal code m-0042                  a member's one-time activation code (again)
    floreyn-provision portal invite --role merchant --id M-harry --email harry@example.org
    floreyn-provision portal invite --role funder --id F-portaal --email fonds@portaal.nl
    floreyn-provision portal invite --role admin --email penningmeester@floreyn.nl

A code is shown once and works once (60 days); a new code replaces the old
one and unlocks a locked-out user. `card issue` asks for the member's code
itself and prints it on the welcome slip with the portal's address.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from floreyn.errors import FloreynError
from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.output import Col, table

COLS = (Col("login", "login"), Col("rol", "role"), Col("voor", "subject_id"), Col("activeringscode", "activation_code"))
ROLES = ("member", "merchant", "funder", "admin", "auditor")


def add_parser(sub: Any) -> None:
    g = sub.add_parser("portal", help="portal sign-in: activation codes and invitations").add_subparsers(
        dest="action", required=True)
    p = g.add_parser("code", help="a member's one-time activation code (re-issue at the desk)")
    p.add_argument("member_id")
    p.set_defaults(run=code)
    p = g.add_parser("invite", help="invite a shop, self-employed person, funder or treasurer")
    p.add_argument("--role", required=True, choices=ROLES, help="merchant also covers the self-employed")
    p.add_argument("--id", dest="subject_id", help="the merchant, funder or member id (not for admin/auditor)")
    p.add_argument("--email", help="what the person signs in with")
    p.set_defaults(run=invite)


def _send(ctx: Ctx, path: str, body: Mapping[str, object]) -> dict[str, object]:
    # Not journalled: the code is answered once and never stored, so a retry under the same id could
    # not show it again. A lost answer is harmless: run the command again for a new code.
    return ctx.api.send("POST", path, {**body, "request_id": uuid.uuid4().hex})


def code(ctx: Ctx) -> int:
    answer = _send(ctx, "/v1/admin/portal/codes", {"member_id": parse.ident(ctx.args.member_id, "member")})
    ctx.out.result(answer, lambda: table([answer], COLS))
    return 0


def invite(ctx: Ctx) -> int:
    args = ctx.args
    body: dict[str, object] = {"role": args.role}
    if args.subject_id:
        body["subject_id"] = parse.ident(args.subject_id, "--id")
    if args.email:
        body["email"] = parse.text(args.email, "--email", 200)
    answer = _send(ctx, "/v1/admin/portal/invites", body)
    ctx.out.result(answer, lambda: table([answer], COLS))
    return 0


def slip_code(ctx: Ctx, member_id: str) -> dict[str, object] | None:
    """The activation code for a new card's welcome slip; a refusal only leaves the code off the slip."""
    try:
        return _send(ctx, "/v1/admin/portal/codes", {"member_id": member_id})
    except FloreynError as exc:
        ctx.out.warn(ctx.out.say(f"geen activeringscode op de bon: {exc.message('nl')}",
                                 f"no activation code on the slip: {exc.message('en')}"))
        return None
