"""The till against the real sync server over loopback HTTP: live summary, online holds, upload, offline fallback."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from till_helpers import CASHIER_PIN, MANAGER_PIN, fast_config

from floreyn import card as cards
from floreyn import keys
from floreyn.money import Money
from floreyn.server.testing import ServerThread, World
from floreyn.sync.record import Kind, Tender
from floreyn.terminal.config import ServerConfig
from floreyn.terminal.drivers.virtual import VirtualPrinter
from floreyn.terminal.engine import errors as E
from floreyn.pins import hash_pin
from floreyn.terminal.engine.build import build_engine

ISSUER = keys.private_from_seed(bytes(range(100, 132)))


@pytest.fixture
def world(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server") as srv:
        srv.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(ISSUER).hex()]})
        yield World(srv)


def make_till(world: World, tmp_path, merchant_id: str):  # noqa: ANN201
    srv = world.srv
    terminal_id = world.new_id("T")
    cfg = replace(fast_config(tmp_path / "till"), terminal_id=terminal_id, merchant=None, issuer_keys=(),
                  server=ServerConfig(srv.base_url, keys.public_raw(srv.public_key).hex()))
    printer = VirtualPrinter()
    engine = build_engine(cfg, printer)
    srv.admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                              "public_key": keys.public_raw(engine.public_key).hex()})
    return engine, printer


def test_online_spend_split_over_budget_and_own_balance_reaches_the_ledger(world, tmp_path):
    merchant_id = world.merchant(category="winkel", save_rate_bp=500)
    member_id, card_hex = world.member(eur_cents=5_000, alias="Wim")
    funder = world.funder(eur_cents=10_000)
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    world.srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": "B-wim-1", "member_id": member_id, "label": "Boodschappen", "categories": ["winkel"],
         "expires_on": expires, "amount_cents": 1_000}]})
    payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
    engine, printer = make_till(world, tmp_path, merchant_id)
    try:
        state = engine.sync_now()
        assert state["online"] and engine.store.current_snapshot().merchant.merchant_id == merchant_id
        engine.start()
        engine.sign_in(CASHIER_PIN)
        summary = engine.present_card(payload)  # the issuer key came with the server's snapshot
        assert summary.live and summary.alias == "Wim" and summary.own.cents == 5_000
        assert summary.offline_taps_left is None and not summary.near_offline_limits  # live: no offline limits
        assert [(b.budget_id, b.remaining.cents, b.usable) for b in summary.budgets] == [("B-wim-1", 1_000, True)]

        quote = engine.quote_spend(Money.fl(4_000))  # above the offline per-tap limit: online it is
        assert not quote.offline and quote.balance_after_cents == 2_000
        result = engine.confirm(quote.quote_id)
        assert [(r.budget_id, r.fl_cents, r.offline) for r in result.records] == [
            ("B-wim-1", 1_000, False), (None, 3_000, False)]
        assert "Nieuw saldo" in printer.docs[-1].text(32) and "fl 20,00" in printer.docs[-1].text(32)

        engine.present_card(payload)
        saved = engine.confirm(engine.quote_save(Money.eur(2_000)).quote_id, repeat_ok=True)
        assert saved.records[0].fl_cents == 100

        state = engine.sync_now()
        assert state["online"] and state["waiting"] == 0
        assert engine.store.count_unsent() == 0
        assert world.balance(f"member:{member_id}") == 5_000 - 3_000 + 100
        assert world.balance("budget:B-wim-1") == 0
        live = engine.gateway.card_summary(card_hex)
        assert live.balance_cents == 2_100

        engine.present_card(payload)
        first = engine.quote_spend(Money.fl(2_200), online=True, ref="run:a9")  # more than the balance: mixed
        engine.cancel(first.quote_id)  # dropped (its hold released), then asked again under the same ref:
        mixed = engine.quote_spend(Money.fl(2_200), online=True, ref="run:a9")
        assert mixed.quote_id == first.quote_id  # the same request ids: the server holds again on that one hold
        assert (mixed.fl.cents, mixed.eur.cents, mixed.needs_tender) == (2_100, 100, True)
        # That quote holds the whole balance on the server until it expires or its record arrives,
        # so a second quote for the same money (another till, a second screen) is declined.
        with pytest.raises(E.OnlineDeclined) as info:
            engine.quote_spend(Money.fl(500), online=True)
        assert "onvoldoende saldo" in info.value.message("nl")
        assert info.value.message("en").endswith("insufficient balance")  # both languages, and the code
        assert info.value.params["server_reason"] == "insufficient_funds"
        paid = engine.confirm(mixed.quote_id, tender=Tender.CASH, repeat_ok=True)
        assert (paid.records[0].fl_cents, paid.records[0].eur_cents) == (2_100, 100)
        assert engine.sync_now()["waiting"] == 0 and world.balance(f"member:{member_id}") == 0
    finally:
        engine.store.close()


def hold_statuses(world: World, engine) -> dict[str, str]:  # noqa: ANN001
    from sqlalchemy import select

    from floreyn.server import schema as s

    holds = s.holds.c
    return dict(world.srv.ctx.db.read(lambda conn: conn.execute(
        select(holds.request_id, holds.status).where(holds.terminal_id == engine.config.terminal_id)).tuples().all()))


def test_a_cancelled_online_quote_gives_its_hold_back_at_once(world, tmp_path):
    merchant_id = world.merchant()
    member_id, card_hex = world.member(eur_cents=3_000)
    payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
    engine, _printer = make_till(world, tmp_path, merchant_id)
    try:
        engine.sync_now()
        engine.start()
        engine.sign_in(CASHIER_PIN)
        engine.present_card(payload)
        mixed = engine.quote_spend(Money.fl(3_500), online=True, ref="sale:1")  # holds all fl 30 of it
        with pytest.raises(E.MixedPaymentNeedsTender):  # the shopkeeper forgot to pick cash or card
            engine.confirm(mixed.quote_id, client_ref="sale:1")
        (part,) = mixed.parts
        assert hold_statuses(world, engine) == {str(part.record_id): "active"}
        engine.cancel(mixed.quote_id)
        assert hold_statuses(world, engine) == {str(part.record_id): "released"}
        again = engine.quote_spend(Money.fl(2_000), online=True, ref="sale:2")  # a new attempt: not declined
        paid = engine.confirm(again.quote_id, client_ref="sale:2")
        assert engine.sync_now()["waiting"] == 0
        assert world.balance(f"member:{member_id}") == 1_000
        assert hold_statuses(world, engine)[str(paid.records[0].record_id)] == "consumed"
        engine.cancel(again.quote_id)  # a late cancel of a confirmed quote changes nothing
        assert hold_statuses(world, engine)[str(paid.records[0].record_id)] == "consumed"
    finally:
        engine.store.close()


def test_holds_of_quotes_that_will_never_be_confirmed_go_back(world, tmp_path):
    merchant_id = world.merchant(category="winkel")
    member_id, card_hex = world.member(eur_cents=2_000)
    funder = world.funder(eur_cents=10_000)
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    world.srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": f"B-{member_id}", "member_id": member_id, "label": "Boodschappen", "categories": ["winkel"],
         "expires_on": expires, "amount_cents": 1_000}]})
    payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
    engine, _printer = make_till(world, tmp_path, merchant_id)
    other = world.terminal(merchant_id).client(world.srv)  # another till at the same shop
    try:
        engine.sync_now()
        engine.start()
        engine.sign_in(CASHIER_PIN)
        engine.present_card(payload)
        assert other.authorize_spend(card_hex, 2_000, "other-1").approved  # the own balance is held there
        with pytest.raises(E.OnlineDeclined):  # budget part granted, own part declined: no quote at all
            engine.quote_spend(Money.fl(3_000), online=True)
        assert set(hold_statuses(world, engine).values()) == {"released", "declined"}
        other.release_hold("other-1")

        quote = engine.quote_spend(Money.fl(3_000), online=True)
        assert {p.budget_id for p in quote.parts} == {f"B-{member_id}", None}
        engine.sign_out()  # the cashier walks away: the quote can never be confirmed
        assert sorted(hold_statuses(world, engine).values()) == ["declined", "released", "released", "released"]
        assert other.authorize_spend(card_hex, 2_000, "other-2").approved
        other.release_hold("other-2")

        engine.sign_in(CASHIER_PIN)
        engine.present_card(payload)
        offline = engine.quote_spend(Money.fl(500), online=True)
        engine.gateway._client.base_url = "http://127.0.0.1:9"  # noqa: SLF001 - the network is gone
        engine.cancel(offline.quote_id)  # best effort: no error, the hold expires on the server
        assert hold_statuses(world, engine)[str(offline.parts[0].record_id)] == "active"
        assert engine.gateway.last_ok is False
    finally:
        engine.store.close()


def test_blocked_at_the_server_is_refused_at_the_till_and_offline_falls_back(world, tmp_path):
    merchant_id = world.merchant()
    _member, card_hex = world.member(eur_cents=2_000)
    payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
    engine, _printer = make_till(world, tmp_path, merchant_id)
    try:
        engine.sync_now()
        engine.start()
        engine.sign_in(CASHIER_PIN)
        world.srv.admin("POST", f"/v1/admin/cards/{card_hex}/block", {"reason": "verloren"})
        with pytest.raises(E.CardBlocked):  # live: the server knows at once
            engine.present_card(payload)
        engine.sync_now()
        engine.gateway = None  # the network is gone: the snapshot alone must refuse it too
        with pytest.raises(E.CardBlocked):
            engine.present_card(payload)
        world.srv.admin("POST", f"/v1/admin/cards/{card_hex}/unblock", {})
        engine.sync_now()
        summary = engine.present_card(payload)
        assert not summary.live and summary.known
        paid = engine.confirm(engine.quote_spend(Money.fl(500)).quote_id)
        assert paid.records[0].offline
        assert "Saldo onder voorbehoud" in engine.printer.docs[-1].text(32)
        engine.sign_in(MANAGER_PIN)
        refund = engine.confirm(engine.quote_refund(paid.tx_id).quote_id)
        assert refund.kind is Kind.REFUND
        assert engine.sync_now()["waiting"] == 0  # the server took the offline spend and its refund
    finally:
        engine.store.close()


def test_scripted_till_process_against_the_real_server(world, tmp_path):
    """What the system tests do three times over: the CLI with terminal.toml, a named demo card, sync."""
    import json
    import subprocess
    import sys

    from floreyn.terminal import demo_setup

    srv = world.srv
    srv.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(demo_setup.demo_issuer()).hex()]})
    merchant_id = world.merchant()
    member_id = srv.admin("POST", "/v1/admin/members", {"name": "Anna Demo", "email": "a@example.org",
                                                        "alias": "Anna"})["member_id"]
    srv.admin("POST", "/v1/admin/cards", {"card_id": demo_setup.demo_card_id("anna").hex(), "member_id": member_id})
    srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member_id, "eur_cents": 3_000})
    data = tmp_path / "till"
    key = keys.new_private_key()
    keys.save_private_key(key, data / "terminal.key")
    terminal_id = world.new_id("T")
    srv.admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                              "public_key": keys.public_raw(key).hex()})
    pin_hash = hash_pin("1234", n=16, r=1, p=1)
    (tmp_path / "terminal.toml").write_text(f"""
[terminal]
terminal_id = "{terminal_id}"
data_dir = "till"

[[operators]]
name = "Kassa"
role = "cashier"
pin_hash = "{pin_hash}"

[server]
url = "{srv.base_url}"
server_key = "{keys.public_raw(srv.public_key).hex()}"
""")
    script = tmp_path / "s.jsonl"
    script.write_text("\n".join(json.dumps(a) for a in [
        {"id": "in", "action": "sign_in", "pin": "1234"},
        {"id": "card", "action": "present", "card": "anna"},
        {"id": "pay", "action": "spend", "amount": "12,50"},
        {"id": "sync", "action": "sync"},
        {"id": "status", "action": "status"},
    ]) + "\n")
    proc = subprocess.run([sys.executable, "-m", "floreyn.terminal.cli", "--config", str(tmp_path / "terminal.toml"),
                           "--simulate", "--script", str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = {line["id"]: line for line in map(json.loads, proc.stdout.splitlines())}
    assert out["card"]["live"] is True and out["card"]["own_cents"] == 3_000 and out["card"]["alias"] == "Anna"
    assert out["pay"]["offline"] is False and out["pay"]["fl_cents"] == 1_250
    assert out["sync"]["sync"]["online"] is True and out["sync"]["sync"]["waiting"] == 0
    assert out["status"]["pending_uploads"] == 0 and out["status"]["online"] is True
    assert world.balance(f"member:{member_id}") == 3_000 - 1_250
