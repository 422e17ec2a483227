"""`budget grant` from CSV and `budget list` against a real server: whole-file checks, reruns, crash half-way."""

from __future__ import annotations

import datetime as dt
import uuid

from floreyn.provisioning import cmd_budget, csvin


def grant_file(tmp_path, text: str, name: str = "budgetten.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grant_from_a_dutch_csv_to_members_and_a_group_then_rerun_grants_nothing_more(tool, srv, world, tmp_path):
    (m1, _), (m2, _), (m3, _) = world.member(), world.member(), world.member()
    gid = f"G-{uuid.uuid4().hex[:6]}"
    tool.ok("group", "add", "--id", gid, "--name", "Blok 7", "--member", m2, "--member", m3)
    funder = world.funder(eur_cents=20_000)
    path = grant_file(
        tmp_path,
        "lidnummer;groep;bedrag;categorieen;vervaldatum;omschrijving\n"
        f"{m1};;25;winkel markt;2099-06-30;Boodschappen\n"
        f";{gid};100,50;klussen;2099-12-31;Onderhoud\n",
    )
    out = tool.ok("budget", "grant", str(path), "--funder", funder)
    assert out["total_cents"] == 12_550 and [b["result"] for b in out["budgets"]] == ["created", "created"]
    first, second = out["budgets"]
    assert (first["member_id"], first["categories"], first["amount_cents"]) == (m1, ["markt", "winkel"], 2_500)
    assert (second["group_id"], second["categories"]) == (gid, ["klussen"])
    assert world.balance(f"funder:{funder}") == 20_000 - 12_550
    again = tool.ok("budget", "grant", str(path), "--funder", funder)
    assert [b["result"] for b in again["budgets"]] == ["exists", "exists"]
    assert [b["budget_id"] for b in again["budgets"]] == [first["budget_id"], second["budget_id"]]
    assert world.balance(f"funder:{funder}") == 20_000 - 12_550
    listed = tool.ok("budget", "list", "--member", m1)
    assert [(b["label"], b["remaining_cents"]) for b in listed] == [("Boodschappen", 2_500)]
    assert [b["budget_id"] for b in tool.ok("budget", "list", "--group", gid)] == [second["budget_id"]]
    assert "fl 25,00" in tool("budget", "list", "--funder", funder, json_mode=False).out


def test_every_bad_row_is_reported_and_nothing_is_granted(tool, srv, world, tmp_path):
    (m1, _) = world.member()
    funder = world.funder(eur_cents=5_000)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    path = grant_file(
        tmp_path,
        "member_id,group_id,amount,categories,expires_on,funder_id,label\n"
        f"{m1},,10,winkel,2099-01-01,{funder},Goed\n"  # 2: fine
        f"{m1},,10,bakker,2099-01-01,{funder},Fout\n"  # 3: unknown category
        f"{m1},,10,,{yesterday},{funder},Fout\n"  # 4: expired already
        f"{m1},G-x,10,,2099-01-01,{funder},Fout\n"  # 5: member and group
        f"{m1},,tien,,2099-01-01,{funder},Fout\n"  # 6: not an amount
        f"{m1},,10,,31-12-2099,{funder},Fout\n"  # 7: not an ISO date
        f"{m1},,10,,2099-01-01,,Fout\n",
    )  # 8: no funder
    r = tool("budget", "grant", str(path))
    assert r.code == 1 and r.error()["params"]["count"] == 6
    message = r.error()["message_nl"]
    assert all(f"regel {n}:" in message for n in range(3, 9)) and "regel 2:" not in message
    assert "bakker" in message and "voorbij" in message and "JJJJ-MM-DD" in message
    # What the server would refuse half-way is found before anything is sent too.
    path = grant_file(
        tmp_path,
        "member_id,amount,expires_on,funder_id,label\n"
        f"{m1},30,2099-01-01,{funder},Eerste\n"
        f"m-bestaat-niet,1,2099-01-01,{funder},Tweede\n"
        f"{m1},30,2099-01-01,{funder},Derde\n"
        f"{m1},1,2099-01-01,F-bestaat-niet,Vierde\n",
    )
    r = tool("budget", "grant", str(path))
    assert r.code == 1, r.err
    message = r.error()["message_nl"]
    assert "regel 3: lid m-bestaat-niet bestaat niet" in message and "regel 5: fonds F-bestaat-niet" in message
    assert "heeft fl 50,00, de regels vragen fl 61,00" in message
    assert tool.ok("budget", "list", "--member", m1) == [] and world.balance(f"funder:{funder}") == 5_000


def test_a_grant_cut_off_after_the_first_funder_finishes_on_rerun_without_doubling(tool, srv, world, tmp_path):
    (m1, _) = world.member()
    fa, fb = world.funder(eur_cents=5_000), world.funder(eur_cents=5_000)
    path = grant_file(
        tmp_path,
        "member_id,amount,expires_on,funder_id,label\n"
        f"{m1},10,2099-01-01,{fa},Van A\n"
        f"{m1},20,2099-01-01,{fb},Van B\n"
        f"{m1},5,2099-01-01,{fa},Ook van A\n",
    )
    # The tool sent funder A's part and then died: send exactly that part, as the tool builds it.
    file = csvin.read(path, cmd_budget.COLUMNS)
    rows = [(row, *cmd_budget._spec(file, row, None, None, dt.date.today().isoformat())) for row in file.rows]
    (funder, chunk), _ = cmd_budget._chunks(rows)
    assert funder == fa and len(chunk) == 2
    srv.admin(
        "POST",
        "/v1/admin/budgets/grant",
        {
            "funder_id": fa,
            "budgets": [spec for _, _, spec in chunk],
            "request_id": csvin.row_request_id(file, "grant", None, f"{fa}:0"),
        },
    )
    out = tool.ok("budget", "grant", str(path))
    assert [(b["funder_id"], b["result"]) for b in out["budgets"]] == [(fa, "exists"), (fa, "exists"), (fb, "created")]
    assert (world.balance(f"funder:{fa}"), world.balance(f"funder:{fb}")) == (3_500, 3_000)
    assert len(tool.ok("budget", "list", "--member", m1)) == 3
