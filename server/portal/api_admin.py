"""Admin endpoints behind `floreyn-provision portal ...`: portal users and their one-time codes.

The code is answered once (never stored in clear, never in the idempotency
store): a retry with the same request id answers "exists" without a code, and
the desk re-issues with a new request id.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StringConstraints

from sqlalchemy import Connection

from floreyn.server import admin_auth, state
from floreyn.server.api_common import Actor, ctx_of, require, write
from floreyn.server.models import Ident, Write
from floreyn.server.portal import users

router = APIRouter(prefix="/v1/admin/portal", tags=["admin"])
Desk = Annotated[Actor, Depends(require(admin_auth.DESK))]
Admin = Annotated[Actor, Depends(require(admin_auth.ADMIN))]
Email = Annotated[str, StringConstraints(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]


class MemberCode(Write):
    member_id: Ident


class Invite(Write):
    role: Literal["member", "merchant", "funder", "admin", "auditor"] = Field(
        description="merchant also covers the self-employed; admin and auditor see the treasurer's pages.")
    subject_id: Ident | None = Field(None, description="The member, merchant or funder id (not for admin/auditor).")
    email: Email | None = Field(None, description="What the person signs in with (a member may use the number).")


@router.post("/codes", summary="A member's one-time activation code (welcome slip; re-issued at the desk)")
def member_code(request: Request, body: MemberCode, actor: Desk) -> dict[str, Any]:
    portal_url = ctx_of(request).portal_url  # what the welcome slip prints (None: the desk's own setting)

    def run(conn: Connection, now: int) -> dict[str, Any]:
        made = users.issue_code(conn, role="member", subject_id=body.member_id, login=None, email=None, now=now)
        return {**made, "portal_url": portal_url, "ask_bp": state.get_settings(conn).rates.ask_bp}

    return write(request, actor, "portal.code", body, run, secret=("activation_code",))


@router.post("/invites", summary="Invite a shop, self-employed person, funder or treasurer with a one-time code")
def invite(request: Request, body: Invite, actor: Admin) -> dict[str, Any]:
    return write(request, actor, "portal.invite", body, lambda conn, now: users.issue_code(
        conn, role=body.role, subject_id=body.subject_id, login=body.email, email=body.email, now=now),
        secret=("activation_code",))
