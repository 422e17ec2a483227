"""Cards through nfcpy's udp radio to emulated NTAG215s, against a real server, slips to a fake ESC/POS printer."""

from __future__ import annotations

import re

import threading
import time
import uuid

import ndef
import pytest

from floreyn.sync.snapshot import short_id
from floreyn import card as cards
from floreyn import keys
from floreyn.terminal.drivers.base import CardPresented
from floreyn.terminal.drivers.ndef_card import encode_card_message
from floreyn.terminal.drivers.nfc_emulator import free_udp_port
from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag
from floreyn.terminal.drivers.nfc_reader import NfcCardReader

from escpos_decode import decode
from escpos_fake_printer import FakeNetworkPrinter
from provision_tool import PASSPHRASE, Hooked
from tcp_proxy import CuttableProxy

WAIT_S = 30.0  # a card read over the udp radio: milliseconds, seconds on a loaded machine


@pytest.fixture(scope="module")
def printer(tool):
    with FakeNetworkPrinter() as p:
        tool.ok("init", "--passphrase-file", tool.passphrase_file, "--printer", f"network:127.0.0.1:{p.port}")
        yield p
        tool.ok("init", "--passphrase-file", tool.passphrase_file, "--printer", "none")


@pytest.fixture(scope="module")
def issuer(tool):
    return keys.load_private_key(tool.home / "issuer.pem", PASSPHRASE.encode())


@pytest.fixture(scope="module")
def ntag_key(tool):
    return bytes.fromhex((tool.home / "ntag.key").read_text())


def member(tool, alias: str) -> str:
    return tool.ok("member", "add", "--id", f"m-{uuid.uuid4().hex[:10]}", "--alias", alias)["member_id"]


def issue(tool, *argv: str, **kw):
    return tool("card", "issue", "--passphrase-file", tool.passphrase_file, "--wait", "5", *argv, **kw)


def pending_for(tool, member_id: str) -> list[dict]:
    return [e for e in tool.ok("pending") if e["params"].get("member_id") == member_id]


def read_with_reader(tag, srv) -> CardPresented:
    """Read a card as a till does: nfcpy reader, signature checked against the server's issuer keys."""
    issuers = cards.issuer_map([bytes.fromhex(k) for k in srv.admin("GET", "/v1/admin/config")["issuer_keys"]])
    events, seen = [], threading.Event()
    reader = NfcCardReader(lambda p: cards.verify_payload(p, issuers), tag.path, targets=("106A",))
    reader.start(lambda e: (events.append(e), seen.set()), lambda s: None)
    try:
        assert seen.wait(WAIT_S), "the reader saw no card"
    finally:
        reader.stop()
    assert isinstance(events[0], CardPresented), events[0]
    return events[0]


def test_issue_signs_writes_verifies_locks_registers_and_prints_a_welcome_slip(tool, srv, printer, issuer, ntag_key):
    mid = member(tool, "Fenna")
    with EmulatedNtag() as tag:
        r = issue(tool, "--member", mid, "--reader", tag.path)
        assert r.code == 0, r.err
        out = r.json()
        card = cards.issue(issuer, bytes.fromhex(out["card_id"]))
        assert tag.ndef_octets == encode_card_message(card.payload())
        assert tag.password == cards.ntag_password(ntag_key, tag.uid) and tag.auth0 == 13  # locked from the record on
        assert (out["uid"], out["locked"], out["result"], out["slip"]) == (tag.uid.hex(), True, "created", "printed")
        assert read_with_reader(tag, srv).card.card_id == card.card_id
    held = srv.admin("GET", f"/v1/admin/cards/{out['card_id']}")
    assert (held["member_id"], held["status"]) == (mid, "active")
    slip = decode(printer.last_job()).text(32)
    assert "Welkom bij Floreyn!" in slip and "Fenna" in slip and "Coöperatie Soesterkwartier" in slip
    assert out["card_id"][-4:].upper() in slip
    # The portal: the server's address, its ask rate, and a one-time code that activates this member.
    assert "Uw activeringscode (eenmalig):" in slip and "fl 1,00 = € 1,00" in slip
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", slip).group(0)
    from floreyn.server.portal import users

    user = srv.ctx.db.write(lambda conn: users.activate(conn, login=mid, code=code, password="x" * 12,
                                                       repeat="x" * 12, now=srv.ctx.clock()))
    assert user.subject_id == mid
    assert pending_for(tool, mid) == []


def test_a_card_holding_other_data_is_refused_and_nothing_is_registered(tool, srv, printer):
    mid = member(tool, "Gert")
    foreign = b"".join(ndef.message_encoder([ndef.UriRecord("https://example.org/")]))
    jobs_before = len(printer.jobs)
    with EmulatedNtag(foreign) as tag:
        r = issue(tool, "--member", mid, "--reader", tag.path, json_mode=False)
        assert r.code == 4 and "bevat al gegevens" in r.err, r.err
        assert tag.ndef_octets == foreign
        assert srv.admin("GET", f"/v1/admin/members/{mid}")["cards"] == []
        (entry,) = pending_for(tool, mid)
        # The admin decides this card may be overwritten: the same card id as the first attempt is written.
        out = tool.ok(
            "card",
            "issue",
            "--passphrase-file",
            tool.passphrase_file,
            "--member",
            mid,
            "--reader",
            tag.path,
            "--overwrite",
        )
    assert out["card_id"] == entry["state"]["card_id"]
    assert [c["card_id"] for c in srv.admin("GET", f"/v1/admin/members/{mid}")["cards"]] == [out["card_id"]]
    assert len(printer.jobs) == jobs_before + 1  # one slip, for the card that works


def test_no_reader_no_card_and_a_wrong_passphrase_are_clear_device_and_setup_errors(tool, srv):
    mid = member(tool, "Hans")
    missing = issue(tool, "--member", mid, "--reader", "tty:USB97:pn532")
    assert missing.code == 4 and missing.error()["error"] == "reader_unavailable"
    assert "/dev/ttyUSB97" in missing.error()["message_nl"]
    started = time.monotonic()
    nothing = tool(
        "card",
        "issue",
        "--passphrase-file",
        tool.passphrase_file,
        "--member",
        mid,
        "--reader",
        f"udp:127.0.0.1:{free_udp_port()}",
        "--wait",
        "1",
    )
    assert nothing.code == 4 and nothing.error()["error"] == "card_not_presented"
    assert time.monotonic() - started < 5
    wrong = tool.home.parent / "wrong-pass"
    wrong.write_text("nope\n")
    with EmulatedNtag() as tag:
        r = tool("card", "issue", "--passphrase-file", str(wrong), "--member", mid, "--reader", tag.path)
        assert r.code == 5 and r.error()["error"] == "wrong_passphrase"
        assert tag.ndef_octets == b"" and not any(f[0] == 0xA2 for f in tag.frames)  # not a byte written
    unknown = issue(tool, "--member", "m-bestaat-niet", "--reader", "usb")
    assert unknown.code == 2 and unknown.error()["params"]["server_code"] == "not_found"
    assert srv.admin("GET", f"/v1/admin/members/{mid}")["cards"] == []


def test_a_written_card_whose_registration_was_cut_off_is_registered_on_rerun_without_a_second_card(tool, srv, issuer):
    mid = member(tool, "Ilse")
    with CuttableProxy(srv.port) as proxy, EmulatedNtag() as tag:
        stderr = Hooked({"registreren bij de server": lambda _: proxy.cut()})  # the network drops right after writing
        r = issue(tool, "--member", mid, "--reader", tag.path, server=proxy.url, stderr=stderr)
        assert r.code == 3 and r.error()["error"] == "server_unreachable", r.err
        written = tag.ndef_octets
    (entry,) = pending_for(tool, mid)
    assert written == encode_card_message(cards.issue(issuer, bytes.fromhex(entry["state"]["card_id"])).payload())
    assert srv.admin("GET", f"/v1/admin/members/{mid}")["cards"] == []
    # The card has gone home with the member; the rerun needs no card on the reader.
    again = tool("card", "issue", "--passphrase-file", tool.passphrase_file, "--member", mid, "--reader", "usb")
    assert again.code == 0 and "alleen registreren" in again.err, again.err
    assert again.json()["card_id"] == entry["state"]["card_id"]
    assert [c["card_id"] for c in srv.admin("GET", f"/v1/admin/members/{mid}")["cards"]] == [entry["state"]["card_id"]]
    assert pending_for(tool, mid) == []


def test_a_batch_asks_for_each_card_waits_for_a_blank_one_and_a_rerun_skips_the_done(tool, srv, issuer, tmp_path):
    ids = [member(tool, alias) for alias in ("Jan", "Kees", "Lotte")]
    batch = tmp_path / "batch.csv"
    batch.write_text("lidnummer\n" + "\n".join(ids) + "\n")
    port = free_udp_port()
    tags = [EmulatedNtag(port=port, uid=bytes([0x04, 0x10 + i, 2, 3, 4, 5, 6])) for i in range(3)]
    current = {"i": 0}

    def swap(_: str) -> None:  # the admin takes the card away a moment after being asked, and lays the next one
        def later() -> None:
            time.sleep(0.4)  # meanwhile the tool finds the written card still there and says so
            tags[current["i"]].remove()
            current["i"] += 1
            if current["i"] < len(tags):
                tags[current["i"]].present()

        threading.Thread(target=later, daemon=True).start()

    tags[0].present()
    try:
        stderr = Hooked({"haal de kaart van de lezer": swap})
        r = tool(
            "card",
            "issue",
            "--passphrase-file",
            tool.passphrase_file,
            "--batch",
            str(batch),
            "--reader",
            f"udp:127.0.0.1:{port}",
            "--wait",
            "10",
            stderr=stderr,
        )
    finally:
        for tag in tags:
            tag.remove()
    assert r.code == 0, r.err
    assert "kaart 1 van 3 - leg de eerste kaart op de lezer (Jan)" in r.err
    assert "kaart 2 van 3 - leg de volgende kaart op de lezer (Kees)" in r.err
    assert "kaart 3 van 3 - leg de volgende kaart op de lezer (Lotte)" in r.err
    assert "bevat al gegevens" in r.err  # the previous card, still lying there, was not touched
    results = r.json()
    assert [x["member_id"] for x in results] == ids and {x["uid"] for x in results} == {t.uid.hex() for t in tags}
    for x, tag in zip(results, tags, strict=True):
        assert srv.admin("GET", f"/v1/admin/cards/{x['card_id']}")["member_id"] == x["member_id"]
        assert tag.ndef_octets == encode_card_message(cards.issue(issuer, bytes.fromhex(x["card_id"])).payload())
    again = tool.ok(
        "card", "issue", "--passphrase-file", tool.passphrase_file, "--batch", str(batch), "--reader", "usb"
    )
    assert [x["result"] for x in again] == ["skipped"] * 3


def test_replace_moves_balance_and_budgets_and_the_old_card_reaches_the_blocklist(tool, srv, world, tmp_path):
    mid, old = world.member(eur_cents=3_000)
    funder = world.funder(eur_cents=10_000)
    grant = tmp_path / "grant.csv"
    grant.write_text(f"member_id,amount,categories,expires_on,funder_id,label\n{mid},40,,2099-12-31,{funder},Zorg\n")
    tool.ok("budget", "grant", str(grant))
    term = world.terminal()
    with EmulatedNtag() as tag:
        out = tool.ok("card", "replace", old, "--passphrase-file", tool.passphrase_file, "--reader", tag.path)
        assert read_with_reader(tag, srv).card.card_hex == out["new_card_id"]
    assert out["balance_cents"] == 3_000 and out["budgets"][0]["remaining_cents"] == 4_000
    assert out["old"]["status"] == "replaced" and out["new"]["card_id"] == out["new_card_id"]
    snap = term.client(srv).snapshot()
    assert snap.card(old).blocked and short_id(old) in snap.blocklist  # named by its short id
    assert snap.card(out["new_card_id"]).offline_allowance_cents == 3_000
    assert snap.card(out["new_card_id"]).budgets[0].remaining_cents == 4_000
    again = tool("card", "replace", old, "--passphrase-file", tool.passphrase_file, "--reader", "usb")
    assert again.code == 2 and "al vervangen" in again.error()["message_nl"]


def test_block_reaches_the_terminals(tool, srv, world):
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    spaced = " ".join(card[i : i + 4].upper() for i in range(0, 32, 4))  # as read off a screen
    assert tool.ok("card", "block", spaced, "--reason", "verloren")["status"] == "blocked"
    snap = term.client(srv).snapshot()
    assert snap.card(card).blocked and short_id(card) in snap.blocklist
    assert tool.ok("card", "show", card)["blocked_reason"] == "verloren"
    bad = tool("card", "block", "1234")
    assert bad.code == 1 and "kaartnummer" in bad.error()["message_nl"]
