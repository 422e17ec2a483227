"""floreyn-provision against a real server: merchants, funders, members, desk money, campaigns, reports, errors."""

from __future__ import annotations

import csv
import io
import uuid

from floreyn.money import ExchangeRates, Money
from floreyn.provisioning.journal import Journal
from floreyn.provisioning.settings import PENDING_DIR

from support.net import free_port


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_merchant_add_is_idempotent_and_update_changes_it(tool, srv):
    mid = uid("M")
    first = tool.ok(
        "merchant",
        "add",
        "--id",
        mid,
        "--name",
        "Bakkerij De Korenbloem",
        "--category",
        "winkel",
        "--save-rate",
        "2,5",
        "--topup",
    )
    assert (first["save_rate_bp"], first["topup_allowed"], first["result"]) == (250, True, "created")
    again = tool.ok(
        "merchant",
        "add",
        "--id",
        mid,
        "--name",
        "Bakkerij De Korenbloem",
        "--category",
        "winkel",
        "--save-rate",
        "2,5 %",
        "--topup",
    )
    assert again["result"] == "exists"
    other = tool("merchant", "add", "--id", mid, "--name", "Andere naam", "--category", "winkel")
    assert other.code == 2 and other.error()["error"] == "server_refused"
    assert "exists_with_different_params" in other.error()["message"]
    tool.ok("merchant", "update", mid, "--save-rate", "5", "--no-topup")
    held = srv.admin("GET", f"/v1/admin/merchants/{mid}")
    assert (held["save_rate_bp"], held["topup_allowed"], held["name"]) == (500, False, "Bakkerij De Korenbloem")
    listed = {m["merchant_id"]: m for m in tool.ok("merchant", "list")}
    assert listed[mid]["save_rate_bp"] == 500
    table = tool("merchant", "list", json_mode=False)
    assert table.code == 0 and mid in table.out and "5 %" in table.out


def test_bad_arguments_are_refused_before_anything_is_sent(tool, srv):
    mid = uid("M")
    cases = [
        (("merchant", "add", "--id", mid, "--name", "X", "--category", "bakker"), "onbekende categorie"),
        (("merchant", "add", "--id", mid, "--name", "X", "--category", "winkel", "--save-rate", "150"), "100 procent"),
        (("merchant", "add", "--id", "met spatie", "--name", "X", "--category", "winkel"), "geen geldige id"),
        (("desk", "topup", "--member", "m-1", "--amount", "1.234"), "Onduidelijk bedrag"),
        (("desk", "topup", "--member", "m-1", "--amount", "12,3456"), "twee cijfers"),
        (
            (
                "campaign",
                "add",
                "--id",
                "C-x",
                "--name",
                "Z",
                "--multiplier",
                "2",
                "--from",
                "2025-07-01",
                "--to",
                "2025-06-01",
            ),
            "ligt voor",
        ),
        (("report", "settlement", "--merchant", mid, "--from", "1-6-2025", "--to", "2025-06-30"), "geen datum"),
        (("merchant", "lijst"), "ongeldige keuze"),
    ]
    for argv, words in cases:
        r = tool(*argv, json_mode=False)
        assert r.code == 1, (argv, r.err)
        assert words in r.err and r.out == "", (argv, r.err)
    assert all(m["merchant_id"] != mid for m in srv.admin("GET", "/v1/admin/merchants")["merchants"])


def test_wrong_token_unreachable_server_and_missing_settings(tool, fresh_tool, srv):
    wrong = tool("--token", "fla_not-a-token", "merchant", "list")
    assert wrong.code == 2 and wrong.error()["error"] == "token_rejected"
    assert "Geen geldig beheertoken" in wrong.error()["message_nl"]
    dead = f"http://127.0.0.1:{free_port()}"
    down = tool("merchant", "list", server=dead)
    assert down.code == 3 and down.error()["error"] == "server_unreachable" and dead in down.error()["message"]
    nothing = fresh_tool("merchant", "list")
    assert nothing.code == 5 and nothing.error()["error"] == "not_configured"
    human = fresh_tool("merchant", "list", json_mode=False)
    assert human.err.startswith("fout: Geen beheertoken / admin token ingesteld")


def test_member_add_and_csv_import_with_rerun(tool, srv, tmp_path):
    added = tool.ok("member", "add", "--alias", "Anna B.", "--name", "Anna Bakker", "--email", "anna@example.org")
    assert added["member_id"].startswith("m-") and added["alias"] == "Anna B."
    fixed = uid("m")
    path = tmp_path / "leden.csv"
    # Excel's Dutch CSV: BOM, ";" between fields, Dutch headers, a blank line at the end.
    path.write_bytes(
        "\ufeffLidnummer;Roepnaam;Naam;E-mail;Telefoon\n"
        f"{fixed};Bram;Bram de Vries;bram@example.org;0612345678\n"
        ";Cees;Cees Jansen;;\n"
        ";Dirk;Dirk Dijkstra;dirk@example.org;\n\n".encode()
    )
    out = tmp_path / "ids.csv"
    first = tool.ok("member", "import", str(path), "--out", str(out))
    assert (first["created"], first["exists"]) == (3, 0)
    assert [m["line"] for m in first["members"]] == [2, 3, 4] and first["members"][0]["member_id"] == fixed
    assert srv.admin("GET", f"/v1/admin/members/{fixed}")["phone"] == "+31 6 12345678"  # phonenumbers, NL default
    again = tool.ok("member", "import", str(path))
    assert (again["created"], again["exists"]) == (0, 3)
    assert [m["member_id"] for m in again["members"]] == [m["member_id"] for m in first["members"]]
    mapping = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["member_id"] for r in mapping] == [m["member_id"] for m in first["members"]]
    assert "bram@example.org" not in out.read_text()  # personal data stays on the server


def test_bad_csv_rows_are_all_reported_by_line_and_nothing_is_imported(tool, srv, tmp_path):
    before = len(tool.ok("member", "list"))
    taken = tool.ok("member", "add", "--id", uid("m"), "--alias", "Els")["member_id"]
    path = tmp_path / "bad.csv"
    path.write_text(
        "member_id,alias,name,email\n"
        f"{uid('m')},Goed,Goed Lid,goed@example.org\n"
        "met spatie,Fout,Fout Lid,\n"
        f"{uid('m')},Fout,Fout Lid,geen-adres\n"
        f"{uid('m')},,,\n"
        f"{taken},Niet Els,Els,\n"
        f"{uid('m')},Te,veel,velden,hier\n"
    )
    r = tool("member", "import", str(path))
    assert r.code == 1
    err = r.error()
    assert err["error"] == "csv_invalid" and err["params"]["count"] == 4
    text = err["message_nl"]
    for line in ("regel 3", "regel 4", "regel 5", "regel 7"):
        assert line in text, text
    assert "regel 2" not in text
    assert len(tool.ok("member", "list")) == before + 1  # only Els, made above
    # the server-side check: an id held with other data is a bad line too, and still nothing is sent
    path.write_text(f"member_id,alias,name\n{uid('m')},Goed,Goed Lid\n{taken},Niet Els,Els\n")
    r = tool("member", "import", str(path))
    assert r.code == 1 and "regel 3: lid" in r.error()["message_nl"] and "regel 2" not in r.error()["message_nl"]
    assert len(tool.ok("member", "list")) == before + 1


def test_desk_topup_cashout_remit_and_a_lost_answer_is_not_booked_twice(tool, srv, world):
    member, card = world.member()
    out = tool.ok("desk", "topup", "--member", member, "--amount", "€ 12,50")
    assert (out["eur_cents"], out["fl_cents"], out["balance_cents"]) == (1_250, 1_250, 1_250)
    # The next top-up's answer is lost: the first attempt reached the server with the journal's request id
    # (we send it ourselves, as the tool would have), then the tool died. Running the same command again
    # must find the stored id and be answered "exists", not book a second time.
    journal = Journal(tool.home / PENDING_DIR)
    params = {"method": "POST", "path": "/v1/admin/desk/topup", "eur_cents": 2_000, "member_id": member}
    entry = journal.begin("desk.topup", params)
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 2_000, "request_id": entry.request_id})
    r = tool("desk", "topup", "--member", member, "--amount", "20")
    assert r.code == 0 and r.json()["result"] == "exists" and "niet dubbel" in r.err
    assert world.balance(f"member:{member}") == 3_250
    assert tool.ok("pending") == []  # finished entries are removed
    # An unreachable server keeps the id; the rerun against the live server books it exactly once.
    dead = f"http://127.0.0.1:{free_port()}"
    assert tool("desk", "topup", "--member", member, "--amount", "5", server=dead).code == 3
    assert [e["action"] for e in tool.ok("pending")] == ["desk.topup"]
    assert tool.ok("desk", "topup", "--member", member, "--amount", "5")["result"] == "created"
    assert world.balance(f"member:{member}") == 3_750
    # A shop's fl back to euros at the bid rate, and the euros it took at its till handed in.
    term = world.terminal()
    term.authorize(srv, term.spend(card, 3_000))  # above the offline per-tap limit: authorized online
    term.topup(card, 1_000, eur_cents=1_000)
    term.client(srv).upload(term.raws)
    cashed = tool.ok("desk", "cashout", "--merchant", term.merchant_id, "--amount", "fl 30,00")
    assert cashed["eur_paid_cents"] == ExchangeRates().cashout_eur_for_fl(Money.fl(3_000)).cents
    refused = tool("desk", "cashout", "--merchant", term.merchant_id, "--amount", "1")
    assert refused.code == 2 and refused.error()["params"]["server_code"] == "insufficient_funds"
    assert tool.ok("desk", "remit", "--merchant", term.merchant_id, "--amount", "10")["eur_owed_cents"] == 0
    assert srv.admin("GET", "/v1/admin/replay")["ok"]


def test_campaigns(tool, srv, world):
    m1, m2 = world.merchant(), world.merchant()
    cid = uid("C")
    made = tool.ok(
        "campaign",
        "add",
        "--id",
        cid,
        "--name",
        "Zomermarkt: dubbel sparen",
        "--multiplier",
        "2",
        "--from",
        "2030-07-01",
        "--to",
        "2030-08-31",
        "--merchant",
        m2,
        "--merchant",
        m1,
    )
    assert (made["multiplier_bp"], made["merchant_ids"]) == (20_000, sorted([m1, m2]))
    assert (
        tool.ok(
            "campaign",
            "add",
            "--id",
            cid,
            "--name",
            "Zomermarkt: dubbel sparen",
            "--multiplier",
            "x2",
            "--from",
            "2030-07-01",
            "--to",
            "2030-08-31",
            "--merchant",
            m1,
            "--merchant",
            m2,
        )["result"]
        == "exists"
    )
    tool.ok("campaign", "end", cid, "--on", "2030-07-31")
    held = {c["campaign_id"]: c for c in tool.ok("campaign", "list")}
    assert held[cid]["ends_on"] == "2030-07-31"
    assert "x2" in tool("campaign", "list", json_mode=False).out


def test_reports_and_csv_export(tool, srv, world, tmp_path):
    member, card = world.member(eur_cents=5_000)
    term = world.terminal()
    term.spend(card, 1_234)
    term.client(srv).upload(term.raws)
    from floreyn.server import state

    today = state.local_date(state.now_ms()).isoformat()  # Amersfoort's day: the server books by it
    report = tool.ok("report", "settlement", "--merchant", term.merchant_id, "--from", today, "--to", today)
    assert report["fl"]["received_cents"] == 1_234
    text = tool(
        "report", "settlement", "--merchant", term.merchant_id, "--from", today, "--to", today, json_mode=False
    ).out
    assert "fl 12,34" in text
    circ = tool.ok("report", "circulation")
    assert circ["fl_by_holder_cents"]["merchant"] >= 1_234
    assert tool.ok("report", "overspend")["cards"] == []
    target = tmp_path / "export.csv"
    summary = tool.ok("export", "csv", "--from", today, "--to", today, "--out", str(target), "--dialect", "plain")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert summary["postings"] == len(rows) and any(r["amount_cents"] == "1234" for r in rows)
    assert not list(tmp_path.glob(".*part"))  # no temporary file left behind
    stdout = tool("export", "csv", "--from", today, "--to", today, "--dialect", "plain", json_mode=False)
    assert stdout.code == 0 and stdout.out.replace("\r\n", "\n") == target.read_text().replace("\r\n", "\n")
    assert tool("export", "csv", "--from", today, "--to", today).code == 1  # --json needs --out


def test_member_import_out_neutralises_formulas_in_aliases(tool, srv, tmp_path):
    path = tmp_path / "leden.csv"
    hostile = ["=HYPERLINK(\"http://evil.example\",\"klik\")", "+31 6 kwaad", "-2+3", "@SUM(1)"]
    path.write_text("alias;name\n" + "".join(f"{a};Naam {i}\n" for i, a in enumerate(hostile)), encoding="utf-8")
    out = tmp_path / "ids.csv"
    tool.ok("member", "import", str(path), "--out", str(out))
    aliases = [r["alias"] for r in csv.DictReader(io.StringIO(out.read_text()))]
    assert aliases == ["'" + a for a in hostile]  # shown as text by a spreadsheet, never run


def test_dispute_list_and_resolve(tool, srv, world):
    member, card = world.member(eur_cents=5_000)
    term = world.terminal()
    term.spend(card, 4_000)  # above the per-tap limit, offline: fl 15 parked, the till quarantined
    try:
        term.client(srv).upload(term.raws)
    except Exception:  # noqa: BLE001 - the typed refusal is checked in tests/server/test_attacks.py
        pass
    [open_one] = [d for d in tool.ok("dispute", "list")["disputes"] if d["terminal_id"] == term.terminal_id]
    assert open_one["amount_cents"] == 1_500 and open_one["rules"] == "offline_per_tap"
    done = tool.ok("dispute", "resolve", open_one["dispute_id"], "--decision", "return", "--note", "lid terug")
    assert done["status"] == "returned" and done["to_account"] == f"member:{member}"
    assert world.balance(f"member:{member}") == 5_000 - 2_500
    assert tool("dispute", "resolve", open_one["dispute_id"], "--decision", "release", "--note", "x").code != 0


def test_export_csv_dutch_dialect_keeps_formulas_neutralised(tool, srv, world, tmp_path):
    member, _ = world.member(eur_cents=1_000)
    top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 300})
    reason = "@SUM(A1:A9)+cmd"
    srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": reason})
    from floreyn.server import state

    today = state.local_date(state.now_ms()).isoformat()  # Amersfoort's day: the server books by it
    target = tmp_path / "boekhouding.csv"
    tool.ok("export", "csv", "--from", today, "--to", today, "--out", str(target), "--dialect", "nl")
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")), delimiter=";"))
    memos = [r[-1] for r in rows if r[-1].endswith("+cmd")]
    assert memos and all(m == "'" + reason for m in memos)
    assert any(r[6].startswith("-") and "," in r[6] for r in rows[1:])  # amounts stay numbers (decimal comma)


def test_export_csv_counts_postings_not_lines_when_memos_span_lines(tool, srv, world, tmp_path):
    member, _ = world.member(eur_cents=1_000)
    reason = 'regel een\nregel "twee"\r\nregel drie;\n'
    for _ in range(2):
        top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100})
        srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": reason})
    from floreyn.server import state

    today = state.local_date(state.now_ms()).isoformat()
    for dialect, delimiter in (("plain", ","), ("nl", ";")):
        target = tmp_path / f"export-{dialect}.csv"
        summary = tool.ok("export", "csv", "--from", today, "--to", today, "--out", str(target), "--dialect", dialect)
        text = target.read_bytes().decode("utf-8-sig")  # the CRLF inside the memo kept
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[1:]
        assert sum(1 for r in rows if r[-1] == reason) >= 4  # two reversals, two postings or more each
        assert text.count("\n") - 1 > len(rows) == summary["postings"]
