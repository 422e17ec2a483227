"""`init` (issuing key, desk token, issuer key at the server) and `terminal enroll | revoke` against a real server."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from floreyn import keys
from floreyn.server.testing import ServerThread
from floreyn.sync.client import SyncClient, SyncRefused
from floreyn.terminal.config import load_config
from floreyn.pins import check_pin

from provision_tool import Tool


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_makes_an_encrypted_key_a_desk_token_and_publishes_the_issuer_key(fresh_tool, srv, world):
    t = fresh_tool
    bootstrap = str(srv.config.data_dir / "admin_token")
    first = t.ok(
        "init",
        "--bootstrap-token-file",
        bootstrap,
        "--passphrase-file",
        t.passphrase_file,
        "--token-name",
        "balie-init",
    )
    assert (first["issuer_key_status"], first["token_status"], first["issuer_key_at_server"]) == (
        "created",
        "created",
        "added",
    )
    issuer_pem = t.home / "issuer.pem"
    assert first["issuer_key_encrypted"] and b"ENCRYPTED" in issuer_pem.read_bytes()
    assert (mode(t.home), mode(issuer_pem), mode(t.home / "provision.toml"), mode(t.home / "ntag.key")) == (
        0o700,
        0o600,
        0o600,
        0o600,
    )
    loaded = keys.load_private_key(issuer_pem, b"correct horse battery staple")
    assert keys.public_raw(loaded).hex() == first["issuer_key"]
    stored = tomllib.loads((t.home / "provision.toml").read_text())
    assert stored["server_key"] == keys.public_raw(srv.public_key).hex()
    assert stored["token"] != srv.admin_token  # the desk's own token, not the bootstrap one
    config = srv.admin("GET", "/v1/admin/config", token=stored["token"])
    assert first["issuer_key"] in config["issuer_keys"]
    snap = world.terminal().client(srv).snapshot()  # every terminal's next snapshot carries the key
    assert first["issuer_key"] in snap.issuer_keys
    again = t.ok("init", "--passphrase-file", t.passphrase_file, "--bootstrap-token-file", bootstrap)
    assert (again["issuer_key"], again["issuer_key_status"], again["token_status"], again["issuer_key_at_server"]) == (
        first["issuer_key"],
        "exists",
        "exists",
        "present",
    )
    assert srv.admin("GET", "/v1/admin/config")["issuer_keys"].count(first["issuer_key"]) == 1
    wrong = t.home.parent / "wrong"
    wrong.write_text("not the passphrase\n")
    r = t("init", "--passphrase-file", str(wrong))
    assert r.code == 5 and r.error()["error"] == "wrong_passphrase"


def test_init_needs_a_passphrase_or_an_explicit_no_passphrase(fresh_tool, srv):
    t = fresh_tool
    bootstrap = str(srv.config.data_dir / "admin_token")
    r = t("init", "--bootstrap-token-file", bootstrap, "--token-name", "balie-nopass")
    assert r.code == 5 and "--no-passphrase" in r.error()["message"]
    assert not (t.home / "issuer.pem").exists()
    made = t.ok("init", "--bootstrap-token-file", bootstrap, "--token-name", "balie-nopass", "--no-passphrase")
    assert not made["issuer_key_encrypted"] and b"ENCRYPTED" not in (t.home / "issuer.pem").read_bytes()
    assert mode(t.home / "issuer.pem") == 0o600


def test_init_with_a_wrong_bootstrap_token_creates_nothing_at_the_server(fresh_tool, srv):
    bad = fresh_tool.home.parent / "bad-token"
    bad.write_text("fla_wrong\n")
    r = fresh_tool("init", "--bootstrap-token-file", str(bad), "--no-passphrase", "--token-name", "balie-bad")
    assert r.code == 2 and r.error()["error"] == "token_rejected"
    assert not (fresh_tool.home / "provision.toml").exists()  # nothing half-configured


def test_init_can_retire_the_bootstrap_token(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'own.db'}", tmp_path / "data") as own:
        t = Tool(tmp_path / "home", own.base_url)
        bootstrap = own.admin_token
        t.ok(
            "init",
            "--bootstrap-token-file",
            str(own.config.data_dir / "admin_token"),
            "--no-passphrase",
            "--revoke-bootstrap",
        )
        refused = own.admin("GET", "/v1/admin/config", token=bootstrap, expect=401)
        assert refused["error"] == "admin_unauthorized"
        assert t.ok("merchant", "list") == []  # the desk's own token carries on


def test_terminal_enroll_writes_a_config_the_till_loads_and_syncs_with(tool, srv, tmp_path):
    tool.ok(
        "merchant",
        "add",
        "--id",
        "M-enroll",
        "--name",
        "Groenteboer Jan",
        "--category",
        "markt",
        "--save-rate",
        "3",
        "--topup",
    )
    conf, data = tmp_path / "etc" / "terminal.toml", tmp_path / "data"
    argv = (
        "terminal",
        "enroll",
        "--terminal-id",
        "T-jan-01",
        "--merchant",
        "M-enroll",
        "--config",
        str(conf),
        "--data-dir",
        str(data),
        "--operator",
        "Jan:manager:4321",
        "--operator",
        "Piet:cashier:1111",
        "--printer",
        "network:192.168.1.40",
        "--reader",
        "usb",
        "--columns",
        "48",
    )
    made = tool.ok(*argv)
    assert (made["result"], made["config_status"], made["key_status"]) == ("created", "created", "created")
    assert mode(conf) == 0o600 and mode(data / "terminal.key") == 0o600
    cfg = load_config(conf)
    assert (cfg.terminal_id, cfg.merchant.name, cfg.merchant.category, cfg.merchant.save_rate_bp) == (
        "T-jan-01",
        "Groenteboer Jan",
        "markt",
        300,
    )
    assert cfg.columns == 48 and cfg.drivers.reader == {"kind": "nfc", "device": "usb"}
    assert cfg.drivers.printer == {"kind": "network", "host": "192.168.1.40", "port": 9100, "columns": 48}
    assert [(o.name, o.role) for o in cfg.operators] == [("Jan", "manager"), ("Piet", "cashier")]
    assert check_pin("4321", cfg.operators[0].pin_hash) and not check_pin("1234", cfg.operators[0].pin_hash)
    desk_key = tomllib.loads((tool.home / "provision.toml").read_text())
    assert cfg.server.server_key == desk_key["server_key"]
    assert srv.admin("GET", "/v1/admin/config")["issuer_keys"] == list(cfg.issuer_keys)
    key = keys.load_private_key(cfg.key_path)
    assert srv.admin("GET", "/v1/admin/terminals/T-jan-01")["public_key"] == keys.public_raw(key).hex()
    # The till's sync client, built from nothing but this file, talks to the server.
    client = SyncClient(
        cfg.server.url, cfg.terminal_id, key, keys.public_from_raw(bytes.fromhex(cfg.server.server_key))
    )
    snap = client.snapshot()
    assert snap.merchant.merchant_id == "M-enroll" and set(cfg.issuer_keys) <= set(snap.issuer_keys)
    # Again: nothing changes.
    before = conf.read_bytes()
    again = tool.ok(*argv)
    assert (again["result"], again["config_status"], again["key_status"]) == ("exists", "exists", "exists")
    assert conf.read_bytes() == before
    # Another terminal onto the same file is refused; revoking cuts the till off.
    other = tool(
        "terminal",
        "enroll",
        "--terminal-id",
        "T-jan-02",
        "--merchant",
        "M-enroll",
        "--config",
        str(conf),
        "--data-dir",
        str(data),
    )
    assert other.code == 5 and other.error()["error"] == "file_exists"
    assert tool.ok("terminal", "revoke", "T-jan-01", "--reason", "gestolen")["status"] == "revoked"
    with pytest.raises(SyncRefused) as refused:
        client.snapshot()
    assert refused.value.server_code == "terminal_revoked"
    listed = {t["terminal_id"]: t for t in tool.ok("terminal", "list")}
    assert listed["T-jan-01"]["status_reason"] == "gestolen"


def test_terminal_enroll_refusals(tool, srv, world, tmp_path):
    conf = tmp_path / "terminal.toml"
    merchant = world.merchant()
    unknown = tool(
        "terminal",
        "enroll",
        "--terminal-id",
        "T-x",
        "--merchant",
        "M-bestaat-niet",
        "--config",
        str(conf),
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert unknown.code == 2 and unknown.error()["params"]["server_code"] == "not_found"
    assert not conf.exists()
    bad = tool(
        "terminal",
        "enroll",
        "--terminal-id",
        "T-x",
        "--merchant",
        merchant,
        "--config",
        str(conf),
        "--data-dir",
        str(tmp_path / "d"),
        "--operator",
        "Jan:baas:1234",
    )
    assert bad.code == 1 and not conf.exists()
    assert all(t["terminal_id"] != "T-x" for t in tool.ok("terminal", "list"))  # refused before anything was sent
    reader = tool(
        "terminal", "enroll", "--terminal-id", "T-x", "--merchant", merchant, "--config", str(conf), "--reader", "usb0"
    )
    assert reader.code == 1 and "kaartlezer" in reader.error()["message_nl"]
