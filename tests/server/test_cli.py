"""`floreyn-server` as a real process: zero-configuration start, SIGKILL mid-upload, the replay command."""

import gc
import sqlite3
import stat
import subprocess
import threading
import time

import requests
from support.server_process import EXE, ServerProcess, admin

from floreyn.server import cli
from floreyn.server.testing import SimTerminal
from floreyn.sync.client import SyncClient, SyncError


def test_zero_configuration_start_uses_a_local_data_folder(tmp_path):
    server = ServerProcess(tmp_path).start()
    try:
        health = requests.get(server.url + "/v1/health", timeout=5).json()
        data = tmp_path / "floreyn-data"
        assert (data / "floreyn.db").exists()
        for name in ("server_key.pem", "admin_token"):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
        token = (data / "admin_token").read_text().strip()
        merchants = requests.get(server.url + "/v1/admin/merchants", timeout=5,
                                 headers={"Authorization": f"Bearer {token}"})
        assert merchants.status_code == 200 and merchants.json() == {"merchants": []}
        assert len(health["server_key"]) == 64
    finally:
        server.stop()
    # A second start keeps the same key.
    server = ServerProcess(tmp_path).start()
    try:
        assert requests.get(server.url + "/v1/health", timeout=5).json()["server_key"] == health["server_key"]
    finally:
        server.stop()


def test_sigkill_during_uploads_loses_and_doubles_nothing(module_db_url, tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(tmp_path, "--data-dir", str(data), "--db", module_db_url).start()
    token = (data / "admin_token").read_text().strip()
    try:
        admin(server.url, token, "/v1/admin/merchants", {"merchant_id": "M-kill", "name": "K", "category": "winkel"})
        member = admin(server.url, token, "/v1/admin/members", {"alias": "K"})["member_id"]
        card = "ab" * 16
        admin(server.url, token, "/v1/admin/cards", {"card_id": card, "member_id": member})
        term = SimTerminal("T-kill", "M-kill")
        admin(server.url, token, "/v1/admin/terminals", {"terminal_id": "T-kill", "merchant_id": "M-kill",
                                                         "public_key": term.key.public_key().public_bytes_raw().hex()})
        for i in range(600):
            term.spend(card, 1 + i % 7)
        server_key = None
        # Killed a few milliseconds after a third of the records are in: uploads are in flight all the time,
        # so the kill lands inside a request (and often inside a database transaction).
        killer = threading.Timer(0.005, server.kill)
        acked, restarted, armed = 0, False, False
        deadline = time.monotonic() + 90
        while acked < len(term.records):
            assert time.monotonic() < deadline, f"stuck at {acked}"
            client = SyncClient(server.url, "T-kill", term.key, server_key, timeout_s=5)
            try:
                acked = client.upload(term.raws[acked : acked + 20]).acked_seq
                server_key = client.server_key
                if acked >= 200 and not armed:
                    armed = True
                    killer.start()
            except SyncError:
                killer.join()
                if server.proc.poll() is not None:
                    assert not restarted
                    restarted = True
                    server.start()
        assert restarted, "the kill happened after the uploads finished; make the run longer"
        balance = requests.get(server.url + f"/v1/admin/accounts/member:{member}", timeout=5,
                               headers={"Authorization": f"Bearer {token}"}).json()["balance_cents"]
        assert balance == -sum(1 + i % 7 for i in range(600))
        replay = requests.get(server.url + "/v1/admin/replay", timeout=30,
                              headers={"Authorization": f"Bearer {token}"}).json()
        assert replay["ok"] and replay["records"] == 600, replay
    finally:
        server.stop()


def test_replay_command_reports_and_exits_nonzero_on_a_tampered_balance(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(tmp_path, "--data-dir", str(data)).start()
    token = (data / "admin_token").read_text().strip()
    member = admin(server.url, token, "/v1/admin/members", {"alias": "R"})["member_id"]
    admin(server.url, token, "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 1_000})
    server.stop()
    ok = subprocess.run([EXE, "--data-dir", str(data), "replay"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK" in ok.stdout
    with sqlite3.connect(data / "floreyn.db") as conn:
        conn.execute("UPDATE accounts SET balance_cents = 999 WHERE key = ?", (f"member:{member}",))
    bad = subprocess.run([EXE, "--data-dir", str(data), "replay", "--json"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and f"member:{member}" in bad.stdout and '"ok": false' in bad.stdout


def test_two_worker_processes_share_one_ledger_and_cli_tokens_work(tmp_path):
    data = tmp_path / "data"
    made = subprocess.run([EXE, "--data-dir", str(data), "token", "create", "--name", "desk-1", "--role", "clerk"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and made.stdout.startswith("fla_")
    clerk = made.stdout.strip()
    server = ServerProcess(tmp_path, "--data-dir", str(data), "--workers", "2").start()
    try:
        # "token create" ran first, so no bootstrap token was made: the clerk's token is the way in, and a
        # clerk may run the desk but not register merchants.
        assert not (data / "admin_token").exists()
        member = admin(server.url, clerk, "/v1/admin/members", {"alias": "W"})["member_id"]
        for _ in range(20):  # requests spread over both processes; each sees the same ledger
            admin(server.url, clerk, "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 100})
        resp = requests.get(server.url + f"/v1/admin/accounts/member:{member}", timeout=5,
                            headers={"Authorization": f"Bearer {clerk}"})
        assert resp.json()["balance_cents"] == 2_000
        refused = requests.post(server.url + "/v1/admin/merchants", timeout=5, headers={
            "Authorization": f"Bearer {clerk}"}, json={"request_id": "r", "merchant_id": "M", "name": "M",
                                                        "category": "winkel"})
        assert refused.status_code == 403
        workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2
    finally:
        server.stop()


def test_the_server_keeps_what_it_made_before_serving_out_of_the_garbage_collectors_view():
    before = gc.get_threshold()
    try:
        kept = [1, 2]  # a container made before serving, alive for good
        assert id(kept) in {id(o) for o in gc.get_objects()}
        cli.settle_heap()
        assert gc.get_freeze_count() > 0
        assert id(kept) not in {id(o) for o in gc.get_objects()}  # frozen: no collection walks it
        assert gc.get_threshold()[0] == cli.GC_YOUNG_OBJECTS > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
