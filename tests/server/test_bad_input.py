"""Bad input of every shape gets a clear JSON 4xx, never a 500, and changes nothing."""

import json
import random

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st



def check_refusal(resp, status=None):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    if status is not None:
        assert resp.status_code == status, resp.text[:300]
    body = resp.json()
    assert isinstance(body["error"], str) and body["message"] and body["message_nl"]
    return body


def admin_raw(srv, method, path, data, content_type="application/json"):
    return requests.request(method, srv.base_url + path, data=data, timeout=10, headers={
        "Authorization": f"Bearer {srv.admin_token}", "Content-Type": content_type})


ADMIN_CASES = [
    ("POST", "/v1/admin/desk/topup", b"not json", 422),
    ("POST", "/v1/admin/desk/topup", b"[1, 2]", 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": "100"}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": 10.5}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": -1}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": true}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": 99999999999}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"member_id": "m", "eur_cents": 100}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a", "member_id": "m", "eur_cents": 100, "x": 1}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a b", "member_id": "m", "eur_cents": 100}', 422),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a1", "member_id": "nobody", "eur_cents": 100}', 404),
    ("POST", "/v1/admin/desk/topup", b'{"request_id": "a2", "eur_cents": 100}', 422),
    ("POST", "/v1/admin/budgets/expire", b'{"request_id": "a3", "as_of": "2020-13-01"}', 422),
    ("POST", "/v1/admin/cards", b'{"request_id": "a4", "card_id": "XYZ", "member_id": "m"}', 422),
    ("POST", "/v1/admin/terminals", b'{"request_id": "a5", "terminal_id": "t", "merchant_id": "m", '
                                    b'"public_key": "00"}', 422),
    ("POST", "/v1/admin/members", "{\"request_id\": \"a6\", \"name\": \"\\u00e9" + "x" * 300 + "\"}", 422),
    ("GET", "/v1/admin/members?limit=abc", None, 422),
    ("GET", "/v1/admin/members?limit=100000", None, 422),
    ("GET", "/v1/admin/accounts/not-a-key", None, 422),
    ("GET", "/v1/admin/accounts/member:nobody", None, 404),
    ("GET", "/v1/admin/reports/settlement?merchant_id=m&from=2020-01-02&to=2020-01-01", None, 422),
    ("GET", "/v1/admin/nothing-here", None, 404),
    ("DELETE", "/v1/admin/members", None, 405),
]


@pytest.mark.parametrize("method,path,data,status", ADMIN_CASES)
def test_admin_bad_requests(srv, method, path, data, status):
    check_refusal(admin_raw(srv, method, path, data), status)


TERMINAL_CASES = [
    ("POST", "/v1/terminal/upload", b"garbage", 422),
    ("POST", "/v1/terminal/upload", b'{"records": "AAAA"}', 422),
    ("POST", "/v1/terminal/upload", b'{"records": [1]}', 422),
    ("POST", "/v1/terminal/upload", b'{"records": [], "more": 1}', 422),
    ("POST", "/v1/terminal/authorize", b'{"card_id": "00", "amount_cents": 100, "request_id": "r"}', 422),
    ("POST", "/v1/terminal/authorize", b'{"card_id": "' + b"0" * 32 + b'", "amount_cents": 0, "request_id": "r"}',
     422),
    ("POST", "/v1/terminal/authorize", b'{"card_id": "' + b"0" * 32 + b'", "amount_cents": "5", "request_id": "r"}',
     422),
    ("POST", "/v1/terminal/release", b"{}", 422),
    ("POST", "/v1/terminal/release", b'{"request_id": ""}', 422),
    ("POST", "/v1/terminal/release", b'{"request_id": "no spaces"}', 422),
    ("POST", "/v1/terminal/release", b'{"request_id": 5}', 422),
    ("POST", "/v1/terminal/release", b'{"request_id": "q", "more": 1}', 422),
    ("POST", "/v1/terminal/release", b"garbage", 422),
    ("GET", "/v1/terminal/snapshot?since=-1", b"", 422),
    ("GET", "/v1/terminal/snapshot?since=x", b"", 422),
    ("GET", "/v1/terminal/cards/not-hex", b"", 422),
]


@pytest.mark.parametrize("method,path,data,status", TERMINAL_CASES)
def test_terminal_bad_requests(srv, world, method, path, data, status):
    term = world.terminal()
    check_refusal(term.send(srv, method, path, data), status)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12)
field_names = st.sampled_from(["request_id", "member_id", "funder_id", "merchant_id", "eur_cents", "fl_cents",
                               "card_id", "amount_cents", "budgets", "records", "name", "as_of", "new_card_id",
                               "rates", "limits", "budget_id", "categories", "reason", "role"])
bodies = st.one_of(json_values, st.dictionaries(field_names, json_values, max_size=6))
ADMIN_POSTS = ["/v1/admin/desk/topup", "/v1/admin/desk/cashout", "/v1/admin/desk/remit", "/v1/admin/members",
               "/v1/admin/cards", "/v1/admin/budgets/grant", "/v1/admin/budgets/expire", "/v1/admin/merchants",
               "/v1/admin/terminals", "/v1/admin/campaigns", "/v1/admin/groups", "/v1/admin/tokens"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(ADMIN_POSTS), body=bodies)
def test_fuzzed_admin_bodies_never_crash(srv, path, body):
    resp = admin_raw(srv, "POST", path, json.dumps(body).encode())
    if resp.status_code != 200:
        check_refusal(resp)


@pytest.fixture(scope="module")
def fuzz_terminal(world):
    return world.terminal()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/terminal/upload", "/v1/terminal/authorize"]), body=bodies)
def test_fuzzed_terminal_bodies_never_crash(srv, fuzz_terminal, path, body):
    resp = fuzz_terminal.send(srv, "POST", path, json.dumps(body).encode())
    if resp.status_code != 200:
        check_refusal(resp)


def test_nothing_was_half_posted(srv):
    """After all the refusals above the ledger still adds up."""
    report = srv.admin("GET", "/v1/admin/replay")
    assert report["ok"], report


def test_records_fuzzed_bytes_are_refused_cleanly(srv, world):
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    good = term.spend(card, 100).raw
    client = term.client(srv)
    rng = random.Random(7)
    for _ in range(30):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        try:
            client.upload([bytes(raw)])
        except Exception as exc:  # refused: a typed refusal from the server, never a crash
            assert type(exc).__name__ in ("SyncRefused", "SyncAuthFailed"), exc
            assert exc.status in (409, 422), exc
    assert srv.admin("GET", "/v1/admin/replay")["ok"]
