"""Desk commands of issue 14: card unblock (audited), config set, report zreport, the overspend list."""

from __future__ import annotations

from floreyn.sync.record import Kind


def test_an_overspend_block_is_listed_and_lifted_from_the_desk_in_the_audit_log(tool, srv, world):
    _, card = world.member(eur_cents=500)
    term = world.terminal()
    term.spend(card, 2_000)
    term.client(srv).upload(term.raws)
    listed = {b["card_id"]: b for b in tool.ok("report", "overspend")["blocked"]}
    assert listed[card]["balance_cents"] == -1_500
    text = tool("report", "overspend", json_mode=False).out
    assert card in text and "fl -15,00" in text
    lifted = tool.ok("card", "unblock", card)
    assert lifted["status"] == "active"
    assert card not in {b["card_id"] for b in tool.ok("report", "overspend")["blocked"]}
    audit = srv.admin("GET", "/v1/admin/audit?limit=1000")["entries"]
    assert any(e["path"] == f"/v1/admin/cards/{card}/unblock" and e["status"] == 200 for e in audit)
    bad = tool("card", "unblock", "nonsense")
    assert bad.code == 1 and bad.error()["error"] == "input_invalid"


def test_rates_and_offline_limits_are_set_from_the_desk(tool, srv):
    before = tool.ok("config", "show")
    try:
        after = tool.ok("config", "set", "--per-tx", "20,00", "--cumulative", "40,00", "--max-count", "4",
                        "--ask-bp", "10000", "--reinstate-after-h", "48")
        assert (after["limits"]["per_tx_cents"], after["limits"]["cumulative_cents"]) == (2_000, 4_000)
        assert after["limits"]["max_count"] == 4 and after["reinstate_after_s"] == 48 * 3600
        assert srv.admin("GET", "/v1/admin/config")["limits"]["per_tx_cents"] == 2_000
        assert "fl 20,00" in tool("config", "show", json_mode=False).out
        refused = tool("config", "set", "--per-tx", "twintig")
        assert refused.code == 1 and "--per-tx" in refused.err
        assert tool("config", "set").code == 1  # nothing to change: a refusal, not an empty write
    finally:
        limits = before["limits"]
        tool.ok("config", "set", "--per-tx", f"{limits['per_tx_cents'] / 100:.2f}".replace(".", ","),
                "--cumulative", f"{limits['cumulative_cents'] / 100:.2f}".replace(".", ","),
                "--max-count", str(limits["max_count"]), "--reinstate-after-h", "24")


def test_a_terminals_z_report_from_the_desk(tool, srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    term.spend(card, 1_250)
    term.record(Kind.DAY_CLOSE)
    term.client(srv).upload(term.raws)
    days = tool.ok("report", "zreport", "--terminal", term.terminal_id)
    assert [d["day_no"] for d in days["days"]] == [1]
    z = tool.ok("report", "zreport", "--terminal", term.terminal_id, "--day", "1")
    assert z["fl_received_cents"] == 1_250 and z["kinds"]["SPEND"]["records"] == 1
    assert "fl 12,50" in tool("report", "zreport", "--terminal", term.terminal_id, "--day", "1", json_mode=False).out
    missing = tool("report", "zreport", "--terminal", term.terminal_id, "--day", "2")
    assert missing.code != 0 and "not_found" in missing.err
