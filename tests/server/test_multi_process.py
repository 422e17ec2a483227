"""Two `floreyn-server` processes against one database (docs/operations.md, several servers behind one proxy).

What a process could keep to itself and so break with two: request nonces
(a request replayed to the other process), the failed-authentication limit
and the portal's sign-in limit per address (each process would allow the
limit once more). All of it lives in the database; these tests send to both
processes in turn and check that the second one knows what the first saw.
"""

import base64
import json
import re
import uuid

import pytest
import requests
from support.server_process import ServerProcess, admin

from floreyn import keys
from floreyn.server.config import Limits
from floreyn.server.portal.web import PRE_COOKIE, PREFIX, SIGNIN_WINDOW_S
from floreyn.server.testing import SimTerminal
from floreyn.sync.client import SyncClient

FAILED_AUTH_MAX = Limits().failed_auth_max  # the processes run with the default limits
SIGNINS_MAX = Limits().portal_signins_per_window


@pytest.fixture(scope="module")
def pair(module_db_url, tmp_path_factory):
    """Two server processes, one database and one data folder (the same server key, as every server must have)."""
    tmp = tmp_path_factory.mktemp("pair")
    data = tmp / "data"
    first = ServerProcess(tmp, "--data-dir", str(data), "--db", module_db_url).start()
    second = ServerProcess(tmp, "--data-dir", str(data), "--db", module_db_url)
    try:
        second.start()  # inside the try: a second one that fails to start must not leave the first running
        yield first, second, (data / "admin_token").read_text().strip()
    finally:
        first.stop()
        second.stop()


def test_both_processes_sign_with_one_key(pair):
    first, second, _ = pair
    keys_seen = {requests.get(p.url + "/v1/health", timeout=5).json()["server_key"] for p in (first, second)}
    assert len(keys_seen) == 1


def test_a_request_replayed_to_the_other_process_is_refused(pair):
    first, second, token = pair
    merchant, terminal_id = f"M-{uuid.uuid4().hex[:6]}", f"T-{uuid.uuid4().hex[:8]}"
    admin(first.url, token, "/v1/admin/merchants", {"merchant_id": merchant, "name": "Twee", "category": "winkel"})
    term = SimTerminal(terminal_id, merchant)
    admin(first.url, token, "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant,
                                                    "public_key": keys.public_raw(term.key).hex()})
    member = admin(first.url, token, "/v1/admin/members", {"alias": "Twee"})["member_id"]
    card = uuid.uuid4().hex
    admin(first.url, token, "/v1/admin/cards", {"card_id": card, "member_id": member})
    SyncClient(first.url, terminal_id, term.key, None).upload([])  # pins the key, sets the clock
    term.spend(card, 50)
    body = json.dumps({"records": [base64.b64encode(term.raws[0]).decode("ascii")]}).encode()
    headers = {**term.signed_headers("POST", "/v1/terminal/upload", body, time_ms=requests.get(
                   first.url + "/v1/health", timeout=5).json()["server_time_ms"]), "Content-Type": "application/json"}
    taken = requests.post(first.url + "/v1/terminal/upload", data=body, headers=headers, timeout=10)
    assert taken.status_code == 200 and taken.json()["acked_seq"] == 1
    replayed = requests.post(second.url + "/v1/terminal/upload", data=body, headers=headers, timeout=10)
    assert replayed.status_code == 401 and replayed.json()["error"] == "auth_replayed"


def test_failed_authentications_count_once_over_both_processes(pair):
    first, second, _ = pair
    path = "/v1/admin/members"
    codes = [requests.get((first, second)[i % 2].url + path, headers={"Authorization": "Bearer fla_guess"},
                          timeout=10).status_code for i in range(FAILED_AUTH_MAX + 2)]
    # Alternating: each process alone saw half the limit, yet both refuse once the address used it up (the
    # replay refused above counted too). Counted per process, each would have allowed the limit again.
    refused = codes.count(401)
    assert codes == [401] * refused + [429] * (len(codes) - refused) and refused <= FAILED_AUTH_MAX
    assert requests.get(first.url + "/v1/health", timeout=5).status_code == 200  # unauthenticated: not limited


def _pre_session(url: str) -> tuple[str, str]:
    """(CSRF token, pre-session cookie) of the sign-in form; the cookie is Secure, so sent by hand over http."""
    form = requests.get(url + f"{PREFIX}/signin", timeout=10)
    assert form.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found, "the sign-in form carries its CSRF token"
    return found.group(1), form.cookies[PRE_COOKIE]


def test_portal_sign_ins_per_address_count_once_over_both_processes(pair):
    first, second, _ = pair
    csrf, pre = _pre_session(first.url)  # the token and its cookie work on both: one server key
    codes = [requests.post((first, second)[i % 2].url + f"{PREFIX}/signin", timeout=10, allow_redirects=False,
                           headers={"Cookie": f"{PRE_COOKIE}={pre}"},
                           data={"login": "niemand", "password": "x" * 12, "csrf": csrf}).status_code
             for i in range(SIGNINS_MAX + 2)]
    assert 429 not in codes[:SIGNINS_MAX], codes
    assert codes[SIGNINS_MAX:] == [429, 429], f"a window of {SIGNIN_WINDOW_S} s: {codes}"
