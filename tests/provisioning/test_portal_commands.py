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


def test_a_tills_welcome_slip_points_to_the_servers_portal_url(tmp_path):
    """`terminal enroll` writes the server's portal_url (from /v1/health) as the till's welcome_url."""
    from provision_tool import PASSPHRASE, Tool

    from floreyn.server.testing import ServerThread
    from floreyn.terminal.config import load_config

    with ServerThread(f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "data",
                      portal_url="https://floreyn.example.nl/portal") as server:
        (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
        tool = Tool(tmp_path / "home", server.base_url)
        tool.ok("init", "--bootstrap-token-file", str(server.config.data_dir / "admin_token"),
                "--passphrase-file", tool.passphrase_file, "--token-name", "desk-portal")
        tool.ok("merchant", "add", "--id", "M-b", "--name", "Bakker", "--category", "winkel")
        config = tmp_path / "till.toml"
        tool.ok("terminal", "enroll", "--terminal-id", "T-b", "--merchant", "M-b", "--config", str(config),
                "--data-dir", str(tmp_path / "till"))
        assert load_config(config).welcome_url == "https://floreyn.example.nl/portal"


def test_the_desk_pays_on_a_members_behalf_from_a_fitting_budget(tool, srv, world):
    anna, _ = world.member(eur_cents=1_000)
    harry = world.merchant(category="klussen")
    funder = world.funder(eur_cents=5_000)
    budget = world.new_id("B")
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": budget, "member_id": anna, "label": "Onderhoud", "categories": ["klussen"],
         "expires_on": "2099-12-31", "amount_cents": 5_000}]})
    out = tool.ok("pay", "--from", f"member:{anna}", "--to", f"merchant:{harry}", "--amount", "25",
                  "--budget", budget, "--memo", "dakgoot schoonmaken")
    assert (out["from_account"], out["amount_cents"], out["result"]) == (f"budget:{budget}", 2_500, "created")
    back = tool.ok("pay", "--from", f"merchant:{harry}", "--to", f"member:{anna}", "--amount", "5")
    assert back["to_account"] == f"member:{anna}"
    poor = tool("pay", "--from", f"member:{anna}", "--to", f"merchant:{harry}", "--amount", "100")
    assert poor.code == 2 and "Onvoldoende saldo" in poor.err
    bad = tool("pay", "--from", f"funder:{funder}", "--to", f"merchant:{harry}", "--amount", "1")
    assert bad.code != 0
    assert world.balance(f"budget:{budget}") == 2_500 and world.balance(f"merchant:{harry}") == 2_000
