"""The terminal's sync client and background worker against a real server on loopback.

Also: what happens with no server, a server that never answers, a forged
server, and a revoked terminal. The till never waits on any of it.
"""

import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from support import wait

from floreyn.sync.snapshot import short_id
from floreyn import keys
from floreyn.server.testing import MemoryOutbox, ServerThread, World
from floreyn.sync import auth
from floreyn.sync.client import (
    SyncAuthFailed, SyncBadResponse, SyncClient, SyncError, SyncTimeout, SyncUnreachable,
)
from floreyn.sync.worker import SyncWorker


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    data = tmp_path_factory.mktemp("server")
    with ServerThread(f"sqlite:///{data / 'floreyn.db'}", data) as server:
        yield server


@pytest.fixture(scope="module")
def world(srv):
    return World(srv)


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers; `.accepted()` counts the connections taken."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{sock.getsockname()[1]}", accepted=lambda: len(held))
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_worker_uploads_in_bounded_batches_and_keeps_the_snapshot(srv, world):
    member, card = world.member(eur_cents=10_000)
    term = world.terminal()
    for _ in range(23):
        term.spend(card, 10)
    outbox = MemoryOutbox(term)
    sizes = []
    client = term.client(srv)
    real_upload = client.upload
    client.upload = lambda raws: sizes.append(len(raws)) or real_upload(raws)
    states = []
    worker = SyncWorker(outbox, client, batch_size=5, on_state=states.append)
    state = worker.run_once()
    assert sizes == [5, 5, 5, 5, 3]
    assert (state.online, state.waiting, state.acked_seq, state.last_error) == (True, 0, 23, None)
    assert outbox.acked == 23 and outbox.snapshot.card(card).offline_allowance_cents == 5_000
    assert state.snapshot_age_s == 0 and state.last_sync_ms is not None and states[-1] == state
    assert world.balance(f"member:{member}") == 10_000 - 230
    # The next round asks for a delta and merges it onto what the outbox holds.
    srv.admin("POST", f"/v1/admin/cards/{card}/block", {"reason": "kwijt"})
    worker.run_once()
    assert outbox.snapshot.card(card).blocked and short_id(card) in outbox.snapshot.blocklist
    assert outbox.snapshot.snapshot_version > state.snapshot_version


def test_max_batches_bounds_one_round(srv, world):
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    for _ in range(12):
        term.save(card, 1, 20)  # within the 5 % save rate the server checks
    outbox = MemoryOutbox(term)
    worker = SyncWorker(outbox, term.client(srv), batch_size=2, max_batches=3)
    assert worker.run_once().waiting == 6
    assert worker.run_once().waiting == 0


def test_no_server_gives_a_typed_error_and_a_bounded_backoff(world):
    term = world.terminal()
    term.spend("00" * 16, 10)
    client = SyncClient(closed_port_url(), term.terminal_id, term.key, keys.new_private_key().public_key(),
                        timeout_s=1)
    with pytest.raises(SyncUnreachable) as err:
        client.upload(term.raws)
    assert err.value.code == "sync_unreachable" and "offline" in err.value.message("nl")
    worker = SyncWorker(MemoryOutbox(term), client, backoff_min_s=1, backoff_max_s=8)
    delays = []
    for _ in range(8):
        state = worker.run_once()
        delays.append(worker.next_delay_s())
    assert (state.online, state.last_error, state.waiting) == (False, "sync_unreachable", 1)
    assert 0.5 <= delays[0] <= 1 and all(d <= 8 for d in delays) and delays[-1] >= 4


def test_a_server_that_never_answers_times_out_and_the_till_does_not_wait(world, silent_server):
    term = world.terminal()
    term.spend("00" * 16, 10)
    client = SyncClient(silent_server.url, term.terminal_id, term.key, keys.new_private_key().public_key(),
                        timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(SyncTimeout):
        client.upload(term.raws)
    assert time.monotonic() - started < 3
    client = SyncClient(silent_server.url, term.terminal_id, term.key, keys.new_private_key().public_key(),
                        timeout_s=REQUEST_TIMEOUT_S)
    worker = SyncWorker(MemoryOutbox(term), client, interval_s=0.05, backoff_min_s=0.05, backoff_max_s=0.1)
    taken = silent_server.accepted()
    worker.start()
    try:
        # The worker is stuck in a request once the server took its connection (a fixed sleep was no proof
        # of that on a loaded machine: the loop below then passed without a request in flight).
        wait.until(lambda: silent_server.accepted() > taken, WAIT_S, "the worker's request")
        t0 = time.monotonic()
        for _ in range(100):  # what the till does meanwhile: read the state, ask for a sync
            _ = worker.state.waiting
            worker.request_sync()
        # A till that waited for the request would take its whole timeout; well under it, whatever the load.
        assert time.monotonic() - t0 < REQUEST_TIMEOUT_S / 2
        wait.until(lambda: worker.state.last_error == "sync_timeout", WAIT_S, "the worker's timeout")
    finally:
        worker.stop()
    assert not worker.state.online


REQUEST_TIMEOUT_S = 2.0  # the worker's request to the silent server; the till's 100 calls must take far less
WAIT_S = 30.0  # for what the worker does on its own thread; generous for a loaded 2-core machine


def test_forged_server_answers_are_refused(srv, world):
    term = world.terminal()
    client = SyncClient(srv.base_url, term.terminal_id, term.key, keys.new_private_key().public_key())
    with pytest.raises(SyncBadResponse):
        client.upload([])
    worker = SyncWorker(MemoryOutbox(term), client)
    assert worker.run_once().last_error == "sync_bad_response"


def test_revoked_terminal_reports_auth_failure(srv, world):
    term = world.terminal()
    srv.admin("POST", f"/v1/admin/terminals/{term.terminal_id}/revoke", {"reason": "stuk"})
    state = SyncWorker(MemoryOutbox(term), term.client(srv)).run_once()
    assert state.last_error == "sync_auth_failed" and "coöperatie" in state.last_error_message
    with pytest.raises(SyncAuthFailed) as err:
        term.client(srv).upload([])
    assert err.value.server_code == "terminal_revoked" and isinstance(err.value, SyncError)


def test_worker_thread_syncs_on_request_and_stops(srv, world):
    member, card = world.member(eur_cents=1_000)
    term = world.terminal()
    outbox = MemoryOutbox(term)
    clock = auth.ServerClock(wall_ms=lambda: 0)  # no real-time clock
    client = SyncClient(srv.base_url, term.terminal_id, term.key, srv.public_key, clock=clock)
    worker = SyncWorker(outbox, client, interval_s=60)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not worker.state.online and time.monotonic() < deadline:
            time.sleep(0.02)
        term.spend(card, 250)  # a sale, then the till wakes the worker instead of waiting a minute
        worker.request_sync()
        while outbox.acked < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox.acked == 1 and world.balance(f"member:{member}") == 750
    finally:
        worker.stop(timeout_s=10)
    assert not worker._thread.is_alive()


def test_requests_loads_when_the_client_first_talks_to_the_server_not_before(srv):
    """A till with a server builds its SyncClient (and the worker) at start; the HTTP stack (requests with
    urllib3, ~5 MB resident) waits for the first request, so the card prompt does not carry it meanwhile
    (tests/terminal/app/test_app_imports.py checks the app's whole process). A fresh interpreter: this
    one has requests loaded already."""
    code = f"""
import sys
from floreyn import keys
from floreyn.sync.client import SyncClient
from floreyn.sync.worker import SyncWorker
client = SyncClient({srv.base_url!r}, "T-lazy", keys.new_private_key(), None, timeout_s=5)
SyncWorker(None, client)
before = "requests" in sys.modules
client.server_time_ms()
try:
    client.upload([])  # pins the key through /v1/health, then an unknown terminal is refused
except Exception as exc:
    print(type(exc).__name__)
print(before, "requests" in sys.modules, client.server_key is not None)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["SyncAuthFailed", "False", "True", "True"], done.stdout


def test_the_session_reads_the_environments_proxy_and_ca_bundle_once_as_requests_would(srv, world, monkeypatch,
                                                                                         tmp_path, silent_server):
    """The environment's settings are read when the session is made, not at every call (SyncClient.session):
    the same proxy, the same exception for no_proxy hosts and the same CA bundle as requests' own look-up."""
    _, card = world.member(eur_cents=300)
    term = world.terminal()
    monkeypatch.setenv("HTTP_PROXY", silent_server.url)  # a proxy that never answers
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    proxied = SyncClient(srv.base_url, term.terminal_id, term.key, server_key=None, timeout_s=1.0)
    assert proxied.session.proxies["http"] == silent_server.url and proxied.session.verify == str(tmp_path / "ca.pem")
    assert not proxied.session.trust_env  # nothing is looked up again per call
    with pytest.raises(SyncTimeout):  # sent through the proxy, as requests sends it
        proxied.card_summary(card)
    assert silent_server.accepted() >= 1
    direct = SyncClient("http://direct.invalid:8470", term.terminal_id, term.key, server_key=None)
    assert direct.session.proxies == {}  # no_proxy
    monkeypatch.delenv("HTTP_PROXY")  # read once: a session made before keeps what it found, one made now goes direct
    assert proxied.session.proxies["http"] == silent_server.url
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert term.client(srv).card_summary(card)["balance_cents"] == 300
