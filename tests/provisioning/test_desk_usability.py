"""Issue 17, desk tool: what a volunteer admin trips over, each driven through the CLI against a real server.

Every test here failed before the fix it covers (bad members were created, a repeated top-up was
booked twice, a campaign for all shops was made without a word, `card block DA15` was refused, ...).
"""

from __future__ import annotations

import csv
import io
import json
import uuid

from floreyn.provisioning.cli import argparse_nl, main
from floreyn.server import state


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- 13: member import validation, find, show, update, erase ------------------------------


def test_import_refuses_bad_addresses_phones_missing_fields_and_duplicates_with_line_numbers(tool, tmp_path):
    before = len(tool.ok("member", "list"))
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "leden.csv"
    path.write_text(
        "naam,roepnaam,e-mail,telefoon\n"
        f"Henk {tag},Henk,henk@@example.nl,\n"  # 2: two @
        f"Zoë IJzerman {tag},Zoë,zoe.ijzerman@example,\n"  # 3: no top-level domain
        f"René {tag},René,rene.{tag}@example.nl,\n"  # 4: fine
        f"René {tag},René,rene.{tag}@example.nl,\n"  # 5: exact duplicate of 4
        f"Piet {tag},,piet.{tag}@example.nl,\n"  # 6: no alias
        f",Kees,kees.{tag}@example.nl,\n"  # 7: no name
        f"Bep {tag},Bep,,12345\n"  # 8: not a phone number
        f"Ans {tag},Ans,,06 1234 5678\n"  # 9: fine (Dutch mobile)
        f"Ans {tag},Ans B.,,+31612345678\n"  # 10: same name and phone as 9: likely the same person
    )
    r = tool("member", "import", str(path))
    assert r.code == 1
    err = r.error()
    assert err["params"]["lines"] == [2, 3, 5, 6, 7, 8, 10]  # JSON numbers, never a Python repr
    text = err["message_nl"]
    assert "regel 2: email: 'henk@@example.nl' is geen geldig e-mailadres" in text
    assert "regel 5: zelfde gegevens als regel 4" in text and "regel 10: waarschijnlijk dezelfde persoon als regel 9" in text
    assert "regel 6: alias: roepnaam (alias) ontbreekt" in text and "regel 7: name: naam ontbreekt" in text
    assert "regel 8: phone: '12345' is geen geldig telefoonnummer" in text
    assert len(tool.ok("member", "list")) == before  # nothing was sent
    # Two real people with one name and phone (a parent and a child on one number): --allow-duplicates
    path.write_text(f"naam,roepnaam,telefoon\nAns {tag},Ans,0612345678\nAns {tag},Ans jr.,0612345678\n")
    assert tool("member", "import", str(path)).code == 1
    done = tool.ok("member", "import", str(path), "--allow-duplicates")
    assert done["created"] == 2


def test_member_find_show_update_and_erase(tool, srv, world):
    tag = uuid.uuid4().hex[:6]
    member, card = world.member(alias=f"Joke {tag}")
    funder = world.funder(eur_cents=5_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": uid("B"), "member_id": member, "label": "Groente", "categories": ["markt"],
         "expires_on": "2099-12-31", "amount_cents": 2_500}]})
    updated = tool.ok("member", "update", member, "--name", f"Joke Visser {tag}", "--phone", "06-87654321")
    assert updated["updated"] == ["name", "phone"]
    assert srv.admin("GET", f"/v1/admin/members/{member}")["phone"] == "+31 6 87654321"
    assert tool("member", "update", member, "--email", "joke@@x").code == 1
    for q in (f"visser {tag}", f"joke {tag}", card[-4:].upper(), "lid@example.org"):
        found = tool.ok("member", "find", q)["members"]
        assert member in [m["member_id"] for m in found], q
    listing = tool("member", "find", card[-4:].upper(), json_mode=False).out
    assert f"Joke {tag}" in listing and card[-4:].upper() in listing
    shown = tool("member", "show", member, json_mode=False).out
    assert card in shown and "actief" in shown and "Groente: fl 25,00 tot en met 2099-12-31" in shown
    # erase asks first; no answer (or a script) erases nothing
    refused = tool("member", "erase", member, json_mode=False)
    assert refused.code == 1 and "wissen en de passen blokkeren?" in refused.err and "--yes" in refused.err
    assert srv.admin("GET", f"/v1/admin/members/{member}")["erased_ms"] is None
    erased = tool("member", "erase", member, json_mode=False, stdin="ja\n")
    assert erased.code == 0 and "gewist, passen geblokkeerd" in erased.out
    held = srv.admin("GET", f"/v1/admin/members/{member}")
    assert held["erased_ms"] is not None and held["name"] is None and held["cards"][0]["status"] == "blocked"
    assert member not in [m["member_id"] for m in tool.ok("member", "find", f"joke {tag}")["members"]]


# -- 14: the repeat guard on desk topup --------------------------------------------------


def test_a_repeated_topup_asks_first_and_again_books_it(tool, srv, world):
    member, _ = world.member()
    first = tool.ok("desk", "topup", "--member", member, "--amount", "20")
    assert first["balance_cents"] == 2_000
    repeat = tool("desk", "topup", "--member", member, "--amount", "20", json_mode=False)
    assert repeat.code == 1 and "al € 20,00 voor" in repeat.err and "--again" in repeat.err
    assert srv.admin("GET", f"/v1/admin/members/{member}")["balance_cents"] == 2_000  # not booked twice
    scripted = tool("desk", "topup", "--member", member, "--amount", "20")  # --json: nobody to ask
    assert scripted.code == 1 and scripted.error()["error"] == "not_confirmed"
    other_amount = tool.ok("desk", "topup", "--member", member, "--amount", "5")  # not a repeat
    assert other_amount["balance_cents"] == 2_500
    said_yes = tool("desk", "topup", "--member", member, "--amount", "20", json_mode=False, stdin="j\n")
    assert said_yes.code == 0
    again = tool.ok("desk", "topup", "--member", member, "--amount", "20", "--again")
    assert again["balance_cents"] == 6_500


# -- 15: campaigns ------------------------------------------------------------------------


def test_a_campaign_for_all_shops_asks_can_be_updated_and_a_void_end_says_so(tool, srv, world):
    shop = world.merchant()
    cid = uid("C")
    base = ("campaign", "add", "--id", cid, "--name", "Najaar", "--multiplier", "2", "--from", "2030-09-01",
            "--to", "2030-10-31")
    asked = tool(*base, json_mode=False)
    assert asked.code == 1 and "bij alle winkels" in asked.err and "--all-merchants" in asked.err
    assert cid not in [c["campaign_id"] for c in tool.ok("campaign", "list")]
    made = tool.ok(*base, "--all-merchants")
    assert made["merchant_ids"] == [] and made["result"] == "created"
    changed = tool.ok("campaign", "update", cid, "--multiplier", "1,5", "--merchant", shop)
    assert (changed["multiplier_bp"], changed["merchant_ids"], changed["result"]) == (15_000, [shop], "updated")
    void = tool("campaign", "end", cid, "--on", "2030-12-31", json_mode=False)
    assert void.code == 0 and "Niets veranderd" in void.out and "2030-10-31" in void.out
    assert tool.ok("campaign", "end", cid, "--on", "2030-09-30")["result"] == "ended"


# -- 16: card block by what the desk has at hand --------------------------------------------


def test_card_block_by_last_four_member_or_alias_and_candidates_when_not_unique(tool, srv, world):
    tag = uuid.uuid4().hex[:6]
    member, card = world.member(alias=f"Fenna {tag}")
    end = card[-4:].upper()
    blocked = tool.ok("card", "block", end, "--reason", "verloren")
    assert (blocked["card_id"], blocked["status"]) == (card, "blocked")
    member2, card2 = world.member(alias=f"Gert {tag}")
    assert tool.ok("card", "block", f"Gert {tag}")["card_id"] == card2
    member3, card3 = world.member()
    assert tool.ok("card", "block", member3)["card_id"] == card3
    # two active cards ending alike: both listed, none blocked
    m4, _ = world.member()
    twins = [uuid.uuid4().hex[:28] + "beef" for _ in range(2)]
    for c in twins:
        srv.admin("POST", "/v1/admin/cards", {"card_id": c, "member_id": m4})
    r = tool("card", "block", "BEEF", json_mode=False)
    assert r.code == 1 and "past bij" in r.err and all(c in r.err for c in twins)
    assert {srv.admin("GET", f"/v1/admin/cards/{c}")["status"] for c in twins} == {"active"}
    assert tool("card", "block", "ZZZZ").code == 1


# -- 17: init, Dutch output, JSON errors ---------------------------------------------------------


def test_init_without_a_server_or_token_says_what_to_give(fresh_tool, srv):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--home", str(fresh_tool.home), "init", "--no-passphrase"], stdout=out, stderr=err)
    assert code == 5 and "init --server URL" in err.getvalue() and "voer eerst" not in err.getvalue()
    no_token = fresh_tool("init", "--no-passphrase", json_mode=False)
    assert no_token.code == 5 and "--bootstrap-token-file" in no_token.err and "voer eerst" not in no_token.err


def test_reader_none_then_card_issue_names_the_setting(tool, world):
    member, _ = world.member()
    settings = tool.home / "provision.toml"
    before = settings.read_text()
    try:
        tool.ok("init", "--passphrase-file", tool.passphrase_file, "--reader", "none")  # accepted, as before
        r = tool("card", "issue", "--member", member, "--passphrase-file", tool.passphrase_file, json_mode=False)
        assert r.code == 5 and "geen kaartlezer ingesteld (init --reader none)" in r.err and "--reader" in r.err
    finally:
        settings.write_text(before)


def test_no_english_in_dutch_output(tool, srv, world, tmp_path):
    missing = tool("desk", "topup", json_mode=False)
    assert missing.code == 1 and "deze argumenten ontbreken: --amount" in missing.err
    assert "the following" not in missing.err and "required" not in missing.err
    assert argparse_nl("argument --lang: invalid choice: 'fr' (choose from 'nl', 'en')") == (
        "argument --lang: ongeldige keuze: 'fr' (kies uit 'nl', 'en')"
    )
    english = tool("desk", "topup", "--lang", "en", json_mode=False)
    assert "the following arguments are required" in english.err
    added = tool("member", "add", "--alias", "Wim", "--name", f"Wim {uuid.uuid4().hex[:6]}", json_mode=False).out
    assert "nieuw" in added or "Wim" in added
    path = tmp_path / "l.csv"
    path.write_text(f"naam,roepnaam\nTon {uuid.uuid4().hex[:6]},Ton\n")
    imported = tool("member", "import", str(path), json_mode=False).out
    assert "created" not in imported and "nieuw" in imported


# -- 18: treasurer's reports -------------------------------------------------------------------


def test_settlement_for_all_merchants_circulation_wording_and_dutch_csv(tool, srv, world, tmp_path):
    member, card = world.member(eur_cents=5_000)
    term = world.terminal()
    term.spend(card, 1_234)
    term.client(srv).upload(term.raws)
    today = state.local_date(state.now_ms()).isoformat()  # Amersfoort's day: the server books by it
    every = tool.ok("report", "settlement", "--from", today, "--to", today)
    mine = next(r for r in every["merchants"] if r["merchant_id"] == term.merchant_id)
    assert mine["fl"]["received_cents"] == 1_234 and "net_eur_cents" in every["totals"]
    text = tool("report", "settlement", "--from", today, "--to", today, json_mode=False).out
    assert term.merchant_id in text and "inwisselkoers" in text and "95 %" in text and "totaal" in text
    one = tool("report", "settlement", "--merchant", term.merchant_id, "--from", today, "--to", today,
               json_mode=False).out
    assert "coöperatie betaalt" in one and "x 95 %" in one
    circ = tool("report", "circulation", json_mode=False).out
    assert "in omloop gebracht" in circ and "dekking = reserve" in circ and "leden" in circ and "winkels" in circ
    assert "fl uitgegeven" not in circ and "\nmember " not in circ
    target = tmp_path / "boekhouding.csv"
    tool.ok("export", "csv", "--from", today, "--to", today, "--out", str(target))  # Dutch by default
    raw = target.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert "bedrag" in rows[0] and "datum" in rows[0]
    spent = [r for r in rows if r["bedrag_in_centen"] == "1234"]
    assert spent and spent[0]["bedrag"] == "12,34"
    plain = tool("export", "csv", "--from", today, "--to", today, "--dialect", "plain", json_mode=False).out
    assert plain.startswith("date,time,")
    assert json.loads(json.dumps(rows))  # plain data, nothing else
