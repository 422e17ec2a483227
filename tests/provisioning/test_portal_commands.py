"""`floreyn-provision portal code | invite` against a real server: codes that activate portal users."""

from __future__ import annotations

import uuid

from floreyn.server.portal import users


def _activate(srv, login: str, code: str) -> users.User:
    return srv.ctx.db.write(lambda conn: users.activate(conn, login=login, code=code, password="p" * 12,
                                                       repeat="p" * 12, now=srv.ctx.clock()))


def test_code_for_a_member_activates_and_a_new_code_replaces_the_old(tool, srv, world):
    member, _ = world.member()
    first = tool.ok("portal", "code", member)
    second = tool.ok("portal", "code", member)
    assert first["login"] == member and first["activation_code"] != second["activation_code"]
    refused = tool("portal", "code", "m-bestaat-niet")
    assert refused.code != 0 and "bestaat niet" in refused.err
    assert _activate(srv, member, second["activation_code"]).role == "member"


def test_invite_a_self_employed_person_and_a_treasurer(tool, srv, world):
    harry = world.merchant(category="klussen")
    email = f"harry-{uuid.uuid4().hex[:6]}@example.org"
    answer = tool.ok("portal", "invite", "--role", "merchant", "--id", harry, "--email", email)
    assert (answer["role"], answer["subject_id"], answer["login"]) == ("merchant", harry, email)
    assert _activate(srv, email, answer["activation_code"]).subject_id == harry
    treasurer = tool.ok("portal", "invite", "--role", "auditor", "--email", f"t-{uuid.uuid4().hex[:6]}@example.org")
    assert treasurer["subject_id"] is None
    no_id = tool("portal", "invite", "--role", "funder", "--email", "f@example.org")
    assert no_id.code != 0
