"""Health, metrics and logs of a running server: what an operator's monitoring reads.

- GET /v1/health answers 503 when the database does not, so a load balancer or
  systemd watchdog script sees a broken server;
- GET /metrics speaks the Prometheus text format, needs an auditor (or admin)
  token, and shows per terminal the records waiting, the sync lag and the
  refused uploads, plus blocked cards and the newest backup;
- the log is one JSON object per line, one per request and per upload batch,
  with no personal data: no names, member or card ids, addresses or tokens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid

import requests

from floreyn.server.testing import ServerThread, SimTerminal, World
from floreyn.sync.client import SyncRefused
from floreyn.sync.record import Kind

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_metrics(body: str) -> dict[tuple[str, frozenset], float]:
    """Every sample; checks each family is announced by HELP and TYPE before its samples."""
    samples, announced = {}, set()
    for line in body.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            announced.add(line.split()[2])
            continue
        m = SAMPLE.match(line)
        assert m, f"not exposition format: {line!r}"
        name, labels = m.group(1), m.group(2) or ""
        assert name in announced, name
        pairs = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        samples[(name, pairs)] = float(m.group(3))
    return samples


def token(srv: ServerThread, role: str) -> str:
    return srv.admin("POST", "/v1/admin/tokens", {"name": f"{role}-{uuid.uuid4().hex[:8]}", "role": role})["token"]


def test_metrics_need_an_auditor_token_and_show_each_terminals_sync(tmp_path, exe):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'floreyn.db'}"
    with ServerThread(url, data) as srv:
        world = World(srv)
        merchant = world.merchant()
        _member, card = world.member(eur_cents=2_000)
        term = world.terminal(merchant)
        for _ in range(5):
            term.spend(card, 100)
        client = term.client(srv)
        assert client.upload(term.raws[:3], head_seq=5).acked_seq == 3  # two still on the till
        quiet = world.terminal(merchant)  # enrolled, never synced
        bad = SimTerminal(world.new_id("T"), merchant)
        bad.enroll(srv)
        bad.record(Kind.SPEND, card_id=bytes.fromhex(card), fl_cents=100, merchant_id="M-someone-else")
        try:
            bad.client(srv).upload(bad.raws, head_seq=1)
            raise AssertionError("a record of another merchant must be refused")
        except SyncRefused as exc:
            assert exc.server_code == "record_refused"
        srv.admin("POST", f"/v1/admin/cards/{card}/block", {"reason": "kwijt"})
        done = subprocess.run([exe / "floreyn-server", "--db", url, "--data-dir", str(data), "backup"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

        get = lambda tok: requests.get(srv.base_url + "/metrics", timeout=10,  # noqa: E731
                                       headers={"Authorization": f"Bearer {tok}"} if tok else {})
        assert get(None).status_code == 401 and get(None).json()["error"] == "admin_unauthorized"
        assert get(token(srv, "clerk")).status_code == 403
        resp = get(token(srv, "auditor"))
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=0.0.4")
        m = parse_metrics(resp.text)
        t = frozenset({("terminal_id", term.terminal_id)})
        assert m[("floreyn_terminal_acked_seq", t)] == 3 and m[("floreyn_terminal_reported_head_seq", t)] == 5
        assert m[("floreyn_terminal_records_waiting", t)] == 2
        assert 0 <= m[("floreyn_terminal_sync_lag_seconds", t)] < 60
        assert m[("floreyn_terminal_rejected_uploads_total", t)] == 0
        q = frozenset({("terminal_id", quiet.terminal_id)})
        assert ("floreyn_terminal_sync_lag_seconds", q) not in m and m[("floreyn_terminal_records_waiting", q)] == 0
        b = frozenset({("terminal_id", bad.terminal_id)})
        assert m[("floreyn_terminal_rejected_uploads_total", b)] == 1
        assert m[("floreyn_alerts_total", frozenset({("kind", "merchant_mismatch")}))] == 1
        assert m[("floreyn_cards", frozenset({("status", "blocked")}))] == 1
        assert m[("floreyn_cards", frozenset({("status", "active")}))] == 0
        assert abs(m[("floreyn_last_backup_timestamp_seconds", frozenset())] - time.time()) < 120
        assert m[("floreyn_records_total", frozenset())] == 3
        info = frozenset({("terminal_id", term.terminal_id), ("merchant_id", merchant), ("status", "active")})
        assert m[("floreyn_terminal_info", info)] == 1
        # Scrapes leave no line in the audit log (every 15 s would swamp it).
        audit = srv.admin("GET", "/v1/admin/audit", limit=1000)["entries"]
        assert not [e for e in audit if e["path"] == "/metrics"]


def test_health_says_503_when_the_database_is_gone(tmp_path):
    data = tmp_path / "data"
    db_file = data / "floreyn.db"
    with ServerThread(f"sqlite:///{db_file}", data) as srv:
        ok = requests.get(srv.base_url + "/v1/health", timeout=10)
        assert ok.status_code == 200 and ok.json()["database"] == "ok" and ok.json()["server_key"]
        srv.ctx.db.dispose()
        moved = tmp_path / "moved"
        moved.mkdir()
        for p in data.glob("floreyn.db*"):
            shutil.move(p, moved / p.name)
        db_file.mkdir()  # what stands there now cannot be opened as a database
        down = requests.get(srv.base_url + "/v1/health", timeout=10)
        assert down.status_code == 503 and down.json()["status"] == "unavailable"
        assert down.json()["server_key"] == ok.json()["server_key"]  # still tells terminals who it is
        db_file.rmdir()
        for p in moved.iterdir():
            shutil.move(p, data / p.name)
        assert requests.get(srv.base_url + "/v1/health", timeout=10).status_code == 200


def test_logs_are_json_lines_per_request_and_upload_without_personal_data(tmp_path, exe, free_port):
    data = tmp_path / "data"
    err = (tmp_path / "stderr.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k not in ("FLOREYN_DATA_DIR", "FLOREYN_LOG_FORMAT")}
    proc = subprocess.Popen([exe / "floreyn-server", "--data-dir", str(data), "--port", str(free_port)],
                            stdout=subprocess.DEVNULL, stderr=err, env=env)
    base = f"http://127.0.0.1:{free_port}"
    try:
        _wait(base, proc)
        admin_token = (data / "admin_token").read_text().strip()
        auth = {"Authorization": f"Bearer {admin_token}"}

        def post(path: str, body: dict) -> dict:
            r = requests.post(base + path, json={"request_id": uuid.uuid4().hex, **body}, headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            return r.json()

        merchant = post("/v1/admin/merchants", {"merchant_id": "M-logs", "name": "Bakker", "category": "winkel",
                                                "save_rate_bp": 500, "topup_allowed": True})["merchant_id"]
        member = post("/v1/admin/members", {"name": "Geheime Jansen", "email": "jansen@example.org",
                                            "phone": "0612345678"})["member_id"]
        card = uuid.uuid4().hex
        post("/v1/admin/cards", {"card_id": card, "member_id": member})
        post("/v1/admin/desk/topup", {"member_id": member, "eur_cents": 1_000})
        assert requests.get(f"{base}/v1/admin/members/{member}", headers=auth, timeout=10).status_code == 200
        term = SimTerminal("T-logs", merchant)
        post("/v1/admin/terminals", {"terminal_id": term.terminal_id, "merchant_id": merchant,
                                     "public_key": term.key.public_key().public_bytes_raw().hex()})
        term.spend(card, 250)
        term.spend(card, 100)
        from floreyn.sync.client import SyncClient

        client = SyncClient(base, term.terminal_id, term.key, None)
        assert client.upload(term.raws, head_seq=2).acked_seq == 2
        assert requests.get(base + "/nowhere", timeout=10).status_code == 404
        requests.get(base + "/v1/health", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        err.close()
    text = (tmp_path / "stderr.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    requests_ = [x for x in lines if x.get("event") == "request"]
    routes = {(x["method"], x["route"], x["status"]) for x in requests_}
    assert ("POST", "/v1/admin/members", 200) in routes and ("GET", "/v1/admin/members/{member_id}", 200) in routes
    assert ("POST", "/v1/terminal/upload", 200) in routes and ("GET", "(no route)", 404) in routes
    assert not [x for x in requests_ if x["route"] == "/v1/health"]  # health checks only at DEBUG
    assert all(isinstance(x["duration_ms"], float) and x["level"] == "info" for x in requests_)
    upload_req = [x for x in requests_ if x["route"] == "/v1/terminal/upload"]
    assert upload_req and upload_req[0]["terminal_id"] == "T-logs"
    (upload,) = [x for x in lines if x.get("event") == "upload"]
    assert (upload["terminal_id"], upload["records"], upload["accepted"], upload["acked_seq"],
            upload["reported_head"]) == ("T-logs", 2, 2, 2, 2)
    for secret in ("Geheime", "Jansen", "jansen@example.org", "0612345678", member, card, admin_token):
        assert secret not in text, secret
    assert "127.0.0.1" not in json.dumps(requests_)  # no client addresses


def _wait(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120  # the server's start-up: seconds, but over 30 s on a loaded machine
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(base + "/v1/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")
